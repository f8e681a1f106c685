#!/usr/bin/env node
// Where ONNX Runtime's time goes: runs one configuration with ORT's own
// profiler and prints each operator type's share of the kernel time.
//
//   node bench/peers/ort_profile.js --model M.onnx [--seq 128] [--runs 50]
//
// 1 thread, graph optimisation 'all', allow_spinning 0 (as ort_bench.js),
// batch 1, the same deterministic ids. The profile JSON is written to a
// temporary directory and removed.
'use strict';
const path = require('path');
const fs = require('fs');
const os = require('os');

const ort = require(path.join(__dirname, '..', '..', 'tools', 'node', 'node_modules', 'onnxruntime-node'));

async function main() {
  const a = { seq: 128, runs: 50 };
  const v = process.argv.slice(2);
  for (let i = 0; i < v.length; i += 2) a[v[i].replace(/^--?/, '')] = v[i + 1];
  a.seq = Number(a.seq);
  a.runs = Number(a.runs);
  if (!a.model) throw new Error('--model is required');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ortprof-'));
  const sess = await ort.InferenceSession.create(a.model, {
    graphOptimizationLevel: 'all', intraOpNumThreads: 1, interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    enableProfiling: true, profileFilePrefix: path.join(dir, 'p'),
  });
  const n = a.seq;
  const ids = new BigInt64Array(n), mask = new BigInt64Array(n).fill(1n), typ = new BigInt64Array(n);
  let state = 12345;
  for (let j = 0; j < n; j++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    ids[j] = BigInt(j === 0 ? 101 : j === n - 1 ? 102 : 1000 + (state % 29000));
  }
  const feeds = {
    input_ids: new ort.Tensor('int64', ids, [1, n]),
    attention_mask: new ort.Tensor('int64', mask, [1, n]),
    token_type_ids: new ort.Tensor('int64', typ, [1, n]),
  };
  for (let i = 0; i < 3; i++) await sess.run(feeds);
  for (let i = 0; i < a.runs; i++) await sess.run(feeds);
  await sess.endProfiling();
  await sess.release();
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json'));
  if (files.length !== 1) throw new Error(`expected one profile in ${dir}, found ${files.length}`);
  const events = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  fs.rmSync(dir, { recursive: true, force: true });
  const byOp = {};
  let total = 0;
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
    const op = (e.args && e.args.op_name) || '?';
    byOp[op] = (byOp[op] || 0) + e.dur;
    total += e.dur;
  }
  const runs = a.runs + 3;
  console.log(`kernel time per run: ${(total / runs / 1000).toFixed(2)} ms (${runs} runs, seq ${n})`);
  for (const [op, us] of Object.entries(byOp).sort((x, y) => y[1] - x[1])) {
    console.log(`${op.padEnd(28)} ${(us / runs / 1000).toFixed(2)} ms  ${(100 * us / total).toFixed(1)}%`);
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
