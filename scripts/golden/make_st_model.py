#!/usr/bin/python3
"""Builds the sentence-transformers golden fixture and its reference vectors.

Run from the repo root (Debian's python3-torch and python3-onnx, `npm
install` in tools/node, and Hugging Face tokenizers' node binding:
`npm install --prefix /tmp/lepton-hf tokenizers@0.23.2`):

    HF_TOKENIZERS_PREFIX=/tmp/lepton-hf /usr/bin/python3 scripts/golden/make_st_model.py

It writes, deterministically (fixed torch seed):

  testdata/golden/st-minilm/      a random-weight BertModel in the layout
      SentenceTransformer.save() writes for all-MiniLM-L6-v2: config.json,
      model.safetensors (BertModel names, no "bert." prefix, pooler
      included), tokenizer.json, vocab.txt, tokenizer_config.json,
      special_tokens_map.json, modules.json (Transformer -> Pooling ->
      Normalize), sentence_bert_config.json (max_seq_length 24),
      1_Pooling/config.json (mean), config_sentence_transformers.json
      (prompts "query: " and "passage: ", no default).
  testdata/golden/st-variants/NAME/   the files that differ for the other
      pipelines (bge-style CLS, max, several modes concatenated, prompts left
      out of the pooling); the Go test lays them over a copy of st-minilm.
  testdata/golden/st-minilm.golden.json, st-variants/NAME.golden.json
      leptontest golden files: per text, the vector SentenceTransformer.encode
      would return.

sentence-transformers itself is not installed here (PyPI is out of reach),
so its encode() is reproduced step by step, following its code
(sentence_transformers/models/Pooling.py, Normalize.py and
SentenceTransformer.encode): the prompt is prepended to the text as a
string; texts are tokenised by Hugging Face's tokenizers (the Rust library,
the same code sentence-transformers calls) with truncation to
max_seq_length, longest first; the batch is right-padded and run through
the PyTorch BERT of torch_bert.py with its attention mask; Pooling masks
the padding (and, with include_prompt false, the first prompt_length =
len(tokenize(prompt)) - 1 tokens) and concatenates cls, max, mean,
mean_sqrt_len_tokens, weightedmean, lasttoken in that order; Normalize is
F.normalize(p=2, dim=1).

Cross-checks, which must pass for the files to be written: ONNX Runtime on
the same model exported to ONNX agrees with PyTorch's hidden states to
1e-5; transformers.js's own feature-extraction pipeline (pooling mean or
cls, normalize), a second implementation of those two pipelines, agrees
with the mean and CLS goldens to 1e-5 on the texts short enough that its
different truncation does not apply.
"""
import copy
import json
import os
import shutil
import sys
import tempfile

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_common import GOLDEN, HF_TOKENIZERS, ORT, ROOT, TORCH, f32, hf_encode, init_weights, max_abs, ort_run, run_node, write_golden  # noqa: E402
from make_random_bert import tokenizer_json, vocab  # noqa: E402
from torch_bert import Bert, save_safetensors  # noqa: E402

FIXTURE = os.path.join(GOLDEN, "st-minilm")
VARIANTS = os.path.join(GOLDEN, "st-variants")
MAX_SEQ_LENGTH = 24

TEXTS = [
    ("empty", ""),
    ("sentence", "The patient has had a high fever, chills and a headache for three days."),
    ("short", "sore throat"),
    ("accents-and-unknowns", "Café naïve: the movie's plot was TERRIBLE!!! 42 zzz qqq"),
    ("truncated", "i feel a sore throat and a cough and no fever since monday but my chest is short of breath "
                  "and the pain is very bad after the test at the clinic"),
    ("whitespace", "   blood \t pressure \n high   "),
    ("one-letter", "a"),
    ("cjk", "头痛 and fever"),
    ("repeated", "love hate love hate love"),
    ("query-like", "what does a high blood sugar test mean"),
]

POOL_FLAGS = ["pooling_mode_cls_token", "pooling_mode_mean_tokens", "pooling_mode_max_tokens",
              "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"]
FLAG_MODE = {"pooling_mode_cls_token": "cls", "pooling_mode_mean_tokens": "mean", "pooling_mode_max_tokens": "max",
             "pooling_mode_mean_sqrt_len_tokens": "mean_sqrt_len_tokens",
             "pooling_mode_weightedmean_tokens": "weightedmean", "pooling_mode_lasttoken": "lasttoken"}


def pooling_config(modes, include_prompt=True):
    c = {"word_embedding_dimension": 64}
    for flag in POOL_FLAGS:
        c[flag] = FLAG_MODE[flag] in modes
    c["include_prompt"] = include_prompt
    return c


def modules(normalize):
    m = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
         {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
    if normalize:
        m.append({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
    return m


def encode_config(default_prompt=None):
    return {"__version__": {"sentence_transformers": "3.0.1", "transformers": "4.41.2", "pytorch": "2.3.0"},
            "prompts": {"query": "query: ", "passage": "passage: "}, "default_prompt_name": default_prompt,
            "similarity_fn_name": "cosine"}


# The pipelines: name -> (modes in Pooling's flags, include_prompt, Normalize,
# default prompt, prompt used for the golden (None: the default)).
PIPELINES = {
    "st-minilm": (["mean"], True, True, None, None),
    "cls-normalize": (["cls"], True, True, None, None),
    "max": (["max"], True, False, None, None),
    "cls-max-mean": (["cls", "max", "mean"], True, True, None, None),
    "prompt-excluded": (["mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"], False, True, "query", None),
    "prompt-excluded.passage": (["mean", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"], False, True, "query", "passage"),
}


def st_pool(token_embeddings, attention_mask, modes, include_prompt, prompt_length):
    """sentence-transformers' Pooling.forward on a right-padded batch."""
    token_embeddings = token_embeddings.clone()
    attention_mask = attention_mask.clone()
    if not include_prompt and prompt_length is not None:
        attention_mask[:, :prompt_length] = 0
    out = []
    if "cls" in modes:
        # (a copy: sentence-transformers takes a view, which its max pooling
        # then overwrites in place where [CLS] is masked; no pipeline here
        # combines cls, max and include_prompt false, so it makes no
        # difference to these goldens; docs/ACCURACY.md notes it.)
        out.append(token_embeddings[:, 0].clone())
    if "max" in modes:
        m = attention_mask.unsqueeze(-1).expand(token_embeddings.size()).to(token_embeddings.dtype)
        token_embeddings[m == 0] = -1e9
        out.append(torch.max(token_embeddings, 1)[0])
    if "mean" in modes or "mean_sqrt_len_tokens" in modes:
        m = attention_mask.unsqueeze(-1).expand(token_embeddings.size()).to(token_embeddings.dtype)
        s = torch.sum(token_embeddings * m, 1)
        n = torch.clamp(m.sum(1), min=1e-9)
        if "mean" in modes:
            out.append(s / n)
        if "mean_sqrt_len_tokens" in modes:
            out.append(s / torch.sqrt(n))
    if "weightedmean" in modes:
        m = attention_mask.unsqueeze(-1).expand(token_embeddings.size()).to(token_embeddings.dtype)
        w = torch.arange(1, token_embeddings.shape[1] + 1).unsqueeze(0).unsqueeze(-1).expand(token_embeddings.size()).to(token_embeddings.dtype)
        m = m * w
        s = torch.sum(token_embeddings * m, 1)
        out.append(s / torch.clamp(m.sum(1), min=1e-9))
    if "lasttoken" in modes:
        bs, seq_len, hidden = token_embeddings.shape
        values, indices = attention_mask.flip(1).max(1)
        indices = torch.where(values == 0, seq_len - 1, indices)
        gather = (seq_len - indices - 1).unsqueeze(-1).repeat(1, hidden).unsqueeze(1)
        m = attention_mask.unsqueeze(-1).expand(token_embeddings.size()).to(token_embeddings.dtype)
        out.append(torch.gather(token_embeddings * m, 1, gather).squeeze(dim=1))
    return torch.cat(out, 1)


def encode(model, tok_json, texts, modes, include_prompt, normalize, prompt):
    """SentenceTransformer.encode, step by step. Returns the vectors and
    the (unpadded) ids of each text, for the ONNX Runtime cross-check."""
    full = [(prompt or "") + t for t in texts]
    enc = hf_encode(tok_json, [{"text": t} for t in full], MAX_SEQ_LENGTH)
    prompt_length = None
    if prompt is not None:
        prompt_length = len(hf_encode(tok_json, [{"text": prompt}], MAX_SEQ_LENGTH)[0]["ids"]) - 1
    n = max(len(e["ids"]) for e in enc)
    ids = torch.zeros(len(enc), n, dtype=torch.long)  # [PAD] is id 0
    mask = torch.zeros(len(enc), n, dtype=torch.long)
    types = torch.zeros(len(enc), n, dtype=torch.long)
    for i, e in enumerate(enc):
        ids[i, :len(e["ids"])] = torch.tensor(e["ids"])
        mask[i, :len(e["ids"])] = 1
    with torch.no_grad():
        hidden, _, _ = model(ids, mask, types)
        v = st_pool(hidden, mask, modes, include_prompt, prompt_length)
        if normalize:
            v = F.normalize(v, p=2, dim=1)
    return v, enc, hidden, prompt_length


def main():
    torch.manual_seed(20261206)
    tokens = vocab()
    cfg = {
        "architectures": ["BertModel"], "model_type": "bert", "vocab_size": len(tokens), "hidden_size": 64,
        "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 128, "max_position_embeddings": 64,
        "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu", "position_embedding_type": "absolute",
        "pad_token_id": 0, "_note": "random weights for Lepton's golden tests (scripts/golden/make_st_model.py)",
    }
    model = Bert(cfg).eval()
    init_weights(model.hf_names(prefix=""))

    shutil.rmtree(FIXTURE, ignore_errors=True)
    os.makedirs(os.path.join(FIXTURE, "1_Pooling"))
    dump = lambda path, obj: json.dump(obj, open(path, "w"), indent=2)  # noqa: E731
    dump(os.path.join(FIXTURE, "config.json"), cfg)
    save_safetensors(os.path.join(FIXTURE, "model.safetensors"), model.hf_names(prefix=""),
                     {"format": "pt", "note": "random weights, seed 20261206"})
    with open(os.path.join(FIXTURE, "vocab.txt"), "w") as f:
        f.write("\n".join(tokens) + "\n")
    with open(os.path.join(FIXTURE, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(tokens), f, indent=1)
    dump(os.path.join(FIXTURE, "tokenizer_config.json"),
         {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512, "cls_token": "[CLS]",
          "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"})
    dump(os.path.join(FIXTURE, "special_tokens_map.json"),
         {"cls_token": "[CLS]", "sep_token": "[SEP]", "pad_token": "[PAD]", "unk_token": "[UNK]", "mask_token": "[MASK]"})
    dump(os.path.join(FIXTURE, "modules.json"), modules(True))
    dump(os.path.join(FIXTURE, "sentence_bert_config.json"), {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    dump(os.path.join(FIXTURE, "1_Pooling", "config.json"), pooling_config(["mean"]))
    dump(os.path.join(FIXTURE, "config_sentence_transformers.json"), encode_config())
    with open(os.path.join(FIXTURE, "README.md"), "w") as f:
        f.write("A random-weight BertModel in sentence-transformers' folder layout (all-MiniLM-L6-v2's pipeline:\n"
                "Transformer -> mean Pooling -> Normalize), made by scripts/golden/make_st_model.py for Lepton's\n"
                "golden tests. 2_Normalize/ has no files, as in published models (git keeps no empty folders).\n")

    shutil.rmtree(VARIANTS, ignore_errors=True)
    tok_json = os.path.join(FIXTURE, "tokenizer.json")
    texts = [t for _, t in TEXTS]
    hidden_cases = []
    refs = {}
    goldens = []  # written once the cross-checks pass
    for name, (modes, include_prompt, normalize, default_prompt, use_prompt) in PIPELINES.items():
        if name != "st-minilm" and "." not in name:
            vdir = os.path.join(VARIANTS, name)
            os.makedirs(os.path.join(vdir, "1_Pooling"))
            dump(os.path.join(vdir, "1_Pooling", "config.json"), pooling_config(modes, include_prompt))
            if not normalize:
                dump(os.path.join(vdir, "modules.json"), modules(False))
            if default_prompt:
                dump(os.path.join(vdir, "config_sentence_transformers.json"), encode_config(default_prompt))
        prompts = {"query": "query: ", "passage": "passage: "}
        prompt = prompts[use_prompt or default_prompt] if (use_prompt or default_prompt) else None
        vecs, enc, hidden, plen = encode(model, tok_json, texts, modes, include_prompt, normalize, prompt)
        refs[name] = vecs
        for i, e in enumerate(enc):
            hidden_cases.append({"name": f"{name}/{TEXTS[i][0]}", "ids": e["ids"], "type_ids": e["type_ids"],
                                 "want": hidden[i, :len(e["ids"])].tolist()})
        order = "+".join(m for m in ["cls", "max", "mean", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"] if m in modes)
        info = {"architecture": "BertModel", "pooling": order, "embedding_dim": vecs.shape[1], "normalize": normalize}
        source = (f"{TORCH} BERT (scripts/golden/torch_bert.py) through sentence-transformers' Pooling"
                  f"{' and Normalize' if normalize else ''} semantics (scripts/golden/make_st_model.py); token ids from "
                  f"Hugging Face {HF_TOKENIZERS}, max_seq_length {MAX_SEQ_LENGTH}"
                  f"{'; prompt ' + repr(prompt) + (' left out of the pooling (' + str(plen) + ' tokens)' if not include_prompt else '') if prompt else ''}")
        cases = [{"kind": "embed", "name": TEXTS[i][0], "text": texts[i], "vector": f32(vecs[i])} for i in range(len(texts))]
        path = os.path.join(GOLDEN, "st-minilm.golden.json") if name == "st-minilm" else os.path.join(VARIANTS, name + ".golden.json")
        goldens.append((path, source, info, cases))

    # Cross-check 1: ONNX Runtime's hidden states = PyTorch's (every
    # tokenisation used above, run alone, unpadded).
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path = os.path.join(tmp, "model.onnx")
        export(model, onnx_path)
        res = ort_run(onnx_path, FIXTURE, [{k: c[k] for k in ("name", "ids", "type_ids")} for c in hidden_cases])
        worst = max(max_abs(r["last_hidden_state"], c["want"]) for r, c in zip(res, hidden_cases))
        print(f"PyTorch vs {ORT}: max abs hidden-state difference {worst:.2e} over {len(res)} sequences")
        assert worst < 1e-5, worst

        # Cross-check 2: transformers.js's feature-extraction pipeline (its
        # own pooling and normalisation) on the mean and CLS pipelines, for
        # texts that need no truncation.
        mdir = os.path.join(tmp, "st-js")
        shutil.copytree(FIXTURE, mdir)
        os.makedirs(os.path.join(mdir, "onnx"))
        shutil.copy(onnx_path, os.path.join(mdir, "onnx", "model.onnx"))
        short = [i for i, t in enumerate(texts) if len(hf_encode(tok_json, [{"text": t}], None)[0]["ids"]) <= MAX_SEQ_LENGTH]
        assert len(short) >= len(texts) - 3, short
        for name, pooling in (("st-minilm", "mean"), ("cls-normalize", "cls")):
            inp, out = os.path.join(tmp, "in.json"), os.path.join(tmp, "out.json")
            json.dump({"pooling": pooling, "normalize": True, "texts": [texts[i] for i in short]}, open(inp, "w"))
            run_node("st_pipeline.mjs", mdir, inp, out)
            js = json.load(open(out))
            d = max(max_abs(js[k], refs[name][i].tolist()) for k, i in enumerate(short))
            print(f"{name}: transformers.js feature-extraction (pooling {pooling}, normalize) vs this script: "
                  f"max abs {d:.2e} over {len(short)} texts")
            assert d < 1e-5, d
    for g in goldens:
        write_golden(*g)


class Encoder(torch.nn.Module):
    """BertModel's outputs for the ONNX export (no classifier)."""

    def __init__(self, bert):
        super().__init__()
        self.bert = bert

    def forward(self, input_ids, attention_mask, token_type_ids):
        hidden, pooled, _ = self.bert(input_ids, attention_mask, token_type_ids)
        return hidden, pooled


def export(model, path):
    dummy = (torch.tensor([[2, 10, 3]]), torch.ones(1, 3, dtype=torch.long), torch.zeros(1, 3, dtype=torch.long))
    torch.onnx.export(Encoder(model).eval(), dummy, path, opset_version=14,
                      input_names=["input_ids", "attention_mask", "token_type_ids"],
                      output_names=["last_hidden_state", "pooler_output"],
                      dynamic_axes={k: {0: "batch", 1: "seq"} for k in
                                    ("input_ids", "attention_mask", "token_type_ids", "last_hidden_state")})


if __name__ == "__main__":
    main()
