#!/usr/bin/env python3
"""Golden metrics for lepton eval's arithmetic (TestEvalMetricsGolden).

Writes logits.csv, a fixed set of 4-class model outputs (label, logit_0..3,
float32 values), and golden.json, what scikit-learn 1.2 (and numpy for the
expected calibration error, which scikit-learn lacks) computes on them.
The data are made awkward on purpose: label 3 never occurs and is never
predicted (left out of the macro average), label 2 occurs but is never
predicted (precision undefined, F1 0), and a few rows tie.

Run from the repository root:
    /usr/bin/python3 cmd/lepton/testdata/eval/make_golden.py
"""
import json
import os

import numpy as np
from sklearn.metrics import (accuracy_score, confusion_matrix, f1_score,
                             log_loss, precision_recall_fscore_support)

K = 4
N = 203
HERE = os.path.dirname(os.path.abspath(__file__))

rng = np.random.default_rng(20261206)
y = rng.choice([0, 1, 2], size=N, p=[0.5, 0.35, 0.15])
logits = rng.normal(0, 1.5, size=(N, K)).astype(np.float32)
logits[np.arange(N), y] += np.float32(1.2)        # mostly right
logits[:, 2] -= np.float32(6)                      # label 2 never wins
logits[:, 3] -= np.float32(9)                      # label 3 never wins
logits[:3, 0] = logits[:3, 1]                      # ties: lowest index wins
logits = logits.astype(np.float32)

with open(os.path.join(HERE, "logits.csv"), "w") as f:
    f.write("label," + ",".join(f"logit_{k}" for k in range(K)) + "\n")
    for i in range(N):
        # repr of a float32 round-trips exactly through float64 parsing.
        f.write(str(int(y[i])) + "," + ",".join(repr(float(v)) for v in logits[i]) + "\n")

z = logits.astype(np.float64)
z = z - z.max(axis=1, keepdims=True)
probs = np.exp(z)
probs /= probs.sum(axis=1, keepdims=True)
pred = probs.argmax(axis=1)                         # first maximum, as Go's

labels = list(range(K))
p0, r0, f0, support = precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
p1, r1, f1_, _ = precision_recall_fscore_support(y, pred, labels=labels, zero_division=1)
present = sorted(set(y.tolist()) | set(pred.tolist()))

def undefined_or(a, b):
    return [None if x != w else float(x) for x, w in zip(a, b)]

# Expected calibration error: 15 equal-width bins of the top-label
# confidence (Guo et al. 2017), as package fairness bins it.
conf = probs.max(axis=1)
hit = (pred == y).astype(np.float64)
bins = np.minimum((conf * 15).astype(int), 14)
ece = 0.0
for b in range(15):
    m = bins == b
    if m.any():
        ece += abs(hit[m].mean() - conf[m].mean()) * m.sum() / N
onehot = np.eye(K)[y]

golden = {
    "source": "scikit-learn " + __import__("sklearn").__version__ + ", numpy " + np.__version__,
    "n": N,
    "accuracy": accuracy_score(y, pred),
    "macro_f1": f1_score(y, pred, average="macro", zero_division=0),  # labels present only
    "weighted_f1": f1_score(y, pred, average="weighted", zero_division=0),
    "macro_labels": present,
    "precision": undefined_or(p0, p1),
    "recall": undefined_or(r0, r1),
    "f1": [float(v) if (s > 0 or (pred == k).any()) else None for k, (v, s) in enumerate(zip(f0, support))],
    "support": support.tolist(),
    "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
    "ece": ece,
    "log_loss": log_loss(y, probs, labels=labels),
    "brier": float(((probs - onehot) ** 2).sum(axis=1).mean()),
}
with open(os.path.join(HERE, "golden.json"), "w") as f:
    json.dump(golden, f, indent=1)
    f.write("\n")
print(json.dumps({k: golden[k] for k in ("accuracy", "macro_f1", "weighted_f1", "ece", "log_loss")}))
