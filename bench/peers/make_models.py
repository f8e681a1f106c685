#!/usr/bin/env python3
"""Export a Lepton synthetic checkpoint to ONNX, fp32 and int8.

Input: a Hugging Face BertModel checkpoint directory (config.json +
model.safetensors) written by `go run ./bench/peers/synthdump`, i.e. the exact
float weights Lepton's internal/synth uses. Output in --out:

  model.onnx       fp32, opset 14, inputs input_ids / attention_mask /
                   token_type_ids (int64, [batch, seq]), output
                   last_hidden_state [batch, seq, hidden]
  model_int8.onnx  the same graph with every weight MatMul replaced by one
                   com.microsoft DynamicQuantizeMatMul: int8 weights quantised
                   per output channel, symmetric, scale max|w|/127, ties to
                   even (Lepton's own rule, so both engines hold the same int8
                   weights), per-column b_scale, bias folded into the op.

The graph is a plain PyTorch BERT encoder (Hugging Face's BertModel maths:
post-LayerNorm, erf GELU, additive -10000 attention mask) exported with
torch.onnx; ONNX Runtime's 'all' graph optimisation fuses it as it would an
exported transformers model. Requires Debian's python3-torch, python3-onnx and
python3-numpy (run with /usr/bin/python3). Never needed by `go test`.
"""

import argparse
import json
import math
import os
import struct

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper, TensorProto


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        if e["dtype"] != "F32":
            raise SystemExit(f"{name}: dtype {e['dtype']} not supported")
        b, end = e["data_offsets"]
        out[name] = np.frombuffer(data[b:end], dtype="<f4").reshape(e["shape"]).copy()
    return out


class Encoder(torch.nn.Module):
    def __init__(self, cfg, w):
        super().__init__()
        self.h = cfg["hidden_size"]
        self.heads = cfg["num_attention_heads"]
        self.eps = cfg["layer_norm_eps"]
        self.layers = cfg["num_hidden_layers"]
        t = lambda name: torch.nn.Parameter(torch.from_numpy(w[name]), requires_grad=False)
        self.word = t("embeddings.word_embeddings.weight")
        self.pos = t("embeddings.position_embeddings.weight")
        self.typ = t("embeddings.token_type_embeddings.weight")
        self.emb_g = t("embeddings.LayerNorm.weight")
        self.emb_b = t("embeddings.LayerNorm.bias")
        self.p = torch.nn.ParameterDict()
        for l in range(self.layers):
            pre = f"encoder.layer.{l}."
            for k in ["attention.self.query", "attention.self.key", "attention.self.value",
                      "attention.output.dense", "intermediate.dense", "output.dense",
                      "attention.output.LayerNorm", "output.LayerNorm"]:
                for s in ["weight", "bias"]:
                    self.p[f"l{l}_{k.replace('.', '_')}_{s}"] = t(pre + k + "." + s)

    def lin(self, x, l, k):
        k = k.replace(".", "_")
        return torch.nn.functional.linear(x, self.p[f"l{l}_{k}_weight"], self.p[f"l{l}_{k}_bias"])

    def ln(self, x, l, k):
        k = k.replace(".", "_")
        return torch.nn.functional.layer_norm(x, (self.h,), self.p[f"l{l}_{k}_weight"], self.p[f"l{l}_{k}_bias"], self.eps)

    def forward(self, input_ids, attention_mask, token_type_ids):
        b, s = input_ids.shape
        pos_ids = torch.arange(s, dtype=torch.long).unsqueeze(0)
        x = self.word[input_ids] + self.typ[token_type_ids] + self.pos[pos_ids]
        x = torch.nn.functional.layer_norm(x, (self.h,), self.emb_g, self.emb_b, self.eps)
        ext = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
        d = self.h // self.heads
        for l in range(self.layers):
            def split(t):
                return t.view(b, s, self.heads, d).permute(0, 2, 1, 3)
            q = split(self.lin(x, l, "attention.self.query"))
            k = split(self.lin(x, l, "attention.self.key"))
            v = split(self.lin(x, l, "attention.self.value"))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(d) + ext
            probs = torch.softmax(scores, dim=-1)
            ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).reshape(b, s, self.h)
            x = self.ln(self.lin(ctx, l, "attention.output.dense") + x, l, "attention.output.LayerNorm")
            inter = torch.nn.functional.gelu(self.lin(x, l, "intermediate.dense"))
            x = self.ln(self.lin(inter, l, "output.dense") + x, l, "output.LayerNorm")
        return x


def quantize_per_column(b):
    """b is [K][N] (ONNX MatMul weight, i.e. W^T): one scale per column n."""
    amax = np.abs(b).max(axis=0).astype(np.float32)
    scale = (amax / np.float32(127)).astype(np.float32)
    inv = np.where(amax > 0, np.float32(127) / np.where(amax > 0, amax, 1), 0).astype(np.float32)
    q = np.clip(np.round((b * inv).astype(np.float32)), -127, 127).astype(np.int8)  # np.round: ties to even
    return q, scale


def to_int8(model):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    consumers = {}
    for n in g.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    new_nodes, drop, dead_inits, count = [], set(), set(), 0
    for n in g.node:
        if id(n) in drop:
            continue
        if n.op_type == "MatMul" and n.input[1] in inits and len(inits[n.input[1]].dims) == 2:
            w = numpy_helper.to_array(inits[n.input[1]])
            q, scale = quantize_per_column(w)
            base = n.input[1]
            qi = numpy_helper.from_array(q, base + "_q")
            si = numpy_helper.from_array(scale, base + "_scale")
            zi = numpy_helper.from_array(np.zeros(q.shape[1], np.int8), base + "_zp")
            g.initializer.extend([qi, si, zi])
            dead_inits.add(base)
            inputs = [n.input[0], qi.name, si.name, zi.name]
            out = n.output[0]
            users = consumers.get(out, [])
            if len(users) == 1 and users[0].op_type == "Add":
                add = users[0]
                other = add.input[1] if add.input[0] == out else add.input[0]
                if other in inits and len(inits[other].dims) == 1:
                    inputs.append(other)
                    out = add.output[0]
                    drop.add(id(add))
            new_nodes.append(helper.make_node("DynamicQuantizeMatMul", inputs, [out],
                                              name=n.name + "_dqmm", domain="com.microsoft"))
            count += 1
            continue
        new_nodes.append(n)
    del g.node[:]
    g.node.extend(new_nodes)
    keep = [i for i in g.initializer if i.name not in dead_inits]
    del g.initializer[:]
    g.initializer.extend(keep)
    if not any(o.domain == "com.microsoft" for o in model.opset_import):
        model.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return count


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    cfg = json.load(open(os.path.join(a.checkpoint, "config.json")))
    w = read_safetensors(os.path.join(a.checkpoint, "model.safetensors"))
    enc = Encoder(cfg, w).eval()
    os.makedirs(a.out, exist_ok=True)
    ids = torch.tensor([[101, 2000, 3000, 102]], dtype=torch.long)
    mask = torch.ones_like(ids)
    typ = torch.zeros_like(ids)
    fp32 = os.path.join(a.out, "model.onnx")
    dyn = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
           "token_type_ids": {0: "batch", 1: "seq"}, "last_hidden_state": {0: "batch", 1: "seq"}}
    with torch.no_grad():
        torch.onnx.export(enc, (ids, mask, typ), fp32, opset_version=14, do_constant_folding=True,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["last_hidden_state"], dynamic_axes=dyn)
        ref = enc(ids, mask, typ).numpy()
    m = onnx.load(fp32)
    n = to_int8(m)
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(a.out, "model_int8.onnx"))
    np.save(os.path.join(a.out, "probe_torch.npy"), ref)
    print(f"wrote {fp32} and model_int8.onnx ({n} DynamicQuantizeMatMul)")


if __name__ == "__main__":
    main()
