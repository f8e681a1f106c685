// run_ort.mjs: the independent reference for Lepton's golden tests.
//
// Usage (from the repo root, after `npm install` in tools/node):
//   node scripts/golden/run_ort.mjs MODEL.onnx TOKENIZER_DIR CASES.json OUT.json
//
// CASES.json is [{name, ids?, type_ids?, text?, pair?}, ...]. Cases with a
// text are tokenised by Hugging Face's tokenizer (transformers.js, offline,
// from TOKENIZER_DIR/tokenizer.json); cases with ids are used as given. Every
// case is run alone (batch 1, attention mask all ones) in ONNX Runtime
// (onnxruntime-node 1.30.0) and OUT.json receives, per case, the ids and
// type ids used and every output of the graph (e.g. last_hidden_state,
// logits) as nested arrays.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const here = path.dirname(new URL(import.meta.url).pathname);
const require = createRequire(path.join(here, '../../tools/node/package.json'));
const ort = require('onnxruntime-node');
const { AutoTokenizer, env } = await import(require.resolve('@huggingface/transformers'));

const [modelPath, tokDir, casesPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error('usage: run_ort.mjs MODEL.onnx TOKENIZER_DIR CASES.json OUT.json');
  process.exit(2);
}

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(tokDir)) + '/';
const tokenizer = await AutoTokenizer.from_pretrained(path.basename(path.resolve(tokDir)));

const session = await ort.InferenceSession.create(modelPath, { intraOpNumThreads: 1 });
const cases = JSON.parse(fs.readFileSync(casesPath, 'utf8'));
const out = [];
for (const c of cases) {
  let ids = c.ids, typeIds = c.type_ids;
  if (c.text !== undefined) {
    const enc = c.pair !== undefined ? tokenizer(c.text, { text_pair: c.pair }) : tokenizer(c.text);
    // A tokenizer.json may ask for padding; keep only the real tokens
    // (right padding), since every case runs alone with a full mask.
    const keep = Array.from(enc.attention_mask.data, Number).filter((m) => m === 1).length;
    ids = Array.from(enc.input_ids.data, Number).slice(0, keep);
    typeIds = Array.from(enc.token_type_ids.data, Number).slice(0, keep);
  }
  if (!typeIds) typeIds = ids.map(() => 0);
  const n = ids.length;
  const feeds = {};
  const mk = (a) => new ort.Tensor('int64', BigInt64Array.from(a.map(BigInt)), [1, n]);
  for (const name of session.inputNames) {
    if (name === 'input_ids') feeds[name] = mk(ids);
    else if (name === 'attention_mask') feeds[name] = mk(ids.map(() => 1));
    else if (name === 'token_type_ids') feeds[name] = mk(typeIds);
    else throw new Error('unexpected model input ' + name);
  }
  const res = await session.run(feeds);
  const rec = { ...c, ids, type_ids: typeIds };
  for (const name of session.outputNames) {
    const t = res[name];
    const data = Array.from(t.data);
    const last = t.dims[t.dims.length - 1];
    // Drop the batch dimension: rows of `last` values.
    const rows = [];
    for (let i = 0; i < data.length; i += last) rows.push(data.slice(i, i + last));
    rec[name] = t.dims.length === 2 ? rows[0] : rows;
  }
  out.push(rec);
}
fs.writeFileSync(outPath, JSON.stringify(out));
console.error(`run_ort: ${out.length} cases through ${path.basename(modelPath)} (onnxruntime-node ${ort.env.versions?.common ?? '1.30'})`);
