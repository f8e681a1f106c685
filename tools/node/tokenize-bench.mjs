// Times transformers.js (Hugging Face tokenizers in JavaScript) encoding the
// SST-2 validation sentences on one thread, for the side-by-side numbers in
// tokenize/README.md. Run from the repository root with ../shared beside it:
//   node tools/node/tokenize-bench.mjs [rounds]
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { env, AutoTokenizer } from "@huggingface/transformers";

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const shared = path.resolve(root, "../shared");
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "lepton-tok-"));
fs.mkdirSync(path.join(tmp, "bert"));
for (const f of ["tokenizer.json", "tokenizer_config.json"]) {
  fs.symlinkSync(path.join(shared, "models/sst2-bert-tiny-scratch", f), path.join(tmp, "bert", f));
}
env.allowRemoteModels = false;
env.localModelPath = tmp;
const tok = await AutoTokenizer.from_pretrained("bert");

const texts = fs.readFileSync(path.join(shared, "data/sst2/validation.tsv"), "utf8")
  .split("\n").slice(1).filter((l) => l !== "").map((l) => l.split("\t")[0]);
const bytes = texts.reduce((n, s) => n + Buffer.byteLength(s, "utf8"), 0);
const rounds = Number(process.argv[2] ?? 20);
for (let i = 0; i < 3; i++) for (const s of texts) tok.encode(s); // warm-up (JIT)
const c0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
for (let r = 0; r < rounds; r++) for (const s of texts) tok.encode(s);
const secs = Number(process.hrtime.bigint() - t0) / 1e9;
const c = process.cpuUsage(c0);
const cpu = (c.user + c.system) / 1e6; // includes node's GC threads
console.log(`transformers.js ${texts.length} texts x ${rounds}: ${(bytes * rounds / secs / 1e6).toFixed(2)} MB/s wall, ` +
  `${(bytes * rounds / cpu / 1e6).toFixed(2)} MB/cpu-s, ${(texts.length * rounds / secs).toFixed(0)} texts/s`);
fs.rmSync(tmp, { recursive: true });

// Optionally the Rust library through its node binding (npm "tokenizers"),
// installed as for tokenize-goldens-rust.mjs; encodeBatch keeps the per-call
// JS/native overhead out. CPU time covers its worker threads.
if (process.env.HF_TOKENIZERS_PREFIX) {
  const { createRequire } = await import("node:module");
  const require = createRequire(path.join(process.env.HF_TOKENIZERS_PREFIX, "node_modules", "x.js"));
  const { Tokenizer } = require("tokenizers");
  const rs = Tokenizer.fromFile(path.join(shared, "models/sst2-bert-tiny-scratch/tokenizer.json"));
  rs.disablePadding();
  rs.disableTruncation();
  for (let i = 0; i < 3; i++) await rs.encodeBatch(texts);
  const rc0 = process.cpuUsage();
  const rt0 = process.hrtime.bigint();
  for (let r = 0; r < rounds; r++) await rs.encodeBatch(texts);
  const rsecs = Number(process.hrtime.bigint() - rt0) / 1e9;
  const rc = process.cpuUsage(rc0);
  const rcpu = (rc.user + rc.system) / 1e6;
  console.log(`tokenizers (Rust) ${texts.length} texts x ${rounds}: ${(bytes * rounds / rsecs / 1e6).toFixed(2)} MB/s wall, ` +
    `${(bytes * rounds / rcpu / 1e6).toFixed(2)} MB/cpu-s`);
}
