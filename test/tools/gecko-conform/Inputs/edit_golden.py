"""Writes a modified copy of a golden .safetensors file (test helper).

usage: edit_golden.py IN OUT perturb KEY DELTA   add DELTA to KEY's first F32
       edit_golden.py IN OUT add KEY             append an extra F32 [2] tensor
       edit_golden.py IN OUT nan KEY             set KEY's first F32 to NaN
       edit_golden.py IN OUT delete KEY          drop KEY (its bytes stay)
"""
import json
import struct
import sys

src, dst, action, key = sys.argv[1:5]
raw = open(src, "rb").read()
n = struct.unpack("<Q", raw[:8])[0]
header = json.loads(raw[8:8 + n])
data = bytearray(raw[8 + n:])
if action in ("perturb", "nan"):
    begin = header[key]["data_offsets"][0]
    value = struct.unpack_from("<f", data, begin)[0]
    value = float("nan") if action == "nan" else value + float(sys.argv[5])
    struct.pack_into("<f", data, begin, value)
elif action == "delete":
    del header[key]
elif action == "add":
    header[key] = {"dtype": "F32", "shape": [2],
                   "data_offsets": [len(data), len(data) + 8]}
    data += struct.pack("<2f", 0.5, -0.5)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
open(dst, "wb").write(struct.pack("<Q", len(text)) + text + bytes(data))
