#!/usr/bin/python3
"""Writes a small tensor stream for the tests, independently of the C writer (docs/stream-format.md).

usage: mkstream.py OUT SPEC    (or @FILE: the SPEC is read from FILE)
SPEC is JSON: {"tensors": [[name, numpy_type, row_shape, rows], ...], "meta": {...},
               "batch": rows per batch (default 2), "noend": true to leave out the end message,
               "cut": bytes to drop from the end of the file, "endrows": a wrong count for the end message}
Arrays use msgpack-numpy's own encoder, as a Python user would write them.
"""
import json
import sys

import msgpack
import msgpack_numpy
import numpy as np


def main():
    out, spec = sys.argv[1], sys.argv[2]
    if spec.startswith("@"):
        with open(spec[1:]) as f:
            spec = f.read()
    spec = json.loads(spec)
    arrays = [(name, np.asarray(rows, dtype=np.dtype(t)).reshape([len(rows)] + shape), t, shape)
              for name, t, shape, rows in spec["tensors"]]
    n = len(arrays[0][1]) if arrays else 0
    header = {"format": "ssl-stream", "version": [1, 0],
              "tensors": [{"name": name, "type": t, "shape": shape} for name, _, t, shape in arrays],
              "meta": spec.get("meta", {})}
    parts = [msgpack.packb(header)]
    step = spec.get("batch", 2)
    for i in range(0, n, step):
        batch = {name: msgpack_numpy.encode(a[i:i + step]) for name, a, _, _ in arrays}
        parts.append(msgpack.packb({"rows": len(arrays[0][1][i:i + step]), "tensors": batch}))
    if not spec.get("noend"):
        parts.append(msgpack.packb({"end": True, "rows": spec.get("endrows", n)}))
    data = b"".join(parts)
    if spec.get("cut"):
        data = data[:-spec["cut"]]
    with open(out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
