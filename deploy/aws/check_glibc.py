#!/usr/bin/env python3
"""Fails when any ELF file under DIR (the unpacked Lambda zip: bootstrap and lib/) needs a
GLIBC_ symbol version above MAX (default 2.34, Amazon Linux 2023's glibc). Reads the
dynamic symbol table with `objdump -T` and names every symbol above the limit. Also fails
when DIR has no ELF `bootstrap`, so a wrong path cannot pass unchecked.

usage: check_glibc.py DIR [MAX]
"""

import os
import re
import subprocess
import sys

VERSION = re.compile(r"\bGLIBC_(\d+(?:\.\d+)*)\b")


def parse(v):
    return tuple(int(x) for x in v.split("."))


def main():
    root = sys.argv[1]
    limit = parse(sys.argv[2] if len(sys.argv) > 2 else "2.34")
    highest = (0,)
    over = []
    checked = []
    for dirpath, _, files in os.walk(root):
        for f in sorted(files):
            path = os.path.join(dirpath, f)
            with open(path, "rb") as fh:
                if fh.read(4) != b"\x7fELF":
                    continue
            checked.append(os.path.relpath(path, root))
            out = subprocess.run(["objdump", "-T", path], check=True, capture_output=True,
                                 text=True).stdout
            for line in out.splitlines():
                m = VERSION.search(line)
                if not m or "*UND*" not in line:
                    continue  # only versions the file needs, not ones it defines
                v = parse(m.group(1))
                highest = max(highest, v)
                if v > limit:
                    over.append(f"{os.path.relpath(path, root)}: {line.split()[-1]} (GLIBC_{m.group(1)})")
    if "bootstrap" not in checked:
        sys.exit(f"check_glibc: no ELF bootstrap in {root}")
    print(f"{len(checked)} ELF files checked (bootstrap and {len(checked) - 1} libraries);"
          f" highest GLIBC_ version needed: {'.'.join(map(str, highest))}"
          f" (limit {'.'.join(map(str, limit))})")
    if over:
        print("symbols above the limit:")
        for o in over:
            print("  " + o)
        sys.exit(1)


if __name__ == "__main__":
    main()
