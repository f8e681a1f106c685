"""Helpers shared by the encoder golden scripts (make_st_model.py,
make_cross_encoder.py, make_distilbert.py).

They write leptontest golden files (package lepton/leptontest: JSON, one
case per line) from references computed outside Lepton: PyTorch for the
models, Hugging Face's tokenizers library (Rust, via node) for token ids,
ONNX Runtime and transformers.js as cross-checks.
"""
import json
import os
import subprocess
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
GOLDEN = os.path.join(ROOT, "testdata", "golden")

HF_TOKENIZERS = "tokenizers 0.23.2"
ORT = "ONNX Runtime 1.30.0 (onnxruntime-node)"
TORCH = f"PyTorch {torch.__version__.split('a')[0]}"


def run_node(script, *args):
    subprocess.run(["node", os.path.join(HERE, script), *args], check=True)


def hf_encode(tokenizer_json, cases, max_length):
    """Token ids and type ids from Hugging Face tokenizers (Rust) for cases
    [{"text": ..., "pair": ...?}], truncated longest-first to max_length."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
        with open(inp, "w") as f:
            json.dump({"tokenizer": tokenizer_json, "max_length": max_length, "cases": cases}, f)
        run_node("hf_encode.mjs", inp, out)
        with open(out) as f:
            return json.load(f)


def ort_run(onnx_path, tok_dir, cases):
    """Runs id cases [{"name", "ids", "type_ids"}] in ONNX Runtime
    (run_ort.mjs); returns its records with every graph output."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "cases.json"), os.path.join(tmp, "out.json")
        with open(inp, "w") as f:
            json.dump(cases, f)
        run_node("run_ort.mjs", onnx_path, tok_dir, inp, out)
        with open(out) as f:
            return json.load(f)


def f32(values):
    """float32 values as the shortest decimals that read back to the same
    float32 (what Go's encoding/json writes for a []float32)."""
    return [float(str(x)) for x in np.asarray(values, dtype=np.float32).ravel()]


def write_golden(path, source, model, cases):
    """Writes a leptontest golden file: header, then one case per line."""
    head = {"leptontest": 1, "source": source, "model": model}
    text = json.dumps(head, ensure_ascii=False, separators=(",", ":"))
    assert text.endswith("}")
    lines = [json.dumps(c, ensure_ascii=False, separators=(",", ":")) for c in cases]
    with open(path, "w") as f:
        f.write(text[:-1] + ',"cases":[\n' + ",\n".join(lines) + "\n]}\n")
    print(f"wrote {os.path.relpath(path, ROOT)} ({len(cases)} cases)")


def init_weights(named, gain=1.0):
    """Random weights: LayerNorm gammas 1 +- 0.1, biases 0.05 sd, embeddings
    0.5 sd, matrices gain/sqrt(fan-in) sd. gain 1 keeps each layer's output
    on the scale of its input, as trained encoders roughly do; attention is
    then well away from uniform (scores of sd about 1) and GELU sees its
    curved range. make_random_bert.py's stress fixture uses gain 1.5, which
    amplifies every layer's rounding error (docs/ACCURACY.md compares)."""
    with torch.no_grad():
        for name, p in named.items():
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * gain / p.shape[1] ** 0.5)


def max_abs(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))
