#!/usr/bin/python3
"""Reference logits of ../shared/models/sst2-bert-tiny-scratch on every
SST-2 validation sentence, for Lepton's accuracy tests.

Run from the repo root (needs ../shared, Debian's python3-torch and
`npm install` in tools/node):

    /usr/bin/python3 scripts/golden/sst2_reference.py

Each sentence of ../shared/data/sst2/validation.tsv is tokenised by Hugging
Face's tokenizer (transformers.js, from the model's own tokenizer.json) and
run alone through the model's model.onnx in ONNX Runtime 1.30 (run_ort.mjs).
The same ids also go through the PyTorch re-implementation in torch_bert.py
with model.safetensors; the script fails if the two differ by more than 1e-4
or if the fp32 accuracy is not the published 0.8016.

Output: testdata/golden/sst2_logits.json with, per validation line, the line
number, a SHA-256 prefix of the sentence (so tests notice a changed data
file), the SHA-256 of the reference token ids (ids_sha256, over the canonical
string "ids=101,2023,...,102", see ids_sha256) and the ONNX Runtime logits,
plus PyTorch's final hidden states for the first HIDDEN_LINES sentences.
Neither the sentences nor their ids are stored: the ids decode back to the
text, so they would be a copy of ../shared. The Go tests tokenise the
../shared sentence with Lepton's tokenizer, check the hash of those ids and
feed them to the model.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.join(ROOT, "..", "shared")
MODEL = os.path.join(SHARED, "models", "sst2-bert-tiny-scratch")
DATA = os.path.join(SHARED, "data", "sst2", "validation.tsv")
OUT = os.path.join(ROOT, "testdata", "golden", "sst2_logits.json")
# The model's ONNX graph only outputs logits; hidden states of the first few
# sentences come from the PyTorch re-implementation, whose logits match ONNX
# Runtime's on all 872 sentences (checked below).
HIDDEN_LINES = 4


def ids_sha256(ids):
    """SHA-256 hex of the canonical string "ids=101,2023,...,102"; the Go
    tests (internal/bert/golden_test.go, lepton_test.go) hash identically."""
    return hashlib.sha256(("ids=" + ",".join(str(int(i)) for i in ids)).encode()).hexdigest()


def main():
    import torch  # here, so sst2_hash_ids.py can import this module without torch
    from torch_bert import Bert, load_into, load_safetensors

    rows = []
    with open(DATA, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if i == 0:
                continue  # header
            text, label = line.rstrip("\n").split("\t")
            rows.append((i, text, int(label)))

    cases = [{"name": str(i), "text": text} for i, text, _ in rows]
    with tempfile.TemporaryDirectory() as tmp:
        cases_path, out_path = os.path.join(tmp, "cases.json"), os.path.join(tmp, "out.json")
        with open(cases_path, "w") as f:
            json.dump(cases, f)
        subprocess.run(["node", os.path.join(ROOT, "scripts", "golden", "run_ort.mjs"),
                        os.path.join(MODEL, "model.onnx"), MODEL, cases_path, out_path], check=True)
        with open(out_path) as f:
            results = json.load(f)

    with open(os.path.join(MODEL, "config.json")) as f:
        cfg = json.load(f)
    model = Bert(cfg).eval()
    load_into(model, load_safetensors(os.path.join(MODEL, "model.safetensors")))
    worst, correct = 0.0, 0
    hidden_cases = []
    with torch.no_grad():
        for (line, _, label), r in zip(rows, results):
            ids = torch.tensor([r["ids"]])
            hidden, _, logits = model(ids, torch.ones_like(ids), torch.tensor([r["type_ids"]]))
            if line <= HIDDEN_LINES:
                hidden_cases.append({"line": line, "last_hidden_state": [[float(f"{v:.7g}") for v in row]
                                                                         for row in hidden[0].tolist()]})
            worst = max(worst, (logits[0] - torch.tensor(r["logits"])).abs().max().item())
            correct += int(max(range(2), key=lambda k: r["logits"][k]) == label)
    acc = correct / len(rows)
    print(f"PyTorch vs ONNX Runtime: max abs logit difference {worst:.2e}; ORT fp32 accuracy {acc:.4f}")
    assert worst < 1e-4, worst
    assert abs(acc - 0.8016) < 5e-4, acc

    out = {
        "reference": "ONNX Runtime 1.30.0 (onnxruntime-node) on ../shared/models/sst2-bert-tiny-scratch/model.onnx,"
                     " ids from its tokenizer.json via transformers.js; see scripts/golden/sst2_reference.py",
        "accuracy": round(acc, 6),
        "cases": [{"line": line, "sha256": hashlib.sha256(text.encode()).hexdigest()[:16], "ids_sha256": ids_sha256(r["ids"]),
                   "logits": [float(f"{v:.7g}") for v in r["logits"]]}
                  for (line, text, _), r in zip(rows, results)],
        "hidden_reference": "PyTorch 1.13 (scripts/golden/torch_bert.py) on model.safetensors",
        "hidden": hidden_cases,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {OUT}: {len(rows)} sentences")


if __name__ == "__main__":
    main()
