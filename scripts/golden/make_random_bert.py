#!/usr/bin/python3
"""Builds Lepton's random-weight BERT golden fixture and its reference outputs.

Run from the repo root (needs Debian's python3-torch, python3-onnx and
`npm install` in tools/node for onnxruntime-node 1.30 and transformers.js):

    /usr/bin/python3 scripts/golden/make_random_bert.py

It writes, deterministically (fixed torch seed):
  testdata/golden/random-bert/   config.json, model.safetensors (fp32, Hugging
                                 Face tensor names), tokenizer.json,
                                 tokenizer_config.json, vocab.txt
  testdata/golden/random_bert.json
      per case: ids, type_ids (and the text when the case is text), and ONNX
      Runtime's last_hidden_state, pooler_output and logits.

The model is exported to ONNX (opset 14) in a temporary directory and run
in ONNX Runtime by run_ort.mjs; text cases are tokenised there by Hugging
Face's tokenizer (transformers.js). PyTorch runs the same cases and the
script fails if it and ONNX Runtime disagree by more than 1e-5, so the
golden values are confirmed by two runtimes.
"""
import json
import os
import subprocess
import sys
import tempfile

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_bert import Bert, save_safetensors  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIXTURE = os.path.join(ROOT, "testdata", "golden", "random-bert")
GOLDEN = os.path.join(ROOT, "testdata", "golden", "random_bert.json")

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
PUNCT = list(".,!?'-():;\"/&")
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
DIGITS = [str(d) for d in range(10)]
WORDS = """the a an and or but not no is was are were be been has have had do does did i you he she it we
they my your his her its our their this that these those what which who when where why how all any
some very too more most less much many few one two three patient doctor nurse fever cough pain
headache chills rash fatigue nausea days weeks since after before with without for from into of on in
at to by about over under good bad great terrible movie film story plot acting fun boring charming
bleak and desperate journey often affecting love hate like feel felt ache sore throat chest breath
short skin itch red swollen eye eyes vision blurred dizzy weak high low blood pressure sugar test
clinic laptop model text""".split()


def vocab():
    seen, out = set(), []
    for tok in SPECIALS + PUNCT + LETTERS + DIGITS + ["##" + c for c in LETTERS + DIGITS] + WORDS:
        if tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


def tokenizer_json(tokens):
    ids = {t: i for i, t in enumerate(tokens)}
    added = [{"id": ids[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t in SPECIALS]

    def special(t, type_id):
        return {"SpecialToken": {"id": t, "type_id": type_id}}

    def seq(s, type_id):
        return {"Sequence": {"id": s, "type_id": type_id}}

    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": None, "lowercase": True},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0)],
            "pair": [special("[CLS]", 0), seq("A", 0), special("[SEP]", 0), seq("B", 1), special("[SEP]", 1)],
            "special_tokens": {t: {"id": t, "ids": [ids[t]], "tokens": [t]} for t in ("[CLS]", "[SEP]")},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def main():
    torch.manual_seed(20261130)
    tokens = vocab()
    labels = ["negative", "neutral", "positive"]
    cfg = {
        "architectures": ["BertForSequenceClassification"], "model_type": "bert",
        "vocab_size": len(tokens), "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128, "max_position_embeddings": 128, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "hidden_act": "gelu",
        "id2label": {str(i): l for i, l in enumerate(labels)}, "label2id": {l: i for i, l in enumerate(labels)},
        "_note": "random weights for Lepton's golden tests (scripts/golden/make_random_bert.py)",
    }
    model = Bert(cfg).eval()
    # Weights large enough that attention is far from uniform and GELU sees
    # its curved range: a test on near-zero weights would prove little.
    with torch.no_grad():
        for name, p in model.hf_names().items():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn_like(p))
            else:
                p.copy_(torch.randn_like(p) * 1.5 / p.shape[1] ** 0.5)

    os.makedirs(FIXTURE, exist_ok=True)
    with open(os.path.join(FIXTURE, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_safetensors(os.path.join(FIXTURE, "model.safetensors"), model.hf_names(),
                     {"format": "pt", "note": "random weights, seed 20261130"})
    with open(os.path.join(FIXTURE, "vocab.txt"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(FIXTURE, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(tokens), f, indent=1)
    with open(os.path.join(FIXTURE, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 128,
                   "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                   "mask_token": "[MASK]"}, f, indent=1)

    g = torch.Generator().manual_seed(7)
    cases = []
    for n in (1, 2, 3, 7, 16, 17, 31, 64, 127, 128):
        ids = torch.randint(0, len(tokens), (n,), generator=g).tolist()
        type_ids = [0] * n if n % 2 else [0] * (n // 2) + [1] * (n - n // 2)
        cases.append({"name": f"random-{n}", "ids": ids, "type_ids": type_ids})
    for name, text, pair in [
        ("empty", "", None),
        ("sentence", "The patient has had a high fever, chills and a headache for three days.", None),
        ("accents-and-unknowns", "Café naïve: the movie's plot was TERRIBLE!!! 42 zzz qqq", None),
        ("pair", "i feel a sore throat and a cough", "no fever since monday"),
    ]:
        c = {"name": name, "text": text}
        if pair is not None:
            c["pair"] = pair
        cases.append(c)

    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        dummy = (torch.tensor([[2, 10, 3]]), torch.ones(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
        torch.onnx.export(model, dummy, onnx_path, opset_version=14,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state", "pooler_output", "logits"],
                          dynamic_axes={k: {0: "batch", 1: "seq"} for k in
                                        ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")})
        cases_path, out_path = os.path.join(tmp, "cases.json"), os.path.join(tmp, "out.json")
        with open(cases_path, "w") as f:
            json.dump(cases, f)
        subprocess.run(["node", os.path.join(ROOT, "scripts", "golden", "run_ort.mjs"), onnx_path, FIXTURE,
                        cases_path, out_path], check=True)
        with open(out_path) as f:
            results = json.load(f)

    worst = 0.0
    with torch.no_grad():
        for r in results:
            ids = torch.tensor([r["ids"]])
            hidden, pooled, logits = model(ids, torch.ones_like(ids), torch.tensor([r["type_ids"]]))
            for got, want in ((hidden[0], r["last_hidden_state"]), (pooled[0], r["pooler_output"]),
                              (logits[0], r["logits"])):
                worst = max(worst, (got - torch.tensor(want)).abs().max().item())
    print(f"PyTorch vs ONNX Runtime: max abs difference {worst:.2e} over {len(results)} cases")
    assert worst < 1e-5, worst

    def rnd(x):
        return [rnd(v) for v in x] if isinstance(x, list) else float(f"{x:.7g}")

    golden = {
        "reference": "ONNX Runtime 1.30.0 (onnxruntime-node) on the model exported by "
                     "scripts/golden/make_random_bert.py; text cases tokenised by transformers.js",
        "fixture": "testdata/golden/random-bert",
        "cases": [{k: (rnd(v) if k in ("last_hidden_state", "pooler_output", "logits") else v)
                   for k, v in r.items()} for r in results],
    }
    with open(GOLDEN, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {GOLDEN} and {FIXTURE}/")


if __name__ == "__main__":
    main()
