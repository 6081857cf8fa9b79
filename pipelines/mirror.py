#!/usr/bin/python3
"""mirror.py [IN.ssl] > OUT.ssl: the stream with every image mirrored left-right (x of each row read as
an h x w [x c] image: the meta image_shape, else a square). Other tensors and the header unchanged.
Used to ask whether a model's classes survive mirroring (docs/ssl-gan.md: Fashion-MNIST's do not):
  /usr/bin/python3 pipelines/mirror.py test_s.ssl | ssl-gan predict -m G.model | ssl-eval
Needs python3-msgpack, python3-msgpack-numpy and python3-numpy.
"""
import math
import os
import sys

import msgpack
import msgpack_numpy

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs"))
from read_stream import read_stream  # noqa: E402

BATCH = 1024


def image_shape(header, width):
    shape = header.get("meta", {}).get("image_shape")
    if shape:
        return [int(v) for v in shape]
    side = math.isqrt(width)
    if side * side != width:
        sys.exit(f"mirror.py: {width} values per row are not a square image and the stream has no image_shape")
    return [side, side]


def main():
    if sys.argv[1:] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return
    if len(sys.argv) > 2:
        sys.stderr.write("usage: " + __doc__.strip().splitlines()[0] + "\n")
        sys.exit(2)
    name = sys.argv[1] if len(sys.argv) == 2 and sys.argv[1] != "-" else "-"
    try:   # read whole before writing: bad input leaves no output behind
        with (open(name, "rb") if name != "-" else sys.stdin.buffer) as src:
            header, arrays = read_stream(src)
        if "x" not in arrays:
            raise ValueError("no tensor x")
    except (OSError, ValueError, KeyError, StopIteration, msgpack.UnpackException, AssertionError) as err:
        sys.exit(f"mirror.py: {name}: not a readable ssl-stream: {err or type(err).__name__}")
    x = arrays["x"]
    shape = image_shape(header, x.shape[1])
    arrays["x"] = x.reshape([len(x)] + shape)[:, :, ::-1].reshape(x.shape).copy()
    out = sys.stdout.buffer
    out.write(msgpack.packb(header))
    n = len(x)
    for lo in range(0, n, BATCH):
        batch = {name: a[lo:lo + BATCH] for name, a in arrays.items()}
        out.write(msgpack.packb({"rows": min(BATCH, n - lo), "tensors": batch}, default=msgpack_numpy.encode))
    out.write(msgpack.packb({"end": True, "rows": n}))


if __name__ == "__main__":
    main()
