#!/usr/bin/python3
"""Writes mixed.safetensors and mixed.json, the golden for Lepton's
safetensors parser (internal/safetensors/golden_test.go).

Independent of Lepton: the safetensors container is encoded here from the
public format description (8-byte little-endian header length, JSON header,
raw little-endian data), and the F16/BF16 values come from PyTorch's own
dtype conversions (Debian's python3-torch 1.13). mixed.json records each
tensor's values as PyTorch upcasts them to float32 (as hex bit patterns, so
NaN/Inf/-0 and subnormals are exact).

Run from this directory: /usr/bin/python3 make_golden.py
"""
import json
import struct

import torch

torch.manual_seed(20261130)

special = torch.tensor([0.0, -0.0, 1.0, -2.5, 65504.0, 70000.0, 1e-8, 6e-5, -3.0e38,
                        float("inf"), float("-inf"), float("nan"), 0.1, 1 / 3], dtype=torch.float32)
tensors = {
    # Unsorted names and offsets, odd shapes, a scalar, an empty tensor and
    # an integer buffer like real checkpoints carry.
    "zeta.f32": torch.randn(3, 5, dtype=torch.float32),
    "alpha.f16": torch.cat([special, torch.randn(9)]).to(torch.float16).reshape(23),
    "mid.bf16": torch.cat([special, torch.randn(10)]).to(torch.bfloat16).reshape(4, 6),
    "bert.embeddings.position_ids": torch.arange(7, dtype=torch.int64).reshape(1, 7),
    "scalar.f32": torch.tensor(3.25, dtype=torch.float32),
    "empty.f32": torch.zeros(0, 4, dtype=torch.float32),
    "wide.f64": torch.randn(2, 3, dtype=torch.float64),
}
dtype_names = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16",
               torch.int64: "I64", torch.float64: "F64"}

order = ["mid.bf16", "zeta.f32", "bert.embeddings.position_ids", "alpha.f16", "empty.f32", "scalar.f32", "wide.f64"]
header = {"__metadata__": {"format": "pt", "made_by": "make_golden.py"}}
blobs = []
offset = 0
for name in order:
    t = tensors[name].contiguous()
    if t.dtype == torch.bfloat16:
        raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
    else:
        raw = t.numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
    header[name] = {"dtype": dtype_names[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
# Header keys in a different order from the data, padded with spaces to a
# multiple of 8 as the reference writer does.
hj = json.dumps(dict(sorted(header.items())), separators=(",", ":")).encode()
hj += b" " * ((8 - (8 + len(hj)) % 8) % 8)
with open("mixed.safetensors", "wb") as f:
    f.write(struct.pack("<Q", len(hj)))
    f.write(hj)
    for b in blobs:
        f.write(b)

want = {}
for name, t in tensors.items():
    if not t.is_floating_point():
        continue
    f32 = t.to(torch.float32).reshape(-1)
    want[name] = {"shape": list(t.shape), "dtype": dtype_names[t.dtype],
                  "bits": ["%08x" % b for b in f32.view(torch.int32).numpy().astype("<u4").tolist()]}
with open("mixed.json", "w") as f:
    json.dump(want, f, indent=1, sort_keys=True)
    f.write("\n")
