#!/usr/bin/env python3
"""Independent reference values for fairness tests, from scikit-learn/scipy.

Run from this directory with Debian's python3 (numpy, scipy, scikit-learn 1.2):
    /usr/bin/python3 make_golden.py
Writes synthetic.csv (the input, generated here with a fixed seed) and
sklearn.json (the expected metrics and fits). Lepton's tests read both; they
never run this script.
"""
import hashlib
import hmac
import json

import numpy as np
import scipy
import sklearn
from scipy.optimize import minimize_scalar
from scipy.stats import binomtest
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (accuracy_score, brier_score_loss, log_loss,
                             precision_score, recall_score)

rng = np.random.default_rng(7)
groups = np.array(["a"] * 120 + ["b"] * 80 + ["c"] * 41)
# Per-group miscalibration: b is over-confident, c under-confident.
shift = {"a": 0.0, "b": 0.6, "c": -0.4}
scale = {"a": 1.0, "b": 2.0, "c": 0.5}
true_logit = rng.normal(0, 1.5, len(groups))
labels = (rng.random(len(groups)) < 1 / (1 + np.exp(-true_logit))).astype(int)
model_logit = np.array([scale[g] * z + shift[g] for g, z in zip(groups, true_logit)])
scores = np.round(1 / (1 + np.exp(-model_logit)), 6)
scores = np.clip(scores, 1e-6, 1 - 1e-6)

with open("synthetic.csv", "w") as f:
    f.write("group,label,score\n")
    for g, y, s in zip(groups, labels, scores):
        f.write(f"{g},{y},{s:.6f}\n")
scores = np.array([float(f"{s:.6f}") for s in scores])


def ece_binary(s, y, bins=15):
    idx = np.minimum((s * bins).astype(int), bins - 1)
    e = 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            e += abs(y[m].sum() - s[m].sum()) / len(s)
    return e


def wilson(k, n):
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return [ci.low, ci.high]


def metrics(s, y):
    pred = (s > 0.5).astype(int)
    tp = int(((pred == 1) & (y == 1)).sum())
    fp = int(((pred == 1) & (y == 0)).sum())
    return {
        "count": int(len(s)),
        "accuracy": accuracy_score(y, pred),
        "accuracy_ci": wilson((pred == y).sum(), len(y)),
        "selection_rate": pred.mean(),
        "tpr": recall_score(y, pred),
        "tpr_ci": wilson(tp, (y == 1).sum()),
        "fpr": fp / (y == 0).sum(),
        "precision": precision_score(y, pred),
        "brier": brier_score_loss(y, s),
        "log_loss": log_loss(y, s, labels=[0, 1]),
        "ece": ece_binary(s, y),
    }


out = {"versions": {"numpy": np.__version__, "scipy": scipy.__version__, "sklearn": sklearn.__version__},
       "overall": metrics(scores, labels), "groups": {}}
for g in ["a", "b", "c"]:
    m = groups == g
    out["groups"][g] = metrics(scores[m], labels[m])

sel = {g: out["groups"][g]["selection_rate"] for g in "abc"}
tpr = {g: out["groups"][g]["tpr"] for g in "abc"}
fpr = {g: out["groups"][g]["fpr"] for g in "abc"}
out["demographic_parity_difference"] = max(sel.values()) - min(sel.values())
out["equalized_odds_difference"] = max(max(tpr.values()) - min(tpr.values()), max(fpr.values()) - min(fpr.values()))

# Fits on group b (the over-confident one).
m = groups == "b"
s_b, y_b = scores[m], labels[m]
f_b = np.log(s_b) - np.log1p(-s_b)
lr = LogisticRegression(penalty=None, tol=1e-12, max_iter=10000).fit(f_b.reshape(-1, 1), y_b)
out["platt_b"] = {"a": float(lr.coef_[0][0]), "b": float(lr.intercept_[0])}


def nll(T):
    z = np.stack([np.zeros_like(f_b), f_b], axis=1) / T
    z = z - z.max(axis=1, keepdims=True)
    lp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -lp[np.arange(len(y_b)), y_b].mean()


res = minimize_scalar(nll, bounds=(1e-3, 1e3), method="bounded", options={"xatol": 1e-10})
out["temperature_b"] = float(res.x)

iso = IsotonicRegression(out_of_bounds="clip", y_min=0, y_max=1).fit(s_b, y_b)
probe = np.linspace(0, 1, 41)
out["isotonic_b"] = {"x": probe.tolist(), "y": iso.predict(probe).tolist()}

# Per-request coins: HMAC-SHA256(key, id), first 8 bytes big-endian, top 53
# bits scaled by 2^-53.
out["coins"] = {
    rid: (int.from_bytes(hmac.new(b"audit-key", rid.encode(), hashlib.sha256).digest()[:8], "big") >> 11) * 2.0**-53
    for rid in ["", "req-0", "req-1", "patient 42 / visit 7", "\u00e9t\u00e9"]
}

with open("sklearn.json", "w") as f:
    json.dump(out, f, indent=1, sort_keys=True)
