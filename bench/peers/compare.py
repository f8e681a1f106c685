#!/usr/bin/env python3
"""Lepton vs ONNX Runtime 1.30, interleaved in one run, on the same weights.

For each model shape (MiniLM-L6, BERT-base), case (batch 1 seq 128, batch 1
seq 16, a mixed batch of 8 with lengths 16,32,...,128) and thread count
(1, 2), each round runs `lepton bench --json` and the ONNX Runtime runner
(ort_bench.js, int8 DynamicQuantizeMatMul model; fp32 too with --fp32) one
after the other, each in a fresh process so peak RSS belongs to that
configuration alone. The reported figure per engine is the median over rounds
of each process's median latency; CPU ms is process CPU time per run (all
threads), a steadier figure when other jobs share the cores. Prints a Markdown table with Lepton/ORT
ratios and writes every raw result to --out (JSON lines).

Prepare the models first (see README.md):
  go run ./bench/peers/synthdump -preset minilm -out bench/peers/models/minilm/hf
  /usr/bin/python3 bench/peers/make_models.py --checkpoint bench/peers/models/minilm/hf --out bench/peers/models/minilm
  go run ./cmd/lepton quantize ... (when available; otherwise --lepton-synthetic)

Needs node + tools/node/node_modules/onnxruntime-node; never needed by go test.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

CASES = {
    "b1 s128": ["--seq", "128", "--batch", "1"],
    "b1 s16": ["--seq", "16", "--batch", "1"],
    "mixed b8": ["--lengths", "16,32,48,64,80,96,112,128"],
}
RUNS = {"b1 s128": 20, "b1 s16": 60, "mixed b8": 6}
TARGET = {"b1 s128": 0.75, "b1 s16": 0.5, "mixed b8": 0.4}  # issue 11, 1 thread, AVX-512 VNNI host


def host_cpu():
    """The CPU model and its int8 extensions, from /proc/cpuinfo's first CPU."""
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            if not line.strip():
                break
            k, _, v = line.partition(":")
            info[k.strip()] = v.strip()
    except OSError:
        pass
    flags = set(info.get("flags", "").split())
    ext = [f for f in ("avx2", "avx512_vnni", "avx_vnni") if f in flags]
    return (f"{info.get('model name', 'unknown CPU')} (family {info.get('cpu family', '?')} model "
            f"{info.get('model', '?')}), {os.cpu_count()} CPUs, {' '.join(ext) or 'no AVX2'}")


def texts(r):
    return len(r["lengths"])


def run_json(cmd, env=None):
    p = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if p.returncode != 0:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def same_model_check(lepton, mdir, bits):
    """Lepton and ORT must run the same model: on a synthetic vocabulary the text
    "tok1234 tok2000 ..." is exactly the ids [CLS] 1234 2000 ... [SEP]."""
    ids = [101] + [1000 + (i * 7919) % 29000 for i in range(30)] + [102]
    text = " ".join(f"tok{i}" for i in ids[1:-1])
    lep = run_json([lepton, "embed", "-m", os.path.join(mdir, "model.lep"), "--act-bits", bits, "--pooling", "mean",
                    "--json", text])["vector"]
    for name in ["model.onnx", "model_int8.onnx"]:
        o = run_json(["node", os.path.join(HERE, "ort_bench.js"), "--model", os.path.join(mdir, name),
                      "--dump", ",".join(map(str, ids))])["vector"]
        dot = sum(x * y for x, y in zip(lep, o))
        cos = dot / (sum(x * x for x in lep) ** 0.5 * sum(y * y for y in o) ** 0.5)
        err = max(abs(x - y) for x, y in zip(lep, o))
        print(f"same-model check {os.path.basename(mdir)}: Lepton int8 ({bits}-bit activations) vs ORT {name}: cosine {cos:.5f}, "
              f"max abs diff {err:.4f} over {len(lep)} dims", file=sys.stderr)
        if cos < 0.95:
            raise SystemExit("the engines disagree: not the same model")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shapes", default="minilm,base")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--act-bits", default="7,8",
                    help="Lepton activation precisions to run (lepton bench --act-bits), comma-separated")
    ap.add_argument("--kernels", default="",
                    help="Lepton kernel tiers to run (LEPTON_KERNEL), comma-separated; default: the automatic one")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--runs-scale", type=float, default=1.0, help="multiply the per-case run counts")
    ap.add_argument("--lepton", default="/tmp/lepton-bench", help="lepton binary (built by this script)")
    ap.add_argument("--lepton-synthetic", action="store_true",
                    help="use `lepton bench --synthetic` instead of -m models/SHAPE/model.lep")
    ap.add_argument("--ort-spin", action="store_true",
                    help="keep ORT's default spin-waiting intra-op threads (by default they are told not to spin, "
                         "which is ORT's faster setting on a shared host: 2.4x at 2 threads here)")
    ap.add_argument("--fp32", action="store_true", help="also run ORT on the fp32 model")
    ap.add_argument("--check", action="store_true",
                    help="first check that both engines compute the same function: mean-pooled outputs of "
                         "lepton embed and ORT fp32/int8 on the same tokens, cosine similarity")
    ap.add_argument("--report", nargs="+", metavar="RAW.jsonl",
                    help="run nothing: print the tables from raw results of earlier runs (rounds pooled)")
    ap.add_argument("--out", default=os.path.join(HERE, "results", "raw.jsonl"))
    a = ap.parse_args()

    if a.report:
        res = {}
        for path in a.report:
            for line in open(path):
                r = json.loads(line)
                res.setdefault(tuple(r["key"]), []).append(r)
        rounds = max(len(v) for v in res.values())
        shapes = [s for s in a.shapes.split(",") if any(k[0] == s for k in res)]
        cases = [c for c in a.cases.split(",") if any(k[1] == c for k in res)]
        threads = [t for t in a.threads.split(",") if any(k[2] == t for k in res)]
        spin = "allow_spinning=0"
        return report(res, shapes, cases, threads, rounds, spin, any(k[3] == "ort-fp32" for k in res))

    subprocess.run(["go", "build", "-o", a.lepton, "./cmd/lepton"], check=True, cwd=ROOT)
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    raw = open(a.out, "a")
    shapes = a.shapes.split(",")
    act_bits = a.act_bits.split(",")
    if a.check:
        for shape in shapes:
            for bits in act_bits:
                same_model_check(a.lepton, os.path.join(HERE, "models", shape), bits)
    cases = a.cases.split(",")
    threads = a.threads.split(",")
    kernels = a.kernels.split(",") if a.kernels else [""]
    res = {}  # (shape, case, threads, engine) -> list of result dicts
    print(f"host: {host_cpu()}", file=sys.stderr)

    def record(key, r):
        r["key"] = list(key)
        r["time"] = time.time()
        raw.write(json.dumps(r) + "\n")
        raw.flush()
        res.setdefault(key, []).append(r)

    for rnd in range(a.rounds):
        for shape in shapes:
            mdir = os.path.join(HERE, "models", shape)
            for case in cases:
                runs = str(max(3, int(RUNS[case] * a.runs_scale)))
                for t in threads:
                    if a.lepton_synthetic:
                        src = ["--synthetic", shape]
                    else:
                        src = ["-m", os.path.join(mdir, "model.lep")]
                    for kern in kernels:
                        env = dict(os.environ, LEPTON_KERNEL=kern) if kern else None
                        for bits in act_bits:
                            lep = run_json([a.lepton, "bench", *src, *CASES[case], "--threads", t, "--runs", runs,
                                            "--act-bits", bits, "--json"], env)
                            record((shape, case, t, "lepton-a" + bits + ("-" + kern if kern else "")), lep)
                    ortargs = [*CASES[case], "--threads", t, "--runs", runs, "--spin", "1" if a.ort_spin else "0"]
                    o = run_json(["node", os.path.join(HERE, "ort_bench.js"), "--model",
                                  os.path.join(mdir, "model_int8.onnx"), *ortargs])
                    record((shape, case, t, "ort-int8"), o)
                    if a.fp32:
                        o = run_json(["node", os.path.join(HERE, "ort_bench.js"), "--model",
                                      os.path.join(mdir, "model.onnx"), *ortargs])
                        record((shape, case, t, "ort-fp32"), o)
                    print(f"round {rnd + 1}/{a.rounds} {shape} {case} t={t}: lepton ({act_bits[-1]}-bit) {lep['median_ms']:.2f} ms, "
                          f"ort {o['median_ms']:.2f} ms", file=sys.stderr, flush=True)

    spin = "default spinning" if a.ort_spin else "allow_spinning=0"
    report(res, shapes, cases, threads, a.rounds, spin, a.fp32)


def lepton_engines(res):
    """Lepton's engine keys in the results: "lepton-a<bits>[-<kernel>]"
    ("lepton" in raw files from before --act-bits existed means 8-bit)."""
    return sorted({k[3] for k in res if k[3].startswith("lepton")}, key=lambda e: (engine_kernel(e), engine_bits(e)))


def engine_bits(engine):
    return engine[len("lepton-a"):].split("-")[0] if engine.startswith("lepton-a") else "8"


def engine_kernel(engine):
    """The forced kernel tier of an engine key, "" for the automatic one."""
    parts = engine.split("-")
    return parts[2] if len(parts) > 2 else ""


def report(res, shapes, cases, threads, rounds, spin, fp32):
    med = lambda key, f: statistics.median(r[f] for r in res[key])
    if not res:
        return
    engines = lepton_engines(res)
    kernel = ", ".join(sorted({r["kernel"] for k, v in res.items() if k[3] in engines for r in v}))
    print(f"\nHost: {host_cpu()}. Lepton kernel: {kernel}; {rounds} rounds, median of per-process medians; "
          f"ORT = onnxruntime-node 1.30.0 int8 (DynamicQuantizeMatMul), graph optimisation 'all', {spin}. "
          f"CPU-s/1k = CPU seconds per 1,000 texts (all threads), the energy figure.\n")
    hdr = ("| shape | case | threads | Lepton kernel | act. bits | Lepton ms | ORT int8 ms | Lepton/ORT | target "
           "| Lepton CPU ms | ORT CPU ms | CPU ratio | Lepton CPU-s/1k | ORT CPU-s/1k |")
    if fp32:
        hdr += " ORT fp32 ms |"
    print(hdr)
    print("|" + "---|" * (hdr.count("|") - 1))
    for shape in shapes:
        for case in cases:
            for t in threads:
                ok = (shape, case, t, "ort-int8")
                for eng in engines:
                    lk = (shape, case, t, eng)
                    if lk not in res or ok not in res:
                        continue
                    l, o = med(lk, "median_ms"), med(ok, "median_ms")
                    tgt = f"<= {TARGET[case]}" if t == "1" else ""
                    lc, oc = med(lk, "cpu_ms"), med(ok, "cpu_ms")
                    lt, ot = texts(res[lk][0]), texts(res[ok][0])
                    kern = res[lk][0]["kernel"]
                    line = (f"| {shape} | {case} | {t} | {kern} | {engine_bits(eng)} | {l:.2f} | {o:.2f} | {l / o:.3f} | {tgt} "
                            f"| {lc:.2f} | {oc:.2f} | {lc / oc:.3f} | {lc / lt:.2f} | {oc / ot:.2f} |")
                    if fp32:
                        line += f" {med((shape, case, t, 'ort-fp32'), 'median_ms'):.2f} |"
                    print(line)
    print("\n| shape | Lepton open ms | ORT session ms | ratio | Lepton peak RSS MB | ORT peak RSS MB | ratio |")
    print("|---|---|---|---|---|---|---|")
    for shape in shapes:
        lk = [k for k in res if k[0] == shape and k[3] in engines and k[2] == "1"]
        ok = [k for k in res if k[0] == shape and k[3] == "ort-int8" and k[2] == "1"]
        if not lk or not ok:
            continue
        lo = statistics.median(r["open_ms"] for k in lk for r in res[k])
        oo = statistics.median(r["open_ms"] for k in ok for r in res[k])
        lr = max(r["peak_rss_mb"] for k in lk for r in res[k])
        orr = max(r["peak_rss_mb"] for k in ok for r in res[k])
        print(f"| {shape} | {lo:.2f} | {oo:.1f} | 1/{oo / lo:.0f} | {lr:.1f} | {orr:.1f} | {lr / orr:.2f} |")
    for eng in engines:
        k = ("minilm", "b1 s128", "1", eng)
        if k in res:
            print(f"\nhugot v0.6.1 pure-Go backend, MiniLM fp32 b1 s128, 1 thread: 717 ms (the issue's figure on a "
                  f"quiet machine, not re-measured). Lepton ({engine_bits(eng)}-bit activations): "
                  f"{med(k, 'median_ms'):.2f} ms wall ({717 / med(k, 'median_ms'):.0f}x), "
                  f"{med(k, 'cpu_ms'):.2f} CPU ms ({717 / med(k, 'cpu_ms'):.0f}x).")


if __name__ == "__main__":
    main()
