#!/usr/bin/python3
"""Trains Lepton's built-in clinic model: a small BERT classifier that maps a
patient's description of symptoms to one of 24 diagnoses (Symptom2Disease).

No pretrained weights can be downloaded where Lepton is built, so the model is
trained from scratch on the 1,200 descriptions. It writes a Hugging Face style
directory (config.json with id2label, model.safetensors, tokenizer.json,
vocab.txt) that `lepton quantize` converts to the int8 default model.

Run from the repository root (Debian's python3-torch 1.13, numpy, sklearn):

    /usr/bin/python3 examples/train-clinic/train.py --out /tmp/clinic-model

Everything is seeded; the stratified split is committed in split.json and the
script refuses to run if it would produce a different one. Outputs kept in
the repo: split.json, metrics.json (fp32 test figures), reference/ (fp32 test
logits and per-row token id hashes, used by Go tests).
"""

import argparse
import collections
import csv
import hashlib
import json
import math
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.metrics import accuracy_score, f1_score

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ in the repository
import wordpiece  # noqa: E402

# ----------------------------------------------------------------------------
# Data and split


def read_rows(path):
    """Returns [(row, label, text)], row = 0-based position among data rows
    (the CSV's own index column is not unique)."""
    with open(path, newline="", encoding="utf-8") as f:
        r = csv.reader(f)
        header = next(r)
        if header != ["index", "label", "text"]:
            raise SystemExit(f"unexpected header {header}")
        return [(i, rec[1], rec[2]) for i, rec in enumerate(r)]


def dedup_key(text):
    return " ".join(text.lower().split())


def stratified_split(rows, seed, n_test=10, n_val=10):
    """Per label: groups of identical texts (the corpus repeats 43 texts) are
    kept on one side so that no test text is also seen in training; groups
    are shuffled with a fixed seed and dealt to test, then validation, until
    each holds at least n_test / n_val rows; the rest is training."""
    rng = random.Random(seed)
    by_label = collections.defaultdict(lambda: collections.OrderedDict())
    for row, label, text in rows:
        by_label[label].setdefault(dedup_key(text), []).append(row)
    split = {"train": [], "validation": [], "test": []}
    for label in sorted(by_label):
        groups = list(by_label[label].values())
        rng.shuffle(groups)
        test, val, train = [], [], []
        for g in groups:
            if len(test) < n_test:
                test.extend(g)
            elif len(val) < n_val:
                val.extend(g)
            else:
                train.extend(g)
        split["test"] += test
        split["validation"] += val
        split["train"] += train
    for k in split:
        split[k].sort()
    return split


# ----------------------------------------------------------------------------
# BERT, with Hugging Face BertForSequenceClassification's tensor names


class SelfAttention(nn.Module):
    def __init__(self, h, heads):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)


class AttnOutput(nn.Module):
    def __init__(self, h, eps):
        super().__init__()
        self.dense = nn.Linear(h, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class Attention(nn.Module):
    def __init__(self, h, heads, eps):
        super().__init__()
        self.self = SelfAttention(h, heads)
        self.output = AttnOutput(h, eps)


class Intermediate(nn.Module):
    def __init__(self, h, inter):
        super().__init__()
        self.dense = nn.Linear(h, inter)


class Output(nn.Module):
    def __init__(self, h, inter, eps):
        super().__init__()
        self.dense = nn.Linear(inter, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class Layer(nn.Module):
    def __init__(self, h, heads, inter, eps, drop):
        super().__init__()
        self.attention = Attention(h, heads, eps)
        self.intermediate = Intermediate(h, inter)
        self.output = Output(h, inter, eps)
        self.drop = drop

    def forward(self, x, bias):
        b, t, h = x.shape
        a = self.attention.self
        nh = a.heads
        dh = h // nh

        def split(y):
            return y.view(b, t, nh, dh).transpose(1, 2)

        q, k, v = split(a.query(x)), split(a.key(x)), split(a.value(x))
        s = q @ k.transpose(-1, -2) / math.sqrt(dh) + bias
        p = F.dropout(torch.softmax(s, dim=-1), self.drop, self.training)
        c = (p @ v).transpose(1, 2).reshape(b, t, h)
        o = self.attention.output
        x = o.LayerNorm(x + F.dropout(o.dense(c), self.drop, self.training))
        f = F.gelu(self.intermediate.dense(x))  # erf GELU
        o = self.output
        return o.LayerNorm(x + F.dropout(o.dense(f), self.drop, self.training))


class Embeddings(nn.Module):
    def __init__(self, vocab, h, maxpos, types, eps):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, h, padding_idx=0)
        self.position_embeddings = nn.Embedding(maxpos, h)
        self.token_type_embeddings = nn.Embedding(types, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)


class Encoder(nn.Module):
    def __init__(self, n, *a):
        super().__init__()
        self.layer = nn.ModuleList([Layer(*a) for _ in range(n)])


class Pooler(nn.Module):
    def __init__(self, h):
        super().__init__()
        self.dense = nn.Linear(h, h)


class Bert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.embeddings = Embeddings(
            cfg["vocab_size"], h, cfg["max_position_embeddings"], cfg["type_vocab_size"], eps
        )
        self.encoder = Encoder(
            cfg["num_hidden_layers"],
            h,
            cfg["num_attention_heads"],
            cfg["intermediate_size"],
            eps,
            cfg["hidden_dropout_prob"],
        )
        self.pooler = Pooler(h)


class BertForSequenceClassification(nn.Module):
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
        x = e.word_embeddings(ids) + e.position_embeddings(pos) + e.token_type_embeddings(
            torch.zeros_like(ids)
        )
        x = F.dropout(e.LayerNorm(x), self.drop, self.training)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.bert.encoder.layer:
            x = layer(x, bias)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return self.classifier(F.dropout(pooled, self.drop, self.training))


# ----------------------------------------------------------------------------
# safetensors


def write_safetensors(path, tensors):
    """8-byte little-endian header length, JSON header (dtype, shape,
    data_offsets relative to the data section), then raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().cpu().numpy().astype("<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # keep the data 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------


def random_crop(seq, rng):
    """[CLS] a random contiguous span of at least half the pieces [SEP]."""
    inner = seq[1:-1]
    n = len(inner)
    if n < 4:
        return seq
    k = rng.randint((n + 1) // 2, n)
    s = rng.randint(0, n - k)
    return [seq[0]] + inner[s : s + k] + [seq[-1]]


def sentences(seq, ends):
    """Splits [CLS] ... [SEP] into sentences, each ending at a token in ends."""
    out, cur = [], []
    for t in seq[1:-1]:
        cur.append(t)
        if t in ends:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def batches(ids_list, labels, idx, bs, shuffle, rng, crop=0.0, mix=0.0, pool=None, max_len=128):
    idx = list(idx)
    if shuffle:
        rng.shuffle(idx)
    for i in range(0, len(idx), bs):
        chunk = idx[i : i + bs]
        seqs = []
        for j in chunk:
            s = ids_list[j]
            if mix > 0 and rng.random() < mix:
                # A new description of the same diagnosis from 1-3 sentences
                # of its training texts: patients list symptoms in any order
                # and often name only one or two.
                sents = [rng.choice(pool[labels[j]]) for _ in range(rng.randint(1, 3))]
                body = [t for x in sents for t in x][: max_len - 2]
                s = [s[0]] + body + [s[-1]]
            elif crop > 0 and rng.random() < crop:
                s = random_crop(s, rng)
            seqs.append(s)
        t = max(len(s) for s in seqs)
        ids = torch.zeros(len(chunk), t, dtype=torch.long)
        mask = torch.zeros(len(chunk), t, dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s)
            mask[r, : len(s)] = 1
        yield chunk, ids, mask, torch.tensor([labels[j] for j in chunk])


@torch.no_grad()
def predict(model, ids_list, labels, idx):
    model.eval()
    out = {}
    for chunk, ids, mask, _ in batches(ids_list, labels, idx, 64, False, None):
        for j, l in zip(chunk, model(ids, mask)):
            out[j] = l
    return out


def scores(logits, labels, idx):
    y = [labels[j] for j in idx]
    p = [int(logits[j].argmax()) for j in idx]
    return accuracy_score(y, p), f1_score(y, p, average="macro")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/symptom2disease/Symptom2Disease.csv")
    ap.add_argument("--vocab", default="../shared/models/sst2-bert-tiny-scratch/vocab.txt",
                    help="bert-base-uncased vocab.txt to prune")
    ap.add_argument("--out", default="/tmp/clinic-model")
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=512)
    ap.add_argument("--max-len", type=int, default=128)
    ap.add_argument("--epochs", type=int, default=80)
    ap.add_argument("--patience", type=int, default=15)
    ap.add_argument("--lr", type=float, default=7e-4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--word-dropout", type=float, default=0.2,
                    help="probability of replacing each training token with [MASK] (augmentation)")
    ap.add_argument("--crop", type=float, default=0.5,
                    help="probability of training on a random contiguous span (>= half) of a text (augmentation)")
    ap.add_argument("--mix", type=float, default=0.0,
                    help="probability of replacing a training text by 1-3 random sentences of training texts "
                         "with the same diagnosis (augmentation)")
    ap.add_argument("--artefacts", default=HERE, help="where metrics.json and reference/ go (default: beside this script)")
    ap.add_argument("--write-split", action="store_true", help="(re)write split.json instead of checking it")
    args = ap.parse_args()

    t0 = time.time()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.use_deterministic_algorithms(True)

    rows = read_rows(args.data)
    split = stratified_split(rows, args.seed)
    split_path = os.path.join(HERE, "split.json")
    doc = {
        "source": "Symptom2Disease.csv; row = 0-based data row (header excluded)",
        "rule": "per label, identical texts grouped, groups shuffled with the seed, dealt to test then validation until >= 10 rows each",
        "seed": args.seed,
        **split,
    }
    if args.write_split or not os.path.exists(split_path):
        with open(split_path, "w") as f:
            json.dump(doc, f)
            f.write("\n")
    else:
        with open(split_path) as f:
            have = json.load(f)
        for k in ("train", "validation", "test"):
            if have[k] != split[k]:
                raise SystemExit(f"split.json's {k} differs from this run's split (seed {args.seed})")

    labels_sorted = sorted({r[1] for r in rows}, key=str.lower)
    lab2id = {l: i for i, l in enumerate(labels_sorted)}
    texts = {r[0]: r[2] for r in rows}
    labels = {r[0]: lab2id[r[1]] for r in rows}

    with open(args.vocab, encoding="utf-8") as f:
        full = [l.rstrip("\n") for l in f]
    # The vocabulary comes from the training rows only, as it would for a
    # clinic's own data: validation and test words it lacks are spelled out.
    tokens = wordpiece.prune_vocab(full, [texts[j] for j in split["train"]])
    tok = wordpiece.Tokenizer(tokens, args.max_len)
    ids_list = {j: tok.encode(texts[j]) for j in texts}
    print(f"vocab {len(tokens)} pieces; longest text {max(len(v) for v in ids_list.values())} tokens;"
          f" split train {len(split['train'])} / val {len(split['validation'])} / test {len(split['test'])}",
          flush=True)

    cfg = {
        "architectures": ["BertForSequenceClassification"],
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
        "id2label": {str(i): l for i, l in enumerate(labels_sorted)},
        "label2id": lab2id,
    }
    model = BertForSequenceClassification(cfg)

    # Class-balanced loss: weights inversely proportional to the training
    # frequency of each class (all 1.0 when the split is exactly balanced).
    counts = collections.Counter(labels[j] for j in split["train"])
    w = torch.tensor([len(split["train"]) / (len(counts) * counts[c]) for c in range(len(labels_sorted))])

    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    steps_per_epoch = math.ceil(len(split["train"]) / args.batch)
    total = steps_per_epoch * args.epochs
    warm = steps_per_epoch * 3
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    rng = random.Random(args.seed)
    ends = {tok.vocab[p] for p in (".", "!", "?")}
    pool = collections.defaultdict(list)  # diagnosis -> sentences of its training texts
    for j in split["train"]:
        pool[labels[j]].extend(sentences(ids_list[j], ends))

    best, best_state, best_epoch, history = -1.0, None, -1, []
    for epoch in range(args.epochs):
        model.train()
        tot_loss = 0.0
        for _, ids, mask, y in batches(ids_list, labels, split["train"], args.batch, True, rng, args.crop,
                                          args.mix, pool, args.max_len):
            if args.word_dropout > 0:
                # Word dropout: hide random tokens (never [CLS]/[SEP]/padding)
                # so the model cannot lean on any single keyword.
                inner = (ids != tok.vocab["[CLS]"]) & (ids != tok.vocab["[SEP]"]) & (mask == 1)
                drop = (torch.rand(ids.shape) < args.word_dropout) & inner
                ids = ids.masked_fill(drop, tok.vocab["[MASK]"])
            loss = F.cross_entropy(model(ids, mask), y, weight=w)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tot_loss += loss.item() * len(y)
        vl = predict(model, ids_list, labels, split["validation"])
        acc, f1 = scores(vl, labels, split["validation"])
        history.append({"epoch": epoch + 1, "loss": tot_loss / len(split["train"]), "val_acc": acc, "val_f1": f1})
        print(f"epoch {epoch + 1:3d} loss {tot_loss / len(split['train']):.4f} val acc {acc:.4f} f1 {f1:.4f} [{time.time() - t0:.0f}s]",
              flush=True)
        if f1 > best:
            best, best_epoch = f1, epoch + 1
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif epoch + 1 - best_epoch >= args.patience:
            break
    model.load_state_dict(best_state)

    test_logits = predict(model, ids_list, labels, split["test"])
    val_logits = predict(model, ids_list, labels, split["validation"])
    acc, f1 = scores(test_logits, labels, split["test"])
    vacc, vf1 = scores(val_logits, labels, split["validation"])
    elapsed = time.time() - t0
    print(f"best epoch {best_epoch}: validation acc {vacc:.4f} macro-F1 {vf1:.4f};"
          f" TEST fp32 acc {acc:.4f} macro-F1 {f1:.4f}; {elapsed:.0f}s", flush=True)

    os.makedirs(args.out, exist_ok=True)
    cfg_out = dict(cfg)
    cfg_out["_note"] = (f"Lepton clinic demo: trained from scratch (no pretraining) on Symptom2Disease, "
                        f"{len(split['train'])} training rows; see examples/train-clinic")
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg_out, f, indent=2)
    write_safetensors(os.path.join(args.out, "model.safetensors"), model.state_dict())
    with open(os.path.join(args.out, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(args.out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(wordpiece.tokenizer_json(tokens, args.max_len), f, ensure_ascii=False)
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": args.max_len,
                   "cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]",
                   "mask_token": "[MASK]"}, f)

    ref = os.path.join(args.artefacts, "reference")
    os.makedirs(ref, exist_ok=True)
    # fp32 logits of the test rows, the reference for int8-vs-fp32 agreement.
    with open(os.path.join(ref, "test_logits.json"), "w") as f:
        json.dump({"labels": labels_sorted,
                   "rows": [{"row": j, "label": labels[j], "logits": [round(float(x), 6) for x in test_logits[j]]}
                            for j in split["test"]]}, f)
        f.write("\n")
    # A hash of each row's token ids (not the ids, which would spell out the
    # corpus): Lepton's tokenizer must reproduce every one of them.
    with open(os.path.join(ref, "token_hashes.json"), "w") as f:
        json.dump({"hash": "sha256 of the ids as decimal, comma-separated, first 16 hex digits",
                   "rows": [hashlib.sha256(",".join(map(str, ids_list[j])).encode()).hexdigest()[:16]
                            for j in sorted(ids_list)]}, f)
        f.write("\n")

    y = [labels[j] for j in split["test"]]
    p = [int(test_logits[j].argmax()) for j in split["test"]]
    per_class = {labels_sorted[c]: round(float(v), 4) for c, v in
                 enumerate(f1_score(y, p, average=None, labels=list(range(len(labels_sorted)))))}
    metrics = {
        "model": {k: cfg[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                      "intermediate_size", "max_position_embeddings")},
        "parameters": sum(p.numel() for p in model.parameters()),
        "training": {"seed": args.seed, "lr": args.lr, "batch": args.batch, "dropout": args.dropout,
                     "max_epochs": args.epochs, "word_dropout": args.word_dropout, "crop": args.crop, "mix": args.mix, "warmup_epochs": 3, "patience": args.patience, "best_epoch": best_epoch,
                     "epochs_run": len(history), "threads": args.threads, "seconds": round(elapsed, 1),
                     "cpu_seconds": round(time.process_time(), 1),
                     "torch": torch.__version__},
        "split": {k: len(v) for k, v in split.items()},
        "validation_fp32": {"accuracy": round(vacc, 4), "macro_f1": round(vf1, 4)},
        "test_fp32": {"accuracy": round(acc, 4), "macro_f1": round(f1, 4), "per_class_f1": per_class},
        "history": history,
    }
    with open(os.path.join(args.artefacts, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
