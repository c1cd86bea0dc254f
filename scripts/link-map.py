#!/usr/bin/env python3
"""scripts/link-map.py MAP: the functions of an lld link map (-Map, with
--no-demangle), one "ADDRESS NAME" line each (hexadecimal, in address
order), for scripts/text-order.sh.

lld writes "VMA LMA Size Align" and then, by its column, an output section,
an input section (file:(section)) or a symbol; the functions are the
symbols of a size in the output section .text."""
import sys


def functions(path):
    names, output = [], None
    with open(path) as lines:
        header = next(lines)
        out_col, symbol_col = header.index("Out"), header.index("Symbol")
        for line in lines:
            f = line.split()
            if len(f) != 5 or ":(" in f[4]:
                continue
            col = line.index(f[4], len(line) - len(line.lstrip()) + 1)
            if col <= out_col:
                output = f[4]
            elif col >= symbol_col and output == ".text" and int(f[2], 16) > 0:
                names.append((int(f[0], 16), f[4]))
    return sorted(names)


if __name__ == "__main__":
    sys.stdout.write("".join(f"{addr:x} {name}\n" for addr, name in functions(sys.argv[1])))
