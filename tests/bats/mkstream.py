#!/usr/bin/python3
"""Writes a small tensor stream for the tests, independently of the C writer (docs/stream-format.md).

usage: mkstream.py OUT SPEC    (or @FILE: the SPEC is read from FILE)
       mkstream.py --example ROWS [--truncate] > OUT   (x (ROWS, 3), y, p, id; --truncate: no end message)
SPEC is JSON: {"tensors": [[name, numpy_type, row_shape, rows], ...], "meta": {...},
               "batch": rows per batch (default 2), "noend": true to leave out the end message,
               "cut": bytes to drop from the end of the file, "endrows": a wrong count for the end message}
The bytes come from tests/sslstream.py.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sslstream import stream_bytes  # noqa: E402


def example(rows):
    """x = (rows, 3) float32, y = row % 3 (int32), p = one-hot of y (float32), id int64, 4 rows a batch."""
    x = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3) / 10
    y = (np.arange(rows) % 3).astype(np.int32)
    tensors = [("x", x), ("y", y), ("p", np.eye(3, dtype=np.float32)[y]), ("id", np.arange(rows, dtype=np.int64))]
    return tensors, {"class_names": ["a", "b", "c"], "feature_names": ["f0", "f1", "f2"]}


def main():
    if sys.argv[1] == "--example":
        tensors, meta = example(int(sys.argv[2]))
        sys.stdout.buffer.write(stream_bytes(tensors, meta, batch=4, end="--truncate" not in sys.argv))
        return
    out, spec = sys.argv[1], sys.argv[2]
    if spec.startswith("@"):
        with open(spec[1:]) as f:
            spec = f.read()
    spec = json.loads(spec)
    tensors = [(name, np.asarray(rows, dtype=np.dtype(t)).reshape([len(rows)] + shape))
               for name, t, shape, rows in spec["tensors"]]
    data = stream_bytes(tensors, spec.get("meta", {}), spec.get("batch", 2), not spec.get("noend"),
                        end_rows=spec.get("endrows"))
    if spec.get("cut"):
        data = data[:-spec["cut"]]
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
