// hf_encode.mjs: token ids from Hugging Face's tokenizers library itself
// (the Rust code, through its official node binding, npm package
// "tokenizers"), with truncation, for the encoder goldens.
//
// transformers.js cannot serve here: its truncation cuts the finished
// sequence (dropping the closing [SEP]) instead of truncating the texts
// longest-first as the Rust library, and so sentence-transformers and its
// CrossEncoder, do.
//
// Usage (from the repo root, offline once installed):
//   npm install --prefix /tmp/lepton-hf tokenizers@0.23.2
//   HF_TOKENIZERS_PREFIX=/tmp/lepton-hf node scripts/golden/hf_encode.mjs IN.json OUT.json
//
// IN.json: {"tokenizer": "path/to/tokenizer.json", "max_length": 24 or null,
//           "cases": [{"text": "...", "pair": "..." (optional)}, ...]}
// OUT.json: [{"ids": [...], "type_ids": [...]}, ...], one per case, with
// special tokens, truncated longest-first to max_length when it is set.
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const prefix = process.env.HF_TOKENIZERS_PREFIX ?? path.join(root, "tools/node");
const require = createRequire(path.join(prefix, "node_modules", "x.js"));
const { Tokenizer } = require("tokenizers");
const version = require("tokenizers/package.json").version;

const [inPath, outPath] = process.argv.slice(2);
if (!outPath) {
  console.error("usage: hf_encode.mjs IN.json OUT.json");
  process.exit(2);
}
const req = JSON.parse(fs.readFileSync(inPath, "utf8"));
const tok = Tokenizer.fromFile(req.tokenizer);
if (req.max_length) {
  tok.setTruncation(req.max_length, { strategy: "LongestFirst" });
}
const out = [];
for (const c of req.cases) {
  const enc = c.pair !== undefined ? await tok.encode(c.text, c.pair) : await tok.encode(c.text);
  out.push({ ids: Array.from(enc.getIds()), type_ids: Array.from(enc.getTypeIds()) });
}
fs.writeFileSync(outPath, JSON.stringify(out));
console.error(`hf_encode: ${out.length} cases, Hugging Face tokenizers ${version}`);
