#!/usr/bin/python3
"""Trains Lepton's de-identification model: a small BERT token classifier
(BertForTokenClassification, BIO tags) that finds names, dates, phone
numbers, record numbers, addresses and email addresses in clinic notes.

The notes are synthetic (notes.py: seeded, split by template). No pretrained
weights can be downloaded where Lepton is built, so the model is trained from
scratch; the vocabulary is learnt from the training notes with every
identifier cut out (casedpiece.py). The script writes a Hugging Face style
directory (config.json with id2label, model.safetensors, tokenizer.json,
vocab.txt) that `lepton quantize` converts to int8.

Run from the repository root (Debian's python3-torch 1.13 and numpy):

    /usr/bin/python3 examples/train-deid/train.py --out /tmp/deid-model

Everything is seeded and deterministic. Kept in the repository, beside this
script: data/test.jsonl (the unseen-template test notes, with their
identifiers marked), metrics.json (fp32 figures on them) and reference/
(fp32 per-token predictions and token-id hashes, read by Go tests).
"""

import argparse
import collections
import hashlib
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the repository
import casedpiece  # noqa: E402
import notes as notegen  # noqa: E402


def _clinic_train():
    """examples/train-clinic/train.py, whose BERT module (Hugging Face tensor
    names) and safetensors writer this script reuses."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("clinic_train", os.path.join(HERE, "..", "train-clinic", "train.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


_ct = _clinic_train()
Bert, write_safetensors = _ct.Bert, _ct.write_safetensors

LABELS = ["O"] + [f"{p}-{t}" for t in notegen.TYPES for p in ("B", "I")]


class BertForTokenClassification(nn.Module):
    """Hugging Face BertForTokenClassification's layout: bert.* (no pooler
    is saved) and classifier.* applied to every token's final hidden state."""

    def __init__(self, cfg):
        super().__init__()
        self.bert = Bert(cfg)
        self.classifier = nn.Linear(cfg["hidden_size"], len(cfg["id2label"]))
        self.drop = cfg["hidden_dropout_prob"]
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
        if isinstance(m, nn.Linear):
            nn.init.zeros_(m.bias)
        if isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)

    def forward(self, ids, mask):
        e = self.bert.embeddings
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = e.word_embeddings(ids) + e.position_embeddings(pos) + e.token_type_embeddings(torch.zeros_like(ids))
        x = F.dropout(e.LayerNorm(x), self.drop, self.training)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.bert.encoder.layer:
            x = layer(x, bias)
        return self.classifier(F.dropout(x, self.drop, self.training))

    def hf_state(self):
        return {k: v for k, v in self.state_dict().items() if not k.startswith("bert.pooler.")}


# ----------------------------------------------------------------------------
# Data


def strip_identifiers(note):
    t, out, pos = note["text"], [], 0
    for e in sorted(note["entities"], key=lambda e: e["start"]):
        out.append(t[pos:e["start"]])
        out.append(" ")
        pos = e["end"]
    out.append(t[pos:])
    return "".join(out)


def bio(offsets, entities, note_id, pieces=None):
    """Token labels: B-TYPE on an identifier's first piece, I-TYPE on the
    rest, O elsewhere. Every piece must lie wholly inside or outside. With
    pieces given, "##" continuation pieces get -100 (no loss): the model
    learns one label per word, from the word's first piece, which is what
    the "first" aggregation reads (Hugging Face's run_ner recipe)."""
    lab = [0] * len(offsets)
    for e in entities:
        first = True
        for i, (s, t) in enumerate(offsets):
            if s >= e["start"] and t <= e["end"]:
                lab[i] = LABELS.index(("B-" if first else "I-") + e["type"])
                first = False
            elif s < e["end"] and t > e["start"]:
                raise SystemExit(f"{note_id}: piece [{s},{t}) straddles entity {e}")
        if first:
            raise SystemExit(f"{note_id}: entity {e} covers no piece")
    if pieces is not None:
        lab = [-100 if p.startswith("##") else x for p, x in zip(pieces, lab)]
    return lab


def segments(note):
    """Splits a note into its lines and sentences, each with the entities
    inside it (offsets relative to the segment). No identifier crosses a
    boundary in training notes."""
    text, out, start = note["text"], [], 0
    # Lines, and sentences that end a word of four or more lower-case
    # letters ("...daily. Next"), not abbreviations ("Dr. ", "no. ").
    cuts = [i + 1 for i, ch in enumerate(text) if ch == "\n" or (
        ch == "." and text[i + 1:i + 2] == " " and i >= 4 and text[i - 4:i].isalpha() and text[i - 4:i].islower())]
    for end in cuts + [len(text)]:
        seg = text[start:end].strip()
        if seg:
            off = start + (len(text[start:end]) - len(text[start:end].lstrip()))
            ents = [dict(e, start=e["start"] - off, end=e["end"] - off) for e in note["entities"]
                    if e["start"] >= off and e["end"] <= off + len(seg)]
            if all(not (e["start"] < off + len(seg) and e["end"] > off) or (e["start"] >= off and e["end"] <= off + len(seg))
                   for e in note["entities"]):
                out.append({"text": seg, "entities": ents})
        start = end
    return out


def mixed_note(pool, rng, note_id):
    """A training note made of 2-8 random lines and sentences of random
    training notes: text in an order no template has, so that the model
    learns identifiers from their own shape and nearby words rather than
    from where a template puts them."""
    parts, ents, pos = [], [], 0
    for _ in range(rng.randint(2, 8)):
        seg = rng.choice(pool)
        if parts and pos + len(seg["text"]) > 450:  # stay well inside the position table
            break
        if parts:
            sep = rng.choice([" ", "\n", "\n\n"])
            parts.append(sep)
            pos += len(sep)
        parts.append(seg["text"])
        ents += [dict(e, start=e["start"] + pos, end=e["end"] + pos) for e in seg["entities"]]
        pos += len(seg["text"])
    return {"id": note_id, "text": "".join(parts), "entities": ents}


def load_general(paths):
    """Sentences of ordinary English without identifiers, from ../shared
    (read, not copied): the patient descriptions of Symptom2Disease (a CSV
    with a "text" column) and the image captions of STS-B ("main-captions"
    rows of a TSV: two sentences each). The vocabulary learns their words
    and training notes carry some of them as text without identifiers, so
    that a word the training templates never used ("floor", "born",
    "insurance") is not taken for a name or an address just because it is
    new."""
    import csv
    out = []
    for path in paths:
        if not os.path.exists(path):
            raise SystemExit(f"{path}: missing (general English text for the vocabulary; pass --general to change)")
        with open(path, encoding="utf-8", newline="") as f:
            if path.endswith(".csv"):
                for row in csv.DictReader(f):
                    out += [x.strip() + "." for x in row["text"].split(". ") if len(x.strip()) > 10]
            else:
                for line in f:
                    cols = line.rstrip("\n").split("\t")
                    if cols[0] == "main-captions" and len(cols) >= 7:
                        out += [c.strip() for c in cols[5:7] if len(c.strip()) > 10]
    out = sorted({" ".join(x.replace("..", ".").split()) for x in out})
    return out


def with_general(note, general, rng, k):
    """note with k general sentences inserted at random line or sentence
    boundaries (or at its ends), its entities shifted."""
    text, ents = note["text"], [dict(e) for e in note["entities"]]
    for _ in range(k):
        cuts = [0, len(text)] + [i + 1 for i, ch in enumerate(text) if ch == "\n"] + \
               [i + 2 for i in range(len(text) - 1) if text[i] == "." and text[i + 1] == " "]
        cuts = [c for c in cuts if not any(e["start"] < c < e["end"] for e in ents)]
        at = rng.choice(cuts)
        sent = rng.choice(general)
        if at == len(text):
            ins = ("" if at == 0 or text[-1] in " \n" else " ") + sent
        else:
            line_start = at == 0 or text[at - 1] == "\n"
            ins = ("" if line_start or text[at - 1] == " " else " ") + sent + ("\n" if line_start else " ")
        text = text[:at] + ins + text[at:]
        for e in ents:
            if e["start"] >= at:
                e["start"] += len(ins)
                e["end"] += len(ins)
    return {"id": note["id"] + "-gen", "text": text, "entities": ents}


def respelled(note, tok, p, rng, max_len):
    """A training item with each word outside the identifiers tokenised, with
    probability p, as if the vocabulary lacked it (casedpiece.Tokenizer.encode)."""
    inside = [(e["start"], e["end"]) for e in note["entities"]]

    def spell(word, start):
        if any(a <= start < b for a, b in inside):
            return False
        return rng.random() < p

    ids, offs = tok.encode(note["text"], spell=spell)
    if len(ids) + 2 > max_len:
        ids, offs = tok.encode(note["text"])
    if len(ids) + 2 > max_len:
        raise SystemExit(f"{note['id']}: {len(ids) + 2} tokens after respelling > max length {max_len}")
    return [tok.vocab["[CLS]"]] + ids + [tok.vocab["[SEP]"]], bio(offs, note["entities"], note["id"], [tok.tokens[i] for i in ids])


def batches(items, bs, shuffle, rng):
    """items: [(ids, labels)] with [CLS]/[SEP] included. Sorted into
    length buckets so padding stays small."""
    order = list(range(len(items)))
    if shuffle:
        rng.shuffle(order)
    # Sort within chunks of 50 batches by length.
    chunk = bs * 50
    order = [j for i in range(0, len(order), chunk) for j in sorted(order[i:i + chunk], key=lambda j: len(items[j][0]))]
    groups = [order[i:i + bs] for i in range(0, len(order), bs)]
    if shuffle:
        rng.shuffle(groups)
    for g in groups:
        t = max(len(items[j][0]) for j in g)
        ids = torch.zeros(len(g), t, dtype=torch.long)
        mask = torch.zeros(len(g), t, dtype=torch.long)
        y = torch.full((len(g), t), -100, dtype=torch.long)
        for r, j in enumerate(g):
            s, lab = items[j]
            ids[r, :len(s)] = torch.tensor(s)
            mask[r, :len(s)] = 1
            y[r, 1:len(s) - 1] = torch.tensor(lab)  # -100 (no loss) on continuation pieces
        yield g, ids, mask, y


@torch.no_grad()
def predict(model, items):
    """Per-token fp32 logits (without [CLS]/[SEP]) for every item."""
    model.eval()
    out = {}
    for g, ids, mask, _ in batches(items, 64, False, None):
        logits = model(ids, mask)
        for r, j in enumerate(g):
            out[j] = logits[r, 1:len(items[j][0]) - 1].numpy()
    return out


# ----------------------------------------------------------------------------
# Entity-level evaluation, with Hugging Face's "first" aggregation written
# independently of Lepton's Go code (the Go evaluation of the fp32 path must
# agree with it).


def entities_first(pieces, offsets, logits):
    """Words are a first piece and its "##" continuations; each word takes
    the label of its first piece; a word labelled B-X, or X after a word of
    another type, starts an entity; I-X after X continues it."""
    words = []
    for i, p in enumerate(pieces):
        if i > 0 and p.startswith("##"):
            words[-1][1] = i
        else:
            words.append([i, i])
    ents = []
    for a, b in words:
        lab = LABELS[int(np.argmax(logits[a]))]
        if lab == "O":
            ents.append(None)
            continue
        bi, typ = lab.split("-", 1)
        start, end = offsets[a][0], offsets[b][1]
        if ents and ents[-1] is not None and ents[-1][0] == typ and bi == "I":
            ents[-1][2] = end
        else:
            ents.append([typ, start, end])
    return {tuple(e) for e in ents if e is not None}


def prf(gold, pred):
    tp = len(gold & pred)
    p = tp / len(pred) if pred else 0.0
    r = tp / len(gold) if gold else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4), "gold": len(gold), "predicted": len(pred), "correct": tp}


def evaluate(notes, toks, logits, tok):
    """Entity-level (exact span and type) precision, recall and F1 per type
    and overall, on character offsets."""
    gold, pred = set(), set()
    for j, n in enumerate(notes):
        gold |= {(j, e["type"], e["start"], e["end"]) for e in n["entities"]}
        ids, offs = toks[j]
        pieces = [tok.tokens[i] for i in ids]
        pred |= {(j,) + e for e in entities_first(pieces, offs, logits[j])}
    out = {t: prf({g for g in gold if g[1] == t}, {p for p in pred if p[1] == t}) for t in notegen.TYPES}
    out["all"] = prf(gold, pred)
    return out


# ----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="/tmp/deid-model")
    ap.add_argument("--seed", type=int, default=20261206)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=512)
    ap.add_argument("--max-len", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=16)
    ap.add_argument("--patience", type=int, default=5)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--train-per-template", type=int, default=80)
    shared = os.path.join(HERE, "..", "..", "..", "shared", "data")
    ap.add_argument("--general", nargs="*", default=[os.path.join(shared, "symptom2disease", "Symptom2Disease.csv"),
                                                     os.path.join(shared, "stsb", "sts-train.tsv")],
                    help="files of general English (load_general); none: the vocabulary and the training notes are "
                         "the training templates' alone (the first version of the model)")
    ap.add_argument("--general-rate", type=float, default=0.5,
                    help="probability that a training note gets 1-3 general sentences inserted (resampled every epoch)")
    ap.add_argument("--mix", type=float, default=0.5,
                    help="probability of replacing a training note by one made of random lines and sentences of "
                         "training notes (augmentation; resampled every epoch)")
    ap.add_argument("--spell", type=float, default=0.3,
                    help="probability of tokenising an ordinary training word as if the vocabulary lacked it "
                         "(subword regularisation; resampled every epoch)")
    ap.add_argument("--o-bias-shift", type=float, default=3.5,
                    help="after training, lower the bias of the O label by this much: the model then tags more "
                         "tokens, trading precision for recall. 3.5 is the largest validation F1 among shifts (0.5 "
                         "steps) that mask at least as much of the validation notes' identifiers as the first model")
    ap.add_argument("--artefacts", default=HERE, help="where data/, metrics.json and reference/ go")
    args = ap.parse_args()

    t0 = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    notes = notegen.generate(args.seed, {"train": args.train_per_template, "validation": 40, "test": 60})
    split = collections.defaultdict(list)
    for n in notes:
        split[n["split"]].append(n)
    templates = {s: sorted({n["template"] for n in split[s]}) for s in split}

    general = load_general(args.general) if args.general else []
    tokens = casedpiece.build_vocab([strip_identifiers(n) for n in split["train"]] + general)
    tok = casedpiece.Tokenizer(tokens)
    cls, sep = tok.vocab["[CLS]"], tok.vocab["[SEP]"]
    enc = {s: [tok.encode(n["text"]) for n in split[s]] for s in split}
    items = {}
    for s in split:
        items[s] = []
        for n, (ids, offs) in zip(split[s], enc[s]):
            if len(ids) + 2 > args.max_len:
                raise SystemExit(f"{n['id']}: {len(ids) + 2} tokens > max length {args.max_len}")
            items[s].append(([cls] + ids + [sep], bio(offs, n["entities"], n["id"], [tokens[i] for i in ids])))
    print(f"vocab {len(tokens)} pieces; notes train {len(split['train'])} / validation {len(split['validation'])} / "
          f"test {len(split['test'])} from {len(templates['train'])} / {len(templates['validation'])} / "
          f"{len(templates['test'])} templates; longest {max(len(i[0]) for s in items for i in items[s])} tokens",
          flush=True)

    cfg = {
        "architectures": ["BertForTokenClassification"],
        "model_type": "bert",
        "vocab_size": len(tokens),
        "hidden_size": args.hidden,
        "num_hidden_layers": args.layers,
        "num_attention_heads": args.heads,
        "intermediate_size": args.intermediate,
        "max_position_embeddings": args.max_len,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
        "hidden_act": "gelu",
        "hidden_dropout_prob": args.dropout,
        "attention_probs_dropout_prob": args.dropout,
        "pad_token_id": 0,
        "id2label": {str(i): l for i, l in enumerate(LABELS)},
        "label2id": {l: i for i, l in enumerate(LABELS)},
    }
    model = BertForTokenClassification(cfg)
    params = sum(p.numel() for n, p in model.named_parameters() if not n.startswith("bert.pooler."))

    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    steps_per_epoch = math.ceil(len(items["train"]) / args.batch)
    total = steps_per_epoch * args.epochs
    warm = steps_per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    rng = random.Random(args.seed)
    pool = [seg for n in split["train"] for seg in segments(n)]

    best, best_state, best_epoch, history = -1.0, None, -1, []
    for epoch in range(args.epochs):
        model.train()
        tot, n_tok = 0.0, 0
        if args.spell > 0 or args.mix > 0:
            epoch_notes = [mixed_note(pool, rng, n["id"] + "-mix") if rng.random() < args.mix else n for n in split["train"]]
            if general:
                for i, n in enumerate(epoch_notes):
                    if rng.random() < args.general_rate:
                        g = with_general(n, general, rng, rng.randint(1, 3))
                        if len(tok.encode(g["text"])[0]) + 2 <= args.max_len:
                            epoch_notes[i] = g
            items["train"] = [respelled(n, tok, args.spell, rng, args.max_len) for n in epoch_notes]
        for _, ids, mask, y in batches(items["train"], args.batch, True, rng):
            logits = model(ids, mask)
            loss = F.cross_entropy(logits.reshape(-1, len(LABELS)), y.reshape(-1), ignore_index=-100)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            k = int((y != -100).sum())
            tot += loss.item() * k
            n_tok += k
        vl = predict(model, items["validation"])
        ev = evaluate(split["validation"], enc["validation"], vl, tok)
        f1 = ev["all"]["f1"]
        history.append({"epoch": epoch + 1, "loss": round(tot / n_tok, 5), "val_f1": f1})
        print(f"epoch {epoch + 1:3d} loss {tot / n_tok:.4f} validation entity F1 {f1:.4f} "
              + " ".join(f"{t} {ev[t]['f1']:.3f}" for t in notegen.TYPES) + f" [{time.time() - t0:.0f}s]", flush=True)
        if f1 > best:
            best, best_epoch = f1, epoch + 1
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif epoch + 1 - best_epoch >= args.patience:
            break
    model.load_state_dict(best_state)
    val_unshifted = evaluate(split["validation"], enc["validation"], predict(model, items["validation"]), tok)
    with torch.no_grad():
        model.classifier.bias[LABELS.index("O")] -= args.o_bias_shift

    test_logits = predict(model, items["test"])
    val_logits = predict(model, items["validation"])
    test_ev = evaluate(split["test"], enc["test"], test_logits, tok)
    val_ev = evaluate(split["validation"], enc["validation"], val_logits, tok)
    elapsed = time.time() - t0
    print(f"best epoch {best_epoch}: validation F1 {val_unshifted['all']['f1']:.4f}, {val_ev['all']['f1']:.4f} with the O bias "
          f"lowered by {args.o_bias_shift}; TEST fp32 entity F1 "
          f"{test_ev['all']['f1']:.4f} (" + ", ".join(f"{t} {test_ev[t]['f1']:.3f}" for t in notegen.TYPES)
          + f"); {elapsed:.0f}s", flush=True)

    os.makedirs(args.out, exist_ok=True)
    cfg_out = dict(cfg)
    cfg_out["_note"] = ("Lepton de-identification model: trained from scratch on synthetic clinic notes "
                        "(examples/train-deid)")
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg_out, f, indent=2)
    write_safetensors(os.path.join(args.out, "model.safetensors"), model.hf_state())
    with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(casedpiece.tokenizer_json(tokens, args.max_len), f, ensure_ascii=False)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": False, "strip_accents": False,
                   "model_max_length": args.max_len, "cls_token": "[CLS]", "sep_token": "[SEP]",
                   "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"}, f)

    # The unseen-template test notes, for the Go evaluation and tests, and
    # the validation notes.
    data = os.path.join(args.artefacts, "data")
    os.makedirs(data, exist_ok=True)
    for name in ("test", "validation"):  # validation: for choices such as --o-bias-shift (eval -data)
        with open(os.path.join(data, name + ".jsonl"), "w", encoding="utf-8") as f:
            for n in split[name]:
                f.write(json.dumps(n, ensure_ascii=False) + "\n")
    ref = os.path.join(args.artefacts, "reference")
    os.makedirs(ref, exist_ok=True)
    with open(os.path.join(ref, "test_tokens.json"), "w") as f:
        json.dump({
            "about": "per test note (data/test.jsonl order): sha256 of the token ids without [CLS]/[SEP] as "
                     "decimal, comma-separated (first 16 hex digits), the fp32 argmax label of every token, and "
                     "for the first 8 notes the fp32 logits (PyTorch 1.13)",
            "labels": LABELS,
            "notes": [{"id": n["id"],
                       "ids_sha256": hashlib.sha256(",".join(map(str, enc["test"][j][0])).encode()).hexdigest()[:16],
                       "argmax": [int(x) for x in test_logits[j].argmax(axis=1)],
                       **({"logits": [[round(float(v), 5) for v in row] for row in test_logits[j]]} if j < 8 else {})}
                      for j, n in enumerate(split["test"])],
        }, f, separators=(",", ":"))
        f.write("\n")

    metrics = {
        "model": {k: cfg[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                      "intermediate_size", "max_position_embeddings")},
        "labels": LABELS,
        "parameters": params,
        "training": {"seed": args.seed, "lr": args.lr, "batch": args.batch, "dropout": args.dropout, "spell": args.spell,
                     "mix": args.mix, "o_bias_shift": args.o_bias_shift, "general_rate": args.general_rate if general else 0,
                     "general_sentences": len(general),
                     "general": [os.path.relpath(p, os.path.join(HERE, "..", "..")) for p in args.general],
                     "max_epochs": args.epochs, "patience": args.patience, "best_epoch": best_epoch,
                     "epochs_run": len(history), "threads": args.threads, "seconds": round(elapsed, 1),
                     "cpu_seconds": round(time.process_time(), 1), "torch": torch.__version__},
        "split": {s: {"notes": len(split[s]), "templates": templates[s],
                      "entities": dict(collections.Counter(e["type"] for n in split[s] for e in n["entities"]))}
                  for s in ("train", "validation", "test")},
        "aggregation": "first (entity = exact type and character span)",
        "validation_fp32": val_ev,
        "validation_fp32_unshifted": val_unshifted,
        "test_fp32": test_ev,
        "history": history,
    }
    with open(os.path.join(args.artefacts, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
