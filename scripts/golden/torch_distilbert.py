"""A plain PyTorch DistilBERT (DistilBertModel + the
DistilBertForSequenceClassification head).

Written from the published architecture (Sanh et al. 2019, "DistilBERT, a
distilled version of BERT") and the module layout of Hugging Face's
DistilBertModel, so that the golden scripts need nothing beyond Debian's
python3-torch. Tensor names follow Hugging Face's checkpoints:

  [distilbert.]embeddings.{word,position}_embeddings.weight, embeddings.LayerNorm.*
  [distilbert.]transformer.layer.N.attention.{q,k,v,out}_lin.*, .sa_layer_norm.*,
      .ffn.lin1.*, .ffn.lin2.*, .output_layer_norm.*
  pre_classifier.*, classifier.*            (sequence classification only)

No token type embeddings; every LayerNorm has eps 1e-12; post-LayerNorm
blocks like BERT's; GELU (erf); the classification head is
classifier(dropout(ReLU(pre_classifier(hidden[:, 0])))).
"""
import math

import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, dim, heads, hidden_dim):
        super().__init__()
        self.heads = heads
        self.q_lin, self.k_lin, self.v_lin, self.out_lin = (nn.Linear(dim, dim) for _ in range(4))
        self.sa_layer_norm = nn.LayerNorm(dim, eps=1e-12)
        self.lin1 = nn.Linear(dim, hidden_dim)
        self.lin2 = nn.Linear(hidden_dim, dim)
        self.output_layer_norm = nn.LayerNorm(dim, eps=1e-12)

    def forward(self, x, mask):
        b, n, dim = x.shape
        d = dim // self.heads

        def split(t):
            return t.view(b, n, self.heads, d).transpose(1, 2)

        q = split(self.q_lin(x)) / math.sqrt(d)  # DistilBERT scales q before the product
        k, v = split(self.k_lin(x)), split(self.v_lin(x))
        scores = q @ k.transpose(-1, -2)
        scores = scores.masked_fill((mask == 0)[:, None, None, :], torch.finfo(scores.dtype).min)
        ctx = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, n, dim)
        x = self.sa_layer_norm(self.out_lin(ctx) + x)
        y = self.lin2(nn.functional.gelu(self.lin1(x)))
        return self.output_layer_norm(y + x)


class DistilBert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        dim = cfg["dim"]
        self.word = nn.Embedding(cfg["vocab_size"], dim)
        self.pos = nn.Embedding(cfg["max_position_embeddings"], dim)
        self.emb_ln = nn.LayerNorm(dim, eps=1e-12)
        self.layers = nn.ModuleList(Block(dim, cfg["n_heads"], cfg["hidden_dim"]) for _ in range(cfg["n_layers"]))
        labels = cfg.get("id2label")
        self.pre_classifier = nn.Linear(dim, dim) if labels else None
        self.classifier = nn.Linear(dim, len(labels)) if labels else None

    def forward(self, input_ids, attention_mask):
        n = input_ids.shape[1]
        x = self.emb_ln(self.word(input_ids) + self.pos(torch.arange(n).unsqueeze(0)))
        for layer in self.layers:
            x = layer(x, attention_mask)
        if self.classifier is None:
            return x, None
        logits = self.classifier(torch.relu(self.pre_classifier(x[:, 0])))
        return x, logits

    def hf_names(self):
        """Hugging Face names -> parameters: "distilbert."-prefixed with the
        head for DistilBertForSequenceClassification, bare for DistilBertModel."""
        p = "distilbert." if self.classifier is not None else ""
        m = {
            p + "embeddings.word_embeddings.weight": self.word.weight,
            p + "embeddings.position_embeddings.weight": self.pos.weight,
            p + "embeddings.LayerNorm.weight": self.emb_ln.weight,
            p + "embeddings.LayerNorm.bias": self.emb_ln.bias,
        }
        for i, l in enumerate(self.layers):
            q = f"{p}transformer.layer.{i}."
            for name, mod in [("attention.q_lin", l.q_lin), ("attention.k_lin", l.k_lin), ("attention.v_lin", l.v_lin),
                              ("attention.out_lin", l.out_lin), ("sa_layer_norm", l.sa_layer_norm), ("ffn.lin1", l.lin1),
                              ("ffn.lin2", l.lin2), ("output_layer_norm", l.output_layer_norm)]:
                m[q + name + ".weight"] = mod.weight
                m[q + name + ".bias"] = mod.bias
        if self.classifier is not None:
            for name, mod in [("pre_classifier", self.pre_classifier), ("classifier", self.classifier)]:
                m[name + ".weight"] = mod.weight
                m[name + ".bias"] = mod.bias
        return m
