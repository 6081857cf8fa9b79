#!/usr/bin/python3
"""Read an ssl-tools tensor stream in Python: the reader shown in docs/stream-format.md.

Usage: read_stream.py FILE.ssl      prints the header and the shape of each tensor.
Needs python3-msgpack and python3-numpy (python3-msgpack-numpy optional: its decoder is used when present).
"""
import sys

import msgpack
import numpy as np

try:
    import msgpack_numpy
except ImportError:  # the arrays are simple enough to decode by hand
    msgpack_numpy = None


def as_array(obj):
    """A msgpack-numpy array map ({b'nd': True, b'type': '<f4', b'shape': [...], b'data': ...})."""
    return np.frombuffer(obj[b"data"], dtype=obj[b"type"]).reshape(obj[b"shape"])


def read_stream(f):
    """Returns (header, {name: array}) with every batch concatenated; raises on a truncated stream."""
    hook = msgpack_numpy.decode if msgpack_numpy else None
    unpacker = msgpack.Unpacker(f, raw=False, object_hook=hook)
    header = next(unpacker)
    assert header["format"] == "ssl-stream" and header["version"][0] == 1, "not an ssl-stream v1"
    parts = {t["name"]: [] for t in header["tensors"]}
    rows = 0
    for msg in unpacker:
        if msg.get("end"):
            assert msg["rows"] == rows, "row count mismatch"
            arrays = {name: np.concatenate(p) if p else np.empty((0,)) for name, p in parts.items()}
            return header, arrays
        for name, arr in msg["tensors"].items():
            parts[name].append(arr if isinstance(arr, np.ndarray) else as_array(arr))
        rows += msg["rows"]
    raise ValueError("truncated stream: no end message")


if __name__ == "__main__":
    with open(sys.argv[1], "rb") as f:
        header, arrays = read_stream(f)
    print("meta keys:", ", ".join(sorted(header["meta"])))
    for name, arr in arrays.items():
        print(f"{name}: {arr.dtype.str} {arr.shape}")
