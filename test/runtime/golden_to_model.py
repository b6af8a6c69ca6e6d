#!/usr/bin/env python3
"""Converts a golden model file into inputs for gecko-compile / gecko-run.

usage: golden_to_model.py GOLDEN.safetensors OUTDIR

The golden model files (model__stream_segments, model__train_segments) hold
metadata `config` (the model config as JSON) and `multi_segments`, the
parameters as `param.<name>` tensors, `in.tokens` (B, L) I64 and
`out.logits` (B, L, V) F32. Writes into OUTDIR:
  config.json                    the config
  weights.safetensors            the parameters under their model names
  tokens.txt                     all rows, row-major (a batch-B artifact
                                 splits them into B rows)
  expected.safetensors           `logits` (B, L, V)
  tokens.row<i>.txt, expected.row<i>.safetensors   row i alone (batch 1)
and prints `multi_document: true|false`, `batch: B`, `length: L`.
Standard library only.
"""
import json
import os
import struct
import sys


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors[name] = (info["dtype"], info["shape"], body[begin:end])
    return meta, tensors


def write_safetensors(path, tensors):
    """tensors: {name: (dtype, shape, bytes)}; sorted, padded header."""
    header, offset, blobs = {}, 0, []
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    golden, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    meta, tensors = read_safetensors(golden)
    for key in ("in.tokens", "out.logits"):
        if key not in tensors:
            sys.exit(f"{golden}: no tensor {key}")
    if "config" not in meta:
        sys.exit(f"{golden}: no config metadata")
    with open(os.path.join(out, "config.json"), "w") as f:
        f.write(json.dumps(json.loads(meta["config"]), indent=2) + "\n")
    params = {name[len("param."):]: t for name, t in tensors.items()
              if name.startswith("param.")}
    for name, (dtype, _, _) in params.items():
        if dtype != "F32":
            sys.exit(f"{golden}: param.{name} is {dtype}, expected F32")
    write_safetensors(os.path.join(out, "weights.safetensors"), params)

    dtype, (b, l), raw = tensors["in.tokens"]
    assert dtype == "I64"
    ids = struct.unpack(f"<{b * l}q", raw)
    ldtype, lshape, lraw = tensors["out.logits"]
    assert ldtype == "F32" and lshape[:2] == [b, l]
    v = lshape[2]
    with open(os.path.join(out, "tokens.txt"), "w") as f:
        f.write("\n".join(" ".join(map(str, ids[r * l:(r + 1) * l]))
                          for r in range(b)) + "\n")
    write_safetensors(os.path.join(out, "expected.safetensors"),
                      {"logits": ("F32", lshape, lraw)})
    row_bytes = l * v * 4
    for r in range(b):
        with open(os.path.join(out, f"tokens.row{r}.txt"), "w") as f:
            f.write(" ".join(map(str, ids[r * l:(r + 1) * l])) + "\n")
        write_safetensors(
            os.path.join(out, f"expected.row{r}.safetensors"),
            {"logits": ("F32", [l, v],
                        lraw[r * row_bytes:(r + 1) * row_bytes])})
    multi = meta.get("multi_segments", "false") == "true"
    print(f"multi_document: {'true' if multi else 'false'}")
    print(f"batch: {b}")
    print(f"length: {l}")


if __name__ == "__main__":
    main()
