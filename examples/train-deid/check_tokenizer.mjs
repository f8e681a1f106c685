// Checks that the tokenizer train.py trained with (casedpiece.py) gives the
// same ids as Hugging Face's tokenizers.js on every test note, using the
// tokenizer.json that train.py wrote. It compares against
// reference/test_tokens.json, which the Go evaluation also checks Lepton's
// tokenizer against.
//
//   node examples/train-deid/check_tokenizer.mjs /tmp/deid-model
//
// (run from the repository root; tools/node must have had `npm install`).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "../../tools/node/package.json"));
const { Tokenizer } = require("@huggingface/tokenizers");

const dir = process.argv[2] ?? "/tmp/deid-model";
const tok = new Tokenizer(
  JSON.parse(readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  JSON.parse(readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
);
const notes = readFileSync(path.join(here, "data/test.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
const want = JSON.parse(readFileSync(path.join(here, "reference/test_tokens.json"), "utf8")).notes;
if (notes.length !== want.length) throw new Error(`${notes.length} notes, ${want.length} references`);
let bad = 0;
notes.forEach((n, i) => {
  const ids = tok.encode(n.text).ids.slice(1, -1); // without [CLS] and [SEP]
  const h = createHash("sha256").update(ids.join(",")).digest("hex").slice(0, 16);
  if (h !== want[i].ids_sha256) {
    if (bad < 5) console.error(`${n.id}: tokenizers.js ${JSON.stringify(tok.encode(n.text).tokens)}`);
    bad++;
  }
});
console.log(`${notes.length - bad} of ${notes.length} test notes: tokenizers.js ids equal casedpiece.py's`);
if (bad) process.exit(1);
