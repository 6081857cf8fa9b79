"""Shared by the PyTorch reference implementations: reading ssl-tools streams, the initialisations
lib/ uses, and the per-epoch JSON-lines log (the same keys as the C programs' --log)."""
import json
import os
import sys
import time

import msgpack
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs"))
from read_stream import read_stream  # noqa: E402  (docs/read_stream.py: the reader docs show)


def load(path, with_sd=False):
    """x (N, D) float32 and y (N) int64 (-1 = unlabelled; zeros when the stream has no y), and K; with
    with_sd, also x_sd (N, D) (the posterior sds ssl-vae encode --sd writes) or None."""
    with open(path, "rb") as f:
        header, arrays = read_stream(f)
    x = np.ascontiguousarray(arrays["x"], dtype=np.float32).reshape(len(arrays["x"]), -1)
    y = arrays["y"].astype(np.int64) if "y" in arrays else np.zeros(len(x), np.int64)
    names = header["meta"].get("class_names")
    K = len(names) if names else int(y.max()) + 1
    if not with_sd:
        return torch.from_numpy(x), torch.from_numpy(y), K
    sd = arrays.get("x_sd")
    sd = torch.from_numpy(np.ascontiguousarray(sd, dtype=np.float32).reshape(x.shape)) if sd is not None else None
    return torch.from_numpy(x), torch.from_numpy(y), K, sd


def parser(doc, epochs, batch, lr):
    """The options every reference shares with its ssl-tools program (--model and --quiet accepted and
    ignored, so that a pipeline's argument list can be passed as it is)."""
    import argparse
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("train")
    ap.add_argument("--val", required=True, help="stream whose accuracy is logged every epoch")
    ap.add_argument("--log", help="per-epoch JSON lines")
    ap.add_argument("--epochs", type=int, default=epochs)
    ap.add_argument("--batch", type=int, default=batch)
    ap.add_argument("--lr", type=float, default=lr)
    ap.add_argument("--shift", type=int, default=0, help="labelled rows moved by up to N pixels (28 x 28 images)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--quiet", "-q", action="store_true", help=argparse.SUPPRESS)
    return ap


def setup(a):
    """Threads, denormals flushed to zero (as ssl-tools' trainers do: on Intel cores a denormal operand
    costs a microcode assist), and the seeded generator every random draw comes from."""
    torch.set_num_threads(a.threads)
    torch.set_flush_denormal(True)
    torch.manual_seed(a.seed)
    return torch.Generator().manual_seed(a.seed)


def glorot_(w, fan_in, fan_out, gen):
    """U(-s, s), s = sqrt(6 / (fan_in + fan_out)): lib/nn's nn_dense_init_glorot."""
    s = (6.0 / (fan_in + fan_out)) ** 0.5
    with torch.no_grad():
        w.copy_((torch.rand(w.shape, generator=gen) * 2 - 1) * s)


class Log:
    """One JSON object per epoch to FILE (or nowhere) and a short line to stderr."""

    def __init__(self, path):
        self.f = open(path, "w") if path else None
        self.t0 = time.perf_counter()

    def epoch(self, **kv):
        kv["seconds"] = round(time.perf_counter() - self.t0, 3)
        self.t0 = time.perf_counter()
        line = json.dumps(kv)
        if self.f:
            self.f.write(line + "\n")
            self.f.flush()
        print(line, file=sys.stderr, flush=True)


def accuracy(p, y):
    keep = y >= 0
    return float((p[keep].argmax(1) == y[keep]).float().mean()) if keep.any() else float("nan")


def shift_images(x, s, H, W, gen):
    """Each row of x (n, H W) moved by its own random shift in [-s, s]^2, zero fill (lib/imageops)."""
    if s <= 0:
        return x
    n = len(x)
    d = torch.randint(-s, s + 1, (n, 2), generator=gen)
    pad = torch.nn.functional.pad(x.view(n, H, W), (s, s, s, s))
    out = torch.empty(n, H, W)
    for i in range(n):
        dy, dx = int(d[i, 0]), int(d[i, 1])
        out[i] = pad[i, s - dy:s - dy + H, s - dx:s - dx + W]
    return out.view(n, H * W)


def write_predictions(path, p):
    """The class probabilities as a .npy file (what ssl-eval would read from a stream's p)."""
    np.save(path, p.detach().numpy().astype(np.float32))
