#!/usr/bin/python3
"""Test helper: writes a small ssl-stream with the real msgpack_numpy encoder (proves that streams written
by Python tools read back in ssl-tools). Usage: write_stream.py ROWS [--truncate] > out.ssl
x = (ROWS, 3) float32, y = row % 3 (int32), p = one-hot of y (float32), id int64."""
import sys

import msgpack
import msgpack_numpy
import numpy as np

rows = int(sys.argv[1])
truncate = "--truncate" in sys.argv
x = np.arange(rows * 3, dtype=np.float32).reshape(rows, 3) / 10
y = (np.arange(rows) % 3).astype(np.int32)
p = np.eye(3, dtype=np.float32)[y]
ids = np.arange(rows, dtype=np.int64)
header = {
    "format": "ssl-stream", "version": [1, 0],
    "tensors": [{"name": "x", "type": "<f4", "shape": [3]}, {"name": "y", "type": "<i4", "shape": []},
                {"name": "p", "type": "<f4", "shape": [3]}, {"name": "id", "type": "<i8", "shape": []}],
    "meta": {"class_names": ["a", "b", "c"], "feature_names": ["f0", "f1", "f2"]},
}
out = sys.stdout.buffer
out.write(msgpack.packb(header))
for start in range(0, rows, 4):
    sl = slice(start, min(rows, start + 4))
    batch = {"rows": sl.stop - sl.start, "tensors": {"x": x[sl], "y": y[sl], "p": p[sl], "id": ids[sl]}}
    out.write(msgpack.packb(batch, default=msgpack_numpy.encode))
if not truncate:
    out.write(msgpack.packb({"end": True, "rows": rows}))
