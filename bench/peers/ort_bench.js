#!/usr/bin/env node
// ONNX Runtime side of the peer benchmark: one configuration per process, so
// peak RSS (VmHWM) belongs to that configuration alone.
//
//   node bench/peers/ort_bench.js --model M.onnx --threads 1 --runs 20 \
//        [--seq 128 --batch 1 | --lengths 16,32,...,128] [--spin 0]
//
// Prints one JSON object with the same keys as `lepton bench --json`:
// {"engine","model","threads","median_ms","min_ms","max_ms","tokens_per_s",
//  "open_ms","cpu_ms","peak_rss_mb","runs","lengths"}; cpu_ms is the process's
// CPU time per timed run (all threads), steadier than wall time on a busy host. open_ms is
// InferenceSession.create (graph optimisation 'all'). Mixed lengths are padded
// to the longest, with attention_mask 0 on the padding, as ONNX Runtime needs
// rectangular inputs. Uses onnxruntime-node from tools/node (npm install there).
'use strict';
const path = require('path');
const fs = require('fs');

const ortPath = path.join(__dirname, '..', '..', 'tools', 'node', 'node_modules', 'onnxruntime-node');
const ort = require(ortPath);

function args() {
  const a = { threads: 1, runs: 20, seq: 128, batch: 1, warmup: 2 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) {
    const k = v[i].replace(/^--?/, '');
    a[k] = v[i + 1];
  }
  for (const k of ['threads', 'runs', 'seq', 'batch', 'warmup']) a[k] = Number(a[k]);
  if (!a.model) throw new Error('--model is required');
  a.lengthsList = a.lengths ? String(a.lengths).split(',').map(Number) : Array(a.batch).fill(a.seq);
  return a;
}

// Deterministic ids: [CLS] w... [SEP], then padding 0.
function inputs(lengths) {
  const b = lengths.length, s = Math.max(...lengths);
  const ids = new BigInt64Array(b * s), mask = new BigInt64Array(b * s), typ = new BigInt64Array(b * s);
  let state = 12345;
  for (let i = 0; i < b; i++) {
    const n = lengths[i];
    for (let j = 0; j < n; j++) {
      state = (state * 1103515245 + 12345) % 2147483648;
      let id = 1000 + (state % 29000);
      if (j === 0) id = 101;
      if (j === n - 1) id = 102;
      ids[i * s + j] = BigInt(id);
      mask[i * s + j] = 1n;
    }
  }
  return {
    input_ids: new ort.Tensor('int64', ids, [b, s]),
    attention_mask: new ort.Tensor('int64', mask, [b, s]),
    token_type_ids: new ort.Tensor('int64', typ, [b, s]),
  };
}

function vmHWM() {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

// --dump "101,1234,...,102": print the mean-pooled last_hidden_state of one
// sequence instead of timing, for the same-model check in compare.py.
async function dump(a) {
  const ids = String(a.dump).split(',').map((x) => BigInt(x));
  const t = (v) => new ort.Tensor('int64', BigInt64Array.from(v), [1, v.length]);
  const sess = await ort.InferenceSession.create(a.model, { graphOptimizationLevel: 'all', intraOpNumThreads: 1 });
  const o = await sess.run({ input_ids: t(ids), attention_mask: t(ids.map(() => 1n)), token_type_ids: t(ids.map(() => 0n)) });
  const hs = o.last_hidden_state, [, n, h] = hs.dims;
  const mean = new Array(h).fill(0);
  for (let r = 0; r < n; r++) for (let d = 0; d < h; d++) mean[d] += hs.data[r * h + d] / n;
  process.stdout.write(JSON.stringify({ vector: mean }) + '\n');
}

async function main() {
  const a = args();
  if (a.dump) return dump(a);
  const opts = {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  if (a.spin === '0') {
    // ORT's intra-op threads spin while waiting for work by default, which
    // burns CPU on a shared host; --spin 0 turns that off.
    opts.extra = { session: { intra_op: { allow_spinning: '0' } } };
  }
  const t0 = process.hrtime.bigint();
  const sess = await ort.InferenceSession.create(a.model, opts);
  const openMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const feeds = inputs(a.lengthsList);
  for (let i = 0; i < a.warmup; i++) await sess.run(feeds);
  const times = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < a.runs; i++) {
    const t = process.hrtime.bigint();
    await sess.run(feeds);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0); // microseconds, user and system, all threads
  times.sort((x, y) => x - y);
  const mid = times.length >> 1;
  const median = times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
  const tokens = a.lengthsList.reduce((x, y) => x + y, 0);
  process.stdout.write(JSON.stringify({
    engine: 'onnxruntime-node ' + (ort.env.versions ? ort.env.versions.common : '1.30'),
    model: a.model,
    threads: a.threads,
    median_ms: median,
    min_ms: times[0],
    max_ms: times[times.length - 1],
    tokens_per_s: tokens / (median / 1000),
    open_ms: openMs,
    cpu_ms: (cpu.user + cpu.system) / 1000 / a.runs,
    peak_rss_mb: vmHWM(),
    runs: a.runs,
    lengths: a.lengthsList,
  }) + '\n');
}

main().catch((e) => { console.error('ort_bench:', e.message || e); process.exit(1); });
