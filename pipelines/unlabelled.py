#!/usr/bin/python3
"""unlabelled.py N [IN.ssl] > OUT.ssl: the stream with every labelled row and only its first N unlabelled
rows (y = -1), in the input's order. The header is unchanged. Used for the curve of a method's accuracy
against the number of unlabelled rows, with the labelled rows held fixed (pipelines/mnist.mk data-size):
  /usr/bin/python3 pipelines/unlabelled.py 2000 L10/s0/labelled.ssl > u2000.ssl
Needs python3-msgpack, python3-msgpack-numpy and python3-numpy.
"""
import os
import sys

import msgpack
import msgpack_numpy
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs"))
from read_stream import read_stream  # noqa: E402

BATCH = 1024


def main():
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return
    if not 2 <= len(sys.argv) <= 3 or not sys.argv[1].isdigit():
        sys.stderr.write("usage: " + __doc__.strip().splitlines()[0] + "\n")
        sys.exit(2)
    keep = int(sys.argv[1])
    name = sys.argv[2] if len(sys.argv) == 3 else "-"
    try:   # read whole before writing: bad input leaves no output behind
        with (open(name, "rb") if name != "-" else sys.stdin.buffer) as src:
            header, arrays = read_stream(src)
        y = arrays["y"]
    except (OSError, ValueError, KeyError, StopIteration, msgpack.UnpackException, AssertionError) as err:
        sys.exit(f"unlabelled.py: {name}: not a readable ssl-stream with labels: {err or type(err).__name__}")
    unl = np.cumsum(y < 0)
    rows = np.flatnonzero((y >= 0) | (unl <= keep))
    out = sys.stdout.buffer
    out.write(msgpack.packb(header))
    for lo in range(0, len(rows), BATCH):
        sel = rows[lo:lo + BATCH]
        batch = {n: a[sel] for n, a in arrays.items()}
        out.write(msgpack.packb({"rows": len(sel), "tensors": batch}, default=msgpack_numpy.encode))
    out.write(msgpack.packb({"end": True, "rows": len(rows)}))


if __name__ == "__main__":
    main()
