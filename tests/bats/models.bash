# Shared by the generative-model suites (ssl-vae.bats, ssl-gan.bats), loaded after helpers: the
# digits prepared once per file, the scratch folders, and readers of a stream's tensors.

setup() {
    T="$BATS_TEST_TMPDIR"
    D="$BATS_FILE_TMPDIR"
}

# Writes into folder $1: tr_raw.ssl and te_raw.ssl (the digits split with test fraction $2, seed 1),
# sc.model (minmax fitted on the training rows), tr.ssl and te.ssl (scaled to [0, 1] by it) and
# tr5.ssl (tr.ssl with 5 labels per class, every other y = -1).
prep_digits() {
    ssl-prep csv "$DIGITS" | ssl-prep split --test "$2" --seed 1 --train-out "$1/tr_raw.ssl" --test-out "$1/te_raw.ssl"
    ssl-prep scale --method minmax --fit-stats "$1/sc.model" "$1/tr_raw.ssl" > "$1/tr.ssl"
    ssl-prep scale --stats "$1/sc.model" "$1/te_raw.ssl" > "$1/te.ssl"
    ssl-prep mask --labels-per-class 5 --seed 0 "$1/tr.ssl" > "$1/tr5.ssl"
}

# --help (also after command $2) prints the usage of program $1 with an example; --version its version.
assert_help_and_version() {
    run "$1" --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: $1 train"* ]]
    [[ "$output" == *"Examples:"* ]]
    run "$1" "$2" --help
    [ "$status" -eq 0 ]
    run "$1" --version
    [ "$status" -eq 0 ]
    [[ "$output" == "$1 (ssl-tools) "* ]]
}

# rows and width of tensor NAME of a stream: "ROWS WIDTH" (or "ROWS absent")
shape_of() {
    "$PY" - "$1" "$2" <<'EOF2'
import sys, msgpack, numpy as np
u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False)
head = next(u)
w = [t for t in head["tensors"] if t["name"] == sys.argv[2]]
rows = sum(m["rows"] for m in u if "tensors" in m)
print(rows, int(np.prod(w[0]["shape"])) if w else "absent")
EOF2
}

# the values of tensor NAME, all rows, through msgpack_numpy
values_of() {
    "$PY" - "$1" "$2" <<'EOF2'
import sys, msgpack, msgpack_numpy, numpy as np
u = msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=msgpack_numpy.decode, raw=False)
next(u)
parts = [m["tensors"][sys.argv[2]] for m in u if "tensors" in m]
print(" ".join(str(v) for v in np.concatenate(parts).ravel().tolist()))
EOF2
}
