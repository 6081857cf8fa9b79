#!/usr/bin/env bats
# ssl-graph: Poisson learning and label spreading on a k-nearest-neighbour graph, checked against the
# NumPy/SciPy/scikit-learn reference (reference/graph.py) on the digits.
load helpers
load models
bats_require_minimum_version 1.5.0

setup_file() {
    prep_digits "$BATS_FILE_TMPDIR" 0.3
}

# the class scores p of a stream as a .npy file
p_of() {
    "$PY" - "$1" "$2" "$ROOT/docs" <<'EOF2'
import sys
import numpy as np
sys.path.insert(0, sys.argv[3])
from read_stream import read_stream
h, a = read_stream(open(sys.argv[1], "rb"))
np.save(sys.argv[2], np.asarray(a["p"], dtype=np.float64).reshape(len(a["p"]), -1))
EOF2
}

@test "ssl-graph --help and --version" {
    run ssl-graph --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: ssl-graph"* ]]
    [[ "$output" == *"Examples:"* ]]
    run ssl-graph --version
    [[ "$output" == "ssl-graph (ssl-tools) "* ]]
}

@test "ssl-graph: the reference's predictions, Poisson learning and label spreading" {
    have_py sklearn || skip "python3-sklearn not installed"
    cd "$ROOT"
    for m in poisson spread; do
        ssl-graph -q --method $m --train "$D/tr5.ssl" "$D/te.ssl" -o "$T/$m.ssl"
        p_of "$T/$m.ssl" "$T/$m-ours.npy"
        "$PY" reference/graph.py --method $m "$D/tr5.ssl" "$D/te.ssl" --out "$T/$m-ref.npy" > "$T/$m-ref.txt"
        "$PY" - "$T/$m-ours.npy" "$T/$m-ref.npy" "$D/te.ssl" <<'EOF2'
import sys
import numpy as np
sys.path.insert(0, "docs")
from read_stream import read_stream
ours, ref = np.load(sys.argv[1]), np.load(sys.argv[2])
y = np.asarray(read_stream(open(sys.argv[3], "rb"))[1]["y"]).reshape(-1)
agree = np.mean(ours.argmax(1) == ref.argmax(1))
acc_ours, acc_ref = np.mean(ours.argmax(1) == y), np.mean(ref.argmax(1) == y)
print(f"agreement {agree:.4f}, accuracy ours {acc_ours:.4f} reference {acc_ref:.4f}")
assert agree >= 0.995, agree
assert abs(acc_ours - acc_ref) <= 0.005
assert acc_ours > 0.85, acc_ours   # 5 labels per class: an MLP on them alone scores about 0.75
assert np.allclose(ours.sum(1), 1, atol=1e-5) and (ours >= 0).all()
EOF2
    done
}

@test "ssl-graph: one stream, its own labels; y and other tensors pass through; same threads, same bytes" {
    run --separate-stderr ssl-graph --threads 2 "$D/tr5.ssl" -o "$T/a.ssl"
    [ "$status" -eq 0 ]
    [[ "$stderr" =~ ^ssl-graph:\ [0-9]+\ rows,\ 50\ labelled,\ 10\ neighbours,\ Poisson\ learning:\ [0-9]+\ iterations ]]
    [ "$(shape_of "$T/a.ssl" p)" = "$(shape_of "$D/tr5.ssl" y | cut -d' ' -f1) 10" ]
    [ "$(shape_of "$T/a.ssl" y)" = "$(shape_of "$D/tr5.ssl" y)" ]
    ssl-graph -q --threads 2 "$D/tr5.ssl" > "$T/a2.ssl"
    ssl-graph -q --threads 2 "$D/tr5.ssl" | cmp - "$T/a2.ssl"
    ssl-graph -q --threads 1 "$D/tr5.ssl" > "$T/b.ssl"
    ssl-graph -q --threads 1 "$D/tr5.ssl" | cmp - "$T/b.ssl"
    ssl-eval "$T/a.ssl" | grep -q accuracy
}

@test "ssl-graph --features NAME: distances on another tensor, x passed through" {
    # z = the first 16 pixels: the same graph as a stream whose x is those 16 pixels
    "$PY" - "$D/tr5.ssl" "$T/z.ssl" "$T/x16.ssl" "$ROOT" <<'EOF2'
import sys
import numpy as np
sys.path.insert(0, sys.argv[4] + "/docs"); sys.path.insert(0, sys.argv[4] + "/tests")
from read_stream import read_stream
from sslstream import stream_bytes
h, a = read_stream(open(sys.argv[1], "rb"))
x = np.asarray(a["x"], np.float32).reshape(len(a["y"]), -1); y = np.asarray(a["y"], np.int32).reshape(-1)
open(sys.argv[2], "wb").write(stream_bytes([("x", x), ("y", y), ("z", np.ascontiguousarray(x[:, :16]))], batch=100))
open(sys.argv[3], "wb").write(stream_bytes([("x", np.ascontiguousarray(x[:, :16])), ("y", y)], batch=100))
EOF2
    ssl-graph -q --features z "$T/z.ssl" -o "$T/pz.ssl"
    ssl-graph -q "$T/x16.ssl" -o "$T/px.ssl"
    p_of "$T/pz.ssl" "$T/pz.npy"
    p_of "$T/px.ssl" "$T/px.npy"
    "$PY" -c "import numpy as np, sys; assert np.array_equal(np.load(sys.argv[1]), np.load(sys.argv[2]))" "$T/pz.npy" "$T/px.npy"
    [ "$(shape_of "$T/pz.ssl" x)" = "$(shape_of "$T/z.ssl" x)" ]
    run --separate-stderr ssl-graph --features w "$T/z.ssl"
    assert_fails_with 1 "z\.ssl: stream has no tensor 'w' \(features\)"
}

@test "ssl-graph: bad input and usage, one line each" {
    run --separate-stderr ssl-graph --method laplace "$D/tr5.ssl"
    assert_fails_with 2 "--method: 'laplace' is not poisson or spread"
    run --separate-stderr ssl-graph --neighbours 0 "$D/tr5.ssl"
    assert_fails_with 2 "--neighbours"
    run --separate-stderr ssl-graph --alpha 1 --method spread "$D/tr5.ssl"
    assert_fails_with 2 "--alpha"
    run --separate-stderr ssl-graph --neighbours 1000 "$D/te.ssl" -o "$T/x.ssl"
    assert_fails_with 1 "te\.ssl: [0-9]+ rows: the 1000 nearest neighbours of a row need at least 1001 rows"
    [ ! -e "$T/x.ssl" ]
    mk() { "$PY" "$BATS_TEST_DIRNAME/mkstream.py" "$@"; }
    have_py msgpack_numpy || skip "python3-msgpack-numpy not installed"
    X='[[0,1],[1,1],[2,0],[5,5]]'
    mk "$T/nolab.ssl" "{\"tensors\": [[\"x\",\"<f4\",[2],$X], [\"y\",\"<i4\",[],[-1,-1,-1,-1]]]}"
    run --separate-stderr ssl-graph --neighbours 2 "$T/nolab.ssl"
    assert_fails_with 1 "nolab\.ssl: no labelled rows to propagate"
    mk "$T/noy.ssl" "{\"tensors\": [[\"x\",\"<f4\",[2],$X]]}"
    run --separate-stderr ssl-graph --neighbours 2 "$T/noy.ssl"
    assert_fails_with 1 "noy\.ssl: stream has no tensor 'y'"
    run --separate-stderr ssl-graph --train "$D/tr5.ssl" "$T/noy.ssl"
    assert_fails_with 1 "noy\.ssl: 2 features, .*tr5\.ssl has 64"
    mk "$T/nan.ssl" "{\"tensors\": [[\"x\",\"<f4\",[2],[[0,1],[1,NaN],[2,0],[5,5]]], [\"y\",\"<i4\",[],[0,1,-1,-1]]]}"
    run --separate-stderr ssl-graph --neighbours 2 "$T/nan.ssl"
    assert_fails_with 1 "nan\.ssl: row 2: x has a non-finite value"
}
