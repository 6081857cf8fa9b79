"""Shared by the PyTorch reference scripts of bench/ (torch_mlp.py, torch_vae.py, torch_gan.py):
the same data as bench_train (Fashion-MNIST's first N training rows, pixels / 255, or synthetic
uniform rows when the files are missing), the thread setting, and the key=value result line that
bench/report.py reads."""
import argparse
import gzip
import os
import resource
import time

import numpy as np
import torch

FULL_EPOCH = 60000


def parse(default_rows):
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=default_rows)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: leave the default)")
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    if a.threads > 0:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    return a


def load(a):
    """x (rows, 784) float32 in [0, 1], y (rows) int64, and the data's name."""
    img = os.path.join(a.data, "train-images-idx3-ubyte.gz")
    lab = os.path.join(a.data, "train-labels-idx1-ubyte.gz")
    if os.path.exists(img) and os.path.exists(lab):
        with gzip.open(img) as f:
            x = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 784)[: a.rows]
        with gzip.open(lab) as f:
            y = np.frombuffer(f.read(), np.uint8, offset=8)[: a.rows]
        kind = "fashion-mnist"
    else:
        rs = np.random.RandomState(2)
        x = (rs.random_sample((a.rows, 784)) * 255).astype(np.uint8)
        y = rs.randint(0, 10, a.rows)
        kind = "synthetic"
    return torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y.astype(np.int64)), kind


def timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def report(net, a, kind, secs):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"net={net} rows={a.rows} data={kind} threads={torch.get_num_threads()} "
          f"omp_wait={os.environ.get('OMP_WAIT_POLICY', 'default')} epoch_s={secs:.4f} "
          f"epoch60k_s={secs * FULL_EPOCH / a.rows:.4f} rss_mb={rss:.1f}")
