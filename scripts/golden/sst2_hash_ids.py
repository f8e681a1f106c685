#!/usr/bin/python3
"""One-off conversion of testdata/golden/sst2_logits.json from the old form
(full token ids per SST-2 sentence) to the current one (SHA-256 of the ids).

The full ids decoded back to the ../shared sentences, i.e. a copy of
../shared in the repo. sst2_reference.py now writes the hashed form
directly; this script turns an existing old-form file into exactly what
sst2_reference.py would write, without re-running ONNX Runtime and PyTorch:
every other field (line, sha256, logits, hidden) keeps its value.

    /usr/bin/python3 scripts/golden/sst2_hash_ids.py

It needs neither ../shared nor node and is a no-op on an already
converted file.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from sst2_reference import OUT, ids_sha256  # noqa: E402


def main():
    with open(OUT) as f:
        golden = json.load(f)
    n = 0
    for c in golden["cases"]:
        if "ids" in c:
            ids = c.pop("ids")
            logits = c.pop("logits")
            c["ids_sha256"] = ids_sha256(ids)
            c["logits"] = logits  # keep the field order sst2_reference.py writes
            n += 1
    with open(OUT, "w") as f:
        json.dump(golden, f, separators=(",", ":"))
        f.write("\n")
    print(f"{OUT}: hashed the ids of {n} of {len(golden['cases'])} cases")


if __name__ == "__main__":
    main()
