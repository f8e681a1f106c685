// st_pipeline.mjs: transformers.js's feature-extraction pipeline (ONNX
// Runtime underneath) with its own pooling and normalisation, the second,
// independent reference for the sentence-transformers goldens
// (scripts/golden/make_st_model.py).
//
// Usage (from the repo root, after `npm install` in tools/node):
//   node scripts/golden/st_pipeline.mjs MODEL_DIR IN.json OUT.json
//
// MODEL_DIR holds config.json, tokenizer files and onnx/model.onnx (an fp32
// export whose first output is last_hidden_state). IN.json is
// {"pooling": "mean" | "cls", "normalize": true|false, "texts": [...]};
// OUT.json gets one vector per text. Runs offline (env.allowRemoteModels =
// false).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(here, '../../tools/node/package.json'));
const { pipeline, env } = await import(require.resolve('@huggingface/transformers'));

const [modelDir, inPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: st_pipeline.mjs MODEL_DIR IN.json OUT.json');
  process.exit(2);
}
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(modelDir)) + '/';
const req = JSON.parse(fs.readFileSync(inPath, 'utf8'));
const extract = await pipeline('feature-extraction', path.basename(path.resolve(modelDir)), { dtype: 'fp32' });
const out = [];
for (const t of req.texts) {
  const r = await extract(t, { pooling: req.pooling, normalize: req.normalize });
  out.push(Array.from(r.data));
}
fs.writeFileSync(outPath, JSON.stringify(out));
console.error(`st_pipeline: ${out.length} texts, pooling ${req.pooling}, normalize ${req.normalize}`);
