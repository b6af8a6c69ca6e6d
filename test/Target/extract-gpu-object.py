#!/usr/bin/env python3
"""Writes the payload of a gpu.binary object out of MLIR text.

usage: extract-gpu-object.py INPUT.mlir PREFIX

Finds every `assembly = "..."` (format=isa) or `bin = "..."` (format=bin,
fatbin) string in INPUT (one per gpu.binary, i.e. per kernel) and writes
object i to PREFIX.i with MLIR's string escapes undone (\\XX hex bytes).
Prints the number of objects; fails when there is none.
"""
import re
import sys


def unescape(body: bytes) -> bytes:
    out = bytearray()
    i = 0
    simple = {ord("n"): b"\n", ord("t"): b"\t", ord("\\"): b"\\", ord('"'): b'"'}
    while i < len(body):
        c = body[i]
        if c != ord("\\"):
            out.append(c)
            i += 1
            continue
        nxt = body[i + 1]
        if nxt in simple:
            out += simple[nxt]
            i += 2
        else:
            out.append(int(body[i + 1:i + 3], 16))
            i += 3
    return bytes(out)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    text = open(sys.argv[1], "rb").read()
    objects = re.findall(rb'(?:assembly|bin) = "((?:[^"\\]|\\.)*)"', text)
    if not objects:
        print(f"extract-gpu-object: no GPU object in {sys.argv[1]}",
              file=sys.stderr)
        return 1
    for i, body in enumerate(objects):
        with open(f"{sys.argv[2]}.{i}", "wb") as f:
            f.write(unescape(body))
    print(f"{len(objects)} objects")
    return 0


if __name__ == "__main__":
    sys.exit(main())
