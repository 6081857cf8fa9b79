#!/usr/bin/python3
"""Evaluates a Python expression over the tensors of a stream (for the bats tests).

Usage: stream_eval.py FILE EXPR    the tensors are numpy arrays named as in the stream (x, y, w,
origin, ...), `meta` is the header's meta, `np` is numpy; prints the value of EXPR.
Example: stream_eval.py aug.ssl 'int((origin == 2).sum())'
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../docs"))
import numpy as np  # noqa: E402
from read_stream import read_stream  # noqa: E402

with open(sys.argv[1], "rb") as f:
    header, arrays = read_stream(f)
scope = dict(arrays, meta=header["meta"], np=np)
print(eval(sys.argv[2], {}, scope))
