"""The tests' one Python writer of tensor streams (docs/stream-format.md), independent of the C writer.
Arrays use msgpack-numpy's own encoder, as a Python user would write them. Used by tests/bats/mkstream.py
and tests/fuzz/seeds.py."""
import msgpack
import msgpack_numpy


def pack(o):
    return msgpack.packb(o, default=msgpack_numpy.encode)


def stream_bytes(tensors, meta=None, batch=2, end=True, version=(1, 0), end_rows=None):
    """tensors: [(name, numpy array with rows first)]; the stream's bytes. end=False leaves out the end
    message; end_rows writes a wrong row count into it."""
    head = {"format": "ssl-stream", "version": list(version),
            "tensors": [{"name": n, "type": a.dtype.str, "shape": list(a.shape[1:])} for n, a in tensors],
            "meta": meta or {}}
    rows = len(tensors[0][1]) if tensors else 0
    out = pack(head)
    for s in range(0, rows, batch):
        out += pack({"rows": min(batch, rows - s), "tensors": {n: a[s:s + batch] for n, a in tensors}})
    if end:
        out += pack({"end": True, "rows": rows if end_rows is None else end_rows})
    return out
