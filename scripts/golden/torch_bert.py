"""A plain PyTorch BERT (BertModel + BertForSequenceClassification and
BertForTokenClassification heads).

Written from the published architecture (Devlin et al. 2019; the Hugging Face
BertModel module layout) so that the golden scripts need nothing beyond
Debian's python3-torch: no transformers package. Tensor names follow the
Hugging Face checkpoint layout, so state dicts load from and save to
model.safetensors directly.
"""
import json
import math
import struct

import numpy as np
import torch
from torch import nn


class Layer(nn.Module):
    def __init__(self, h, heads, inter, eps):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.attn_out = nn.Linear(h, h)
        self.attn_ln = nn.LayerNorm(h, eps=eps)
        self.inter = nn.Linear(h, inter)
        self.out = nn.Linear(inter, h)
        self.out_ln = nn.LayerNorm(h, eps=eps)

    def forward(self, x, add_mask):
        b, n, h = x.shape
        d = h // self.heads

        def split(t):
            return t.view(b, n, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        scores = q @ k.transpose(-1, -2) / math.sqrt(d) + add_mask
        ctx = torch.softmax(scores, dim=-1) @ v
        ctx = ctx.transpose(1, 2).reshape(b, n, h)
        x = self.attn_ln(self.attn_out(ctx) + x)
        y = self.out(nn.functional.gelu(self.inter(x)))  # erf GELU
        return self.out_ln(y + x)


class Bert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.word = nn.Embedding(cfg["vocab_size"], h)
        self.pos = nn.Embedding(cfg["max_position_embeddings"], h)
        self.typ = nn.Embedding(cfg["type_vocab_size"], h)
        self.emb_ln = nn.LayerNorm(h, eps=eps)
        self.layers = nn.ModuleList(
            Layer(h, cfg["num_attention_heads"], cfg["intermediate_size"], eps)
            for _ in range(cfg["num_hidden_layers"]))
        self.pooler = nn.Linear(h, h)
        self.classifier = nn.Linear(h, len(cfg["id2label"])) if cfg.get("id2label") else None

    def encode(self, input_ids, attention_mask, token_type_ids):
        """The final hidden states (BertModel's last_hidden_state)."""
        n = input_ids.shape[1]
        pos = torch.arange(n).unsqueeze(0)
        x = self.emb_ln(self.word(input_ids) + self.pos(pos) + self.typ(token_type_ids))
        add_mask = (1.0 - attention_mask[:, None, None, :].float()) * -10000.0
        for layer in self.layers:
            x = layer(x, add_mask)
        return x

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.encode(input_ids, attention_mask, token_type_ids)
        pooled = torch.tanh(self.pooler(x[:, 0]))
        logits = self.classifier(pooled) if self.classifier is not None else None
        return x, pooled, logits

    # Hugging Face names <-> module parameters. Task models
    # (BertForSequenceClassification) prefix the encoder with "bert.";
    # BertModel.save_pretrained writes the names without it (prefix="").
    def hf_names(self, prefix="bert."):
        m = {
            prefix + "embeddings.word_embeddings.weight": self.word.weight,
            prefix + "embeddings.position_embeddings.weight": self.pos.weight,
            prefix + "embeddings.token_type_embeddings.weight": self.typ.weight,
            prefix + "embeddings.LayerNorm.weight": self.emb_ln.weight,
            prefix + "embeddings.LayerNorm.bias": self.emb_ln.bias,
            prefix + "pooler.dense.weight": self.pooler.weight,
            prefix + "pooler.dense.bias": self.pooler.bias,
        }
        for i, l in enumerate(self.layers):
            p = f"{prefix}encoder.layer.{i}."
            for name, mod in [("attention.self.query", l.query), ("attention.self.key", l.key),
                              ("attention.self.value", l.value), ("attention.output.dense", l.attn_out),
                              ("attention.output.LayerNorm", l.attn_ln), ("intermediate.dense", l.inter),
                              ("output.dense", l.out), ("output.LayerNorm", l.out_ln)]:
                m[p + name + ".weight"] = mod.weight
                m[p + name + ".bias"] = mod.bias
        if self.classifier is not None:
            m["classifier.weight"] = self.classifier.weight
            m["classifier.bias"] = self.classifier.bias
        return m


class BertTokens(Bert):
    """BertForTokenClassification: the classifier on every token's final
    hidden state. Hugging Face builds this model's encoder without a pooler;
    the module keeps Bert's (unused) but does not name it, so it is neither
    saved nor loaded."""

    def forward(self, input_ids, attention_mask, token_type_ids):
        x = self.encode(input_ids, attention_mask, token_type_ids)
        return x, self.classifier(x)

    def hf_names(self):
        return {k: v for k, v in super().hf_names().items() if ".pooler." not in k}


def save_safetensors(path, tensors, metadata=None):
    """Writes fp32 tensors in the safetensors layout: u64 LE header length,
    JSON header (dtype, shape, data_offsets), then the raw little-endian data."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().numpy().astype("<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    if metadata:
        header["__metadata__"] = metadata
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * (-len(hb) % 8)  # keep the data 8-byte aligned, as the format recommends
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    """Reads an fp32 safetensors file into a dict of tensors."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", (name, info["dtype"])
        s, e = info["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(data[s:e], dtype="<f4").copy().reshape(info["shape"]))
    return out


def load_into(model, tensors):
    names = model.hf_names()
    missing = set(names) - set(tensors)
    assert not missing, f"missing tensors: {sorted(missing)}"
    with torch.no_grad():
        for name, p in names.items():
            p.copy_(tensors[name])
