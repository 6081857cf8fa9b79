#!/usr/bin/env bats
# The make pipelines: the digits comparison runs end to end, and editing one stage's parameter reruns
# that stage and what follows it, nothing upstream.
load helpers

# Runs the digits pipeline on one seed into the test's scratch folder, with the generative models made
# tiny (every method's plumbing runs; their accuracy is the pipelines' business, not the tests').
digits() {
    make --no-print-directory -f "$ROOT/pipelines/digits.mk" BIN="$BUILD_DIR/bin" WORK="$T/work" \
        RESULTS="$T/results" SEEDS=0 THREADS=1 \
        GAN_ARGS="--epochs 2 --d-hidden 16 --g-hidden 16" AUG_CGAN_ARGS="--conditional --epochs 2 --d-hidden 16 --g-hidden 16" \
        M1_ARGS="--hidden 16 --latent 2 --epochs 2" M2_ARGS="--model m2 --hidden 16 --latent 2 --epochs 2" \
        AUG_M2_ARGS="--model m2 --hidden 16 --latent 2 --epochs 2" VAT_ARGS="--hidden 16 --epochs 5" \
        CONV_ARGS="--conv 4:3:2 --hidden 16 --epochs 5" CONV_VAT_ARGS="--conv 4:3:2 --hidden 16 --epochs 5 --unlabelled-batch 20" \
        CONV_FM_ARGS="--conv 4:3:2 --hidden 16 --epochs 5 --unlabelled-batch 20 --fixmatch 1 --shift 1" \
        GRAPH_CONV_ARGS="--conv 4:3:2 --hidden 16 --epochs 2" "$@"
}

@test "the digits pipeline writes one JSON per run and a table with every method" {
    run digits
    [ "$status" -eq 0 ]
    for m in mlp logreg selftrain selftrain-sweep vat-sweep vat-entmin-sweep conv-sweep conv-vat-sweep conv-fixmatch graph graph-spread \
        graph-sweep m1-graph m1-graph-spread m1-graph-conv ssl-gan ssl-gan-vat m1-mlp m2 m2-vat m1-m2 mlp-vae-aug mlp-gan-aug; do
        [ -s "$T/results/$m-L5-s0.json" ]
    done
    [ -s "$T/results/mlp-all-labels-Lall-s0.json" ]
    grep -q '"method": *"mlp"' "$T/results/mlp-L5-s0.json"
    grep -q '"labels": *50' "$T/results/mlp-L5-s0.json"
    grep -q '"accuracy"' "$T/results/mlp-L5-s0.json"
    grep -qE '^\| mlp \| 5 \| 1 \| [0-9]' "$T/results/table.md"
    grep -qE '^\| logreg \| 5 \| 1 \|' "$T/results/table.md"
    [[ "$output" == *"| mlp | 5 |"* ]]     # the table is printed
    # the figures (pipelines/figures.mk), from the trainers' logs kept beside their models
    [ -s "$T/work/L5/s0/mlp.log" ] && [ -s "$T/work/L5/s0/ssl-gan.log" ] && [ -s "$T/work/m1/s0.log" ]
    for f in curves confusion samples samples-m1 samples-m2 samples-ssl-gan samples-aug-m2 samples-aug-cgan; do
        [ "$(head -c 4 "$T/results/figures/$f.png" | tail -c 3)" = PNG ]
    done
    # the confusion matrix is the best method's: the highest accuracy at 5 labels per class in the table
    best=$(awk -F'|' '$3 == " 5 " { print $5 + 0, $2 }' "$T/results/table.md" | sort -k1,1nr -s | head -1 | awk '{ print $2 }')
    [[ "$output" == *"confusion.png: $best, the best method at 5 labels per class"* ]]
    # ensemble.py reads the runs' predictions: a method alone scores what ssl-eval wrote for it
    run "$PY" "$ROOT/pipelines/ensemble.py" "$T/work" 5 2
    [ "$status" -eq 0 ]
    acc=$("$PY" -c "import json,sys; print('%.2f' % (100 * json.load(open(sys.argv[1]))['accuracy']))" "$T/results/mlp-L5-s0.json")
    [[ "$output" == *"($acc)  mlp"* ]]
    [[ "$output" == *"best averages of 2..2 methods"* ]]
    [ "$(grep -c '^ *[0-9.]*  (.*)  [a-z0-9-]* + [a-z0-9-]*$' <<< "$output")" -eq 10 ]   # the best 10 pairs
}

@test "the plot scripts name what is wrong: a missing log, a field the log lacks, a file without a confusion matrix" {
    cd "$T"
    printf '{"epoch": 1, "loss": 2.5}\n{"epoch": 2, "loss": 1.5}\n' > a.log
    run sh "$ROOT/pipelines/plot-curves.sh" c.png t -p p -s missing.log loss m
    [ "$status" -eq 1 ] && [[ "$output" == *"missing.log: no such log"* ]]
    run sh "$ROOT/pipelines/plot-curves.sh" c.png t -p p -s a.log elbo m
    [ "$status" -eq 1 ] && [[ "$output" == *'a.log: no "elbo" per epoch'* ]]
    echo '{"accuracy": 0.5}' > r.json
    run sh "$ROOT/pipelines/plot-confusion.sh" c.png t r.json
    [ "$status" -eq 1 ] && [[ "$output" == *"r.json: no confusion matrix"* ]]
    [ ! -e c.png ]
    run sh "$ROOT/pipelines/plot-curves.sh" c.png t -p p -s a.log -loss m
    [ "$status" -eq 0 ] && [ "$(head -c 4 c.png | tail -c 3)" = PNG ]
}

# (Real runs, not make -n: GNU make 4.3's dry run does not follow grouped targets' dependents.)
@test "a second make runs nothing" {
    digits >/dev/null
    run digits
    [ "$status" -eq 0 ]
    [[ "$output" != *"ssl-prep"* && "$output" != *"ssl-fit"* && "$output" != *"ssl-eval --json"* ]]
    [[ "$output" != *"plot-"* && "$output" != *" sample -m"* ]]
}

@test "with the repository's own programs, a pipeline builds them before its first stage" {
    # BIN not given: the top Makefile's `all` comes first (a fresh clone needs no separate build), and
    # the default goal is still the comparison
    run make --no-print-directory -n -f "$ROOT/pipelines/digits.mk" WORK="$T/work" RESULTS="$T/results" SEEDS=0
    [ "$status" -eq 0 ]
    [[ "${lines[0]}" == *"-C $ROOT all"* ]]
    [[ "$output" == *"ssl-prep csv --no-header"* ]]
    [[ "$output" == *"table.md"* ]]
}

@test "changing the MLP's parameters reruns the MLP runs only" {
    digits >/dev/null
    run digits MLP_ARGS="--hidden 32"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ssl-fit train --hidden 32"* ]]
    [[ "$output" == *"--tag method=mlp "* ]]
    [[ "$output" != *"ssl-prep"* ]]
    [[ "$output" != *"--hidden 0"* ]]                  # logistic regression untouched
    [[ "$output" != *"--tag method=logreg"* ]]
    run digits MLP_ARGS="--hidden 32"
    [[ "$output" != *"ssl-fit"* ]]
}

@test "a parameter set in the make file after common.mk (M1_ARGS) reruns its stage when edited" {
    # M1_ARGS is assigned after the rules that use it were read: an edit must still rerun the M1 and
    # what uses its latents (the variable comes from the wrapper, not the command line, on purpose)
    printf 'include %s/pipelines/digits.mk\nM1_ARGS := $(EDITED_M1)\n' "$ROOT" > "$T/edit.mk"
    m1mlp() {
        make --no-print-directory -f "$T/edit.mk" BIN="$BUILD_DIR/bin" WORK="$T/work" RESULTS="$T/results" \
            SEEDS=0 THREADS=1 EDITED_M1="$1" "$T/results/m1-mlp-L5-s0.json"
    }
    m1mlp "--hidden 16 --latent 2 --epochs 2" >/dev/null
    [ "$(cat "$T/work/params/m1")" = "--hidden 16 --latent 2 --epochs 2" ]
    run m1mlp "--hidden 16 --latent 2 --epochs 3"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ssl-vae train --hidden 16 --latent 2 --epochs 3"* ]]
    [[ "$output" == *"--tag method=m1-mlp "* ]]
    [[ "$output" != *"ssl-prep"* ]]
    run m1mlp "--hidden 16 --latent 2 --epochs 3"
    [[ "$output" != *"ssl-vae train"* ]]
}

@test "changing the split reruns everything downstream of the split, but not the CSV import" {
    digits >/dev/null
    run digits SPLIT_ARGS="--test 0.25 --seed 42"
    [ "$status" -eq 0 ]
    [[ "$output" == *"ssl-prep split --test 0.25"* ]]
    [[ "$output" == *"ssl-prep scale --method minmax --fit-stats"* ]]
    [[ "$output" == *"ssl-prep mask"* ]]
    [[ "$output" == *"ssl-fit train --hidden 0"* ]]
    [[ "$output" != *"ssl-prep csv"* ]]
}

@test "the shell recipe runs the same chain" {
    [ -f "$ROOT/pipelines/digits.sh" ] || skip "pipelines/digits.sh not written yet"
    cd "$T"
    run sh "$ROOT/pipelines/digits.sh"
    [ "$status" -eq 0 ]
    [[ "$output" == *"accuracy"* ]]
}

@test "mirror.py mirrors each image left-right and keeps the other tensors; bad streams fail in one line" {
    "$BUILD_DIR/bin/ssl-prep" csv --no-header "$ROOT/data/digits.csv.gz" > "$T/d.ssl"
    run "$PY" "$ROOT/pipelines/mirror.py" "$T/d.ssl"
    [ "$status" -eq 0 ]
    "$PY" "$ROOT/pipelines/mirror.py" "$T/d.ssl" > "$T/m.ssl"
    "$PY" "$ROOT/pipelines/mirror.py" < "$T/m.ssl" > "$T/mm.ssl"
    # 8 x 8 images (a square: the CSV has no image_shape): column c of m is column 7 - c of d; twice is d
    "$PY" - "$ROOT/docs" "$T/d.ssl" "$T/m.ssl" "$T/mm.ssl" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import numpy as np
from read_stream import read_stream
d, m, mm = (read_stream(open(p, "rb"))[1] for p in sys.argv[2:])
x, xm = d["x"].reshape(-1, 8, 8), m["x"].reshape(-1, 8, 8)
assert not np.array_equal(x, xm)
assert np.array_equal(xm[:, :, 0], x[:, :, 7]) and np.array_equal(xm[:, 3, 2], x[:, 3, 5])
assert all(np.array_equal(d[k], mm[k]) for k in d) and np.array_equal(d["y"], m["y"])
PY
    # a width that is no image: one line, exit 1
    printf 'a,b,c,label\n1,2,3,0\n4,5,6,1\n' | "$BUILD_DIR/bin/ssl-prep" csv > "$T/s.ssl"
    run "$PY" "$ROOT/pipelines/mirror.py" "$T/s.ssl"
    [ "$status" -eq 1 ]
    [[ "$output" == *"not a square image"* ]]
    # a truncated stream: one line naming it, exit 1, nothing on stdout
    head -c 300 "$T/d.ssl" > "$T/cut.ssl"
    rc=0
    "$PY" "$ROOT/pipelines/mirror.py" "$T/cut.ssl" > "$T/cut-out.ssl" 2> "$T/err" || rc=$?
    [ "$rc" -eq 1 ]
    [ "$(wc -l < "$T/err")" -eq 1 ] && grep -q "cut.ssl: not a readable ssl-stream" "$T/err"
    [ ! -s "$T/cut-out.ssl" ]
    # ensemble.py on a work folder whose test split is cut short: the same
    mkdir -p "$T/ens/L5/s0" && cp "$T/cut.ssl" "$T/ens/test_s.ssl"
    run "$PY" "$ROOT/pipelines/ensemble.py" "$T/ens" 5
    [ "$status" -eq 1 ]
    [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"test_s.ssl: not a readable stream"* ]]
}

# Writes small IDX files (300 training, 100 test images of data/mnist10k) into folder $1.
small_mnist() {
    "$PY" - "$ROOT/data/mnist10k" "$1" <<'PY'
import gzip, sys
src, out = sys.argv[1], sys.argv[2]
for part, n in (("train", 300), ("t10k", 100)):
    img = gzip.open(f"{src}/{part}-images-idx3-ubyte.gz").read()
    lab = gzip.open(f"{src}/{part}-labels-idx1-ubyte.gz").read()
    gzip.open(f"{out}/{part}-images-idx3-ubyte.gz", "wb").write(img[:4] + n.to_bytes(4, "big") + img[8:16] + img[16:16 + 784 * n])
    gzip.open(f"{out}/{part}-labels-idx1-ubyte.gz", "wb").write(lab[:4] + n.to_bytes(4, "big") + lab[8:8 + n])
PY
}

mnist() {
    make --no-print-directory -f "$ROOT/pipelines/mnist.mk" BIN="$BUILD_DIR/bin" WORK="$T/work" RESULTS="$T/results" \
        MNIST="$T/idx" SEEDS=0 GAN_ARGS="--epochs 1 --d-hidden 16 --g-hidden 16 --shift 2 --val $T/work/test_s.ssl" \
        M1_ARGS="--hidden 16 --latent 4 --epochs 2" M2_ARGS="--model m2 --hidden 16 --latent 2 --epochs 1 --shift 2 --val $T/work/test_s.ssl" \
        M1M2_ARGS="--model m2 --hidden 16 --latent 2 --likelihood gaussian --labelled-batch 1 --batch 20 --weighting rows --epochs 1 --val \$\$(@D)/m1z_test.ssl" \
        VAT_ARGS="--hidden 16 --batch-norm --epochs 5 --unlabelled-batch 20" \
        CONV_ARGS="--conv 4:5:4 --hidden 16 --epochs 5" CONV_VAT_ARGS="--conv 4:5:4 --hidden 16 --epochs 5 --unlabelled-batch 20" \
        CONV_FM_ARGS="--conv 4:5:4 --hidden 16 --epochs 5 --unlabelled-batch 20 --fixmatch 1 --shift 1" \
        GRAPH_CONV_ARGS="--conv 4:5:4 --hidden 16 --epochs 2" "$@"
}

@test "the MNIST pipeline runs every method on the IDX files of MNIST=DIR; its reference target compares curves" {
    mkdir -p "$T/idx"
    small_mnist "$T/idx"
    run mnist
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
    for m in mlp mlp-shift logreg selftrain vat-sweep vat-entmin-sweep conv-sweep conv-vat-sweep conv-fixmatch graph graph-sweep \
        m1-graph m1-graph-conv ssl-gan m2 m2-vat m1-mlp m1-m2; do
        [ -s "$T/results/$m-L10-s0.json" ]
    done
    # M1+M2 runs on the informative latent units only, the same for the labelled rows and the test split
    w=$(ssl-show "$T/work/L10/s0/m1z.ssl" | awk '$1 == "x" { print $3 }')
    [ "$(ssl-show "$T/work/L10/s0/m1z_test.ssl" | awk '$1 == "x" { print $3 }')" = "$w" ]
    grep -q '"val_accuracy"' "$T/work/L10/s0/m1-m2.log"
    if have_py torch; then
        run mnist reference
        [ "$status" -eq 0 ] || { echo "$output"; return 1; }
        grep -qE '^\| m1-m2 \| 1 \|' "$T/results/reference.md"
        grep -qE '^\| ssl-gan \| 1 \|' "$T/results/reference.md"
    fi
}
