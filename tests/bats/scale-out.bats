#!/usr/bin/env bats
# Scale-out (docs/scale-out.md): out-of-core training (--stream-data) against in-memory training,
# and data-parallel training over MPI (mpirun -np 2, build-mpi/ from `make MPI=1`) against one
# process. Tiny M1 models on the embedded digits (1797 rows x 64 features).
load helpers
bats_require_minimum_version 1.5.0

setup_file() {
    D="$BATS_FILE_TMPDIR"
    ssl-prep csv "$DIGITS" | ssl-prep scale --method minmax > "$D/tr.ssl"
    ssl-prep mask --labels-per-class 30 --seed 0 "$D/tr.ssl" > "$D/l30.ssl"   # 300 labelled rows of 1797
}

setup() {
    T="$BATS_TEST_TMPDIR"
    D="$BATS_FILE_TMPDIR"
}

# The largest |a - b| over every parameter of two model files, then the largest |a|: "DIFF SCALE"
param_diff() {
    "$PY" - "$1" "$2" <<'EOF2'
import sys, msgpack, msgpack_numpy
load = lambda p: msgpack.unpackb(open(p, "rb").read(), object_hook=msgpack_numpy.decode, raw=False)["params"]
a, b = load(sys.argv[1]), load(sys.argv[2])
assert list(a) == list(b), "different parameter names"
print(max(float(abs(a[k] - b[k]).max()) for k in a), max(float(abs(a[k]).max()) for k in a))
EOF2
}

# Every parameter of two model files within TOL (default 1e-5; the differences printed for the log).
params_close() {
    run param_diff "$1" "$2"
    echo "max |p1 - p2|, max |p1|: $output"
    [ "$status" -eq 0 ]
    awk -v d="${output%% *}" -v tol="${3:-1e-5}" 'BEGIN { exit !(d <= tol) }'
}

# PROG train ARGS --stream-data with a buffer of 100 rows on FILE: deterministic, another order
# than in memory ($T/mem.model), and the last epoch's KEY within 5% of the in-memory run's ($T/mem.log).
small_buffer_as_good() {
    local prog=$1 key=$2 file=$3
    shift 3
    "$prog" train "$@" --stream-data --shuffle-buffer 100 --log "$T/a.log" "$file" -o "$T/a.model"
    "$prog" train "$@" --stream-data --shuffle-buffer 100 "$file" -o "$T/b.model"
    cmp "$T/a.model" "$T/b.model"
    run -1 cmp -s "$T/mem.model" "$T/a.model"
    run "$PY" -c 'import json, sys; a, b = (json.loads(open(f).read().splitlines()[-1])[sys.argv[1]] for f in sys.argv[2:]); print(a, b); sys.exit(abs(a - b) > 0.05 * abs(a))' "$key" "$T/mem.log" "$T/a.log"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
}

# PROG train's --stream-data usage errors on FILE: stdin, --shuffle-buffer alone, a buffer of 0 rows.
stream_usage_errors() {
    local prog=$1 file=$2
    run --separate-stderr "$prog" train --stream-data -o "$T/m.out" < "$file"
    assert_fails_with 2 'stream-data.*FILE'
    run --separate-stderr "$prog" train --shuffle-buffer 10 "$file" -o "$T/m.out"
    assert_fails_with 2 'shuffle-buffer.*--stream-data'
    run --separate-stderr "$prog" train --stream-data --shuffle-buffer 0 "$file" -o "$T/m.out"
    assert_fails_with 2 'shuffle-buffer'
    [ ! -e "$T/m.out" ]
}

VAE_ARGS=(--hidden 32 --latent 4 --epochs 2 --batch 64 --seed 5 --threads 1 -q)

@test "--stream-data with a buffer that holds every row: the in-memory model, byte for byte" {
    ssl-vae train "${VAE_ARGS[@]}" "$D/tr.ssl" -o "$T/mem.vae"
    ssl-vae train "${VAE_ARGS[@]}" --stream-data --shuffle-buffer 1797 "$D/tr.ssl" -o "$T/str.vae"
    cmp "$T/mem.vae" "$T/str.vae"
}

@test "--stream-data with a small buffer: deterministic, a different order, a model as good" {
    ssl-vae train "${VAE_ARGS[@]}" --log "$T/mem.log" "$D/tr.ssl" -o "$T/mem.model"
    small_buffer_as_good ssl-vae elbo "$D/tr.ssl" "${VAE_ARGS[@]}"
}

@test "--stream-data needs a file; --shuffle-buffer goes with it" {
    stream_usage_errors ssl-vae "$D/tr.ssl"
}

@test "--stream-data names the row of a non-finite x found in its first pass" {
    "$PY" - "$D/tr.ssl" "$T/bad.ssl" <<'EOF2'
import sys, msgpack, msgpack_numpy
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False, object_hook=msgpack_numpy.decode))
for m in msgs[1:]:
    if "tensors" in m:
        m["tensors"]["x"] = m["tensors"]["x"].copy(); m["tensors"]["x"][-1, 3] = float("nan")
        break
open(sys.argv[2], "wb").write(b"".join(msgpack.packb(m, default=msgpack_numpy.encode) for m in msgs))
EOF2
    rows=$("$PY" -c 'import sys, msgpack; u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False); next(u); print(next(u)["rows"])' "$T/bad.ssl")
    run --separate-stderr ssl-vae train --stream-data --shuffle-buffer 100 "$T/bad.ssl" -o "$T/m.vae"
    assert_fails_with 1 "bad.ssl: row $rows: x has a non-finite value"
    [ ! -e "$T/m.vae" ]
}

M2_ARGS=(--model m2 --hidden 32 --latent 4 --epochs 3 --batch 32 --seed 5 --threads 1 -q)

@test "M2 --stream-data: labelled rows held, unlabelled streamed; a buffer that holds them: the in-memory model" {
    ssl-prep mask --labels-per-class 10 --seed 0 "$D/tr.ssl" > "$T/l10.ssl"   # 100 labelled, 1697 unlabelled
    ssl-vae train "${M2_ARGS[@]}" --log "$T/mem.log" "$T/l10.ssl" -o "$T/mem.model"
    ssl-vae train "${M2_ARGS[@]}" --stream-data --shuffle-buffer 1697 "$T/l10.ssl" -o "$T/str.vae"
    cmp "$T/mem.model" "$T/str.vae"
    small_buffer_as_good ssl-vae loss "$T/l10.ssl" "${M2_ARGS[@]}"   # a local shuffle of the unlabelled rows
}

@test "M2 --stream-data: no --resume yet; a bad label named by its row in the file" {
    run --separate-stderr ssl-vae train --model m2 --stream-data --resume "$D/l30.ssl" -o "$T/m.vae"
    assert_fails_with 2 'resume.*stream-data'
    "$PY" - "$D/l30.ssl" "$T/bad.ssl" <<'EOF2'
import sys, msgpack, msgpack_numpy
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False, object_hook=msgpack_numpy.decode))
for m in msgs[1:]:
    if "tensors" in m:
        m["tensors"]["y"] = m["tensors"]["y"].copy(); m["tensors"]["y"][6] = -3
        break
open(sys.argv[2], "wb").write(b"".join(msgpack.packb(m, default=msgpack_numpy.encode) for m in msgs))
EOF2
    run --separate-stderr ssl-vae train --model m2 --stream-data --shuffle-buffer 100 "$T/bad.ssl" -o "$T/m.vae"
    assert_fails_with 1 'bad.ssl: row 7: label -3 is negative'
    [ ! -e "$T/m.vae" ]
}

# ssl-gan: small networks (the defaults are 1000-500-250-250-250 and 500-500); 35 steps an epoch.
GAN_ARGS=(--d-hidden 64,32 --g-hidden 32 --noise-dim 16 --epochs 2 --batch 50 --seed 3 --threads 1 -q)

# FILE rewritten into OUT as messages of 500 rows, with y[ROW] of the second message set to Y (or
# x[ROW, 3] to NaN when Y is nan); prints that row's number in the file.
spoil_second_message() {
    "$PY" - "$@" <<'EOF2'
import sys, msgpack, msgpack_numpy, numpy as np
src, out, row, y = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
msgs = list(msgpack.Unpacker(open(src, "rb"), raw=False, object_hook=msgpack_numpy.decode))
data = [m["tensors"] for m in msgs[1:] if "tensors" in m]
t = {k: np.concatenate([d[k] for d in data]) for k in data[0]}
n = len(t["y"])
if y == "nan":
    t["x"][500 + row, 3] = np.nan
else:
    t["y"][500 + row] = int(y)
parts = [msgs[0]] + [{"rows": min(500, n - i), "tensors": {k: v[i:i + 500] for k, v in t.items()}} for i in range(0, n, 500)]
parts.append({"end": True, "rows": n})
open(out, "wb").write(b"".join(msgpack.packb(m, default=msgpack_numpy.encode) for m in parts))
print(500 + row + 1)
EOF2
}

@test "ssl-gan --stream-data: a buffer that holds every row gives the in-memory model byte for byte; a small one as good" {
    ssl-gan train "${GAN_ARGS[@]}" --log "$T/mem.log" "$D/l30.ssl" -o "$T/mem.model"
    ssl-gan train "${GAN_ARGS[@]}" --stream-data --shuffle-buffer 1797 "$D/l30.ssl" -o "$T/str.gan"
    cmp "$T/mem.model" "$T/str.gan"
    # shifted labelled rows, a conditional G with mode seeking, a weight average: the same
    local more=(--shift 1 --conditional --mode-seeking 0.3 --ema 0.99)
    ssl-gan train "${GAN_ARGS[@]}" "${more[@]}" "$D/l30.ssl" -o "$T/mem2.gan"
    ssl-gan train "${GAN_ARGS[@]}" "${more[@]}" --stream-data --shuffle-buffer 1797 "$D/l30.ssl" -o "$T/str2.gan"
    cmp "$T/mem2.gan" "$T/str2.gan"
    run -1 cmp -s "$T/mem.model" "$T/mem2.gan"
    small_buffer_as_good ssl-gan d_loss "$D/l30.ssl" "${GAN_ARGS[@]}"   # a local shuffle of the rows
    # the model's info counts every row of the file, and the labelled ones
    run "$PY" -c 'import sys, msgpack; i = msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False, strict_map_key=False)["info"]; print(i["rows"], i["labelled_rows"])' "$T/a.model"
    [ "$output" = "1797 300" ]
}

@test "ssl-gan --stream-data: usage, bad rows named by their row in the file" {
    stream_usage_errors ssl-gan "$D/l30.ssl"
    row=$(spoil_second_message "$D/l30.ssl" "$T/bad.ssl" 6 -3)
    run --separate-stderr ssl-gan train "${GAN_ARGS[@]}" --stream-data --shuffle-buffer 100 "$T/bad.ssl" -o "$T/m.gan"
    assert_fails_with 1 "bad.ssl: row $row: label -3 is negative"
    row=$(spoil_second_message "$D/l30.ssl" "$T/bad.ssl" 9 nan)
    run --separate-stderr ssl-gan train "${GAN_ARGS[@]}" --stream-data --shuffle-buffer 100 "$T/bad.ssl" -o "$T/m.gan"
    assert_fails_with 1 "bad.ssl: row $row: x\[3\] is not a finite number"
    [ ! -e "$T/m.gan" ]
}

# ssl-fit: dropout and weight decay draw from the same generator as the shuffle; 6 epochs, so that the
# order carried from epoch to epoch (ssl-fit shuffles the last epoch's order) is exercised.
FIT_ARGS=(--hidden 32 --epochs 6 --dropout 0.3 --weight-decay 0.01 --batch 50 --seed 4 --threads 1 -q)

@test "ssl-fit --stream-data, a buffer that holds the labelled rows: the in-memory model, byte for byte" {
    ssl-fit train "${FIT_ARGS[@]}" "$D/l30.ssl" -o "$T/mem.mlp"
    ssl-fit train "${FIT_ARGS[@]}" --stream-data --shuffle-buffer 300 "$D/l30.ssl" -o "$T/str.mlp"
    cmp "$T/mem.mlp" "$T/str.mlp"
    # one row short of the labelled rows: streamed (a different order), deterministic
    ssl-fit train "${FIT_ARGS[@]}" --stream-data --shuffle-buffer 299 "$D/l30.ssl" -o "$T/a.mlp"
    ssl-fit train "${FIT_ARGS[@]}" --stream-data --shuffle-buffer 299 "$D/l30.ssl" -o "$T/b.mlp"
    cmp "$T/a.mlp" "$T/b.mlp"
    run -1 cmp -s "$T/mem.mlp" "$T/a.mlp"
    # trained on the labelled rows only, as in memory
    run "$PY" -c 'import sys, msgpack; print(msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False, strict_map_key=False)["info"]["training"]["rows"])' "$T/a.mlp"
    [ "$output" = 300 ]
}

@test "ssl-fit --stream-data: usage, and a bad row named by its row in the file" {
    stream_usage_errors ssl-fit "$D/l30.ssl"
    "$PY" - "$D/l30.ssl" "$T/bad.ssl" <<'EOF2'
import sys, msgpack, msgpack_numpy
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False, object_hook=msgpack_numpy.decode))
for m in msgs[1:]:
    if "tensors" in m:
        m["tensors"]["y"] = m["tensors"]["y"].copy(); m["tensors"]["y"][4] = 12
        break
open(sys.argv[2], "wb").write(b"".join(msgpack.packb(m, default=msgpack_numpy.encode) for m in msgs))
EOF2
    run --separate-stderr ssl-fit train --stream-data --shuffle-buffer 100 "$T/bad.ssl" -o "$T/m.mlp"
    assert_fails_with 1 'bad.ssl: row 5: label 12, but the model has 10 classes'
    [ ! -e "$T/m.mlp" ]
}

# MPI: skipped unless OpenMPI's mpirun and the MPI build are there (`make test` builds it when mpicc
# is on PATH: MPI_BUILD is build-mpi, or build-mpi-san under SANITIZE=1). As root (CI) mpirun needs
# --allow-run-as-root; in a container without ptrace rights the shared-memory transport's
# single-copy mode fails, so it is off. OpenMPI leaks by design at exit: under ASan the leak check
# is off in these tests (the other tests check our code's leaks; memory errors are still caught).
mpi_or_skip() {
    command -v mpirun > /dev/null || skip "mpirun not installed (apt-get install openmpi-bin libopenmpi-dev)"
    MBIN="$ROOT/${MPI_BUILD:-build-mpi}/bin"
    [ -x "$MBIN/ssl-vae" ] || skip "no MPI build (make MPI=1)"
    export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
    MPIRUN=(mpirun --oversubscribe --allow-run-as-root --bind-to none --mca btl_vader_single_copy_mechanism none
            -x OPENBLAS_NUM_THREADS=1 -x ASAN_OPTIONS -np 2)
    MVAE="$MBIN/ssl-vae"
}

# Tolerance 1e-5 on parameters of |w| <= 0.5: float32 sums in another order (each rank sums its
# share, then the partial gradients are added) differ by ulps per step; measured after 2 epochs x
# 29 Adam steps: 4e-7 (P = 2), 6e-8 (P = 2 streamed). Ranks using the wrong slice of the global
# batch's noise differ by 1.4e-2. (A gradient normalised by the local instead of the global batch
# would hardly show: Adam is invariant to a constant gradient scale; the epoch ELBO checks the sums.)
@test "mpirun -np 2: the single-process model, up to float summation order (1e-5)" {
    mpi_or_skip
    "$MVAE" train "${VAE_ARGS[@]}" "$D/tr.ssl" -o "$T/p1.vae"
    if [ -x "$BUILD_DIR/bin/ssl-vae" ]; then   # the MPI build at P = 1 is the plain build
        "$BUILD_DIR/bin/ssl-vae" train "${VAE_ARGS[@]}" "$D/tr.ssl" -o "$T/plain.vae"
        cmp "$T/p1.vae" "$T/plain.vae"
        rm "$T/plain.vae"
    fi
    "${MPIRUN[@]}" "$MVAE" train "${VAE_ARGS[@]}" --log "$T/p2.log" "$D/tr.ssl" -o "$T/p2.vae"
    params_close "$T/p1.vae" "$T/p2.vae"
    # the epoch's ELBO sums every rank's rows: the single-process numbers (printed to 6 digits)
    "$MVAE" train "${VAE_ARGS[@]}" --log "$T/p1.log" "$D/tr.ssl" -o "$T/p1.vae"
    run "$PY" -c 'import json, sys; a, b = ([json.loads(l)["elbo"] for l in open(f)] for f in sys.argv[1:]); print(a, b); sys.exit(len(a) != 2 or any(abs(x - y) > 1e-5 * abs(x) for x, y in zip(a, b)))' "$T/p1.log" "$T/p2.log"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    rm "$T/p1.log"
    [ "$(wc -l < "$T/p2.log")" -eq 2 ]            # rank 0 alone writes the log
    [ "$(ls "$T" | sort | tr '\n' ' ')" = "p1.vae p2.log p2.vae " ]   # and the model, no stray files
}

@test "mpirun -np 2 --stream-data: each rank streams its shards, the single-process model (1e-5)" {
    mpi_or_skip
    "$MVAE" train "${VAE_ARGS[@]}" --stream-data --shuffle-buffer 100 "$D/tr.ssl" -o "$T/p1.vae"
    "${MPIRUN[@]}" "$MVAE" train "${VAE_ARGS[@]}" --stream-data --shuffle-buffer 100 "$D/tr.ssl" -o "$T/p2.vae"
    params_close "$T/p1.vae" "$T/p2.vae"
}

@test "mpirun -np 2 ssl-fit train (dropout, weight decay): the single-process model (1e-5)" {
    mpi_or_skip
    [ -x "$MBIN/ssl-fit" ] || skip "no MPI build of ssl-fit"
    "$MBIN/ssl-fit" train "${FIT_ARGS[@]}" "$D/l30.ssl" -o "$T/p1.mlp"
    "${MPIRUN[@]}" "$MBIN/ssl-fit" train "${FIT_ARGS[@]}" "$D/l30.ssl" -o "$T/p2.mlp"
    params_close "$T/p1.mlp" "$T/p2.mlp"
}

@test "mpirun -np 2 ssl-fit train --stream-data: the single-process streamed model (1e-5)" {
    mpi_or_skip
    [ -x "$MBIN/ssl-fit" ] || skip "no MPI build of ssl-fit"
    "$MBIN/ssl-fit" train "${FIT_ARGS[@]}" --stream-data --shuffle-buffer 64 "$D/l30.ssl" -o "$T/p1.mlp"
    "${MPIRUN[@]}" "$MBIN/ssl-fit" train "${FIT_ARGS[@]}" --stream-data --shuffle-buffer 64 "$D/l30.ssl" -o "$T/p2.mlp"
    params_close "$T/p1.mlp" "$T/p2.mlp"
}

# M2: each step's labelled draws, unlabelled rows and noise are drawn for the whole step on every
# rank and sliced; the step loss's means are over the global step. Measured after 3 epochs: 6.0e-7,
# 9.2e-7 streamed (buffer 100). (2 epochs: slicing the noise wrongly
# gives 3.1e-2, a local labelled normaliser 5.8e-2.)
@test "mpirun -np 2 ssl-vae train --model m2: the single-process model (1e-5), the same epoch metrics" {
    mpi_or_skip
    ssl-prep mask --labels-per-class 10 --seed 0 "$D/tr.ssl" > "$T/l10.ssl"
    "$MVAE" train "${M2_ARGS[@]}" --log "$T/p1.log" "$T/l10.ssl" -o "$T/p1.vae"
    if [ -x "$BUILD_DIR/bin/ssl-vae" ]; then   # the MPI build at P = 1 is the plain build
        "$BUILD_DIR/bin/ssl-vae" train "${M2_ARGS[@]}" "$T/l10.ssl" -o "$T/plain.vae"
        cmp "$T/p1.vae" "$T/plain.vae"
    fi
    "${MPIRUN[@]}" "$MVAE" train "${M2_ARGS[@]}" --log "$T/p2.log" "$T/l10.ssl" -o "$T/p2.vae"
    params_close "$T/p1.vae" "$T/p2.vae"
    # the epoch's sums cover every rank's rows: the one-process numbers
    run "$PY" -c '
import json, sys
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:])
print(a, b)
keys = ["loss", "unl_elbo", "lab_elbo", "xent", "accuracy"]
sys.exit(len(a) != 3 or len(b) != 3 or any(abs(x[k] - y[k]) > 1e-5 * max(1, abs(x[k])) for x, y in zip(a, b) for k in keys))' "$T/p1.log" "$T/p2.log"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
}

# ADGM, SDGM: a's noise sliced as z's, the binarised rows drawn for the whole step on every rank.
@test "mpirun -np 2 ssl-vae train --model adgm, sdgm --binarise: the single-process models (1e-5)" {
    mpi_or_skip
    ssl-prep mask --labels-per-class 10 --seed 0 "$D/tr.ssl" > "$T/l10.ssl"
    for k in adgm sdgm; do
        "$MVAE" train "${M2_ARGS[@]}" --model $k --aux 3 --binarise "$T/l10.ssl" -o "$T/$k.p1"
        "${MPIRUN[@]}" "$MVAE" train "${M2_ARGS[@]}" --model $k --aux 3 --binarise "$T/l10.ssl" -o "$T/$k.p2"
        params_close "$T/$k.p1" "$T/$k.p2"
    done
}

@test "mpirun -np 2 ssl-vae train --model m2 --stream-data: the single-process streamed model (1e-5)" {
    mpi_or_skip
    ssl-prep mask --labels-per-class 10 --seed 0 "$D/tr.ssl" > "$T/l10.ssl"
    "$MVAE" train "${M2_ARGS[@]}" --stream-data --shuffle-buffer 100 "$T/l10.ssl" -o "$T/p1.vae"
    "${MPIRUN[@]}" "$MVAE" train "${M2_ARGS[@]}" --stream-data --shuffle-buffer 100 "$T/l10.ssl" -o "$T/p2.vae"
    params_close "$T/p1.vae" "$T/p2.vae"
}

# ssl-gan: G generates the whole batch on every rank (its batch norm sees it all), D takes each
# rank's share of the three parts with its slice of the whole batch's noise, the feature sums of
# G's step are all-reduced before its backward. GAN training amplifies rounding: over 2 epochs of 35
# steps (batch 50), one process at 1 and at 2 BLAS threads ends 2.6e-2 apart on seed 5, and P = 2
# from P = 1 up to 2.5e-2 (seed 4; 2e-6 on most seeds). So these runs are short, 2 epochs of 8
# steps (batch 200): seeds 0-9 measured 1.3e-6 to 1.3e-5 (weights up to 1.8), hence a tolerance of
# 1e-4; slicing D's noise wrongly gives 4.8e-2 and 6.3e-2 (seeds 4, 5), feature matching on each
# rank's share alone 2.1e-2 and 2.0e-2.
GAN_MPI_ARGS=(--d-hidden 64,32 --g-hidden 32 --noise-dim 16 --epochs 2 --batch 200 --seed 5 --threads 1 -q)

@test "mpirun -np 2 ssl-gan train: the single-process model (1e-4), the same epoch metrics" {
    mpi_or_skip
    [ -x "$MBIN/ssl-gan" ] || skip "no MPI build of ssl-gan"
    "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" --log "$T/p1.log" "$D/l30.ssl" -o "$T/p1.gan"
    if [ -x "$BUILD_DIR/bin/ssl-gan" ]; then   # the MPI build at P = 1 is the plain build
        "$BUILD_DIR/bin/ssl-gan" train "${GAN_MPI_ARGS[@]}" "$D/l30.ssl" -o "$T/plain.gan"
        cmp "$T/p1.gan" "$T/plain.gan"
        rm "$T/plain.gan"
    fi
    "${MPIRUN[@]}" "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" --log "$T/p2.log" "$D/l30.ssl" -o "$T/p2.gan"
    params_close "$T/p1.gan" "$T/p2.gan" 1e-4
    # the epoch's sums cover every rank's rows: the one-process numbers
    run "$PY" -c '
import json, sys
a, b = ([json.loads(l) for l in open(f)] for f in sys.argv[1:])
print(a, b)
keys = ["d_loss", "lab_loss", "unl_loss", "g_loss", "train_accuracy", "d_real_acc", "d_fake_acc", "sample_spread"]
sys.exit(len(a) != 2 or len(b) != 2 or any(abs(x[k] - y[k]) > 1e-5 * max(1, abs(x[k])) for x, y in zip(a, b) for k in keys))' "$T/p1.log" "$T/p2.log"
    [ "$status" -eq 0 ] || { echo "$output"; false; }
    [ "$(ls "$T" | sort | tr '\n' ' ')" = "p1.gan p1.log p2.gan p2.log " ]   # rank 0 alone writes
}

# measured (seed 5): 1.2e-7 shifted, conditional, mode seeking; 2.7e-6 streamed through 100 rows
@test "mpirun -np 2 ssl-gan train: shifts, conditional G with mode seeking, --stream-data: the single-process models (1e-4)" {
    mpi_or_skip
    [ -x "$MBIN/ssl-gan" ] || skip "no MPI build of ssl-gan"
    local more=(--shift 1 --conditional --mode-seeking 0.3)
    "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" "${more[@]}" "$D/l30.ssl" -o "$T/p1.gan"
    "${MPIRUN[@]}" "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" "${more[@]}" "$D/l30.ssl" -o "$T/p2.gan"
    params_close "$T/p1.gan" "$T/p2.gan" 1e-4
    "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" --stream-data --shuffle-buffer 100 "$D/l30.ssl" -o "$T/s1.gan"
    "${MPIRUN[@]}" "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" --stream-data --shuffle-buffer 100 "$D/l30.ssl" -o "$T/s2.gan"
    params_close "$T/s1.gan" "$T/s2.gan" 1e-4
}

@test "mpirun -np 2 ssl-gan train --d-conv: the conv layers' noise shared like the dense layers' (1e-4)" {
    mpi_or_skip
    [ -x "$MBIN/ssl-gan" ] || skip "no MPI build of ssl-gan"
    # digits rows are 8x8 images; a rank drawing its own conv noise instead of its share ends ~1e-1 off
    local conv=(--d-conv 4:3:2 --hidden-noise 0.5)
    "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" "${conv[@]}" "$D/l30.ssl" -o "$T/c1.gan"
    "${MPIRUN[@]}" "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" "${conv[@]}" "$D/l30.ssl" -o "$T/c2.gan"
    params_close "$T/c1.gan" "$T/c2.gan" 1e-4
}

# A convolutional G (--g-deconv, no --g-hidden) runs whole on every rank like the dense G: its
# batch norm over channels sees the whole batch.
@test "mpirun -np 2 ssl-gan train --g-deconv: every rank generates the whole batch (1e-4)" {
    mpi_or_skip
    [ -x "$MBIN/ssl-gan" ] || skip "no MPI build of ssl-gan"
    local args=(--d-hidden 64,32 --g-deconv 8x2x2,4:3:2,1:3:2 --noise-dim 16 --epochs 2 --batch 200 --seed 5 --threads 1 -q)
    "$MBIN/ssl-gan" train "${args[@]}" "$D/l30.ssl" -o "$T/g1.gan"
    "${MPIRUN[@]}" "$MBIN/ssl-gan" train "${args[@]}" "$D/l30.ssl" -o "$T/g2.gan"
    params_close "$T/g1.gan" "$T/g2.gan" 1e-4
}

@test "mpirun -np 2 ssl-gan train: a batch that does not divide among the processes" {
    mpi_or_skip
    [ -x "$MBIN/ssl-gan" ] || skip "no MPI build of ssl-gan"
    run --separate-stderr "${MPIRUN[@]}" "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" --batch 51 "$D/l30.ssl" -o "$T/m.gan"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"ssl-gan: --batch 51 does not divide among 2 processes"* ]]
    # a batch larger than the data is all of its 1797 rows: odd
    run --separate-stderr "${MPIRUN[@]}" "$MBIN/ssl-gan" train "${GAN_MPI_ARGS[@]}" --batch 2000 "$D/l30.ssl" -o "$T/m.gan"
    [ "$status" -eq 1 ]
    [[ "$stderr" == *"batch of 1797 rows (--batch, or every row when fewer) does not divide among 2 processes"* ]]
    [ ! -e "$T/m.gan" ]
}

@test "the MPI build without mpirun: ssl-augment's rounds train as one process, the plain build's bytes" {
    mpi_or_skip
    [ -x "$MBIN/ssl-augment" ] || skip "no MPI build of ssl-augment"
    ssl-fit train -q --hidden 16 --epochs 5 "$D/tr.ssl" -o "$T/base.mlp"
    ssl-augment -q --pseudo "$T/base.mlp" --rounds 2 "$D/tr.ssl" -o "$T/plain.ssl"
    run --separate-stderr "$MBIN/ssl-augment" -q --pseudo "$T/base.mlp" --rounds 2 "$D/tr.ssl" -o "$T/mpi.ssl"
    [ "$status" -eq 0 ] || { echo "$stderr"; return 1; }
    "$PY" - "$T/plain.ssl" "$T/mpi.ssl" <<'PY'
import sys, msgpack
a, b = ([m for m in msgpack.Unpacker(open(f, "rb"), raw=False)] for f in sys.argv[1:])
for m in (a[0], b[0]):
    m["meta"].pop("history")   # names the program's path
assert a == b, "the MPI build's rows differ"
PY
}

# mpirun_resume PROGRAM MODEL ARGS...: a stop at step 25 on rank 1 alone (the test hook in its
# environment) stops both ranks at the same step (status 130), rank 0 writes one checkpoint and one
# message; --resume under mpirun then ends with the uninterrupted run's bytes.
mpirun_resume() {
    local prog=$1 m=$2
    shift 2
    "${MPIRUN[@]}" "$prog" "$@" -o "$m.full"
    local one=("${MPIRUN[@]}")
    one[-1]=1   # -np 1 for each of the two app contexts
    run --separate-stderr "${one[@]}" "$prog" "$@" -o "$m" : -np 1 env SSL_STOP_AFTER_STEPS=25 "$prog" "$@" -o "$m"
    [ "$status" -ne 0 ] || { echo "status 0: $stderr"; return 1; }
    [ "$(grep -cE "interrupted \(SIGINT\); $m.ckpt holds the state after epoch [0-9]+:" <<< "$stderr")" -eq 1 ] || { echo "$stderr"; return 1; }
    [ -s "$m.ckpt" ] && [ ! -e "$m" ]
    "${MPIRUN[@]}" "$prog" "$@" --resume -o "$m"
    cmp "$m" "$m.full"
    [ ! -e "$m.ckpt" ]
}

@test "mpirun -np 2: a stop on one rank stops both at one step; --resume gives the uninterrupted bytes" {
    mpi_or_skip
    [ -x "$MBIN/ssl-fit" ] || skip "no MPI build of ssl-fit"
    mpirun_resume "$MBIN/ssl-fit" "$T/f" train --hidden 16 --epochs 5 --batch 50 --patience 100 --seed 3 --threads 1 -q "$D/tr.ssl"
    mpirun_resume "$MVAE" "$T/v" train --hidden 16 --latent 4 --epochs 4 --batch 50 --seed 3 --threads 1 -q "$D/tr.ssl"
}
