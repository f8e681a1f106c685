// Generates tokenize/testdata/golden_rust.json.gz from the Rust Hugging Face
// tokenizers library itself (the official node binding, npm package
// "tokenizers", which ships the compiled Rust code), fully offline.
// Unlike transformers.js it returns offsets, special-tokens masks and
// overflowing windows, so these goldens pin down everything Encode returns.
//
// Run from the repository root with ../shared beside it:
//   npm install --prefix /tmp/lepton-hf tokenizers@0.23.2
//   HF_TOKENIZERS_PREFIX=/tmp/lepton-hf node tools/node/tokenize-goldens-rust.mjs
// (without HF_TOKENIZERS_PREFIX the package is looked up in tools/node).
//
// Rows that come from ../shared (SST-2 validation, Symptom2Disease, STS-B
// test, and the truncation cases built on STS-B) keep only their line key, a
// SHA-256 prefix of the input ("sha") and the full SHA-256 of the reference
// output ("out"; "over" per overflowing window; see canon below): token ids
// and offsets decode back to the texts, and nothing from ../shared may be
// copied into the repository. The hand-made inputs (texts, pairs, added,
// fileopts) keep their full outputs.
//
// To see the full reference output of one shared line (when the Go test
// reports a mismatch), without writing any file:
//   HF_TOKENIZERS_PREFIX=/tmp/lepton-hf node tools/node/tokenize-goldens-rust.mjs --print stsb:3
// (sets: sst2, symptom2disease, stsb, truncation; for truncation every case
// of that STS-B line is printed).
//
// Offsets from the node binding are in Unicode code points; the Go test
// converts Lepton's byte offsets before comparing.
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import crypto from "node:crypto";
import { createRequire } from "node:module";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const shared = path.resolve(root, "../shared");
const out = path.join(root, "tokenize/testdata");
const prefix = process.env.HF_TOKENIZERS_PREFIX ?? path.join(root, "tools/node");
const require = createRequire(path.join(prefix, "node_modules", "x.js"));
const { Tokenizer } = require("tokenizers");
const version = require("tokenizers/package.json").version;

const tk = Tokenizer.fromFile(path.join(shared, "models/sst2-bert-tiny-scratch/tokenizer.json"));
tk.disablePadding();
tk.disableTruncation();

const sha = (s) => crypto.createHash("sha256").update(s, "utf8").digest("hex").slice(0, 16);
function pack(e) {
  return {
    ids: e.getIds(),
    type_ids: e.getTypeIds(),
    special: e.getSpecialTokensMask(),
    offsets: e.getOffsets().flat(),
  };
}
// canon is the canonical serialisation hashed into "out"/"over"; the Go
// test (canonRust in tokenize/parity_rust_test.go) builds the same string.
const canon = (e) => `ids=${e.ids.join(",")};type_ids=${e.type_ids.join(",")};special=${e.special.join(",")};offsets=${e.offsets.join(",")}`;
const sha256 = (s) => crypto.createHash("sha256").update(s, "utf8").digest("hex");
const pi = process.argv.indexOf("--print");
const printWant = pi >= 0 ? process.argv[pi + 1] : null;
const printed = [];
// hashed keeps the key fields (and settings) and replaces the output by its
// hash; with --print set:n it also collects the full record of that line.
function hashed(set, key, e) {
  const k = key.line ?? key.row;
  if (printWant === `${set}:${k}`) printed.push({ set, ...key, ...e, ...(e && e.ids ? { canon: canon(e) } : {}) });
  const r = { ...key };
  if (e && e.ids) r.out = sha256(canon(e));
  if (e && e.overflowing) r.over = e.overflowing.map((w) => sha256(canon(w)));
  return r;
}
async function enc(a, b) {
  return pack(await tk.encode(a, b ?? null));
}

const adv = JSON.parse(fs.readFileSync(path.join(out, "adversarial.json"), "utf8"));
const texts = [];
for (const t of adv.texts) {
  const e = await enc(t);
  e.decoded = await tk.decode(e.ids, true);
  e.decoded_all = await tk.decode(e.ids, false);
  texts.push({ text: t, ...e });
}
const pairs = [];
for (const [a, b] of adv.pairs) pairs.push({ a, b, ...(await enc(a, b)) });

// Truncation, stride, overflowing windows and padding on STS-B pairs and the
// adversarial texts.
const lines = (f) => fs.readFileSync(path.join(shared, f), "utf8").split("\n");
const stsLines = lines("data/stsb/sts-test.tsv");
const trunc = [];
// Rust panics (aborting node) when a sequence must be cut to a length that
// is not larger than the stride; predict that from the untruncated lengths
// with Hugging Face's own arithmetic and record those cases as "panic" (the
// Go side must return an error there instead).
async function rawLen(t) {
  tk.disableTruncation();
  tk.disablePadding();
  return (await tk.encode(t, null, { addSpecialTokens: false })).getIds().length;
}
function targets(la, lb, pair, maxLen, strategy) {
  const total = la + lb;
  if (total <= maxLen) return [la, lb];
  const toRemove = total - maxLen;
  if (strategy === "LongestFirst") {
    if (!pair) return [la - toRemove, 0];
    let n1 = la, n2 = lb, swap = false;
    if (n1 > n2) { swap = true; [n1, n2] = [n2, n1]; }
    n2 = n1 > maxLen ? n1 : Math.max(n1, maxLen - n1);
    if (n1 + n2 > maxLen) { n1 = Math.floor(maxLen / 2); n2 = n1 + (maxLen % 2); }
    return swap ? [n2, n1] : [n1, n2];
  }
  if (strategy === "OnlyFirst") return [la > toRemove ? la - toRemove : -1, lb];
  return [la, lb > toRemove ? lb - toRemove : -1];
}
const wouldPanic = (n, len, stride) => n > 0 && n < len && stride >= n;
const strategies = ["LongestFirst", "OnlyFirst", "OnlySecond"];
for (let i = 0; i < 60; i++) {
  const c = stsLines[i].split("\t");
  if (c.length < 7) continue;
  for (const maxLength of [2, 3, 5, 9, 16, 24]) {
    for (const strategy of strategies) {
      for (const stride of [0, 1, 3]) {
        for (const single of [false, true]) {
          if (single && strategy === "OnlySecond") continue;
          const padTo = (i + maxLength) % 3 === 0 ? maxLength + 2 : 0;
          const padMultiple = padTo && i % 2 === 0 ? 8 : 0;
          const rec = { line: i, sha: sha(c[5] + "\t" + c[6]), single, maxLength, strategy, stride, padTo, padMultiple };
          if (stride > maxLength - 2) {
            // Rust refuses such settings up front (with_truncation: stride
            // above max_length minus the single template's specials).
            rec.error = "config: stride above the effective max length";
            trunc.push(hashed("truncation", rec, null));
            continue;
          }
          const la = await rawLen(c[5]), lb = single ? 0 : await rawLen(c[6]);
          tk.setTruncation(maxLength, { strategy, stride });
          if (padTo) tk.setPadding({ maxLength: padTo, padId: 0, padToken: "[PAD]", ...(padMultiple ? { padToMultipleOf: padMultiple } : {}) });
          else tk.disablePadding();
          const [na, nb] = targets(la, lb, !single, maxLength - (single ? 2 : 3), strategy);
          if (wouldPanic(na, la, stride) || (!single && wouldPanic(nb, lb, stride))) {
            rec.error = "panic: stride not smaller than the truncated length";
            trunc.push(hashed("truncation", rec, null));
            continue;
          }
          let full = null;
          try {
            const e = await tk.encode(c[5], single ? null : c[6]);
            full = { ...pack(e), overflowing: e.getOverflowing().map(pack) };
          } catch (err) {
            rec.error = String(err.message ?? err);
          }
          trunc.push(hashed("truncation", rec, full));
        }
      }
    }
  }
}
tk.disableTruncation();
tk.disablePadding();

const sst2 = [];
lines("data/sst2/validation.tsv").forEach((l, i) => {
  if (i === 0 || l === "") return;
  sst2.push([i, l.split("\t")[0]]);
});
const sst2Out = [];
for (const [i, t] of sst2) sst2Out.push(hashed("sst2", { line: i, sha: sha(t) }, await enc(t)));

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
const s2d = [];
const rows = parseCSV(fs.readFileSync(path.join(shared, "data/symptom2disease/Symptom2Disease.csv"), "utf8"));
for (let i = 1; i < rows.length; i++) {
  if (rows[i].length < 3) continue;
  s2d.push(hashed("symptom2disease", { row: i, sha: sha(rows[i][2]) }, await enc(rows[i][2])));
}
const stsb = [];
for (let i = 0; i < stsLines.length; i++) {
  const c = stsLines[i].split("\t");
  if (c.length < 7) continue;
  stsb.push(hashed("stsb", { line: i, sha: sha(c[5] + "\t" + c[6]) }, await enc(c[5], c[6])));
}

// Added tokens of both kinds (matched in the raw text, normalized=false,
// and after normalisation, normalized=true) appended to the same tokenizer.
const addedSpec = JSON.parse(fs.readFileSync(path.join(out, "added_tokens.json"), "utf8"));
const tjson = JSON.parse(fs.readFileSync(path.join(shared, "models/sst2-bert-tiny-scratch/tokenizer.json"), "utf8"));
tjson.added_tokens.push(...addedSpec.added_tokens);
tjson.truncation = null;
tjson.padding = null;
const tka = Tokenizer.fromString(JSON.stringify(tjson));
const added = [];
for (const t of addedSpec.texts) {
  const e = pack(await tka.encode(t, null));
  e.decoded = await tka.decode(e.ids, false);
  added.push({ text: t, ...e });
}

// The file's own truncation and padding settings (bert-base-uncased here:
// longest_first to 128, fixed padding to 128), as Tokenizer.fromFile applies
// them by default: Lepton's FileOptions must reproduce this output.
const tkf = Tokenizer.fromFile(path.join(shared, "models/sst2-bert-tiny-scratch/tokenizer.json"));
const fileopts = [];
const long = adv.texts.slice(0, 40).join(" ");
for (const [a, b] of [...adv.texts.slice(0, 20).map((t) => [t, null]), ...adv.pairs, [long, null], [long, adv.texts[3]], [adv.texts[3], long]]) {
  fileopts.push({ a, b: b ?? "", pair: b !== null, ...pack(await tkf.encode(a, b)) });
}

if (printWant) {
  if (printed.length === 0) { console.error(`--print ${printWant}: no such line`); process.exit(1); }
  for (const p of printed) console.log(JSON.stringify(p));
  process.exit(0);
}
const gold = { hash: "out/over = sha256 hex of canon(ids, type_ids, special, offsets), see tools/node/tokenize-goldens-rust.mjs", added, fileopts, reference: `tokenizers (Rust, node binding) ${version}`, texts, pairs, truncation: trunc, sst2: sst2Out, symptom2disease: s2d, stsb };
fs.writeFileSync(path.join(out, "golden_rust.json.gz"), zlib.gzipSync(JSON.stringify(gold), { level: 9 }));
console.log(`texts ${texts.length}, pairs ${pairs.length}, truncation cases ${trunc.length}, sst2 ${sst2Out.length}, symptom2disease ${s2d.length}, stsb ${stsb.length}`);
