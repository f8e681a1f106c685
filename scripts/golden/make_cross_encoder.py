#!/usr/bin/python3
"""Builds the cross-encoder (reranker) golden fixture and its reference scores.

Run from the repo root (python3-torch, python3-onnx, `npm install` in
tools/node, and `npm install --prefix /tmp/lepton-hf tokenizers@0.23.2`):

    HF_TOKENIZERS_PREFIX=/tmp/lepton-hf /usr/bin/python3 scripts/golden/make_cross_encoder.py

It writes, deterministically (fixed torch seed):

  testdata/golden/cross-encoder/   a random-weight BertForSequenceClassification
      with one output, saved as sentence-transformers' CrossEncoder 4.x saves
      one: config.json with num_labels 1 and
      "sentence_transformers": {"activation_fn": "torch.nn.modules.activation.Sigmoid"},
      model.safetensors ("bert." names, classifier), tokenizer.json, vocab.txt,
      tokenizer_config.json (model_max_length 40: the length CrossEncoder
      truncates pairs to).
  testdata/golden/cross-encoder.golden.json   a leptontest golden file: for
      each query, every passage's logit and score and the ranking
      CrossEncoder.rank returns; and a few pairs through ClassifyPairs.

CrossEncoder is reproduced step by step, following its code
(sentence_transformers/cross_encoder/CrossEncoder.py, 4.x): predict()
tokenises (query, passage) pairs with truncation "longest_first" to
max_length (Hugging Face's tokenizers, the Rust library, via
hf_encode.mjs), runs the model on the right-padded batch, and applies the
activation of config.json's sentence_transformers.activation_fn (Sigmoid)
to the single logit; rank() sorts the passages by score, highest first,
with Python's stable sort (equal scores keep their order). The model is
the PyTorch BERT of torch_bert.py; ONNX Runtime on the same weights,
exported to ONNX, must agree on every logit to 1e-5 before the files are
written.
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
from torch_bert import Bert, save_safetensors  # noqa: E402

FIXTURE = os.path.join(GOLDEN, "cross-encoder")
MAX_LENGTH = 40

LONG = ("the patient has had a high fever and chills for three days with a headache and a sore throat and the "
        "doctor says the blood test was good but the fever is not low and the cough is bad at night")
QUERIES = [
    ("fever", "what causes a high fever and chills", [
        "a high fever with chills can be a sign of an infection",
        "the movie was boring and too long",
        "",
        "fever and chills",
        "fever and chills",  # a duplicate: equal scores keep their order
        LONG,
        "blood pressure test at the clinic",
        "Café naïve 42 zzz",
    ]),
    ("throat", "sore throat and cough", [
        "a sore throat and a dry cough since monday",
        "red itchy skin rash on the arms",
        "my eyes are red and swollen",
        "cough",
        "no pain",
    ]),
    ("long-query", LONG + " and what should i do about it", [
        "rest and drink water",
        "see a doctor if the fever is high",
        "the plot was charming",
        "fever",
    ]),
    ("empty-query", "", ["fever", "a sore throat", ""]),
]
PAIRS = [
    ("pair", "sore throat", "a sore throat and a cough"),
    ("pair-empty", "", ""),
    ("pair-long", LONG, LONG),
]


def main():
    torch.manual_seed(20261207)
    tokens = vocab()
    cfg = {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert", "vocab_size": len(tokens),
        "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128,
        "max_position_embeddings": 64, "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu",
        "position_embedding_type": "absolute", "pad_token_id": 0,
        "id2label": {"0": "LABEL_0"}, "label2id": {"LABEL_0": 0},
        "sentence_transformers": {"activation_fn": "torch.nn.modules.activation.Sigmoid", "version": "4.1.0"},
        "_note": "random weights for Lepton's golden tests (scripts/golden/make_cross_encoder.py)",
    }
    model = Bert(cfg).eval()
    init_weights(model.hf_names())
    with torch.no_grad():
        # A trained cross-encoder's head reads the directions in which its
        # pooled [CLS] vector varies with the input; a random head mostly
        # reads the part every input shares, so its scores would differ
        # between passages by little more than rounding. The head here is
        # fitted the same way: along the first principal component of the
        # pooled vectors of 256 random id sequences, scaled to logits of
        # standard deviation about 2, centred by the bias.
        g = torch.Generator().manual_seed(11)
        n = 16
        ids = torch.randint(5, len(tokens), (256, n), generator=g)
        ids[:, 0], ids[:, -1] = 2, 3
        types = torch.zeros_like(ids)
        types[:, n // 2:] = 1
        _, pooled, _ = model(ids, torch.ones_like(ids), types)
        centred = pooled - pooled.mean(0)
        _, sv, v = torch.linalg.svd(centred, full_matrices=False)
        direction = v[0] * 2 / (sv[0] / (len(ids) - 1) ** 0.5)
        model.classifier.weight.copy_(direction.unsqueeze(0))
        model.classifier.bias.copy_(-(pooled.mean(0) @ direction).unsqueeze(0))

    shutil.rmtree(FIXTURE, ignore_errors=True)
    os.makedirs(FIXTURE)
    json.dump(cfg, open(os.path.join(FIXTURE, "config.json"), "w"), indent=2)
    save_safetensors(os.path.join(FIXTURE, "model.safetensors"), model.hf_names(),
                     {"format": "pt", "note": "random weights, seed 20261207"})
    with open(os.path.join(FIXTURE, "vocab.txt"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(FIXTURE, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(tokens), f, indent=1)
    json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": MAX_LENGTH,
               "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
               "mask_token": "[MASK]"}, open(os.path.join(FIXTURE, "tokenizer_config.json"), "w"), indent=1)
    tok_json = os.path.join(FIXTURE, "tokenizer.json")

    def predict(pairs):
        """CrossEncoder.predict: logits and sigmoid scores of (a, b) pairs."""
        enc = hf_encode(tok_json, [{"text": a, "pair": b} for a, b in pairs], MAX_LENGTH)
        n = max(len(e["ids"]) for e in enc)
        ids = torch.zeros(len(enc), n, dtype=torch.long)
        mask = torch.zeros(len(enc), n, dtype=torch.long)
        types = torch.zeros(len(enc), n, dtype=torch.long)
        for i, e in enumerate(enc):
            k = len(e["ids"])
            ids[i, :k], mask[i, :k], types[i, :k] = torch.tensor(e["ids"]), 1, torch.tensor(e["type_ids"])
        with torch.no_grad():
            _, _, logits = model(ids, mask, types)
            scores = torch.sigmoid(logits)[:, 0]
        return logits[:, 0], scores, enc

    cases, checks = [], []
    for name, q, passages in QUERIES:
        logits, scores, enc = predict([(q, p) for p in passages])
        order = sorted(range(len(passages)), key=lambda i: float(scores[i]), reverse=True)
        ranking = [{"index": i, "score": f32([scores[i]])[0], "logit": f32([logits[i]])[0]} for i in order]
        cases.append({"kind": "rerank", "name": name, "query": q, "passages": passages, "ranking": ranking})
        checks += [(f"{name}/{i}", e, float(logits[i])) for i, e in enumerate(enc)]
    for name, a, b in PAIRS:
        logits, scores, enc = predict([(a, b)])
        cases.append({"kind": "classify_pair", "name": name, "text": a, "pair": b, "label": "LABEL_0", "index": 0,
                      "probs": f32([scores[0]]), "logits": f32([logits[0]])})
        checks.append((name, enc[0], float(logits[0])))
    cases.sort(key=lambda c: {"classify_pair": 0, "rerank": 1}[c["kind"]])  # leptontest's order

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        dummy = (torch.tensor([[2, 10, 3]]), torch.ones(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
        torch.onnx.export(model, dummy, onnx_path, opset_version=14,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state", "pooler_output", "logits"],
                          dynamic_axes={k: {0: "batch", 1: "seq"} for k in
                                        ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")})
        res = ort_run(onnx_path, FIXTURE, [{"name": n, "ids": e["ids"], "type_ids": e["type_ids"]} for n, e, _ in checks])
        worst = max(max_abs(r["logits"], [want]) for r, (_, _, want) in zip(res, checks))
        print(f"PyTorch (padded batches) vs {ORT} (each pair alone): max abs logit difference {worst:.2e} over {len(res)} pairs")
        assert worst < 1e-5, worst

    source = (f"{TORCH} BERT (scripts/golden/torch_bert.py) scored and ranked as sentence-transformers' CrossEncoder 4.x "
              f"does (scripts/golden/make_cross_encoder.py: sigmoid activation, stable sort); pairs tokenised by Hugging Face "
              f"{HF_TOKENIZERS}, longest_first to {MAX_LENGTH} tokens; {ORT} agrees to {worst:.1e}")
    info = {"architecture": "BertForSequenceClassification", "labels": ["LABEL_0"], "score_activation": "sigmoid"}
    write_golden(os.path.join(GOLDEN, "cross-encoder.golden.json"), source, info, cases)


if __name__ == "__main__":
    main()
