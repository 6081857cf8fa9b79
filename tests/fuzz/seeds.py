#!/usr/bin/python3
"""Writes the fuzz harnesses' seed corpora into tests/fuzz/corpus/{stream,csv,model}: small valid inputs
and edge cases (a few KB in all). Run from the repository root; ssl-prep and ssl-fit from build/bin give
two real model files. Regression inputs found by fuzzing are added by hand, named regress-*."""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from sslstream import pack, stream_bytes as stream  # noqa: E402

ROOT = "tests/fuzz/corpus"


def put(kind, name, data):
    os.makedirs(f"{ROOT}/{kind}", exist_ok=True)
    with open(f"{ROOT}/{kind}/{name}", "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def streams():
    x = (np.arange(15, dtype=np.float32) / 7).reshape(5, 3)
    y = np.array([0, 1, -1, 2, 1], dtype=np.int32)
    ids = np.arange(5, dtype=np.int64)
    meta = {"class_names": ["a", "b", "c"], "feature_names": ["f0", "f1", "f2"], "scaling": "none",
            "x_range": [0.0, 2.0], "history": ["ssl-prep csv t.csv"]}
    good = stream([("x", x), ("y", y), ("id", ids)], meta)
    put("stream", "valid-xy", good)
    put("stream", "valid-empty", stream([("x", x[:0]), ("y", y[:0])]))
    put("stream", "valid-no-tensors", stream([]))
    img = np.arange(2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 3)
    put("stream", "valid-dtypes", stream([("img", img), ("d", np.array([1.5, -2.0])),
                                          ("p", np.eye(2, dtype=np.float32))], {"nested": {"a": [None, True, -3]}}))
    put("stream", "no-end", stream([("x", x)], end=False))
    put("stream", "cut-mid-batch", good[:len(good) // 2])
    put("stream", "version-2", stream([("x", x)], version=(2, 0)))
    put("stream", "empty", b"")
    put("stream", "not-a-stream", pack([1, 2, 3]))
    put("stream", "end-count-wrong", stream([("x", x)], end=False) + pack({"end": True, "rows": 9}))
    bad_shape = pack({"format": "ssl-stream", "version": [1, 0],
                      "tensors": [{"name": "x", "type": "<f4", "shape": [4]}], "meta": {}})
    bad_shape += pack({"rows": 1, "tensors": {"x": np.zeros((1, 3), np.float32)}})
    put("stream", "shape-mismatch", bad_shape)
    # array32 headers declaring 2^25 and 2^32-1 elements after a valid header: msgpack-c allocates them up front
    head = stream([("x", x)], end=False, batch=5)
    head = head[:len(head) - len(pack({"rows": 5, "tensors": {"x": x}}))]
    put("stream", "huge-array-count", head + b"\xdd\x02\x00\x00\x00\x01")
    put("stream", "huger-array-count", head + b"\xdd\xff\xff\xff\xff\x01")


def csvs():
    put("csv", "numeric-header", "a,b,label\n1,2,0\n3.5,-4e2,1\n0,0,1\n")
    put("csv", "names", "sepal,petal,species\n5.1,1.4,setosa\n7.0,4.7,versicolor\n6.3,6.0,virginica\n")
    put("csv", "no-header", "1,2,3\n4,5,6\n")
    put("csv", "bom-crlf", "\ufeffx,y\r\n1,0\r\n2,1\r\n")
    put("csv", "quoted", 'a,"b, c",label\n1,"2",x\n"3",4,"y ""z"""\n')
    put("csv", "quote-newline", 'a,b\n"1\n",2\n')
    put("csv", "ragged", "a,b,c\n1,2,3\n4,5\n")
    put("csv", "unclosed-quote", 'a,b\n1,"2\n3,4\n')
    put("csv", "empty", "")
    put("csv", "header-only", "a,b,label\n")
    put("csv", "not-numbers", "a,b\n1,abc\n")
    put("csv", "non-finite", "a,b\nnan,1\ninf,0\n1e999,1\n")
    put("csv", "semicolon-skip", "# comment\nx;y\n1;0\n2;1\n")
    put("csv", "categorical", "colour,size,label\nred,1,a\nblue,2,b\nred,3,?\n")
    put("csv", "impute", "a,b,label\n1,,0\n,2,1\n3,4,\n")
    put("csv", "blank-lines", "a,b\n\n1,2\n\n\n3,4\n")
    put("csv", "big-labels", "a,label\n1,65535\n2,65536\n3,-1\n")


def models():
    def model(kind, params, info=None, version=(1, 0)):
        return pack({"format": "ssl-model", "version": list(version), "kind": kind, "info": info or {},
                     "params": {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}})
    tiny = model("mlp", {"w0": np.ones((3, 2)), "b0": np.zeros(2)}, {"layers": [3, 2], "class_names": ["a", "b"]})
    put("model", "tiny-mlp", tiny)
    put("model", "scalar-param", model("scaler", {"shift": np.float32(1.0), "scale": [2.0]}))
    put("model", "truncated", tiny[:len(tiny) // 2])
    put("model", "version-2", model("mlp", {}, version=(2, 0)))
    put("model", "empty", b"")
    put("model", "trailing-bytes", tiny + b"\x00")
    put("model", "f64-param", pack({"format": "ssl-model", "version": [1, 0], "kind": "mlp", "info": {},
                                    "params": {"w": np.zeros(2)}}))
    put("model", "huge-map-count", b"\xdf\x01\x00\x00\x00")
    put("model", "huge-array-count", b"\xdd\xff\xff\xff\xff\x01")
    bin_dir = "build/bin"
    if os.path.exists(f"{bin_dir}/ssl-prep"):
        csv = "a,b,label\n1,2,0\n3,5,1\n0,1,0\n2,2,1\n"
        s = subprocess.run([f"{bin_dir}/ssl-prep", "csv"], input=csv.encode(), capture_output=True, check=True).stdout
        subprocess.run([f"{bin_dir}/ssl-prep", "scale", "--method", "standard", "--fit-stats",
                        f"{ROOT}/model/scaler", "-o", "/dev/null"], input=s, check=True)
        subprocess.run([f"{bin_dir}/ssl-fit", "train", "--hidden", "3", "--epochs", "1", "-o",
                        f"{ROOT}/model/ssl-fit-mlp", "-"], input=s, check=True, capture_output=True)


if __name__ == "__main__":
    streams()
    csvs()
    models()
    sys.exit(0)
