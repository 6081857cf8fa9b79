#!/usr/bin/python3
"""Compares learning curves: each pair of arguments NAME=OURS.log,REFERENCE.log names a method and the
per-epoch JSON-lines logs of the ssl-tools run and of its PyTorch reference (both with val_accuracy on the
same stream). Prints a Markdown table: the accuracy of each at a few epochs and at the end, and the
difference at the end (ssl-tools minus the reference).

With --sizes, each argument NAME=ROWS:LOG,ROWS:LOG,... names a method and its runs on ROWS unlabelled
rows ("all" for the full set); prints the accuracy at the end of each run, one row per method.

Usage: reference/compare.py m2=build/.../m2.log,build/.../ref-m2.log ...
       reference/compare.py --sizes m2=2000:m2-u2000.log,all:m2.log ..."""
import json
import sys


def curve(path):
    acc = {}
    with open(path) as f:
        for line in f:
            d = json.loads(line)
            if "val_accuracy" in d:
                acc[d["epoch"]] = 100 * d["val_accuracy"]
    if not acc:
        sys.exit(f"{path}: no val_accuracy in the log")
    return acc


def sizes(args):
    runs = [(name, [r.split(":", 1) for r in spec.split(",")]) for name, spec in (a.split("=", 1) for a in args)]
    cols = [rows for rows, _ in runs[0][1]]
    print("| method | " + " | ".join(f"{c} unlabelled rows" for c in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name, rs in runs:
        ends = {rows: curve(path) for rows, path in rs}
        print(f"| {name} | " + " | ".join("%.1f" % ends[c][max(ends[c])] if c in ends else "" for c in cols) + " |")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    if sys.argv[1] == "--sizes":
        return sizes(sys.argv[2:])
    print("| method | epochs | ssl-tools: accuracy at 10% / 50% / the end of the epochs | "
          "PyTorch reference: the same | end: ssl-tools - reference |")
    print("|---|---:|---|---|---:|")
    for arg in sys.argv[1:]:
        name, paths = arg.split("=", 1)
        ours, ref = (curve(p) for p in paths.split(","))
        n = min(max(ours), max(ref))
        marks = [max(1, n // 10), max(1, n // 2), n]
        show = lambda c: " / ".join("%.1f" % c[e] for e in marks if e in c)
        print(f"| {name} | {n} | {show(ours)} | {show(ref)} | {ours[n] - ref[n]:+.1f} |")


if __name__ == "__main__":
    main()
