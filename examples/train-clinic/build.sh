#!/usr/bin/env bash
# Rebuilds Lepton's built-in clinic model from scratch, offline, and
# measures it. Run from the repository root with ../shared beside it and
# Debian's python3-torch, python3-sklearn (and node for the optional
# tokenizer cross-check):
#
#   bash examples/train-clinic/build.sh            # everything: ~7.5 min (training 390 s
#                                                  # on one idle core), up to ~15 min on loaded cores
#   OUT=/tmp/clinic-model bash examples/train-clinic/build.sh
#   SKIP_TRAIN=1 bash examples/train-clinic/build.sh   # re-quantize and re-measure only
#
# Steps: train.py (model + split.json, metrics.json, reference/), baseline.py
# (baseline.json), tokenizers.js parity check, `lepton quantize`, the int8
# evaluation with Lepton, then `lepton quantize` again with the measured
# figures as metadata into models/clinic/clinic.lep.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/clinic-model}
PY=${PY:-/usr/bin/python3}
HERE=examples/train-clinic

if [ -z "${SKIP_TRAIN:-}" ]; then # SKIP_TRAIN=1: reuse a model already in $OUT
  "$PY" $HERE/train.py --out "$OUT" "$@"
  "$PY" $HERE/baseline.py
fi
if command -v node >/dev/null && [ -d tools/node/node_modules/@huggingface/tokenizers ]; then
  node $HERE/check_tokenizer.mjs "$OUT"
fi

go build -o "$OUT/lepton" ./cmd/lepton
"$OUT/lepton" quantize "$OUT" -o "$OUT/int8.lep" --no-progress
go run ./$HERE/eval -m "$OUT/int8.lep" -json > "$OUT/eval.json"
cat "$OUT/eval.json"

# The file describes itself: `lepton info` prints these.
meta() {
  "$PY" - "$HERE/metrics.json" "$HERE/baseline.json" "$OUT/eval.json" <<'PYEOF'
import json, sys
m, b, e = (json.load(open(p)) for p in sys.argv[1:4])
c, t = m["model"], m["training"]
pairs = {
    "name": "lepton-clinic-symptom2disease",
    "description": "Lepton's built-in demo model: suggests one of 24 diagnoses from a patient's own "
                   "description of symptoms. A demonstration, not a medical device.",
    "training": f"BERT {c['num_hidden_layers']} layers, hidden {c['hidden_size']}, {c['num_attention_heads']} heads, "
                f"{m['parameters']} parameters, trained from scratch (no pretraining) on {m['split']['train']} rows of "
                f"Symptom2Disease by examples/train-clinic/train.py (seed {t['seed']}, AdamW lr {t['lr']}, "
                f"word dropout {t.get('word_dropout', 0.0)}, class-balanced loss, early stopping on {m['split']['validation']} "
                f"validation rows: best epoch {t['best_epoch']})",
    "data": "Symptom2Disease (Kaggle, via t4ai/nlp-medical-diagnosis-classifier), 24 diagnoses x 50 descriptions; "
            "no licence stated: demo use only",
    "test_rows": str(e["test_rows"]),
    "test_accuracy_int8": f"{e['int8_lepton']['accuracy']:.4f}",
    "test_macro_f1_int8": f"{e['int8_lepton']['macro_f1']:.4f}",
    "test_accuracy_fp32": f"{e['fp32_pytorch']['accuracy']:.4f}",
    "test_macro_f1_fp32": f"{e['fp32_pytorch']['macro_f1']:.4f}",
    "test_int8_fp32_agreement": f"{e['int8_fp32_argmax_agreement']:.4f}",
    "test_baseline_tfidf_logreg": f"accuracy {b['test']['accuracy']:.4f}, macro-F1 {b['test']['macro_f1']:.4f}",
    "evaluation": "go run ./examples/train-clinic/eval (held-out stratified test split, examples/train-clinic/split.json)",
}
for k, v in pairs.items():
    print(f"--meta={k}={v}")
PYEOF
}
meta > "$OUT/meta.args"
mapfile -t METAS < "$OUT/meta.args"
"$OUT/lepton" quantize "$OUT" -o models/clinic/clinic.lep --no-progress "${METAS[@]}"
go run ./$HERE/eval
