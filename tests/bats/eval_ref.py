#!/usr/bin/python3
"""Independent numpy reference of ssl-eval's metrics: eval_ref.py STREAM REPORT.json prints "ok" when
accuracy, macro-F1, log-loss and ECE in the report agree with it (1e-6), else the differences."""
import sys, json
import msgpack, msgpack_numpy, numpy as np
ys, ps = [], []
with open(sys.argv[1], "rb") as f:
    for m in msgpack.Unpacker(f, object_hook=msgpack_numpy.decode, raw=False):
        if "tensors" in m and "rows" in m:
            ys.append(m["tensors"]["y"]); ps.append(m["tensors"]["p"])
y = np.concatenate(ys); p = np.concatenate(ps).astype(np.float64)
keep = y >= 0; y, p = y[keep], p[keep]
pred = p.argmax(1); k = p.shape[1]
f1s = []
for c in range(k):
    tp = np.sum((pred == c) & (y == c)); npred = np.sum(pred == c); sup = np.sum(y == c)
    if npred == 0 and sup == 0: continue
    prec = tp / npred if npred else 0.0; rec = tp / sup if sup else 0.0
    f1s.append(2 * prec * rec / (prec + rec) if prec + rec else 0.0)
conf = p.max(1); bins = np.minimum((conf * 15).astype(int), 14)
ece = sum(np.sum(bins == b) / len(y) * abs(np.mean(pred[bins == b] == y[bins == b]) - np.mean(conf[bins == b])) for b in range(15) if np.any(bins == b))
ll = -np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1 - 1e-15)))
d = json.load(open(sys.argv[2]))
ref = {"accuracy": np.mean(pred == y), "macro_f1": np.mean(f1s), "log_loss": ll, "ece": ece}
bad = [(key, ref[key], d[key]) for key in ref if abs(ref[key] - d[key]) > 1e-6]
print("ok" if not bad else bad)
