#!/usr/bin/env python3
"""usage: bad_weights.py IN.safetensors OUT.safetensors

Writes a copy of a weights file with four problems gecko-run must list in
one error: `embed.weight` missing, an extra `extra.bias`,
`output.final_norm.weight` reshaped to (2, n/2) and `layers.0.mega.gamma`
stored as F16. Standard library only.
"""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    data = f.read()
(n,) = struct.unpack("<Q", data[:8])
header = json.loads(data[8:8 + n])
body = data[8 + n:]
header.pop("__metadata__", None)
tensors = {}
for name, info in header.items():
    begin, end = info["data_offsets"]
    tensors[name] = [info["dtype"], info["shape"], body[begin:end]]
del tensors["embed.weight"]
tensors["extra.bias"] = ["F32", [2], bytes(8)]
norm = tensors["output.final_norm.weight"]
norm[1] = [2, norm[1][0] // 2]
gamma = tensors["layers.0.mega.gamma"]
count = len(gamma[2]) // 4
gamma[0], gamma[2] = "F16", bytes(2 * count)
out, offset, blobs = {}, 0, []
for name in sorted(tensors):
    dtype, shape, raw = tensors[name]
    out[name] = {"dtype": dtype, "shape": shape,
                 "data_offsets": [offset, offset + len(raw)]}
    offset += len(raw)
    blobs.append(raw)
text = json.dumps(out).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[2], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
