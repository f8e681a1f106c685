// run_token_pipeline.mjs: transformers.js's token-classification pipeline,
// an independent reference for Lepton's Tag (aggregation none and simple,
// the strategies transformers.js implements).
//
// Usage (from the repo root, after `npm install` in tools/node):
//   node scripts/golden/run_token_pipeline.mjs MODEL_DIR TEXTS.json OUT.json
//
// MODEL_DIR holds config.json, tokenizer.json, tokenizer_config.json and
// onnx/model.onnx (fp32). Runs offline (env.allowRemoteModels = false). For
// every text of TEXTS.json (a JSON array of strings) OUT.json receives
// {none: [...], simple: [...]}, the pipeline's output with ignore_labels []
// (so no token is dropped before grouping; see Lepton's tag_golden_test.go).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(here, '../../tools/node/package.json'));
const { pipeline, env } = await import(require.resolve('@huggingface/transformers'));

const [modelDir, textsPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: run_token_pipeline.mjs MODEL_DIR TEXTS.json OUT.json');
  process.exit(2);
}
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(modelDir)) + '/';
const tagger = await pipeline('token-classification', path.basename(path.resolve(modelDir)), { dtype: 'fp32' });
const texts = JSON.parse(fs.readFileSync(textsPath, 'utf8'));
const out = [];
for (const t of texts) {
  const none = await tagger(t, { ignore_labels: [], aggregation_strategy: 'none' });
  const simple = await tagger(t, { ignore_labels: [], aggregation_strategy: 'simple' });
  out.push({ none, simple });
}
fs.writeFileSync(outPath, JSON.stringify(out));
console.error(`run_token_pipeline: ${texts.length} texts`);
