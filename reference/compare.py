#!/usr/bin/python3
"""Compares learning curves: each pair of arguments NAME=OURS.log,REFERENCE.log names a method and the
per-epoch JSON-lines logs of the ssl-tools run and of its PyTorch reference (both with val_accuracy on the
same stream). Prints a Markdown table: the accuracy of each at a few epochs and at the end, and the
difference at the end (ssl-tools minus the reference).

Usage: reference/compare.py m2=build/.../m2.log,build/.../ref-m2.log ..."""
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


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
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
