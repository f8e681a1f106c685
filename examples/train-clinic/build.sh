#!/usr/bin/env bash
# Rebuilds Lepton's built-in clinic model from scratch, offline, and
# measures it. Run from the repository root with ../shared beside it and
# Debian's python3-torch, python3-sklearn (and node for the optional
# tokenizer cross-check); it installs the two dictionary packages the
# pretraining text comes from (wordnet-base, dict-gcide) with apt-get when
# they are missing:
#
#   bash examples/train-clinic/build.sh            # everything (run time: README.md here, "The recipe")
#   OUT=/tmp/clinic-model bash examples/train-clinic/build.sh
#   SKIP_TRAIN=1 bash examples/train-clinic/build.sh   # re-quantize and re-measure only
#
# Steps: train.py (dictionary text from corpus.py, MLM pretraining,
# fine-tuning with distillation from the TF-IDF teacher, temperature
# scaling; writes metrics.json, reference/), baseline.py (baseline.json),
# tokenizers.js parity check, `lepton quantize`, the int8 evaluation with
# Lepton, `lepton quantize` again with the measured figures as metadata into
# models/clinic/clinic.lep, and the reliability diagram.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/clinic-model}
PY=${PY:-/usr/bin/python3}
HERE=examples/train-clinic

# The pretraining text: WordNet 3.0 and GCIDE (1913 Webster's), from Debian.
missing=()
[ -f /usr/share/wordnet/data.noun ] || missing+=(wordnet-base)
[ -f /usr/share/dictd/gcide.dict.dz ] || missing+=(dict-gcide)
if [ ${#missing[@]} -gt 0 ] && [ -z "${SKIP_TRAIN:-}" ]; then
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

start=$SECONDS
if [ -z "${SKIP_TRAIN:-}" ]; then # SKIP_TRAIN=1: reuse a model already in $OUT
  "$PY" $HERE/train.py --out "$OUT" "$@"
  "$PY" $HERE/baseline.py
fi
# LEPTON_NODE_DIR: a tools/node folder with node_modules (default: this repository's).
NODE_DIR=${LEPTON_NODE_DIR:-tools/node}
if command -v node >/dev/null && [ -d "$NODE_DIR/node_modules/@huggingface/tokenizers" ]; then
  LEPTON_NODE_DIR=$(cd "$NODE_DIR" && pwd) node $HERE/check_tokenizer.mjs "$OUT"
else
  echo "build.sh: tokenizers.js not found under $NODE_DIR/node_modules: tokenizer cross-check skipped" >&2
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
c, t, pre = m["model"], m["training"], m.get("pretraining")
how = (f"MLM-pretrained ({m['pretraining']['steps']} steps) on {m['corpus']['lines']} lines of WordNet 3.0 and GCIDE "
       f"dictionary text (Debian wordnet-base {m['corpus']['packages'].get('wordnet-base', '?')}, "
       f"dict-gcide {m['corpus']['packages'].get('dict-gcide', '?')}), then fine-tuned"
       if pre else "trained from scratch (no pretraining)")
distill = (f", distilled from TF-IDF + logistic regression (weight {t['distill']}) on {t['aug_pool']} augmented texts per row"
           if t.get("distill") else "")
pairs = {
    "name": "lepton-clinic-symptom2disease",
    "description": "Lepton's built-in demo model: suggests one of 24 diagnoses from a patient's own "
                   "description of symptoms. A demonstration, not a medical device.",
    "training": f"BERT {c['num_hidden_layers']} layers, hidden {c['hidden_size']}, {c['num_attention_heads']} heads, "
                f"{m['parameters']} parameters, {how} on {m['split']['train']} rows of "
                f"Symptom2Disease by examples/train-clinic/train.py (seed {t['seed']}, AdamW lr {t['lr']}{distill}, "
                f"early stopping on {m['split']['validation']} validation rows: best epoch {t['best_epoch']}; "
                f"temperature {t['temperature']} fitted on them and folded into the classifier)",
    "data": "Symptom2Disease (Kaggle, via t4ai/nlp-medical-diagnosis-classifier), 24 diagnoses x 50 descriptions; "
            "no licence stated: demo use only",
    "test_rows": str(e["test_rows"]),
    "test_accuracy_int8": f"{e['int8_lepton']['accuracy']:.4f}",
    "test_macro_f1_int8": f"{e['int8_lepton']['macro_f1']:.4f}",
    "test_ece_int8": f"{e['int8_lepton']['ece']:.4f}",
    "test_accuracy_fp32": f"{e['fp32_pytorch']['accuracy']:.4f}",
    "test_macro_f1_fp32": f"{e['fp32_pytorch']['macro_f1']:.4f}",
    "test_ece_fp32": f"{e['fp32_pytorch']['ece']:.4f}",
    "test_int8_fp32_agreement": f"{e['int8_fp32_argmax_agreement']:.4f}",
    "test_baseline_tfidf_logreg": f"accuracy {b['test']['accuracy']:.4f}, macro-F1 {b['test']['macro_f1']:.4f}, "
                                  f"ECE {b['test']['ece']:.4f}",
    "paraphrases_int8": f"{e['paraphrases']['int8_correct']}/{e['paraphrases']['rows']}",
    "paraphrases_baseline_tfidf_logreg": f"{b['paraphrases']['correct']}/{b['paraphrases']['rows']}",
    "evaluation": "go run ./examples/train-clinic/eval (held-out stratified test split, examples/train-clinic/split.json; "
                  "ECE: 15 equal-width confidence bins; paraphrases: examples/train-clinic/paraphrases.csv)",
}
for k, v in pairs.items():
    print(f"--meta={k}={v}")
PYEOF
}
meta > "$OUT/meta.args"
mapfile -t METAS < "$OUT/meta.args"
"$OUT/lepton" quantize "$OUT" -o models/clinic/clinic.lep --no-progress "${METAS[@]}"
go run ./$HERE/eval -reliability $HERE/reliability.png
echo "build.sh: $((SECONDS - start)) s"
