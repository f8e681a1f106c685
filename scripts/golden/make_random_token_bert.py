#!/usr/bin/python3
"""Builds the random-weight token-classification BERT fixture and its
reference outputs, for Lepton's Tag tests.

Run from the repo root (needs Debian's python3-torch, python3-onnx and
`npm install` in tools/node for onnxruntime-node 1.30 and transformers.js):

    /usr/bin/python3 scripts/golden/make_random_token_bert.py

It writes, deterministically (fixed torch seed):
  testdata/golden/random-token-bert/   config.json (BertForTokenClassification,
                                       labels O B-PER I-PER B-LOC I-LOC MISC),
                                       model.safetensors (fp32, Hugging Face
                                       names, no pooler), tokenizer.json (cased
                                       WordPiece), tokenizer_config.json, vocab.txt
  testdata/golden/random_token_bert.json
      per case: ids, type_ids, the text when the case is text, ONNX Runtime's
      per-token logits; for text cases also the pieces and their byte offsets,
      the entities of every aggregation strategy (none, simple, first,
      average, max) computed by aggregate() below from PyTorch's logits, and
      transformers.js's token-classification pipeline output for "none" and
      "simple" (the strategies it implements), with ignore_labels=[].

PyTorch and ONNX Runtime must agree to 1e-5 on every logit. The entity
goldens come from aggregate(), written here from the documented behaviour of
Hugging Face's TokenClassificationPipeline (transformers 4.x:
gather_pre_entities, aggregate, aggregate_word(s), group_entities) and using
Hugging Face's own subword test (a piece is a continuation when its token
string is longer than the text it covers), not Lepton's; the
transformers.js outputs check it and Lepton independently for none and
simple.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples", "train-deid"))
sys.dont_write_bytecode = True
from torch_bert import BertTokens, save_safetensors  # noqa: E402
import casedpiece  # noqa: E402  (cased WordPiece with offsets)

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
FIXTURE = os.path.join(ROOT, "testdata", "golden", "random-token-bert")
GOLDEN = os.path.join(ROOT, "testdata", "golden", "random_token_bert.json")

LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "MISC"]
WORDS = """the a and of to in is was with for on at by from patient Patient seen Dr Mr Mrs Ms London Paris
Leeds road Road street Street lives lived visit visited clinic Clinic hospital Hospital today yesterday
fever cough pain since New York city of St on call phone John Mary Smith Jones Anna Lee Ali""".split()


def vocab():
    seen, out = set(), []
    chars = [chr(c) for c in range(33, 127)] + ["é", "ü", "ö", "ç", "ß", "ł"]
    for tok in casedpiece.SPECIALS + chars + ["##" + c for c in chars] + WORDS + \
            ["##on", "##er", "##in", "##an", "##ar", "##ing", "##son", "##ton", "Jo", "Ma", "##ley"]:
        if tok not in seen:
            seen.add(tok)
            out.append(tok)
    return out


TEXTS = [
    "",
    "Dr Smith",
    "John Smith lives in New York.",
    "Patient Maryanne Jonesworth was seen at St Leonard's Hospital, London, on 12/03/2024.",
    "Call Anna on 0113 496 0000 or visit 14 Station Road, Leeds LS6 2AB.",
    "Mrs Zoë Müller-Lüdenscheidt visited Paris; Mr Łukasz Wiśniewski lived in Köln.",
    "the patient had fever and cough since yesterday",
    "JOHN SMITH, MRN 004829131, DOB 1 Jan 1950",
    "Seen by Dr. O'Connor-Reyes and Dr. Ali at the clinic today.",
    "A word that is far too long: Pneumonoultramicroscopicsilicovolcanoconiosis and ☃ snowman, 日本 text.",
    "Lee,Ali;Jones/Smith - Anna&Mary (Paris) [London] {York}",
    "x" * 40 + " " + "y" * 7,
    "  leading and trailing spaces   \t tabs\nnew lines\r\n ",
    "Anna Lee lives on Jones Street in New York city; she visited the clinic on 3 March, 2021.",
    "Smithson Jonesley Maton Maring Annaton visited Leeds, London and Paris today.",
    "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20",
    "Mary-Anne O'Neill, 221B Baker Street, London NW1 6XE, phone +44 20 7224 3688, email mary@example.org",
    "Dr Jo Ma from St Mary's Hospital called Mr John Lee about his visit on Monday the 4th.",
    "Café au lait spots; naïve façade; coöperate; Straße",
    "Patients: Anna, John, Mary, Lee, Ali, Smith, Jones; cities: London, Paris, Leeds, New York.",
]


def aggregate(text, pieces, offsets, probs, strategy, ignore=("O",)):
    """Hugging Face's token-classification postprocess (see the module doc).
    pieces/offsets/probs cover the text's tokens only (no [CLS]/[SEP]);
    offsets are character offsets; returns dicts with character offsets."""
    pre = []
    for i, (p, (s, e)) in enumerate(zip(pieces, offsets)):
        word_ref = text[s:e]
        is_sub = len(p) != len(word_ref)  # HF: continuing_subword_prefix tokenizers
        if p == "[UNK]":
            is_sub = False
        pre.append({"scores": probs[i], "start": s, "end": e, "index": i + 1, "is_subword": is_sub})
    if strategy in ("none", "simple"):
        ents = []
        for x in pre:
            j = int(np.argmax(x["scores"]))
            ents.append({"entity": LABELS[j], "score": float(x["scores"][j]), "index": x["index"],
                         "start": x["start"], "end": x["end"]})
    else:
        words = []
        for x in pre:
            if words and x["is_subword"]:
                words[-1].append(x)
            else:
                words.append([x])
        ents = []
        for w in words:
            if strategy == "first":
                sc = w[0]["scores"]
                j = int(np.argmax(sc))
                score = float(sc[j])
            elif strategy == "max":
                best = max(w, key=lambda x: x["scores"].max())  # first of equals, as Python's max
                j = int(np.argmax(best["scores"]))
                score = float(best["scores"][j])
            elif strategy == "average":
                avg = np.mean(np.stack([x["scores"] for x in w]), axis=0)
                j = int(np.argmax(avg))
                score = float(avg[j])
            ents.append({"entity": LABELS[j], "score": score, "start": w[0]["start"], "end": w[-1]["end"]})
    if strategy == "none":
        return [e for e in ents if e["entity"] not in ignore]

    def tag(label):
        if label.startswith("B-"):
            return "B", label[2:]
        if label.startswith("I-"):
            return "I", label[2:]
        return "I", label

    groups, cur = [], []
    for e in ents:
        if cur:
            bi, t = tag(e["entity"])
            _, last = tag(cur[-1]["entity"])
            if t == last and bi != "B":
                cur.append(e)
                continue
            groups.append(cur)
        cur = [e]
    if cur:
        groups.append(cur)
    out = []
    for g in groups:
        out.append({"entity_group": g[0]["entity"].split("-", 1)[-1],
                    "score": float(np.mean([e["score"] for e in g])), "start": g[0]["start"], "end": g[-1]["end"]})
    return [e for e in out if e["entity_group"] not in ignore]


def byte_offsets(text):
    """Maps character offsets to UTF-8 byte offsets (len(text)+1 entries)."""
    out, b = [], 0
    for ch in text:
        out.append(b)
        b += len(ch.encode("utf-8"))
    out.append(b)
    return out


def main():
    torch.manual_seed(20261206)
    tokens = vocab()
    cfg = {
        "architectures": ["BertForTokenClassification"], "model_type": "bert",
        "vocab_size": len(tokens), "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "intermediate_size": 128, "max_position_embeddings": 128, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "hidden_act": "gelu",
        "id2label": {str(i): l for i, l in enumerate(LABELS)}, "label2id": {l: i for i, l in enumerate(LABELS)},
        "_note": "random weights for Lepton's Tag tests (scripts/golden/make_random_token_bert.py)",
    }
    model = BertTokens(cfg).eval()
    with torch.no_grad():
        for name, p in model.hf_names().items():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.1 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.05 * torch.randn_like(p))
            elif "embeddings" in name:
                p.copy_(0.5 * torch.randn_like(p))
            elif name.startswith("classifier"):
                # Clear margins between labels, as a trained head has, so
                # that the argmax is a property of the model and not of
                # rounding.
                p.copy_(torch.randn_like(p) * 4.0 / p.shape[1] ** 0.5)
            else:
                p.copy_(torch.randn_like(p) * 1.5 / p.shape[1] ** 0.5)
        # LayerNorm'ed hidden states share a common direction, so a random
        # head would pick one label nearly everywhere. Centre each label's
        # mean logit over the test texts (below) so that every label, and
        # every B-/I- sequence the grouping rules care about, occurs.
        tok = casedpiece.Tokenizer(vocab())
        seqs = [[tok.vocab["[CLS]"]] + tok.encode(t)[0] + [tok.vocab["[SEP]"]] for t in TEXTS]
        hidden = torch.cat([model.encode(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.long),
                                         torch.zeros(1, len(s), dtype=torch.long))[0] for s in seqs])
        model.classifier.bias.copy_(-(hidden @ model.classifier.weight.T).mean(dim=0))

    os.makedirs(FIXTURE, exist_ok=True)
    with open(os.path.join(FIXTURE, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    save_safetensors(os.path.join(FIXTURE, "model.safetensors"), model.hf_names(),
                     {"format": "pt", "note": "random weights, seed 20261206"})
    with open(os.path.join(FIXTURE, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(FIXTURE, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(casedpiece.tokenizer_json(tokens, 128), f, indent=1, ensure_ascii=False)
    with open(os.path.join(FIXTURE, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": False, "strip_accents": False,
                   "model_max_length": 128, "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                   "unk_token": "[UNK]", "mask_token": "[MASK]"}, f, indent=1)

    tok = casedpiece.Tokenizer(tokens)
    cls, sep = tok.vocab["[CLS]"], tok.vocab["[SEP]"]
    g = torch.Generator().manual_seed(11)
    cases = []
    for n in (1, 2, 3, 7, 16, 17, 31, 64, 100, 127, 128):
        ids = torch.randint(0, len(tokens), (n,), generator=g).tolist()
        type_ids = [0] * n if n % 2 else [0] * (n // 2) + [1] * (n - n // 2)
        cases.append({"name": f"random-{n}", "ids": ids, "type_ids": type_ids})
    for i, text in enumerate(TEXTS):
        pieces = casedpiece.tokenize(text, tok.vocab)
        ids = [cls] + [tok.vocab[p] for p, _, _ in pieces] + [sep]
        cases.append({"name": f"text-{i}", "text": text, "ids": ids, "type_ids": [0] * len(ids),
                      "pieces": [p for p, _, _ in pieces], "char_offsets": [[s, e] for _, s, e in pieces]})

    with tempfile.TemporaryDirectory() as tmp:
        mdir = os.path.join(tmp, "random-token-bert")
        os.makedirs(os.path.join(mdir, "onnx"))
        for f in ("config.json", "tokenizer.json", "tokenizer_config.json"):
            with open(os.path.join(FIXTURE, f), "rb") as src, open(os.path.join(mdir, f), "wb") as dst:
                dst.write(src.read())
        onnx_path = os.path.join(mdir, "onnx", "model.onnx")
        dummy = (torch.tensor([[2, 10, 3]]), torch.ones(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
        torch.onnx.export(model, dummy, onnx_path, opset_version=14,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state", "logits"],
                          dynamic_axes={k: {0: "batch", 1: "seq"} for k in
                                        ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state", "logits")})
        id_cases = [{k: c[k] for k in ("name", "ids", "type_ids")} for c in cases]
        cases_path, out_path = os.path.join(tmp, "cases.json"), os.path.join(tmp, "out.json")
        with open(cases_path, "w") as f:
            json.dump(id_cases, f)
        subprocess.run(["node", os.path.join(HERE, "run_ort.mjs"), onnx_path, FIXTURE, cases_path, out_path], check=True)
        with open(out_path) as f:
            ort_out = {r["name"]: r for r in json.load(f)}
        texts_path, pipe_path = os.path.join(tmp, "texts.json"), os.path.join(tmp, "pipe.json")
        with open(texts_path, "w") as f:
            json.dump([c["text"] for c in cases if "text" in c], f)
        subprocess.run(["node", os.path.join(HERE, "run_token_pipeline.mjs"), mdir, texts_path, pipe_path], check=True)
        with open(pipe_path) as f:
            pipe = json.load(f)

    worst = 0.0
    golden_cases = []
    ti = 0
    with torch.no_grad():
        for c in cases:
            r = ort_out[c["name"]]
            ids = torch.tensor([c["ids"]])
            _, logits = model(ids, torch.ones_like(ids), torch.tensor([c["type_ids"]]))
            worst = max(worst, (logits[0] - torch.tensor(r["logits"])).abs().max().item())
            out = {"name": c["name"], "ids": c["ids"], "type_ids": c["type_ids"],
                   "logits": [[float(f"{v:.7g}") for v in row] for row in r["logits"]]}
            if "text" in c:
                text = c["text"]
                lg = logits[0, 1:-1].numpy().astype(np.float64)
                e = np.exp(lg - lg.max(axis=1, keepdims=True))
                probs = e / e.sum(axis=1, keepdims=True)
                bo = byte_offsets(text)
                out["text"] = text
                out["pieces"] = c["pieces"]
                out["offsets"] = [[bo[s], bo[t]] for s, t in c["char_offsets"]]
                ents = {}
                for strat in ("none", "simple", "first", "average", "max"):
                    ents[strat] = [{"label": x.get("entity_group", x.get("entity")), "score": round(x["score"], 6),
                                    "start": bo[x["start"]], "end": bo[x["end"]], **({"index": x["index"]} if "index" in x else {})}
                                   for x in aggregate(text, c["pieces"], c["char_offsets"], probs, strat)]
                out["entities"] = ents
                # With ignore_labels=[] every token or group comes back, "O" too.
                out["entities_all_none"] = [{"label": x["entity"], "score": round(x["score"], 6), "index": x["index"]}
                                            for x in aggregate(text, c["pieces"], c["char_offsets"], probs, "none", ())]
                out["transformers_js"] = pipe[ti]
                ti += 1
            golden_cases.append(out)
    print(f"PyTorch vs ONNX Runtime: max abs logit difference {worst:.2e} over {len(cases)} cases")
    assert worst < 1e-5, worst

    golden = {
        "reference": "ONNX Runtime 1.30.0 (onnxruntime-node) logits on the model exported by "
                     "scripts/golden/make_random_token_bert.py; entities from PyTorch's logits by the script's "
                     "aggregate() (Hugging Face's pipeline rules); transformers_js: transformers.js "
                     "token-classification pipeline, aggregation_strategy none and simple, ignore_labels []",
        "fixture": "testdata/golden/random-token-bert",
        "labels": LABELS,
        "cases": golden_cases,
    }
    with open(GOLDEN, "w", encoding="utf-8") as f:
        json.dump(golden, f, separators=(",", ":"), ensure_ascii=False)
        f.write("\n")
    print(f"wrote {GOLDEN} and {FIXTURE}/")


if __name__ == "__main__":
    main()
