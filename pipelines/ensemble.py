#!/usr/bin/python3
"""ensemble.py WORK LABELS [K]: do a comparison's methods make different mistakes? For every set of 2..K
(default 3) methods with predictions at LABELS labels per class, the test accuracy of their averaged
p(y|x), per seed and mean; prints each method alone, then the best 10 sets. A set that beats its best
member by little says the methods err on the same rows (they learnt from the same few labels).
  /usr/bin/python3 pipelines/ensemble.py build/pipelines/fashion-mnist 10
Needs python3-msgpack and python3-numpy; reads WORK/test_s.ssl and WORK/L<LABELS>/s<seed>/<method>.pred.ssl.
"""
import glob
import itertools
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs"))
from read_stream import read_stream  # noqa: E402


def load(path, name):
    try:
        with open(path, "rb") as f:
            return read_stream(f)[1][name]
    except (OSError, ValueError, KeyError, StopIteration, AssertionError) as err:
        sys.exit(f"ensemble.py: {path}: not a readable stream with {name}: {err or type(err).__name__}")


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__.strip().splitlines()[0])
    work, labels = sys.argv[1], sys.argv[2]
    kmax = int(sys.argv[3]) if len(sys.argv) == 4 else 3
    y = load(os.path.join(work, "test_s.ssl"), "y")
    runs = sorted(glob.glob(os.path.join(work, f"L{labels}", "s*")))
    methods = sorted({os.path.basename(p)[:-len(".pred.ssl")] for r in runs for p in glob.glob(f"{r}/*.pred.ssl")})
    methods = [m for m in methods if all(os.path.exists(f"{r}/{m}.pred.ssl") for r in runs)]
    if not runs or not methods:
        sys.exit(f"ensemble.py: no predictions under {work}/L{labels}/s*/")
    p = {(m, r): load(f"{r}/{m}.pred.ssl", "p") for m in methods for r in runs}

    def accuracy(ms):
        a = [float((sum(p[m, r] for m in ms).argmax(1) == y).mean()) for r in runs]
        return np.mean(a), a

    fmt = lambda t: f"{100 * t[0]:6.2f}  (" + ", ".join(f"{100 * x:.2f}" for x in t[1]) + ")"
    print(f"test accuracy, mean (seeds {', '.join(os.path.basename(r) for r in runs)})")
    for m in methods:
        print(f"{fmt(accuracy([m]))}  {m}")
    sets = [ms for k in range(2, kmax + 1) for ms in itertools.combinations(methods, k)]
    best = sorted(((accuracy(ms), ms) for ms in sets), key=lambda t: -t[0][0])[:10]
    print("best averages of 2..%d methods' p(y|x)" % kmax)
    for acc, ms in best:
        print(f"{fmt(acc)}  {' + '.join(ms)}")


if __name__ == "__main__":
    main()
