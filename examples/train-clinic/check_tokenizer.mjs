// Checks that the tokenizer train.py trained with (wordpiece.py) gives the
// same ids as Hugging Face's tokenizers.js on every Symptom2Disease text,
// using the pruned tokenizer.json that train.py wrote. It compares against
// reference/token_hashes.json, which the Go test in examples/train-clinic/eval
// also checks Lepton's tokenizer against.
//
//   node examples/train-clinic/check_tokenizer.mjs /tmp/clinic-model [CSV] [token_hashes.json]
//
// (run from the repository root; tools/node must have had `npm install`, or
// LEPTON_NODE_DIR must name a tools/node folder that has).
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
// LEPTON_NODE_DIR: a tools/node folder that has had `npm install` (default:
// this repository's).
const nodeDir = process.env.LEPTON_NODE_DIR ?? path.join(here, "../../tools/node");
const require = createRequire(path.join(nodeDir, "package.json"));
const { Tokenizer } = require("@huggingface/tokenizers");

const dir = process.argv[2] ?? "/tmp/clinic-model";
const csvPath = process.argv[3] ?? "../shared/data/symptom2disease/Symptom2Disease.csv";

// parseCSV reads RFC 4180 CSV (quoted fields, doubled quotes, CRLF or LF).
function parseCSV(s) {
  const rows = [];
  let row = [], field = "", q = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) {
      if (c === '"' && s[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') q = false;
      else field += c;
    } else if (c === '"') q = true;
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n" || c === "\r") {
      if (c === "\r" && s[i + 1] === "\n") i++;
      row.push(field); rows.push(row); row = []; field = "";
    } else field += c;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const tok = new Tokenizer(
  JSON.parse(readFileSync(path.join(dir, "tokenizer.json"), "utf8")),
  JSON.parse(readFileSync(path.join(dir, "tokenizer_config.json"), "utf8")),
);
const rows = parseCSV(readFileSync(csvPath, "utf8")).slice(1);
const hashPath = process.argv[4] ?? path.join(here, "reference/token_hashes.json");
const want = JSON.parse(readFileSync(hashPath, "utf8")).rows;
if (rows.length !== want.length) throw new Error(`${rows.length} rows, ${want.length} hashes`);
let bad = 0;
rows.forEach((r, i) => {
  const ids = tok.encode(r[2]).ids;
  const h = createHash("sha256").update(ids.join(",")).digest("hex").slice(0, 16);
  if (h !== want[i]) {
    if (bad < 5) console.error(`row ${i}: tokenizers.js ${JSON.stringify(tok.encode(r[2]).tokens)}`);
    bad++;
  }
});
console.log(`${rows.length - bad} of ${rows.length} rows: tokenizers.js ids equal wordpiece.py's`);
process.exit(bad ? 1 : 0);
