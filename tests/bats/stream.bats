#!/usr/bin/env bats
# The stream format across languages: Python writes what ssl-tools reads, and reads what it writes,
# with Debian's msgpack and msgpack-numpy (skipped where they are not installed).
load helpers

@test "python (msgpack-numpy's encoder) writes a stream that ssl-show and ssl-eval read" {
    have_py "msgpack, msgpack_numpy, numpy" || skip "python3-msgpack-numpy not installed"
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 10 > "$T/py.ssl"
    run ssl-show --json "$T/py.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *'"rows": 10'* ]] || [[ "$output" == *'"rows":10'* ]]
    run ssl-eval --json "$T/py.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *'"accuracy": 1'* ]] || [[ "$output" == *'"accuracy":1'* ]]
}

@test "a python-written stream without its end message is reported as truncated" {
    have_py "msgpack, msgpack_numpy, numpy" || skip "python3-msgpack-numpy not installed"
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 10 --truncate > "$T/cut.ssl"
    run --separate-stderr ssl-show "$T/cut.ssl"
    assert_fails_with 1 'truncated stream'
}

@test "docs/read_stream.py (msgpack-numpy's decoder) reads what ssl-prep writes" {
    have_py "msgpack, msgpack_numpy, numpy" || skip "python3-msgpack-numpy not installed"
    ssl-prep csv --no-header "$DIGITS" -o "$T/d.ssl"
    run "$PY" "$ROOT/docs/read_stream.py" "$T/d.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"x: <f4 (1797, 64)"* ]]
    [[ "$output" == *"y: <i4 (1797,)"* ]]
    [[ "$output" == *"class_names"* ]]
}

@test "python reads the arrays with the right values: pixel counts and labels of the first digits row" {
    have_py "msgpack, msgpack_numpy, numpy" || skip "python3-msgpack-numpy not installed"
    ssl-prep csv --no-header "$DIGITS" -o "$T/d.ssl"
    first=$(zcat "$DIGITS" | head -n 1)
    run "$PY" -c "
import sys; sys.path.insert(0, '$ROOT/docs')
from read_stream import read_stream
h, t = read_stream(open('$T/d.ssl', 'rb'))
print(','.join(str(int(v)) for v in t['x'][0]) + ',' + str(t['y'][0]))"
    [ "$status" -eq 0 ]
    [ "$output" = "$first" ]
}

@test "batches stay small: a large stream is split into messages Python's Unpacker accepts" {
    have_py "msgpack, numpy" || skip "python3-msgpack not installed"
    ssl-prep csv --no-header "$DIGITS" -o "$T/d.ssl"
    run "$PY" -c "
import msgpack
u = msgpack.Unpacker(open('$T/d.ssl', 'rb'), raw=False, max_buffer_size=8 << 20)
print(sum(1 for _ in u))"
    [ "$status" -eq 0 ]
    [ "$output" -ge 3 ]
}
