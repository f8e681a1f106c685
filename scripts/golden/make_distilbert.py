#!/usr/bin/python3
"""Builds the DistilBERT golden fixture and its reference outputs.

Run from the repo root (python3-torch, python3-onnx, `npm install` in
tools/node, and `npm install --prefix /tmp/lepton-hf tokenizers@0.23.2`):

    HF_TOKENIZERS_PREFIX=/tmp/lepton-hf /usr/bin/python3 scripts/golden/make_distilbert.py

It writes, deterministically (fixed torch seed):

  testdata/golden/distilbert/   a random-weight DistilBertForSequenceClassification
      (3 labels) in Hugging Face's layout: config.json (DistilBertConfig's keys:
      dim, n_layers, n_heads, hidden_dim, activation, sinusoidal_pos_embds false),
      model.safetensors ("distilbert." names, pre_classifier, classifier),
      tokenizer.json, vocab.txt, tokenizer_config.json.
  testdata/golden/distilbert.golden.json   leptontest golden: logits,
      probabilities and label of texts and text pairs (DistilBERT ignores
      token types: a pair is [CLS] a [SEP] b [SEP] and nothing more).
  testdata/golden/distilbert-encoder.golden.json   the same weights' encoder
      as a DistilBertModel (what sentence-transformers' DistilBERT models
      wrap): mean-pooled last hidden states of the texts. The Go test makes
      that checkpoint from this one as DistilBertModel.save_pretrained would
      (no head, no "distilbert." prefix).

The model is torch_distilbert.py, written from the architecture; token ids
come from Hugging Face's tokenizers (Rust). ONNX Runtime, on the same
weights exported to ONNX, must agree with PyTorch on every logit and hidden
state to 1e-5 before the files are written.
"""
import json
import os
import shutil
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import GOLDEN, HF_TOKENIZERS, ORT, TORCH, f32, hf_encode, init_weights, max_abs, ort_run, write_golden  # noqa: E402
from make_random_bert import tokenizer_json, vocab  # noqa: E402
from make_st_model import TEXTS  # noqa: E402
from torch_bert import save_safetensors  # noqa: E402
from torch_distilbert import DistilBert  # noqa: E402

FIXTURE = os.path.join(GOLDEN, "distilbert")
LABELS = ["negative", "neutral", "positive"]
PAIRS = [
    ("pair", "i feel a sore throat and a cough", "no fever since monday"),
    ("pair-empty-second", "high blood pressure", ""),
    ("pair-swapped", "no fever since monday", "i feel a sore throat and a cough"),
]


def main():
    torch.manual_seed(20261208)
    tokens = vocab()
    cfg = {
        "architectures": ["DistilBertForSequenceClassification"], "model_type": "distilbert",
        "vocab_size": len(tokens), "dim": 64, "n_layers": 2, "n_heads": 4, "hidden_dim": 128,
        "max_position_embeddings": 64, "activation": "gelu", "sinusoidal_pos_embds": False,
        "dropout": 0.1, "attention_dropout": 0.1, "seq_classif_dropout": 0.2, "qa_dropout": 0.1,
        "initializer_range": 0.02, "tie_weights_": True, "pad_token_id": 0,
        "id2label": {str(i): l for i, l in enumerate(LABELS)}, "label2id": {l: i for i, l in enumerate(LABELS)},
        "_note": "random weights for Lepton's golden tests (scripts/golden/make_distilbert.py)",
    }
    model = DistilBert(cfg).eval()
    init_weights(model.hf_names())
    with torch.no_grad():
        # As in make_cross_encoder.py: the classifier reads the directions in
        # which ReLU(pre_classifier([CLS])) varies (the first three principal
        # components over 256 random sequences, logits of sd about 2), as a
        # trained head would, instead of the part all inputs share.
        g = torch.Generator().manual_seed(12)
        ids = torch.randint(5, len(tokens), (256, 16), generator=g)
        ids[:, 0], ids[:, -1] = 2, 3
        hidden, _ = model(ids, torch.ones_like(ids))
        feats = torch.relu(model.pre_classifier(hidden[:, 0]))
        mean = feats.mean(0)
        _, sv, v = torch.linalg.svd(feats - mean, full_matrices=False)
        w = v[:3] * (2 / (sv[:3] / (len(ids) - 1) ** 0.5)).unsqueeze(1)
        model.classifier.weight.copy_(w)
        model.classifier.bias.copy_(-(w @ mean))

    shutil.rmtree(FIXTURE, ignore_errors=True)
    os.makedirs(FIXTURE)
    json.dump(cfg, open(os.path.join(FIXTURE, "config.json"), "w"), indent=2)
    save_safetensors(os.path.join(FIXTURE, "model.safetensors"), model.hf_names(),
                     {"format": "pt", "note": "random weights, seed 20261208"})
    with open(os.path.join(FIXTURE, "vocab.txt"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(FIXTURE, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(tokens), f, indent=1)
    json.dump({"tokenizer_class": "DistilBertTokenizer", "do_lower_case": True, "model_max_length": 512,
               "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
               "mask_token": "[MASK]"}, open(os.path.join(FIXTURE, "tokenizer_config.json"), "w"), indent=1)
    tok_json = os.path.join(FIXTURE, "tokenizer.json")

    items = [{"text": t} for _, t in TEXTS] + [{"text": a, "pair": b} for _, a, b in PAIRS]
    enc = hf_encode(tok_json, items, 64)
    results = []
    with torch.no_grad():
        for e in enc:  # one at a time: no padding
            ids = torch.tensor([e["ids"]])
            hidden, logits = model(ids, torch.ones_like(ids))
            results.append((hidden[0], logits[0]))

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        torch.onnx.export(model, (torch.tensor([[2, 10, 3]]), torch.ones(1, 3, dtype=torch.long)), onnx_path,
                          opset_version=14, input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state", "logits"],
                          dynamic_axes={k: {0: "batch", 1: "seq"} for k in ("input_ids", "attention_mask", "last_hidden_state")})
        res = ort_run(onnx_path, FIXTURE, [{"name": str(i), "ids": e["ids"], "type_ids": e["type_ids"]} for i, e in enumerate(enc)])
        worst = max(max(max_abs(r["logits"], h[1].tolist()), max_abs(r["last_hidden_state"], h[0].tolist()))
                    for r, h in zip(res, results))
        print(f"PyTorch vs {ORT}: max abs difference {worst:.2e} (logits and hidden states, {len(res)} inputs)")
        assert worst < 1e-5, worst

    source = (f"{TORCH} DistilBERT (scripts/golden/torch_distilbert.py, scripts/golden/make_distilbert.py); "
              f"token ids from Hugging Face {HF_TOKENIZERS}; {ORT} agrees to {worst:.1e}")
    cases = []
    names = [n for n, _ in TEXTS] + [n for n, _, _ in PAIRS]
    for i, (it, (_, logits)) in enumerate(zip(items, results)):
        probs = torch.softmax(logits, 0)
        k = int(torch.argmax(logits))
        c = {"kind": "classify_pair" if "pair" in it else "classify", "name": names[i], "text": it["text"]}
        if "pair" in it:
            c["pair"] = it["pair"]
        c.update({"label": LABELS[k], "index": k, "probs": f32(probs), "logits": f32(logits)})
        cases.append(c)
    write_golden(os.path.join(GOLDEN, "distilbert.golden.json"), source,
                 {"architecture": "DistilBertForSequenceClassification", "labels": LABELS}, cases)

    emb = [{"kind": "embed", "name": n, "text": t, "vector": f32(results[i][0].mean(0))} for i, (n, t) in enumerate(TEXTS)]
    write_golden(os.path.join(GOLDEN, "distilbert-encoder.golden.json"), source + "; mean pooling of the encoder's last hidden states",
                 {"architecture": "DistilBertModel", "pooling": "mean", "embedding_dim": 64}, emb)


if __name__ == "__main__":
    main()
