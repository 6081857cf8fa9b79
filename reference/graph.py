#!/usr/bin/python3
"""Poisson learning and label spreading on a k-nearest-neighbour graph, in NumPy/SciPy with
scikit-learn's neighbour search: the reference that ssl-graph (lib/methods/graph.c, lib/core/knn.c)
is tested against, following Calder et al.'s GraphLearning (weightmatrix.knn, ssl.poisson):

  graph   each row's k nearest other rows (Euclidean), w_ij = exp(-4 |x_i - x_j|^2 / d_k(x_i)^2),
          W = (W + W^T) / 2, degrees d = W 1
  poisson (I - S) v = D^-1/2 b by conjugate gradients, S = D^-1/2 W D^-1/2, b_i = onehot(y_i) - mean
          at the labelled rows; u = D^-1/2 v minus its degree-weighted mean; class = argmax u
  spread  (I - alpha S) F = (1 - alpha) Y; class = argmax F

Usage: reference/graph.py [--method poisson|spread] [--neighbours K] [--alpha A] TRAIN.ssl TEST.ssl [--out P.npy]
The graph holds TRAIN's rows and TEST's; TRAIN's labelled rows are the labels. Prints the accuracy on
TEST's rows; --out saves their class scores (the argmax is the prediction)."""
import argparse
import os
import sys

import numpy as np
from scipy import sparse
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docs"))
from read_stream import read_stream  # noqa: E402


def load(path):
    with open(path, "rb") as f:
        header, arrays = read_stream(f)
    x = np.asarray(arrays["x"], dtype=np.float64).reshape(len(arrays["x"]), -1)
    y = arrays["y"].astype(np.int64).reshape(-1) if "y" in arrays else np.full(len(x), -1)
    names = header["meta"].get("class_names")
    return x, y, (len(names) if names else int(y.max()) + 1)


def knn_graph(x, k):
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute").fit(x)
    dist, ind = nn.kneighbors(x)
    # drop each row itself (first, or wherever a copy at distance 0 put it)
    keep = ind != np.arange(len(x))[:, None]
    keep[keep.sum(1) > k, -1] = False
    dist = dist[keep].reshape(len(x), k)
    ind = ind[keep].reshape(len(x), k)
    d2 = dist * dist
    w = np.exp(-4 * d2 / np.where(d2[:, -1:] > 0, d2[:, -1:], 1))
    rows = np.repeat(np.arange(len(x)), k)
    W = sparse.coo_matrix((w.ravel(), (rows, ind.ravel())), shape=(len(x), len(x))).tocsr()
    return (W + W.T) / 2


def conjgrad(apply, b, tol=1e-10, max_iter=100000):
    x = np.zeros_like(b)
    r = b.copy()
    p = r.copy()
    rs = np.sum(r * r, axis=0)
    bnorm = np.sqrt(rs.sum())
    for _ in range(max_iter):
        if np.sqrt(rs.sum()) <= tol * bnorm:
            break
        Ap = apply(p)
        curv = np.sum(p * Ap, axis=0)
        step = np.where((rs > 0) & (curv > 0), rs / np.where(curv > 0, curv, 1), 0)
        x += step * p
        r -= step * Ap
        rs_new = np.sum(r * r, axis=0)
        p = r + np.where(rs > 0, rs_new / np.where(rs > 0, rs, 1), 0) * p
        rs = rs_new
    return x


def propagate(W, y, K, method, alpha):
    d = np.asarray(W.sum(axis=1)).ravel()
    isd = 1 / np.sqrt(d)
    S = sparse.diags(isd) @ W @ sparse.diags(isd)
    lab = y >= 0
    Y = np.zeros((len(y), K))
    Y[lab, y[lab]] = 1
    if method == "spread":
        return conjgrad(lambda v: v - alpha * (S @ v), (1 - alpha) * Y)
    b = np.zeros_like(Y)
    b[lab] = Y[lab] - Y[lab].mean(axis=0)
    u = isd[:, None] * conjgrad(lambda v: v - S @ v, isd[:, None] * b)
    return u - (d @ u) / d.sum()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("train")
    ap.add_argument("test")
    ap.add_argument("--method", choices=["poisson", "spread"], default="poisson")
    ap.add_argument("--neighbours", type=int, default=10)
    ap.add_argument("--alpha", type=float, default=0.99)
    ap.add_argument("--out")
    a = ap.parse_args()
    xtr, ytr, K = load(a.train)
    xte, yte, _ = load(a.test)
    W = knn_graph(np.vstack([xtr, xte]), a.neighbours)
    scores = propagate(W, np.concatenate([ytr, np.full(len(xte), -1)]), K, a.method, a.alpha)[len(xtr):]
    if a.out:
        np.save(a.out, scores)
    print("accuracy %.4f" % np.mean(scores.argmax(1) == yte))


if __name__ == "__main__":
    main()
