// Generates the tokenizer parity goldens in tokenize/testdata from Hugging
// Face transformers.js (an independent implementation of Hugging Face
// tokenizers), fully offline.
//
// Run from the repository root, with ../shared beside it:
//   (cd tools/node && npm install) && node tools/node/tokenize-goldens.mjs
//
// Outputs:
//   tokenize/testdata/golden_adversarial.json  ids (and type ids for pairs)
//       for every text and pair of tokenize/testdata/adversarial.json
//   tokenize/testdata/golden_shared.json.gz    for every input line of
//       ../shared/data/{sst2/validation.tsv,symptom2disease/Symptom2Disease.csv,
//       stsb/sts-test.tsv}: the line number, a SHA-256 prefix of the input
//       text ("sha", to notice a changed input) and the full SHA-256 of the
//       reference output ("out", see canon below). Neither texts nor token
//       ids of ../shared are committed: ids decode back to the texts, and
//       nothing from ../shared may be copied into the repository.
//
// To see the full reference output of one shared line (when the Go test
// reports a mismatch), without writing any file:
//   node tools/node/tokenize-goldens.mjs --print sst2:12
// (sets: sst2, symptom2disease, stsb; the number is the line/row the test
// names).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import crypto from "node:crypto";
import { env, AutoTokenizer } from "@huggingface/transformers";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const shared = path.resolve(root, "../shared");
const modelDir = path.join(shared, "models/sst2-bert-tiny-scratch");
const out = path.join(root, "tokenize/testdata");

// transformers.js loads "<localModelPath>/<name>/tokenizer.json"; point it at
// a temporary folder holding links to the shared files.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lepton-tok-"));
fs.mkdirSync(path.join(tmp, "bert"));
for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
  fs.symlinkSync(path.join(modelDir, f), path.join(tmp, "bert", f));
}
env.allowRemoteModels = false;
env.localModelPath = tmp;
const tok = await AutoTokenizer.from_pretrained("bert");

function enc(a, b) {
  const r = tok(a, { text_pair: b ?? null, add_special_tokens: true, padding: false, truncation: false, return_tensor: false });
  const o = { ids: Array.from(r.input_ids, Number) };
  if (b !== undefined) o.type_ids = Array.from(r.token_type_ids, Number);
  return o;
}
// canon is the canonical serialisation hashed into "out"; the Go test
// (canonIDs in tokenize/parity_test.go) builds the same string.
function canon(e) {
  let s = "ids=" + e.ids.join(",");
  if (e.type_ids !== undefined) s += ";type_ids=" + e.type_ids.join(",");
  return s;
}
const sha256 = (s) => crypto.createHash("sha256").update(s, "utf8").digest("hex");
const pi = process.argv.indexOf("--print");
const printWant = pi >= 0 ? process.argv[pi + 1] : null;
const printed = [];
// hashed keeps the key fields and replaces the output by its hash; with
// --print set:n it collects the full record of that line instead.
function hashed(set, key, e) {
  if (printWant === `${set}:${Object.values(key)[0]}`) printed.push({ set, ...key, ...e, canon: canon(e), out: sha256(canon(e)) });
  return { ...key, out: sha256(canon(e)) };
}
const sha = (s) => crypto.createHash("sha256").update(s, "utf8").digest("hex").slice(0, 16);

// Adversarial list.
const adv = JSON.parse(fs.readFileSync(path.join(out, "adversarial.json"), "utf8"));
const goldAdv = {
  reference: "transformers.js " + JSON.parse(fs.readFileSync(path.join(root, "tools/node/node_modules/@huggingface/transformers/package.json"))).version,
  texts: adv.texts.map((t) => ({ text: t, ...enc(t) })),
  pairs: adv.pairs.map(([a, b]) => ({ a, b, ...enc(a, b) })),
};
if (!printWant) fs.writeFileSync(path.join(out, "golden_adversarial.json"), JSON.stringify(goldAdv) + "\n");

// Minimal RFC 4180 CSV reader (quoted fields, doubled quotes, CRLF).
function parseCSV(s) {
  const rows = [];
  let row = [], field = "", i = 0, q = false;
  while (i < s.length) {
    const c = s[i];
    if (q) {
      if (c === '"') {
        if (s[i + 1] === '"') { field += '"'; i += 2; continue; }
        q = false; i++; continue;
      }
      field += c; i++; continue;
    }
    if (c === '"') { q = true; i++; continue; }
    if (c === ",") { row.push(field); field = ""; i++; continue; }
    if (c === "\r" && s[i + 1] === "\n") { i++; continue; }
    if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; i++; continue; }
    field += c; i++;
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

const lines = (f) => fs.readFileSync(path.join(shared, f), "utf8").split("\n");
const sst2 = [];
lines("data/sst2/validation.tsv").forEach((l, i) => {
  if (i === 0 || l === "") return; // header, final newline
  const text = l.split("\t")[0];
  sst2.push(hashed("sst2", { line: i, sha: sha(text) }, { ids: enc(text).ids }));
});
const s2d = [];
parseCSV(fs.readFileSync(path.join(shared, "data/symptom2disease/Symptom2Disease.csv"), "utf8")).forEach((r, i) => {
  if (i === 0 || r.length < 3) return; // header
  s2d.push(hashed("symptom2disease", { row: i, sha: sha(r[2]) }, { ids: enc(r[2]).ids }));
});
const stsb = [];
lines("data/stsb/sts-test.tsv").forEach((l, i) => {
  const c = l.split("\t");
  if (c.length < 7) return;
  stsb.push(hashed("stsb", { line: i, sha: sha(c[5] + "\t" + c[6]) }, enc(c[5], c[6])));
});
fs.rmSync(tmp, { recursive: true });
if (printWant) {
  if (printed.length === 0) { console.error(`--print ${printWant}: no such line`); process.exit(1); }
  for (const p of printed) console.log(JSON.stringify(p));
  process.exit(0);
}
const gold = { reference: goldAdv.reference, hash: "out = sha256 hex of canon(ids[, type_ids]), see tools/node/tokenize-goldens.mjs", sst2, symptom2disease: s2d, stsb };
fs.writeFileSync(path.join(out, "golden_shared.json.gz"), zlib.gzipSync(JSON.stringify(gold), { level: 9 }));
console.log(`adversarial ${goldAdv.texts.length}+${goldAdv.pairs.length}, sst2 ${sst2.length}, symptom2disease ${s2d.length}, stsb ${stsb.length}`);
