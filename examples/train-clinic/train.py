#!/usr/bin/python3
"""Trains Lepton's built-in clinic model: a small BERT classifier that maps a
patient's description of symptoms to one of 24 diagnoses (Symptom2Disease).

No pretrained weights can be downloaded where Lepton is built, so the model
starts from random weights and learns from the 718 training descriptions and
from a teacher (TF-IDF + logistic regression on word and character n-grams)
that labels augmented texts; English text from Debian's dictionary packages
(corpus.py) gives the synonyms of the augmentation and, optionally, more
vocabulary and masked-language-model pretraining. It writes a Hugging Face style
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
import re
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
import baseline  # noqa: E402
import corpus  # noqa: E402
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
        x = self.encode(ids, mask)
        pooled = torch.tanh(self.bert.pooler.dense(x[:, 0]))
        return self.classifier(F.dropout(pooled, self.drop, self.training))

    def encode(self, ids, mask):
        """The encoder's last hidden states (batch x tokens x hidden)."""
        e = self.bert.embeddings
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = e.word_embeddings(ids) + e.position_embeddings(pos) + e.token_type_embeddings(
            torch.zeros_like(ids)
        )
        x = F.dropout(e.LayerNorm(x), self.drop, self.training)
        bias = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.bert.encoder.layer:
            x = layer(x, bias)
        return x


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
# Augmentation, on strings so that the teacher can read them

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_WORD = re.compile(r"([A-Za-z]+)")


def split_sentences(text):
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def synonym_swap(text, syn, p, rng):
    """Replaces each content word, with probability p, by a WordNet synonym
    (inflected like the word): "it hurts when I urinate" may become "it hurts
    when I pee"."""
    parts = _WORD.split(text)
    for i in range(1, len(parts), 2):
        w = parts[i]
        if len(w) > 2 and w.lower() not in corpus.STOP and rng.random() < p:
            cands = syn.of(w)
            if cands:
                parts[i] = corpus.inflect(*rng.choice(cands))
    return "".join(parts)


def delete_words(text, p, rng):
    """Drops each word with probability p (keeps at least one)."""
    words = text.split()
    kept = [w for w in words if rng.random() >= p]
    return " ".join(kept or words[:1])


def augment(text, label, sentence_pool, syn, args, rng):
    """A new text for the teacher to label. With probability aug_mix, 1-3
    random sentences of the diagnosis's training texts (patients list
    symptoms in any order and often name only some); with probability
    aug_cross, one of those sentences comes from another diagnosis instead
    (only the teacher's soft label is learnt from such a text: it shows how
    evidence for two diagnoses adds up). Then synonym swaps and word
    deletion. Returns (text, whether the source label still holds)."""
    own = True
    if rng.random() < args.aug_mix:
        sents = [rng.choice(sentence_pool[label]) for _ in range(rng.randint(1, 3))]
        if args.aug_cross > 0 and rng.random() < args.aug_cross:
            other = rng.choice([l for l in sorted(sentence_pool) if l != label])
            sents.insert(rng.randint(0, len(sents)), rng.choice(sentence_pool[other]))
            own = False
        text = " ".join(sents)
    if args.aug_syn > 0:
        text = synonym_swap(text, syn, args.aug_syn, rng)
    if args.aug_delete > 0:
        text = delete_words(text, args.aug_delete, rng)
    return text, own


def random_crop(seq, rng):
    """[CLS] a random contiguous span of at least half the pieces [SEP]."""
    inner = seq[1:-1]
    n = len(inner)
    if n < 4:
        return seq
    k = rng.randint((n + 1) // 2, n)
    s = rng.randint(0, n - k)
    return [seq[0]] + inner[s : s + k] + [seq[-1]]


def pad(seqs):
    t = max(len(s) for s in seqs)
    ids = torch.zeros(len(seqs), t, dtype=torch.long)
    mask = torch.zeros(len(seqs), t, dtype=torch.long)
    for r, s in enumerate(seqs):
        ids[r, : len(s)] = torch.tensor(s)
        mask[r, : len(s)] = 1
    return ids, mask


@torch.no_grad()
def predict(model, seqs):
    """Logits (n x classes) of token id sequences, in order."""
    model.eval()
    out = []
    for i in range(0, len(seqs), 64):
        out.append(model(*pad(seqs[i : i + 64])))
    return torch.cat(out)


def scores(logits, y):
    p = logits.argmax(1).tolist()
    return accuracy_score(y, p), f1_score(y, p, average="macro")


def ece(probs, y, bins=15):
    """Expected calibration error: confidence (top probability) in equal-width
    bins (lo, hi], |accuracy - mean confidence| weighted by the bin's share of
    rows. The eval program computes the same on Lepton's int8 output."""
    conf, pred = probs.max(1)
    correct = (pred == torch.tensor(y)).double()
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += float(sel.double().mean()) * abs(float(correct[sel].mean()) - float(conf[sel].double().mean()))
    return total


def fit_temperature(logits, y):
    """The temperature T that minimises the negative log-likelihood of
    softmax(logits / T): a grid over log T, then a finer grid around the best."""
    yt = torch.tensor(y)

    def nll(t):
        return float(F.cross_entropy(logits / t, yt))

    grid = [math.exp(x / 100) for x in range(-300, 301, 5)]
    best = min(grid, key=nll)
    fine = [best * math.exp(x / 1000) for x in range(-50, 51)]
    return min(fine, key=nll)


# ----------------------------------------------------------------------------
# Masked-language-model pretraining


class MLMHead(nn.Module):
    """BertForMaskedLM's head: dense, GELU, LayerNorm, then the word
    embeddings (tied) as output weights. Used for pretraining only."""

    def __init__(self, h, vocab, eps):
        super().__init__()
        self.dense = nn.Linear(h, h)
        self.LayerNorm = nn.LayerNorm(h, eps=eps)
        self.bias = nn.Parameter(torch.zeros(vocab))

    def forward(self, x, emb):
        return F.linear(self.LayerNorm(F.gelu(self.dense(x))), emb, self.bias)


def pack(lines, max_len, cls, sep):
    """Packs token id lines (without [CLS]/[SEP]) into [CLS] a [SEP] b [SEP] ...
    sequences of at most max_len ids."""
    seqs, cur = [], [cls]
    for l in lines:
        l = l[: max_len - 2]
        if len(cur) + len(l) + 1 > max_len:
            seqs.append(cur)
            cur = [cls]
        cur += l + [sep]
    if len(cur) > 1:
        seqs.append(cur)
    return seqs


def pretrain(model, lines, tok, args, rng, log):
    """Masked-language-model training of model.bert on lines (token ids
    without [CLS]/[SEP]): 15% of the pieces are chosen, 80% of those become
    [MASK], 10% a random piece, 10% stay; the loss is on the chosen ones."""
    cfg_h = model.bert.embeddings.word_embeddings.weight.shape
    head = MLMHead(cfg_h[1], cfg_h[0], 1e-12)
    head.apply(BertForSequenceClassification._init)
    params = list(model.bert.named_parameters()) + [("head." + n, p) for n, p in head.named_parameters()]
    decay = [p for n, p in params if not (n.endswith("bias") or "LayerNorm" in n)]
    no_decay = [p for n, p in params if n.endswith("bias") or "LayerNorm" in n]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.pretrain_lr)
    cls, sep, msk = tok.vocab["[CLS]"], tok.vocab["[SEP]"], tok.vocab["[MASK]"]
    n_seq = len(pack(lines, args.pack_len, cls, sep))
    steps = args.pretrain_epochs * math.ceil(n_seq / args.pretrain_batch)
    warm = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / (steps - warm))))
    vocab = len(tok.tokens)
    t0, step, history = time.time(), 0, []
    for epoch in range(args.pretrain_epochs):
        model.train()
        head.train()
        order = list(range(len(lines)))
        rng.shuffle(order)
        seqs = pack([lines[i] for i in order], args.pack_len, cls, sep)
        tot, cnt, hit = 0.0, 0, 0
        for i in range(0, len(seqs), args.pretrain_batch):
            ids, mask = pad(seqs[i : i + args.pretrain_batch])
            cand = (ids != cls) & (ids != sep) & (mask == 1)
            chosen = (torch.rand(ids.shape) < args.mlm_prob) & cand
            if not chosen.any():
                continue
            target = ids[chosen]
            r = torch.rand(ids.shape)
            inp = ids.masked_fill(chosen & (r < 0.8), msk)
            rnd = chosen & (r >= 0.8) & (r < 0.9)
            inp = torch.where(rnd, torch.randint(5, vocab, ids.shape), inp)
            logits = head(model.encode(inp, mask)[chosen], model.bert.embeddings.word_embeddings.weight)
            loss = F.cross_entropy(logits, target)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(model.bert.parameters()) + list(head.parameters()), 1.0)
            opt.step()
            sched.step()
            step += 1
            tot += float(loss) * len(target)
            cnt += len(target)
            hit += int((logits.argmax(1) == target).sum())
            if step % 200 == 0:
                log(f"  step {step}/{steps}: MLM loss {tot / cnt:.4f} [{time.time() - t0:.0f}s]")
        history.append({"epoch": epoch + 1, "mlm_loss": round(tot / cnt, 4), "mlm_acc": round(hit / cnt, 4),
                        "seconds": round(time.time() - t0, 1)})
        log(f"pretrain epoch {epoch + 1}: {len(seqs)} sequences, MLM loss {tot / cnt:.4f}, "
            f"masked-piece accuracy {hit / cnt:.4f} [{time.time() - t0:.0f}s]")
    return {"sequences_per_epoch": n_seq, "steps": step, "history": history}


# ----------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default="../shared/data/symptom2disease/Symptom2Disease.csv")
    ap.add_argument("--vocab", default="../shared/models/sst2-bert-tiny-scratch/vocab.txt",
                    help="bert-base-uncased vocab.txt to prune")
    ap.add_argument("--out", default="/tmp/clinic-model")
    ap.add_argument("--seed", type=int, default=20261130)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--intermediate", type=int, default=1024)
    ap.add_argument("--max-len", type=int, default=128)
    # Vocabulary and pretraining.
    ap.add_argument("--vocab-texts", choices=("train", "corpus"), default="train",
                    help="prune the vocabulary to the pieces of the training rows only, or of the training rows "
                         "and the dictionary corpus (corpus.py)")
    ap.add_argument("--pretrain-epochs", type=int, default=0, help="MLM epochs over the corpus (0: none)")
    ap.add_argument("--pretrain-lr", type=float, default=1e-3)
    ap.add_argument("--pretrain-batch", type=int, default=16)
    ap.add_argument("--pack-len", type=int, default=64, help="pretraining sequence length (packed lines)")
    ap.add_argument("--mlm-prob", type=float, default=0.15)
    ap.add_argument("--cache", default="", help="where the pretrained encoder is kept and looked for (default: --out)")
    ap.add_argument("--train-copies", type=int, default=2,
                    help="copies of each training row in every pretraining epoch (domain text)")
    # Fine-tuning.
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--patience", type=int, default=8)
    ap.add_argument("--lr", type=float, default=7e-4)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--word-dropout", type=float, default=0.2,
                    help="probability of replacing each training token with [MASK] (augmentation)")
    ap.add_argument("--crop", type=float, default=0.5,
                    help="probability of training on a random contiguous span (>= half) of a text (augmentation)")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--distill", type=float, default=0.8,
                    help="weight of the teacher's (TF-IDF + logistic regression) soft labels in the loss; "
                         "1 - distill is the weight of the true labels")
    ap.add_argument("--teacher", choices=("word", "word+char"), default="word+char",
                    help="TF-IDF n-grams of the teacher: word 1-2 grams (the baseline), or the mean of that and "
                         "character 2-5 grams")
    ap.add_argument("--aug-pool", type=int, default=10,
                    help="augmented texts made per training row (0: no augmented texts)")
    ap.add_argument("--aug-per-epoch", type=float, default=1.0,
                    help="augmented texts drawn per epoch, as a multiple of the training rows")
    ap.add_argument("--aug-mix", type=float, default=0.5,
                    help="probability that an augmented text is rebuilt from 1-3 sentences of the same diagnosis")
    ap.add_argument("--aug-syn", type=float, default=0.15,
                    help="probability of replacing each content word of an augmented text by a WordNet synonym")
    ap.add_argument("--aug-cross", type=float, default=0.0,
                    help="probability that a mixed augmented text also gets a sentence of another diagnosis "
                         "(learnt from the teacher's soft label only)")
    ap.add_argument("--aug-delete", type=float, default=0.0,
                    help="probability of deleting each word of an augmented text before the teacher labels it")
    ap.add_argument("--uniform-attention", choices=("none", "last", "all"), default="none",
                    help="zero the query and key weights of the last or of all layers before fine-tuning: their "
                         "attention is then uniform over the text and stays so (zero is a fixed point of their "
                         "gradients), which makes the layer average its input like a bag of words")
    ap.add_argument("--no-calibrate", action="store_true", help="skip temperature scaling")
    ap.add_argument("--artefacts", default=HERE, help="where metrics.json and reference/ go (default: beside this script)")
    ap.add_argument("--write-split", action="store_true", help="(re)write split.json instead of checking it")
    args = ap.parse_args()

    t0 = time.time()

    def log(msg):
        print(f"{msg}", flush=True)

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
    train_texts = [texts[j] for j in split["train"]]

    # The dictionary text (pretraining, vocabulary, synonyms) is picked with
    # seed words from the training rows only.
    need_corpus = args.vocab_texts == "corpus" or args.pretrain_epochs > 0 or args.aug_syn > 0
    corpus_lines, corpus_stats, syn = [], {}, None
    if need_corpus:
        corpus_lines, corpus_stats, syn = corpus.build(train_texts)
        corpus_stats["sha256_16"] = hashlib.sha256("\n".join(corpus_lines).encode()).hexdigest()[:16]
        corpus_stats["packages"] = corpus.package_versions()
        log(f"corpus: {json.dumps(corpus_stats)}")

    with open(args.vocab, encoding="utf-8") as f:
        full = [l.rstrip("\n") for l in f]
    # Every piece the training rows (and the corpus) use, plus single
    # characters: validation, test and new words it lacks are spelled out.
    vocab_texts = train_texts + (corpus_lines if args.vocab_texts == "corpus" else [])
    tokens = wordpiece.prune_vocab(full, vocab_texts)
    tok = wordpiece.Tokenizer(tokens, args.max_len)
    ids_list = {j: tok.encode(texts[j]) for j in texts}
    log(f"vocab {len(tokens)} pieces; longest text {max(len(v) for v in ids_list.values())} tokens;"
        f" split train {len(split['train'])} / val {len(split['validation'])} / test {len(split['test'])}")

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
    rng = random.Random(args.seed)

    # ---- pretraining (cached by everything that determines its result)
    pre = None
    if args.pretrain_epochs > 0:
        key_src = json.dumps({"tokens": tokens, "cfg": {k: v for k, v in cfg.items() if k not in ("id2label", "label2id")},
                              "corpus": corpus_stats["sha256_16"], "seed": args.seed,
                              "args": [args.pretrain_epochs, args.pretrain_lr, args.pretrain_batch, args.pack_len,
                                       args.mlm_prob, args.train_copies], "torch": torch.__version__}, sort_keys=True)
        key = hashlib.sha256(key_src.encode()).hexdigest()[:12]
        cache = os.path.join(args.cache or args.out, f"pretrained-{key}.pt")
        if os.path.exists(cache):
            saved = torch.load(cache)
            model.bert.load_state_dict(saved["bert"])
            pre = saved["info"]
            log(f"pretrained encoder loaded from {cache}")
        else:
            lines = [tok.encode(l)[1:-1] for l in corpus_lines]
            lines += [ids_list[j][1:-1] for j in split["train"]] * args.train_copies
            lines = [l for l in lines if l]
            pre = pretrain(model, lines, tok, args, rng, log)
            pre.update({"lines": len(lines), "pieces": sum(len(l) for l in lines), "key": key})
            os.makedirs(os.path.dirname(cache), exist_ok=True)
            torch.save({"bert": model.bert.state_dict(), "info": pre}, cache)
        # The pooler is not trained by MLM: start it (and the classifier) fresh.
        torch.manual_seed(args.seed + 1)
        model.bert.pooler.apply(BertForSequenceClassification._init)
        model.classifier.apply(BertForSequenceClassification._init)
        rng = random.Random(args.seed + 1)

    if args.uniform_attention != "none":
        layers = model.bert.encoder.layer
        with torch.no_grad():
            for layer in (layers if args.uniform_attention == "all" else layers[-1:]):
                for lin in (layer.attention.self.query, layer.attention.self.key):
                    lin.weight.zero_()
                    lin.bias.zero_()

    # ---- the teacher and the augmented texts
    ytr = [labels[j] for j in split["train"]]
    yva = [labels[j] for j in split["validation"]]
    yte = [labels[j] for j in split["test"]]
    teacher_info = None
    teacher = None
    if args.distill > 0:
        # The teacher: TF-IDF + logistic regression (baseline.py) on word
        # 1-2 grams, or the mean of its probabilities and those of the same on
        # character 2-5 grams, each with C chosen on the validation rows.
        val_texts = [texts[j] for j in split["validation"]]
        parts = []
        for analyzer in args.teacher.split("+"):
            tf1, tc, vec, clf = baseline.fit(train_texts, [labels_sorted[y] for y in ytr], val_texts,
                                             [labels_sorted[y] for y in yva], analyzer=analyzer)
            parts.append((vec, clf, [list(clf.classes_).index(l) for l in labels_sorted]))
            log(f"teacher part {analyzer}: C {tc}, validation macro-F1 {tf1:.4f}")

        def teacher(batch_texts):
            p = sum(clf.predict_proba(vec.transform(batch_texts))[:, cols] for vec, clf, cols in parts) / len(parts)
            return torch.tensor(p, dtype=torch.float32)

        tacc, tf1 = scores(teacher(val_texts), yva)
        teacher_info = {"model": f"TF-IDF ({args.teacher} n-grams) + logistic regression (baseline.py)",
                        "validation_accuracy": round(tacc, 4), "validation_macro_f1": round(tf1, 4)}
        log(f"teacher: {teacher_info}")
    n_cls = len(labels_sorted)
    train_items = []  # (ids, label, soft target, weight of the true-label loss)
    soft_train = teacher(train_texts) if teacher else F.one_hot(torch.tensor(ytr), n_cls).float()
    for k, j in enumerate(split["train"]):
        train_items.append((ids_list[j], labels[j], soft_train[k], 1.0))
    aug_items = []
    if args.aug_pool > 0:
        pool = collections.defaultdict(list)
        for j in split["train"]:
            pool[labels[j]].extend(split_sentences(texts[j]))
        aug_texts, aug_labels, aug_own = [], [], []
        for j in split["train"]:
            for _ in range(args.aug_pool):
                t, own = augment(texts[j], labels[j], pool, syn, args, rng)
                aug_texts.append(t)
                aug_labels.append(labels[j])
                aug_own.append(1.0 if own else 0.0)
        if teacher is None and args.aug_cross > 0:
            raise SystemExit("--aug-cross needs a teacher (--distill > 0)")
        soft = teacher(aug_texts) if teacher else F.one_hot(torch.tensor(aug_labels), n_cls).float()
        aug_items = [(tok.encode(t), y, s, o) for t, y, s, o in zip(aug_texts, aug_labels, soft, aug_own)]
        agree = float((soft.argmax(1) == torch.tensor(aug_labels)).float().mean())
        log(f"{len(aug_items)} augmented texts; the teacher agrees with their source label on {agree:.4f}; e.g. "
            f"{aug_texts[0]!r}")

    # ---- fine-tuning
    counts = collections.Counter(ytr)
    w = torch.tensor([len(ytr) / (n_cls * counts[c]) for c in range(n_cls)])
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or "LayerNorm" in n]
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or "LayerNorm" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    n_aug = int(round(args.aug_per_epoch * len(train_items))) if aug_items else 0
    steps_per_epoch = math.ceil((len(train_items) + n_aug) / args.batch)
    total = steps_per_epoch * args.epochs
    warm = steps_per_epoch * 3
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm))))
    val_seqs = [ids_list[j] for j in split["validation"]]
    test_seqs = [ids_list[j] for j in split["test"]]
    cls_id, sep_id, mask_id = tok.vocab["[CLS]"], tok.vocab["[SEP]"], tok.vocab["[MASK]"]
    aug_order, aug_pos = list(range(len(aug_items))), len(aug_items)

    best, best_state, best_epoch, history = None, None, -1, []
    for epoch in range(args.epochs):
        model.train()
        items = []
        for s, y, t, o in train_items:
            items.append((random_crop(s, rng) if args.crop > 0 and rng.random() < args.crop else s, y, t, o))
        for _ in range(n_aug):  # without replacement, reshuffled when used up
            if aug_pos == len(aug_order):
                rng.shuffle(aug_order)
                aug_pos = 0
            items.append(aug_items[aug_order[aug_pos]])
            aug_pos += 1
        rng.shuffle(items)
        tot_loss = 0.0
        for i in range(0, len(items), args.batch):
            chunk = items[i : i + args.batch]
            ids, mask = pad([c[0] for c in chunk])
            y = torch.tensor([c[1] for c in chunk])
            if args.word_dropout > 0:
                # Word dropout: hide random tokens (never [CLS]/[SEP]/padding)
                # so the model cannot lean on any single keyword.
                inner = (ids != cls_id) & (ids != sep_id) & (mask == 1)
                ids = ids.masked_fill((torch.rand(ids.shape) < args.word_dropout) & inner, mask_id)
            logits = model(ids, mask)
            own = torch.tensor([c[3] for c in chunk])
            ce = F.cross_entropy(logits, y, weight=w, label_smoothing=args.label_smoothing, reduction="none")
            # Class-weighted mean over the rows whose source label holds.
            loss = (ce * own).sum() / (w[y] * own).sum().clamp_min(1e-12)
            if args.distill > 0:
                soft = torch.stack([c[2] for c in chunk])
                kd = (soft * (torch.log(soft.clamp_min(1e-12)) - F.log_softmax(logits, 1))).sum(1).mean()
                loss = (1 - args.distill) * loss + args.distill * kd
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            tot_loss += loss.item() * len(y)
        vl = predict(model, val_seqs)
        acc, f1 = scores(vl, yva)
        nll = float(F.cross_entropy(vl, torch.tensor(yva)))
        history.append({"epoch": epoch + 1, "loss": round(tot_loss / len(items), 5), "val_acc": round(acc, 4),
                        "val_f1": round(f1, 4), "val_nll": round(nll, 4)})
        log(f"epoch {epoch + 1:3d} loss {tot_loss / len(items):.4f} val acc {acc:.4f} f1 {f1:.4f} nll {nll:.4f} "
            f"[{time.time() - t0:.0f}s]")
        # Best = highest validation macro-F1, ties broken by lower NLL.
        if best is None or (f1, -nll) > best:
            best, best_epoch = (f1, -nll), epoch + 1
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        elif epoch + 1 - best_epoch >= args.patience:
            break
    model.load_state_dict(best_state)

    # ---- calibration: temperature fitted on the validation rows, folded
    # into the classifier so that the exported model needs no extra step.
    val_logits = predict(model, val_seqs)
    temperature = 1.0 if args.no_calibrate else fit_temperature(val_logits, yva)
    val_ece_raw = ece(F.softmax(val_logits, 1), yva)
    with torch.no_grad():
        model.classifier.weight.div_(temperature)
        model.classifier.bias.div_(temperature)
    val_logits = predict(model, val_seqs)
    test_logits = predict(model, test_seqs)
    vacc, vf1 = scores(val_logits, yva)
    acc, f1 = scores(test_logits, yte)
    vnll = float(F.cross_entropy(val_logits, torch.tensor(yva)))
    vece = ece(F.softmax(val_logits, 1), yva)
    tece = ece(F.softmax(test_logits, 1), yte)
    elapsed = time.time() - t0
    log(f"best epoch {best_epoch}; temperature {temperature:.4f}: validation acc {vacc:.4f} macro-F1 {vf1:.4f} "
        f"NLL {vnll:.4f} ECE {vece:.4f} (before scaling {val_ece_raw:.4f}); "
        f"TEST fp32 acc {acc:.4f} macro-F1 {f1:.4f} ECE {tece:.4f}; {elapsed:.0f}s")

    os.makedirs(args.out, exist_ok=True)
    cfg_out = dict(cfg)
    cfg_out["_note"] = (f"Lepton clinic demo: {'MLM-pretrained on dictionary text, then ' if pre else ''}"
                        f"fine-tuned on Symptom2Disease, {len(split['train'])} training rows; see examples/train-clinic")
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
    # fp32 logits of the test rows (temperature folded in), the reference for
    # int8-vs-fp32 agreement.
    with open(os.path.join(ref, "test_logits.json"), "w") as f:
        json.dump({"labels": labels_sorted,
                   "rows": [{"row": j, "label": labels[j], "logits": [round(float(x), 6) for x in test_logits[k]]}
                            for k, j in enumerate(split["test"])]}, f)
        f.write("\n")
    # A hash of each row's token ids (not the ids, which would spell out the
    # corpus): Lepton's tokenizer must reproduce every one of them.
    with open(os.path.join(ref, "token_hashes.json"), "w") as f:
        json.dump({"hash": "sha256 of the ids as decimal, comma-separated, first 16 hex digits",
                   "rows": [hashlib.sha256(",".join(map(str, ids_list[j])).encode()).hexdigest()[:16]
                            for j in sorted(ids_list)]}, f)
        f.write("\n")

    p = test_logits.argmax(1).tolist()
    per_class = {labels_sorted[c]: round(float(v), 4) for c, v in
                 enumerate(f1_score(yte, p, average=None, labels=list(range(n_cls))))}
    settings = {k: v for k, v in vars(args).items() if k not in ("data", "vocab", "out", "artefacts", "write_split")}
    metrics = {
        "model": {k: cfg[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                      "intermediate_size", "max_position_embeddings")},
        "parameters": sum(p.numel() for p in model.parameters()),
        "corpus": corpus_stats,
        "pretraining": pre,
        "teacher": teacher_info,
        "training": {**settings, "warmup_epochs": 3, "best_epoch": best_epoch, "epochs_run": len(history),
                     "temperature": round(temperature, 4), "seconds": round(elapsed, 1),
                     "cpu_seconds": round(time.process_time(), 1), "torch": torch.__version__},
        "split": {k: len(v) for k, v in split.items()},
        "validation_fp32": {"accuracy": round(vacc, 4), "macro_f1": round(vf1, 4), "nll": round(vnll, 4),
                            "ece": round(vece, 4), "ece_before_temperature": round(val_ece_raw, 4)},
        "test_fp32": {"accuracy": round(acc, 4), "macro_f1": round(f1, 4), "ece": round(tece, 4),
                      "per_class_f1": per_class},
        "history": history,
    }
    with open(os.path.join(args.artefacts, "metrics.json"), "w") as f:
        json.dump(metrics, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
