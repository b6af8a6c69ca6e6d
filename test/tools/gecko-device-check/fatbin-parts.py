#!/usr/bin/env python3
"""Lists the device images embedded in a host shared object.

usage: fatbin-parts.py LIBRARY PREFIX

Finds every CUDA fatbin (magic 0xBA55ED50) in LIBRARY (the kernel library
gecko-device-prepare links: MLIR embeds the gpu.binary as a constant) and
prints one line per entry: "fatbin <i> entry <j>: elf|ptx sm_<arch>
<bytes> bytes[ compressed]". Uncompressed ELF entries (cubins) are written
to PREFIX.<i>.<j>.cubin for llvm-readelf. Fails when there is no fatbin.
"""
import struct
import sys


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    data = open(sys.argv[1], "rb").read()
    magic = struct.pack("<I", 0xBA55ED50)
    count, start = 0, 0
    while True:
        at = data.find(magic, start)
        if at < 0:
            break
        version, header = struct.unpack_from("<HH", data, at + 4)
        (body,) = struct.unpack_from("<Q", data, at + 8)
        if version != 1 or header != 16 or at + 16 + body > len(data):
            start = at + 4
            continue
        entry, end, j = at + header, at + header + body, 0
        while entry + 48 <= end:
            kind, _, entry_header = struct.unpack_from("<HHI", data, entry)
            (size,) = struct.unpack_from("<Q", data, entry + 8)
            (arch,) = struct.unpack_from("<I", data, entry + 28)
            (flags,) = struct.unpack_from("<Q", data, entry + 40)
            (uncompressed,) = struct.unpack_from("<Q", data, entry + 56) \
                if entry_header >= 64 else (0,)
            payload = data[entry + entry_header:entry + entry_header + size]
            name = {1: "ptx", 2: "elf"}.get(kind, f"kind{kind}")
            compressed = uncompressed != 0 or (flags & 0x2000) != 0
            print(f"fatbin {count} entry {j}: {name} sm_{arch} {size} bytes"
                  + (" compressed" if compressed else ""))
            if kind == 2 and payload[:4] == b"\x7fELF":
                with open(f"{sys.argv[2]}.{count}.{j}.cubin", "wb") as out:
                    out.write(payload)
            entry += entry_header + size
            j += 1
        count += 1
        start = end
    if count == 0:
        print(f"fatbin-parts: no fatbin in {sys.argv[1]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
