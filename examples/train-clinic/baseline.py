#!/usr/bin/python3
"""A simple baseline on the same split as the clinic model: TF-IDF word
uni+bigrams and logistic regression (Debian's python3-sklearn), with the
regularisation strength chosen on the validation rows. Writes baseline.json.

    /usr/bin/python3 examples/train-clinic/baseline.py
"""

import argparse
import csv
import json
import os

import numpy as np

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score

HERE = os.path.dirname(os.path.abspath(__file__))


GRID_C = (0.3, 1, 3, 10, 30, 100)


def fit(xtr, ytr, xva, yva, verbose=False, analyzer="word"):
    """Fits TF-IDF + logistic regression for each C in GRID_C and returns
    (validation macro-F1, C, vectorizer, classifier) of the best. analyzer
    "word": word 1-2 grams (the baseline); "char": character 2-5 grams within
    word boundaries (train.py's teacher averages the two)."""
    best = None
    for c in GRID_C:
        if analyzer == "word":
            vec = TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True, min_df=1)
        else:
            vec = TfidfVectorizer(lowercase=True, analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=1)
        clf = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
        clf.fit(vec.fit_transform(xtr), ytr)
        f1 = f1_score(yva, clf.predict(vec.transform(xva)), average="macro")
        if verbose:
            print(f"C={c}: validation macro-F1 {f1:.4f}")
        if best is None or f1 > best[0]:
            best = (f1, c, vec, clf)
    return best


def ece(conf, correct, bins=15):
    """Expected calibration error over equal-width bins (lo, hi] of the
    top-label confidence, as train.py and the eval program compute it."""
    total = 0.0
    for b in range(bins):
        sel = (conf > b / bins) & (conf <= (b + 1) / bins)
        if sel.any():
            total += sel.mean() * abs(correct[sel].mean() - conf[sel].mean())
    return float(total)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", default="../shared/data/symptom2disease/Symptom2Disease.csv")
    args = ap.parse_args()

    with open(args.data, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        next(r)
        rows = [(rec[1], rec[2]) for rec in r]
    with open(os.path.join(HERE, "split.json")) as f:
        split = json.load(f)

    def xy(name):
        return [rows[i][1] for i in split[name]], [rows[i][0] for i in split[name]]

    xtr, ytr = xy("train")
    xva, yva = xy("validation")
    xte, yte = xy("test")

    best = fit(xtr, ytr, xva, yva, verbose=True)
    _, c, vec, clf = best
    proba = clf.predict_proba(vec.transform(xte))
    pred = clf.classes_[proba.argmax(1)]
    # paraphrases.csv is only reported, never used to choose anything.
    with open(os.path.join(HERE, "paraphrases.csv"), newline="", encoding="utf-8") as f:
        para = list(csv.DictReader(f))
    ppred = clf.predict(vec.transform([p["text"] for p in para]))
    out = {
        "model": "TF-IDF (word 1-2 grams, sublinear tf) + logistic regression, class_weight=balanced",
        "C": c,
        "validation_macro_f1": round(best[0], 4),
        "test": {"accuracy": round(accuracy_score(yte, pred), 4), "macro_f1": round(f1_score(yte, pred, average="macro"), 4),
                 "ece": round(ece(proba.max(1), pred == np.array(yte)), 4)},
        "paraphrases": {"rows": len(para), "correct": int(sum(p["label"] == q for p, q in zip(para, ppred))),
                        "wrong": [{"label": p["label"], "predicted": q} for p, q in zip(para, ppred) if p["label"] != q]},
    }
    print(json.dumps(out))
    with open(os.path.join(HERE, "baseline.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
