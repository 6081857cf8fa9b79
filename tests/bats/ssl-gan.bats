#!/usr/bin/env bats
# ssl-gan: a tiny SSL-GAN on a few hundred digits rows (seconds), predict, sample (plain and
# class-conditional, PNG), the error paths, determinism and divergence handling.
load helpers
load models
bats_require_minimum_version 1.5.0

ARCH="--d-hidden 64,32 --g-hidden 32 --noise-dim 16 --batch 50"

setup_file() {
    # about 540 rows for training, 1257 for testing; x scaled to [0, 1]; 5 labels per class
    prep_digits "$BATS_FILE_TMPDIR" 0.7
    D="$BATS_FILE_TMPDIR"
    ssl-gan train $ARCH --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$D/m.gan"
    ssl-gan train $ARCH --epochs 2 --seed 3 --conditional -q "$D/tr5.ssl" -o "$D/c.gan"
}

@test "--help shows usage and an example, --version" {
    assert_help_and_version ssl-gan sample
}

@test "usage errors exit 2" {
    run --separate-stderr ssl-gan
    [ "$status" -eq 2 ]
    run --separate-stderr ssl-gan frobnicate
    assert_fails_with 2 "unknown command 'frobnicate'"
    run --separate-stderr ssl-gan train --bogus "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 2 "unknown option '--bogus'"
    run --separate-stderr ssl-gan train "$D/tr5.ssl"
    assert_fails_with 2 "-o MODEL is required"
    run --separate-stderr ssl-gan train --lr abc "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 2 "--lr"
    run --separate-stderr ssl-gan sample -m "$D/m.gan"
    assert_fails_with 2 "-n N is required"
    run --separate-stderr ssl-gan predict "$D/te.ssl"
    assert_fails_with 2 "-m MODEL is required"
    [ ! -e "$T/m" ]
}

@test "train writes a gan model; the discriminator beats chance after 2 epochs" {
    run ssl-gan train $ARCH --epochs 2 --seed 3 --val "$D/te.ssl" --log "$T/log.json" "$D/tr5.ssl" -o "$T/m.gan"
    [ "$status" -eq 0 ]
    # one summary line per epoch on stderr (not a terminal) with the GAN diagnostics
    [[ "$output" == *"epoch 2/2"*"d_real_acc"*"d_fake_acc"*"sample_spread"*"val_accuracy"* ]]
    [ "$(wc -l < "$T/log.json")" -eq 2 ]
    "$PY" - "$T/log.json" <<'EOF2'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for k in ("d_loss", "lab_loss", "unl_loss", "g_loss", "train_accuracy", "d_real_acc", "d_fake_acc",
          "sample_spread", "val_accuracy"):
    assert k in rows[-1], k
assert rows[-1]["val_accuracy"] > 0.3, rows[-1]
EOF2
}

@test "predict adds p (K probabilities per row) and passes the other tensors through" {
    ssl-gan predict -m "$D/m.gan" "$D/te.ssl" > "$T/p.ssl"
    read -r rows w <<< "$(shape_of "$D/te.ssl" x)"
    [ "$(shape_of "$T/p.ssl" p)" = "$rows 10" ]
    [ "$(shape_of "$T/p.ssl" x)" = "$rows 64" ]
    [ "$(shape_of "$T/p.ssl" id)" = "$rows 1" ]
    "$PY" - "$T/p.ssl" <<'EOF2'
import sys, msgpack, msgpack_numpy, numpy as np
u = msgpack.Unpacker(open(sys.argv[1], "rb"), object_hook=msgpack_numpy.decode, raw=False)
next(u)
b = [m["tensors"] for m in u if "tensors" in m]
p = np.concatenate([t["p"] for t in b]); y = np.concatenate([t["y"] for t in b])
assert np.allclose(p.sum(1), 1, atol=1e-5) and (p >= 0).all()
assert (p.argmax(1) == y).mean() > 0.3
EOF2
    # stdin and -o, and ssl-eval reads it
    ssl-gan predict -m "$D/m.gan" -o "$T/p2.ssl" < "$D/te.ssl"
    cmp "$T/p.ssl" "$T/p2.ssl"
    ssl-eval "$T/p.ssl" > /dev/null
}

@test "sample: x rows from G within [0, 1]; conditional models add y" {
    ssl-gan sample -m "$D/m.gan" -n 7 > "$T/s.ssl"
    [ "$(shape_of "$T/s.ssl" x)" = "7 64" ]
    [ "$(shape_of "$T/s.ssl" y)" = "7 absent" ]
    for v in $(values_of "$T/s.ssl" x); do
        "$PY" -c "import sys; v = float(sys.argv[1]); sys.exit(0 if 0 <= v <= 1 else 1)" "$v" || { echo "x = $v"; return 1; }
    done
    ssl-gan sample -m "$D/c.gan" -n 12 --seed 4 > "$T/c.ssl"
    [ "$(values_of "$T/c.ssl" y)" = "0 1 2 3 4 5 6 7 8 9 0 1" ]
    ssl-gan sample -m "$D/c.gan" -n 5 --class 7 -o "$T/c7.ssl"
    [ "$(values_of "$T/c7.ssl" y)" = "7 7 7 7 7" ]
    # seeds: same seed same rows, another seed other rows
    ssl-gan sample -m "$D/c.gan" -n 12 --seed 4 | cmp - "$T/c.ssl"
    ssl-gan sample -m "$D/c.gan" -n 12 --seed 5 -o "$T/c5.ssl"
    refute cmp -s "$T/c5.ssl" "$T/c.ssl"
}

@test "sample --png draws a grid" {
    ssl-gan sample -m "$D/c.gan" -n 20 --png "$T/g.png"
    [ "$(head -c 8 "$T/g.png" | od -An -tx1 | tr -d ' ')" = "89504e470d0a1a0a" ]
    # with --png, the stream is written only when -o asks for it
    run ssl-gan sample -m "$D/c.gan" -n 20 --png "$T/g2.png"
    [ -z "$output" ]
    ssl-gan sample -m "$D/c.gan" -n 20 --png "$T/g3.png" -o "$T/g3.ssl"
    [ "$(shape_of "$T/g3.ssl" x)" = "20 64" ]
}

@test "same seed, same model bytes; another seed, other bytes" {
    ssl-gan train $ARCH --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/a.gan"
    cmp "$T/a.gan" "$D/m.gan"
    ssl-gan train $ARCH --epochs 2 --seed 3 -q < "$D/tr5.ssl" -o "$T/b.gan"
    cmp "$T/b.gan" "$D/m.gan"
    ssl-gan train $ARCH --epochs 2 --seed 4 -q "$D/tr5.ssl" -o "$T/c.gan"
    refute cmp -s "$T/c.gan" "$D/m.gan"
}

@test "errors: wrong model kind, width mismatch, --class checks (one line, exit 1)" {
    run --separate-stderr ssl-gan predict -m "$D/sc.model" "$D/te.ssl"
    assert_fails_with 1 "kind 'scaler', expected 'gan'"
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 5 > "$T/w3.ssl"
    run --separate-stderr ssl-gan predict -m "$D/m.gan" "$T/w3.ssl" -o "$T/out.ssl"
    assert_fails_with 1 "w3.ssl: x has 3 features, the model expects 64"
    [ ! -e "$T/out.ssl" ]
    run --separate-stderr ssl-gan sample -m "$D/m.gan" -n 3 --class 1
    assert_fails_with 1 "--class needs a conditional model"
    run --separate-stderr ssl-gan sample -m "$D/c.gan" -n 3 --class 10
    assert_fails_with 1 "--class 10 out of range: .* has 10 classes"
    run --separate-stderr ssl-gan train $ARCH --val "$T/w3.ssl" "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 1 "w3.ssl: 3 features, the training data has 64"
    [ ! -e "$T/m" ]
}

@test "errors: labels >= K, no labels, NaN features, truncated input" {
    "$PY" - "$T/bad.ssl" <<'EOF2'
import sys, msgpack, msgpack_numpy, numpy as np
x = np.random.RandomState(0).rand(20, 4).astype(np.float32)
y = (np.arange(20) % 3).astype(np.int32)
head = {"format": "ssl-stream", "version": [1, 0], "meta": {"class_names": ["a", "b"]},
        "tensors": [{"name": "x", "type": "<f4", "shape": [4]}, {"name": "y", "type": "<i4", "shape": []}]}
with open(sys.argv[1], "wb") as f:
    f.write(msgpack.packb(head))
    f.write(msgpack.packb({"rows": 20, "tensors": {"x": x, "y": y}}, default=msgpack_numpy.encode))
    f.write(msgpack.packb({"end": True, "rows": 20}))
x[3, 2] = np.nan
with open(sys.argv[1] + ".nan", "wb") as f:
    f.write(msgpack.packb(head))
    f.write(msgpack.packb({"rows": 20, "tensors": {"x": x, "y": y % 2}}, default=msgpack_numpy.encode))
    f.write(msgpack.packb({"end": True, "rows": 20}))
EOF2
    run --separate-stderr ssl-gan train $ARCH "$T/bad.ssl" -o "$T/m"
    assert_fails_with 1 "bad.ssl: row 3: label 2, but the model has 2 classes"
    run --separate-stderr ssl-gan train $ARCH "$T/bad.ssl.nan" -o "$T/m"
    assert_fails_with 1 "row 4: x\[2\] is not a finite number"
    ssl-prep mask --labels 0 "$D/tr.ssl" > "$T/none.ssl" 2>/dev/null || ssl-prep mask --fraction 0 "$D/tr.ssl" > "$T/none.ssl"
    run --separate-stderr ssl-gan train $ARCH "$T/none.ssl" -o "$T/m"
    assert_fails_with 1 "no labelled rows"
    head -c 20000 "$D/tr5.ssl" > "$T/cut.ssl"
    run --separate-stderr ssl-gan train $ARCH "$T/cut.ssl" -o "$T/m"
    assert_fails_with 1 "cut.ssl"
    [ ! -e "$T/m" ]
}

@test "a diverging run stops naming epoch and batch, and keeps the model already there" {
    cp "$D/m.gan" "$T/keep.gan"
    run --separate-stderr ssl-gan train $ARCH --epochs 2 --max-loss 0.001 "$D/tr5.ssl" -o "$T/keep.gan"
    assert_fails_with 1 "epoch 1, batch 1: discriminator loss is [0-9.]+: training diverged"
    cmp "$T/keep.gan" "$D/m.gan"
}

@test "checkpoints: every epoch by default, the final model equals an uninterrupted run's" {
    ssl-gan train $ARCH --epochs 2 --seed 3 --checkpoint-every 1 -q "$D/tr5.ssl" -o "$T/k.gan"
    cmp "$T/k.gan" "$D/m.gan"
    ssl-gan train $ARCH --epochs 1 --seed 3 --checkpoint-every 0 -q "$D/tr5.ssl" -o "$T/one.gan"
    refute cmp -s "$T/one.gan" "$D/m.gan"
    ls "$T" | grep -v ckpt > /dev/null
    [ -z "$(ls "$T" | grep ckpt || true)" ]
}

@test "--shift, --shift-unlabelled, --ema, --unl-weight, --mode-seeking: deterministic, recorded, and each changes the model" {
    ssl-gan train $ARCH --epochs 2 --seed 3 --shift 1 --ema 0.99 --unl-weight 0.5 -q "$D/tr5.ssl" -o "$T/o.gan"
    ssl-gan train $ARCH --epochs 2 --seed 3 --shift 1 --ema 0.99 --unl-weight 0.5 -q "$D/tr5.ssl" -o "$T/o2.gan"
    cmp "$T/o.gan" "$T/o2.gan"
    # the model holds the average of D's weights and names the options
    grep -qa "ema.d.l1.v" "$T/o.gan"
    grep -qa "unl_weight" "$T/o.gan"
    refute grep -qa "ema.d.l1.v" "$D/m.gan"
    for opt in "--shift 1" "--shift-unlabelled 1" "--ema 0.99" "--unl-weight 0.5"; do
        ssl-gan train $ARCH --epochs 2 --seed 3 $opt -q "$D/tr5.ssl" -o "$T/x.gan"
        refute cmp -s "$T/x.gan" "$D/m.gan"
    done
    # the averaged D predicts: a model with --ema 0.99 predicts other probabilities than without
    ssl-gan predict -m "$T/o.gan" "$D/te.ssl" -o "$T/po.ssl"
    [ "$(shape_of "$T/po.ssl" p)" = "$(shape_of "$D/te.ssl" y | cut -d' ' -f1) 10" ]
    run --separate-stderr ssl-gan train $ARCH --shift 1 --ema 0.99 --unl-weight -1 "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 2 "--unl-weight"
    # mode seeking (conditional G): deterministic, and it changes the model
    ssl-gan train $ARCH --epochs 2 --seed 3 --conditional --mode-seeking 0.3 -q "$D/tr5.ssl" -o "$T/ms.gan"
    ssl-gan train $ARCH --epochs 2 --seed 3 --conditional --mode-seeking 0.3 -q "$D/tr5.ssl" -o "$T/ms2.gan"
    cmp "$T/ms.gan" "$T/ms2.gan"
    refute cmp -s "$T/ms.gan" "$D/c.gan"
    # shifts need images: 3 features are no image
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 5 > "$T/w3.ssl"
    for opt in "--shift 1" "--shift-unlabelled 1"; do
        run --separate-stderr ssl-gan train $ARCH $opt "$T/w3.ssl" -o "$T/m"
        [ "$status" -eq 1 ]
        [[ "$stderr" == *"${opt% *}"* ]]
        [ ! -e "$T/m" ]
    done
}

@test "--entropy-weight: deterministic, recorded, logged, and it lowers the entropy of p(y|x)" {
    for w in 0.01 3; do
        ssl-gan train $ARCH --epochs 2 --seed 3 --entropy-weight $w --log "$T/e$w.json" -q "$D/tr5.ssl" -o "$T/e$w.gan"
    done
    ssl-gan train $ARCH --epochs 2 --seed 3 --entropy-weight 3 -q "$D/tr5.ssl" -o "$T/again.gan"
    cmp "$T/e3.gan" "$T/again.gan"
    grep -qa "entropy_weight" "$T/e3.gan"
    refute grep -qa "entropy_weight" "$D/m.gan"
    refute cmp -s "$T/e3.gan" "$D/m.gan"
    # ent_loss: the mean entropy over the unlabelled rows, within [0, log 10], lower with the heavier weight
    "$PY" - "$T/e0.01.json" "$T/e3.json" <<'EOF2'
import json, math, sys
light, heavy = ([json.loads(l)["ent_loss"] for l in open(f)] for f in sys.argv[1:])
assert all(0 <= h <= math.log(10) for h in light + heavy), (light, heavy)
assert heavy[-1] < light[-1], (light, heavy)
EOF2
    run --separate-stderr ssl-gan train $ARCH --entropy-weight -1 "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 2 "--entropy-weight"
}

@test "--vat, --entmin: deterministic, recorded, logged, each changes D; predict; with --d-conv too" {
    ssl-gan train $ARCH --epochs 2 --seed 3 --vat 2 --entmin 1 --log "$T/v.json" -q "$D/tr5.ssl" -o "$T/v.gan"
    ssl-gan train $ARCH --epochs 2 --seed 3 --vat 2 --entmin 1 -q "$D/tr5.ssl" -o "$T/v2.gan"
    ssl-gan train $ARCH --epochs 2 --seed 3 --vat 2 --vat-iterations 2 --vat-xi 0.01 -q "$D/tr5.ssl" -o "$T/i.gan"
    ssl-gan train $ARCH --epochs 2 --seed 3 --entmin 1 -q "$D/tr5.ssl" -o "$T/e.gan"
    cmp "$T/v.gan" "$T/v2.gan"
    for m in v i e; do refute cmp -s "$D/m.gan" "$T/$m.gan"; done
    refute cmp -s "$T/v.gan" "$T/e.gan"
    # the info keys (only when on) and the per-epoch vat_loss, in the log and the model's final metrics
    "$PY" - "$T/v.gan" "$T/i.gan" "$T/e.gan" "$D/m.gan" "$T/v.json" <<'EOF2'
import json, msgpack, sys
v, i, e, m = (msgpack.unpackb(open(f, "rb").read())["info"] for f in sys.argv[1:5])
keys = ("vat_eps", "vat_xi", "vat_iterations", "entmin")
assert [v[k] for k in keys] == [2.0, 0.001, 1, 1.0], v
assert (i["vat_iterations"], i["vat_xi"]) == (2, 0.01) and "entmin" not in i, i
assert e["entmin"] == 1.0 and "vat_eps" not in e, e
assert not any(k in m for k in keys) and "vat_loss" not in m["final"], m
log = [json.loads(l) for l in open(sys.argv[5])]
assert len(log) == 2 and all(0 < r["vat_loss"] < 5 for r in log) and "vat_loss" in v["final"], log
EOF2
    ssl-gan predict -m "$T/v.gan" "$D/te.ssl" -o "$T/p.ssl"
    [ "$(shape_of "$T/p.ssl" p)" = "$(shape_of "$D/te.ssl" x | cut -d' ' -f1) 10" ]
    ssl-eval "$T/p.ssl" | grep -q accuracy
    ssl-gan train --d-conv 4:3:2 --d-hidden 16 --g-hidden 16 --noise-dim 8 --batch 50 --epochs 1 --seed 3 --vat 2 -q "$D/tr5.ssl" -o "$T/c.gan"
    ssl-gan predict -m "$T/c.gan" "$D/te.ssl" | ssl-eval | grep -q accuracy
    run --separate-stderr ssl-gan train $ARCH --vat -1 "$D/tr5.ssl" -o "$T/x.gan"
    assert_fails_with 2 "--vat: -1 is out of range"
    run --separate-stderr ssl-gan train $ARCH --entmin 1 --vat-iterations 101 "$D/tr5.ssl" -o "$T/x.gan"
    assert_fails_with 2 "--vat-iterations"
    [ ! -e "$T/x.gan" ]
}

@test "--consistency, --cons-shift, --cons-flip: deterministic, recorded, logged; images only" {
    CONS="--d-hidden 32 --g-hidden 32 --noise-dim 16 --batch 50 --epochs 2 --seed 3 -q"
    ssl-gan train $CONS --consistency 2 --cons-flip --log "$T/c.json" "$D/tr5.ssl" -o "$T/c.gan"
    ssl-gan train $CONS --consistency 2 --cons-flip "$D/tr5.ssl" -o "$T/c2.gan"
    cmp "$T/c.gan" "$T/c2.gan"
    grep -qa "cons_flip" "$T/c.gan"
    for opt in "" "--cons-shift 0" "--consistency 0.5 --cons-flip"; do
        ssl-gan train $CONS ${opt:---consistency 2} "$D/tr5.ssl" -o "$T/x.gan"
        refute cmp -s "$T/x.gan" "$T/c.gan"
    done
    "$PY" -c "
import json, sys
r = [json.loads(l) for l in open(sys.argv[1])]
assert len(r) == 2 and all(0 < e['cons_loss'] < 2 for e in r), r" "$T/c.json"
    ssl-gan predict -m "$T/c.gan" "$D/te.ssl" | ssl-eval --json | "$PY" -c "import json,sys; assert json.load(sys.stdin)['accuracy'] > 0.3"
    run --separate-stderr ssl-gan train $CONS --consistency -1 "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 2 "--consistency"
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 5 > "$T/w3.ssl"
    run --separate-stderr ssl-gan train $CONS --consistency 1 "$T/w3.ssl" -o "$T/m"
    [ "$status" -eq 1 ]
    [ ! -e "$T/m" ]
}

# train_above_chance MODEL ARGS...: 2 epochs, seed 3, on tr5.ssl; the last epoch's val_accuracy
# (te.ssl, in $T/log.json) above 0.3
train_above_chance() {
    local model=$1
    shift
    run ssl-gan train "$@" --epochs 2 --seed 3 --val "$D/te.ssl" --log "$T/log.json" "$D/tr5.ssl" -o "$model"
    [ "$status" -eq 0 ]
    "$PY" -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert r[-1]['val_accuracy'] > 0.3, r[-1]" "$T/log.json"
}

CONV="--d-conv 8:3:1,16:3:2 --d-hidden 32 --g-hidden 32 --noise-dim 16 --batch 50"

@test "--d-conv: a convolutional D on the 8x8 digits trains, predicts, reloads; same seed, same bytes" {
    train_above_chance "$T/cv.gan" $CONV
    # the conv tensors (channels, in-channels x kernel x kernel) and the spec are in the model
    grep -qa "d.c1.v" "$T/cv.gan"
    grep -qa "d.c2.v" "$T/cv.gan"
    grep -qa "8:3:1,16:3:2" "$T/cv.gan"
    refute grep -qa "d.c1.v" "$D/m.gan"
    ssl-gan train $CONV --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/cv2.gan"
    ssl-gan train $CONV --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/cv3.gan"
    cmp "$T/cv2.gan" "$T/cv3.gan"
    # predict rebuilds D from the model file: probabilities for every test row, better than chance
    ssl-gan predict -m "$T/cv.gan" "$D/te.ssl" > "$T/p.ssl"
    read -r rows w <<< "$(shape_of "$D/te.ssl" x)"
    [ "$(shape_of "$T/p.ssl" p)" = "$rows 10" ]
    ssl-eval --json "$T/p.ssl" | "$PY" -c "import json,sys; assert json.load(sys.stdin)['accuracy'] > 0.3"
    ssl-gan predict -m "$T/cv.gan" "$D/te.ssl" | cmp - "$T/p.ssl"
    ssl-gan sample -m "$T/cv.gan" -n 5 > "$T/s.ssl"
    [ "$(shape_of "$T/s.ssl" x)" = "5 64" ]
    # checkpoints and the final model agree (the checkpoint reloads the conv layers)
    ssl-gan train $CONV --epochs 2 --seed 3 --checkpoint-every 1 -q "$D/tr5.ssl" -o "$T/k.gan"
    cmp "$T/k.gan" "$T/cv2.gan"
}

@test "--d-conv with --d-pool and --ema: the average covers the conv layers; pooling changes D" {
    ssl-gan train $CONV --epochs 2 --seed 3 --ema 0.99 -q "$D/tr5.ssl" -o "$T/e.gan"
    grep -qa "ema.d.c1.v" "$T/e.gan"
    grep -qa "ema.d.c2.b" "$T/e.gan"
    ssl-gan predict -m "$T/e.gan" "$D/te.ssl" -o "$T/pe.ssl"
    ssl-gan train $CONV --d-pool --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/pool.gan"
    ssl-gan train $CONV --d-pool --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/pool2.gan"
    cmp "$T/pool.gan" "$T/pool2.gan"
    ssl-gan train $CONV --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/flat.gan"
    refute cmp -s "$T/pool.gan" "$T/flat.gan"
    ssl-gan predict -m "$T/pool.gan" "$D/te.ssl" -o "$T/pp.ssl"
    [ "$(shape_of "$T/pp.ssl" p | cut -d' ' -f2)" = "10" ]
}

@test "--d-conv errors: a bad spec (exit 2); rows that are no image, a spec too deep for the image (exit 1)" {
    for spec in "8:4:2" "abc" "8:3" "8:3:0" "0:3:1" "8:3:1,"; do
        run --separate-stderr ssl-gan train --d-conv "$spec" "$D/tr5.ssl" -o "$T/m"
        assert_fails_with 2 "--d-conv"
    done
    run --separate-stderr ssl-gan train --d-pool "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 2 "--d-pool needs --d-conv"
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 5 > "$T/w3.ssl"
    run --separate-stderr ssl-gan train --d-conv 4:3:1 "$T/w3.ssl" -o "$T/m"
    assert_fails_with 1 "w3.ssl: --d-conv needs one-channel images"
    # 8x8 -> 4x4 -> 2x2: a third 3x3 kernel is larger than its input
    run --separate-stderr ssl-gan train --d-conv 4:3:2,4:3:2,4:3:1 "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 1 "layer 3 \(kernel 3\) sees a 2 x 2 input: too deep for 8 x 8 images"
    [ ! -e "$T/m" ]
}

DECONV="--g-deconv 8x2x2,4:3:2,1:3:2 --d-hidden 32 --noise-dim 16 --batch 50"

@test "--g-deconv: a convolutional G on the 8x8 digits trains, samples, predicts, reloads; same seed, same bytes" {
    train_above_chance "$T/g.gan" $DECONV
    "$PY" -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert r[-1]['sample_spread'] > 0.01, r[-1]" "$T/log.json"
    # G's tensors and its spec are in the model; no dense G
    grep -qa "g.seed.w" "$T/g.gan"
    grep -qa "g.t1.gamma" "$T/g.gan"
    grep -qa "g.t2.b" "$T/g.gan"
    grep -qa "8x2x2,4:3:2,1:3:2" "$T/g.gan"
    refute grep -qa "g.out.v" "$T/g.gan"
    grep -qa "g.out.v" "$D/m.gan"
    ssl-gan train $DECONV --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/g2.gan"
    ssl-gan train $DECONV --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/g3.gan"
    cmp "$T/g2.gan" "$T/g3.gan"
    ssl-gan train $DECONV --epochs 2 --seed 4 -q "$D/tr5.ssl" -o "$T/g4.gan"
    refute cmp -s "$T/g2.gan" "$T/g4.gan"
    # the reloaded G samples rows of the data's shape, the same for the same seed, differing rows
    ssl-gan sample -m "$T/g2.gan" -n 6 --seed 1 > "$T/s.ssl"
    [ "$(shape_of "$T/s.ssl" x)" = "6 64" ]
    ssl-gan sample -m "$T/g2.gan" -n 6 --seed 1 | cmp - "$T/s.ssl"
    ssl-show --json -n 6 "$T/s.ssl" | "$PY" -c "
import json, sys
x = [r['x'] for r in json.load(sys.stdin)['head']]
assert len(x) == 6 and all(0 <= v <= 1 for r in x for v in r)                 # sigmoid output
assert all(max(abs(a - b) for a, b in zip(x[i], x[j])) > 1e-3 for i in range(6) for j in range(i))   # rows differ"
    ssl-gan sample -m "$T/g2.gan" -n 20 --png "$T/g.png"
    [ "$(head -c 8 "$T/g.png" | od -An -tx1 | tr -d ' ')" = "89504e470d0a1a0a" ]
    ssl-gan predict -m "$T/g2.gan" "$D/te.ssl" > "$T/p.ssl"
    read -r rows w <<< "$(shape_of "$D/te.ssl" x)"
    [ "$(shape_of "$T/p.ssl" p)" = "$rows 10" ]
    # checkpoints reload G's layers and its batch-norm statistics: the same final model
    ssl-gan train $DECONV --epochs 2 --seed 3 --checkpoint-every 1 -q "$D/tr5.ssl" -o "$T/k.gan"
    cmp "$T/k.gan" "$T/g2.gan"
}

@test "--g-deconv with --conditional and with --d-conv: class-conditional samples, a conv D" {
    ssl-gan train $DECONV --conditional --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/c.gan"
    ssl-gan sample -m "$T/c.gan" -n 4 --class 7 > "$T/s7.ssl"
    ssl-show --json "$T/s7.ssl" | "$PY" -c "
import json, sys
j = json.load(sys.stdin)
assert j['rows'] == 4 and j['classes']['counts'][7]['count'] == 4, j['classes']"
    ssl-gan train $DECONV --d-conv 4:3:2 --epochs 2 --seed 3 -q --val "$D/te.ssl" --log "$T/l.json" "$D/tr5.ssl" -o "$T/cc.gan"
    grep -qa "d.c1.v" "$T/cc.gan"
    grep -qa "g.t1.w" "$T/cc.gan"
    ssl-gan predict -m "$T/cc.gan" "$D/te.ssl" | ssl-eval --json | "$PY" -c "import json,sys; assert json.load(sys.stdin)['accuracy'] > 0.3"
}

@test "--g-deconv errors: a bad spec, with --g-hidden (exit 2); rows that are no image, a G that misses the image shape (exit 1)" {
    for spec in "abc" "8x2x2" "8x2x2," "4:3:2" "8x2x2,1:4:2" "0x2x2,1:3:2" "8x2x2,1:3:0" "8x2,1:3:2"; do
        run --separate-stderr ssl-gan train --g-deconv "$spec" "$D/tr5.ssl" -o "$T/m"
        assert_fails_with 2 "--g-deconv"
    done
    run --separate-stderr ssl-gan train --g-deconv 8x2x2,4:3:2,1:3:2 --g-hidden 32 "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 2 "--g-deconv replaces --g-hidden: give one of them"
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 5 > "$T/w3.ssl"
    run --separate-stderr ssl-gan train --g-deconv 8x2x2,1:3:2 "$T/w3.ssl" -o "$T/m"
    assert_fails_with 1 "w3.ssl: --g-deconv needs one-channel images"
    # 2 -> 4: the digits are 8 x 8; two channels at the end are no one-channel image either
    run --separate-stderr ssl-gan train --g-deconv 8x2x2,1:3:2 "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 1 "G ends in 1 x 4 x 4 images, the data's are 1 x 8 x 8"
    run --separate-stderr ssl-gan train --g-deconv 8x2x2,4:3:2,2:3:2 "$D/tr5.ssl" -o "$T/m"
    assert_fails_with 1 "G ends in 2 x 8 x 8 images, the data's are 1 x 8 x 8"
    [ ! -e "$T/m" ]
}
