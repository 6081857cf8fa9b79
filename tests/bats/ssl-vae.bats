#!/usr/bin/env bats
# ssl-vae: tiny M1 and M2 models on the embedded digits (a few seconds), their commands, the
# error paths and determinism. Streams come from ssl-prep (x scaled to [0, 1]).
load helpers
load models
bats_require_minimum_version 1.5.0

setup_file() {
    prep_digits "$BATS_FILE_TMPDIR" 0.3
    D="$BATS_FILE_TMPDIR"
    ssl-vae train --hidden 32 --latent 4 --epochs 2 --seed 3 -q "$D/tr.ssl" -o "$D/m1.vae"
    ssl-vae train --model m2 --hidden 32 --latent 4 --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$D/m2.vae"
}

@test "--help shows usage and an example, --version" {
    assert_help_and_version ssl-vae train
}

@test "usage errors exit 2" {
    run --separate-stderr ssl-vae
    [ "$status" -eq 2 ]
    run --separate-stderr ssl-vae frobnicate
    assert_fails_with 2 "unknown command 'frobnicate'"
    run --separate-stderr ssl-vae train --bogus "$D/tr.ssl" -o "$T/m"
    assert_fails_with 2 "unknown option '--bogus'"
    run --separate-stderr ssl-vae train "$D/tr.ssl"
    assert_fails_with 2 "-o MODEL is required"
    run --separate-stderr ssl-vae train --activation tanh "$D/tr.ssl" -o "$T/m"
    assert_fails_with 2 "--activation"
    run --separate-stderr ssl-vae train --model m3 "$D/tr.ssl" -o "$T/m"
    assert_fails_with 2 "--model"
    run --separate-stderr ssl-vae sample -m "$D/m1.vae"
    assert_fails_with 2 "-n N is required"
    run --separate-stderr ssl-vae encode
    assert_fails_with 2 "-m MODEL is required"
    [ ! -e "$T/m" ]
}

@test "train M1: the same seed gives the same bytes; another seed does not" {
    ssl-vae train --hidden 32 --latent 4 --epochs 2 --seed 3 -q "$D/tr.ssl" -o "$T/again.vae"
    cmp "$D/m1.vae" "$T/again.vae"
    ssl-vae train --hidden 32 --latent 4 --epochs 2 --seed 4 -q "$D/tr.ssl" -o "$T/other.vae"
    refute cmp -s "$D/m1.vae" "$T/other.vae"
}

@test "train writes one summary line per epoch and a JSON log with the validation ELBO" {
    run --separate-stderr ssl-vae train --hidden 16 --latent 2 --epochs 2 --val "$D/te.ssl" --log "$T/log.jsonl" \
        --kl-warmup 2 "$D/tr.ssl" -o "$T/m.vae"
    [ "$status" -eq 0 ]
    [ "$(printf '%s\n' "$stderr" | grep -c 'epoch [12]/2 .*val_elbo')" -eq 2 ]
    [ "$(wc -l < "$T/log.jsonl")" -eq 2 ]
    "$PY" -c "
import json, sys
rows = [json.loads(l) for l in open('$T/log.jsonl')]
assert rows[0]['kl_weight'] < rows[1]['kl_weight'] < 1, rows
assert all(-200 < r['val_elbo'] < 0 for r in rows), rows
"
}

@test "encode adds z (the posterior mean) or replaces x, and feeds ssl-fit" {
    ssl-vae encode -m "$D/m1.vae" "$D/te.ssl" > "$T/z.ssl"
    [ "$(shape_of "$T/z.ssl" z)" = "540 4" ]
    [ "$(shape_of "$T/z.ssl" x)" = "540 64" ]
    ssl-vae encode -m "$D/m1.vae" --replace < "$D/te.ssl" > "$T/zx.ssl"
    [ "$(shape_of "$T/zx.ssl" x)" = "540 4" ]
    [ "$(shape_of "$T/zx.ssl" z)" = "540 absent" ]
    # the z of encode and the x of --replace are the same numbers
    "$PY" - "$T/z.ssl" "$T/zx.ssl" <<'EOF2'
import sys, msgpack, numpy as np
def col(path, name):
    u = msgpack.Unpacker(open(path, "rb"), raw=False); next(u)
    return np.concatenate([np.frombuffer(m["tensors"][name][b"data" if b"data" in m["tensors"][name] else "data"], "<f4")
                           for m in u if "tensors" in m])
a, b = col(sys.argv[1], "z"), col(sys.argv[2], "x")
assert a.shape == b.shape and np.array_equal(a, b) and np.abs(a).max() > 0
EOF2
    ssl-vae encode -m "$D/m1.vae" --replace "$D/tr5.ssl" | ssl-fit train -q -o "$T/m1.mlp"
    ssl-fit predict -m "$T/m1.mlp" "$T/zx.ssl" | ssl-eval > "$T/report"
    grep -q accuracy "$T/report"
}

@test "encode --sd adds the posterior sd (z_sd, or x_sd with --replace); M2 trains on samples of it" {
    ssl-vae encode -m "$D/m1.vae" --sd "$D/te.ssl" > "$T/z.ssl"
    [ "$(shape_of "$T/z.ssl" z_sd)" = "540 4" ]
    [ "$(shape_of "$T/z.ssl" z)" = "540 4" ]
    ssl-vae encode -m "$D/m1.vae" --replace --sd "$D/tr5.ssl" > "$T/zx.ssl"
    [ "$(shape_of "$T/zx.ssl" x_sd)" = "1257 4" ]
    [ "$(shape_of "$T/zx.ssl" z_sd)" = "1257 absent" ]
    # the sds are positive, and below the prior's 1 where the code is informative
    values_of "$T/zx.ssl" x_sd | tr ' ' '\n' | awk '$1 <= 0 { bad = 1 } $1 < 0.9 { small++ } END { exit bad || !small }'
    # M2 on the samples: deterministic, and not the model trained on the means
    m2="--model m2 --hidden 16 --latent 2 --epochs 2 --seed 1 -q"
    ssl-vae train $m2 "$T/zx.ssl" -o "$T/a.vae"
    ssl-vae train $m2 "$T/zx.ssl" -o "$T/b.vae"
    cmp "$T/a.vae" "$T/b.vae"
    ssl-vae encode -m "$D/m1.vae" --replace "$D/tr5.ssl" | ssl-vae train $m2 -o "$T/c.vae"
    refute cmp -s "$T/a.vae" "$T/c.vae"
    run --separate-stderr ssl-vae predict -m "$D/m2.vae" --sd "$D/te.ssl"
    assert_fails_with 2 "--replace, --sd and --min-sd are for encode"
}

@test "sample writes N rows, a PNG grid on request" {
    ssl-vae sample -m "$D/m1.vae" -n 7 --seed 1 > "$T/s.ssl"
    [ "$(shape_of "$T/s.ssl" x)" = "7 64" ]
    ssl-vae sample -m "$D/m1.vae" -n 7 --seed 1 > "$T/s2.ssl"
    cmp "$T/s.ssl" "$T/s2.ssl"
    ssl-vae sample -m "$D/m1.vae" -n 16 --png "$T/s.png"
    [ "$(head -c 8 "$T/s.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]
}

@test "reconstruct keeps the rows and the other tensors; --png draws originals and reconstructions" {
    ssl-vae reconstruct -m "$D/m1.vae" "$D/te.ssl" > "$T/r.ssl"
    [ "$(shape_of "$T/r.ssl" x)" = "540 64" ]
    [ "$(shape_of "$T/r.ssl" y)" = "540 1" ]
    ssl-vae reconstruct -m "$D/m2.vae" "$D/te.ssl" --png "$T/r.png"
    [ "$(head -c 8 "$T/r.png" | od -An -tx1 | tr -d ' \n')" = "89504e470d0a1a0a" ]
}

@test "M2: predict adds p like ssl-fit; class-conditional samples carry y" {
    ssl-vae predict -m "$D/m2.vae" "$D/te.ssl" > "$T/p.ssl"
    [ "$(shape_of "$T/p.ssl" p)" = "540 10" ]
    ssl-eval "$T/p.ssl" | grep -q accuracy
    ssl-vae sample -m "$D/m2.vae" -n 5 --class 3 > "$T/s3.ssl"
    "$PY" - "$T/s3.ssl" <<'EOF2'
import sys, msgpack, numpy as np
u = msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False); next(u)
y = np.concatenate([np.frombuffer(m["tensors"]["y"][b"data"], "<i4") for m in u if "tensors" in m])
assert list(y) == [3] * 5, y
EOF2
    ssl-vae train --model m2 --hidden 32 --latent 4 --epochs 2 --seed 3 -q "$D/tr5.ssl" -o "$T/again.m2"
    cmp "$D/m2.vae" "$T/again.m2"
}

@test "errors: wrong kind, width mismatch, --class out of range, labels beyond K: one line, exit 1" {
    run --separate-stderr ssl-vae encode -m "$D/m2.vae" "$D/te.ssl"
    assert_fails_with 1 "encode needs an M1 model"
    run --separate-stderr ssl-vae predict -m "$D/m1.vae" "$D/te.ssl"
    assert_fails_with 1 "predict needs an M2 model"
    ssl-fit train -q --epochs 2 "$D/tr.ssl" -o "$T/clf.mlp"
    run --separate-stderr ssl-vae sample -m "$T/clf.mlp" -n 2
    assert_fails_with 1 "kind 'mlp', expected 'vae' or 'm2'"
    ssl-vae encode -m "$D/m1.vae" --replace "$D/te.ssl" > "$T/z.ssl"
    run --separate-stderr ssl-vae encode -m "$D/m1.vae" "$T/z.ssl"
    assert_fails_with 1 "z.ssl: x has 4 features, the model expects 64"
    run --separate-stderr ssl-vae sample -m "$D/m2.vae" -n 2 --class 10
    assert_fails_with 1 "--class 10 is out of range: .* has 10 classes"
    run --separate-stderr ssl-vae sample -m "$D/m1.vae" -n 2 --class 1
    assert_fails_with 1 "--class needs an M2 model"
    "$PY" "$BATS_TEST_DIRNAME/mkstream.py" "$T/bad.ssl" \
        '{"tensors": [["x", "<f4", [2], [[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]]], ["y", "<i4", [], [0, 12, -1]]], "meta": {"x_range": [0, 1]}}'
    run --separate-stderr ssl-vae train --model m2 --classes 3 --hidden 4 --latent 2 --epochs 1 "$T/bad.ssl" -o "$T/bad.m2"
    assert_fails_with 1 "bad.ssl: row 2: label 12 is not one of the 3 classes"
    [ ! -e "$T/bad.m2" ]
}

@test "a loss that becomes NaN stops training naming epoch and batch, leaving no model" {
    # finite x near FLT_MAX: the first layer's sums overflow to inf, inf - inf is NaN, and a
    # Gaussian (x - mean)^2 overflows anyway; IEEE arithmetic, so on any machine and any step size
    "$PY" "$BATS_TEST_DIRNAME/mkstream.py" "$T/huge.ssl" '{"tensors": [["x", "<f4", [4],
        [[3e38, -3e38, 1e38, 2e38], [-2e38, 3e38, -1e38, 3e38], [1e38, 1e38, -3e38, -2e38], [3e38, 2e38, 3e38, -1e38]]]]}'
    run --separate-stderr ssl-vae train --hidden 8 --latent 2 --likelihood gaussian --epochs 3 --checkpoint-every 1 \
        "$T/huge.ssl" -o "$T/nan.vae"
    assert_fails_with 1 "epoch 1, batch [0-9]+: the loss is not finite.*no model written"
    [ ! -e "$T/nan.vae" ]
}

@test "--checkpoint-every writes a loadable model during training, no temporary file left" {
    ssl-vae train --hidden 16 --latent 2 --epochs 2 --checkpoint-every 1 -q "$D/tr.ssl" -o "$T/c.vae"
    ssl-vae sample -m "$T/c.vae" -n 2 > /dev/null
    ls "$T" | { ! grep -q ckpt-tmp; }
}

@test "bernoulli refuses data outside [0, 1]; gaussian is the default for standardised data" {
    ssl-prep scale --method standard "$D/tr_raw.ssl" > "$T/std.ssl"
    run --separate-stderr ssl-vae train --likelihood bernoulli --epochs 1 "$T/std.ssl" -o "$T/m.vae"
    assert_fails_with 1 "bernoulli likelihood needs x in \[0, 1\]"
    ssl-vae train --hidden 8 --latent 2 --epochs 1 -q "$T/std.ssl" -o "$T/g.vae"
    "$PY" -c "
import msgpack
m = msgpack.unpackb(open('$T/g.vae', 'rb').read(), raw=False, strict_map_key=False)
assert m['info']['likelihood'] == 'gaussian', m['info']
"
}

# info KEY FILE: a model's info value (python-printed)
info() { "$PY" -c "import msgpack, sys; print(msgpack.unpackb(open(sys.argv[2], 'rb').read())['info'].get(sys.argv[1]))" "$1" "$2"; }

@test "M2 batches: --labelled-batch, --weighting rows and --shift are used and recorded" {
    local o="--model m2 --hidden 16 --latent 3 --epochs 2 --seed 3 -q"
    ssl-vae train $o "$D/tr5.ssl" -o "$T/a.m2"
    ssl-vae train $o --labelled-batch 1 --weighting rows "$D/tr5.ssl" -o "$T/b.m2"
    ssl-vae train $o --labelled-batch 1 --weighting rows "$D/tr5.ssl" -o "$T/b2.m2"
    ssl-vae train $o --shift 1 "$D/tr5.ssl" -o "$T/c.m2"
    cmp "$T/b.m2" "$T/b2.m2"
    refute cmp -s "$T/a.m2" "$T/b.m2"
    refute cmp -s "$T/a.m2" "$T/c.m2"
    [ "$(info weighting "$T/a.m2")" = means ]
    [ "$(info weighting "$T/b.m2")" = rows ]
    [ "$(info labelled_batch "$T/b.m2")" = 1 ]
    [ "$(info labelled_batch "$T/a.m2")" = 50 ]
    [ "$(info shift "$T/c.m2")" = 1 ]
    run --separate-stderr ssl-vae train $o --weighting sums "$D/tr5.ssl" -o "$T/x.m2"
    assert_fails_with 2 "--weighting"
    ssl-vae encode -m "$D/m1.vae" --replace --sd "$D/tr5.ssl" -o "$T/z.ssl"
    run --separate-stderr ssl-vae train $o --shift 1 "$T/z.ssl" -o "$T/x.m2"
    assert_fails_with 1 "needs one-channel images|not M1 latents"
}

@test "M2 --vat, --entmin: deterministic, recorded, logged, each changes the model; predict; M1 refuses them" {
    local o="--model m2 --hidden 16 --latent 3 --epochs 2 --seed 3 -q"
    ssl-vae train $o "$D/tr5.ssl" -o "$T/a.m2"
    ssl-vae train $o --vat 2 --entmin 1 --log "$T/v.json" "$D/tr5.ssl" -o "$T/v.m2"
    ssl-vae train $o --vat 2 --entmin 1 "$D/tr5.ssl" -o "$T/v2.m2"
    ssl-vae train $o --vat 2 --vat-iterations 2 --vat-xi 0.01 "$D/tr5.ssl" -o "$T/i.m2"
    ssl-vae train $o --entmin 1 "$D/tr5.ssl" -o "$T/e.m2"
    cmp "$T/v.m2" "$T/v2.m2"
    for m in v i e; do refute cmp -s "$T/a.m2" "$T/$m.m2"; done
    refute cmp -s "$T/v.m2" "$T/e.m2"
    [ "$(info vat_eps "$T/v.m2")" = 2.0 ] && [ "$(info vat_xi "$T/v.m2")" = 0.001 ] && [ "$(info entmin "$T/v.m2")" = 1.0 ]
    [ "$(info vat_iterations "$T/i.m2")" = 2 ] && [ "$(info vat_xi "$T/i.m2")" = 0.01 ]
    [ "$(info vat_eps "$T/e.m2")" = None ] && [ "$(info entmin "$T/a.m2")" = None ]
    # vat_loss: the mean KL + entropy over a step's rows, between 0 and log 10 + the KL
    "$PY" -c "import json, sys; r = [json.loads(l) for l in open(sys.argv[1])]; assert len(r) == 2 and all(0 < e['vat_loss'] < 5 for e in r), r" "$T/v.json"
    ssl-vae predict -m "$T/v.m2" "$D/te.ssl" -o "$T/p.ssl"
    [ "$(shape_of "$T/p.ssl" p)" = "$(shape_of "$D/te.ssl" x | cut -d' ' -f1) 10" ]
    ssl-eval "$T/p.ssl" | grep -q accuracy
    run --separate-stderr ssl-vae train --vat 2 "$D/tr.ssl" -o "$T/m1.vae"
    assert_fails_with 2 "^ssl-vae: --vat and --entmin train M2's classifier q\(y\|x\): M1 has none"
    run --separate-stderr ssl-vae train --model m1 --entmin 1 "$D/tr.ssl" -o "$T/m1.vae"
    assert_fails_with 2 "M1 has none"
    run --separate-stderr ssl-vae train $o --vat -1 "$D/tr5.ssl" -o "$T/x.m2"
    assert_fails_with 2 "--vat: -1 is out of range"
    run --separate-stderr ssl-vae train $o --vat 1 --vat-iterations 0 "$D/tr5.ssl" -o "$T/x.m2"
    assert_fails_with 2 "--vat-iterations"
    [ ! -e "$T/m1.vae" ] && [ ! -e "$T/x.m2" ]
}

@test "ADGM, SDGM: deterministic, recorded; predict, sample, reconstruct as M2; the options they refuse" {
    local o="--hidden 16 --latent 3 --aux 4 --samples 3 --epochs 2 --seed 3 -q"
    for k in adgm sdgm; do
        ssl-vae train --model $k $o --log "$T/$k.json" "$D/tr5.ssl" -o "$T/$k.m2"
        ssl-vae train --model $k $o "$D/tr5.ssl" -o "$T/$k.again"
        cmp "$T/$k.m2" "$T/$k.again"
        [ "$(info model "$T/$k.m2")" = $k ] && [ "$(info aux "$T/$k.m2")" = 4 ] && [ "$(info samples "$T/$k.m2")" = 3 ]
        [ "$(info latent "$T/$k.m2")" = 3 ] && [ "$(info binarise "$T/$k.m2")" = False ]
        "$PY" -c "import json, sys; r = [json.loads(l) for l in open(sys.argv[1])]; assert len(r) == 2 and all(e['unl_elbo'] < 0 for e in r), r" "$T/$k.json"
        ssl-vae predict -m "$T/$k.m2" "$D/te.ssl" > "$T/p.ssl"
        ssl-vae predict -m "$T/$k.m2" "$D/te.ssl" > "$T/p2.ssl"
        cmp "$T/p.ssl" "$T/p2.ssl"
        [ "$(shape_of "$T/p.ssl" p)" = "540 10" ]
        ssl-eval "$T/p.ssl" | grep -q accuracy
        ssl-vae sample -m "$T/$k.m2" -n 5 --class 2 -o "$T/s.ssl"
        [ "$(shape_of "$T/s.ssl" x)" = "5 64" ]
        ssl-vae reconstruct -m "$T/$k.m2" "$D/te.ssl" -o "$T/r.ssl"
        [ "$(shape_of "$T/r.ssl" x)" = "540 64" ]
    done
    refute cmp -s "$T/adgm.m2" "$T/sdgm.m2"
    ssl-vae train --model adgm $o --binarise "$D/tr5.ssl" -o "$T/b.m2"
    refute cmp -s "$T/adgm.m2" "$T/b.m2"
    [ "$(info binarise "$T/b.m2")" = True ]
    # the default sizes: z and a of 100
    ssl-vae train --model sdgm --hidden 8 --epochs 1 -q "$D/tr5.ssl" -o "$T/d.m2"
    [ "$(info latent "$T/d.m2")" = 100 ] && [ "$(info aux "$T/d.m2")" = 100 ] && [ "$(info samples "$T/d.m2")" = 10 ]
    run --separate-stderr ssl-vae train --model adgm $o --vat 1 "$D/tr5.ssl" -o "$T/x.m2"
    assert_fails_with 2 "not ADGM's or SDGM's"
    run --separate-stderr ssl-vae train --model m2 --aux 4 "$D/tr5.ssl" -o "$T/x.m2"
    assert_fails_with 2 "--aux and --samples are for --model adgm or sdgm"
    run --separate-stderr ssl-vae train --binarise "$D/tr.ssl" -o "$T/x.m2"
    assert_fails_with 2 "--binarise is for --model m2, adgm or sdgm"
    ssl-prep scale --method standard "$D/tr_raw.ssl" > "$T/std.ssl"
    run --separate-stderr ssl-vae train --model sdgm $o --binarise "$T/std.ssl" -o "$T/x.m2"
    assert_fails_with 1 "--binarise needs x in \[0, 1\]"
    [ ! -e "$T/x.m2" ]
}

@test "encode --min-sd keeps the latent units that vary over the training rows (the model's latent_sd)" {
    "$PY" -c "
import msgpack, sys
sd = msgpack.unpackb(open(sys.argv[1], 'rb').read())['info']['latent_sd']
assert len(sd) == 4 and all(s >= 0 for s in sd), sd
print(sum(s >= 0.1 for s in sd))" "$D/m1.vae" > "$T/active"
    ssl-vae encode -m "$D/m1.vae" --replace --min-sd 0.1 "$D/te.ssl" -o "$T/z.ssl"
    [ "$(ssl-show "$T/z.ssl" | grep -c "x   f32  ($(cat "$T/active"))")" -eq 1 ]
    ssl-vae encode -m "$D/m1.vae" --replace --sd --min-sd 0 "$D/te.ssl" | ssl-show - | grep -q "x_sd  f32  (4)"
    run --separate-stderr ssl-vae encode -m "$D/m1.vae" --min-sd 1e9 "$D/te.ssl" -o "$T/none.ssl"
    assert_fails_with 1 "no latent unit has an sd of at least"
    "$PY" -c "
import msgpack, sys
m = msgpack.unpackb(open(sys.argv[1], 'rb').read(), raw=False); del m['info']['latent_sd']
open(sys.argv[2], 'wb').write(msgpack.packb(m, use_bin_type=True))" "$D/m1.vae" "$T/old.vae"
    run --separate-stderr ssl-vae encode -m "$T/old.vae" --min-sd 0.1 "$D/te.ssl" -o "$T/z2.ssl"
    assert_fails_with 1 "old.vae: the model has no latent_sd"
}

@test "without --epochs, a small data set trains 3000 steps: M1 over every row, M2 over the unlabelled ones" {
    have_py msgpack || skip "python3-msgpack not installed"
    epochs() { "$PY" -c 'import sys, msgpack; print(msgpack.unpackb(open(sys.argv[1], "rb").read(), raw=False, strict_map_key=False)["info"]["epochs"])' "$1"; }
    # tr.ssl: 1257 rows, 10 steps of 128 an epoch; tr5.ssl: 50 labelled, 1207 unlabelled, 13 of 100
    ssl-vae train -q --hidden 8 --latent 2 "$D/tr.ssl" -o "$T/m1.vae"
    [ "$(epochs "$T/m1.vae")" = 300 ]
    ssl-vae train -q --model m2 --hidden 8 --latent 2 --batch 100 "$D/tr5.ssl" -o "$T/m2.vae"
    [ "$(epochs "$T/m2.vae")" = 231 ]
    ssl-vae train -q --hidden 8 --latent 2 --epochs 3 "$D/tr.ssl" -o "$T/m3.vae"
    [ "$(epochs "$T/m3.vae")" = 3 ]
}

@test "M1's default sizes follow the width F: two hidden layers of clamp(4F, 256, 500), z of clamp(F/8, 8, 50)" {
    # table F: 10 rows of F features in [0, 1] and a label
    table() { awk -v F="$1" 'BEGIN { for (j = 0; j < F; j++) printf "f%d,", j; print "label"
        for (i = 0; i < 10; i++) { for (j = 0; j < F; j++) printf "%g,", ((i * 7 + j * 3) % 11) / 10; print i % 2 } }' |
        ssl-prep csv - -o "$T/f$1.ssl"; }
    sizes() { echo "$(info hidden "$1") $(info latent "$1")"; }
    for f in 4 100 800; do table $f; ssl-vae train -q --epochs 1 "$T/f$f.ssl" -o "$T/f$f.vae"; done
    [ "$(sizes "$T/f4.vae")" = "[256, 256] 8" ]
    [ "$(sizes "$T/f100.vae")" = "[400, 400] 12" ]
    [ "$(sizes "$T/f800.vae")" = "[500, 500] 50" ]
    # explicit sizes win, each on its own; M2 keeps 500,500 and 50
    ssl-vae train -q --epochs 1 --hidden 16 --latent 3 "$T/f100.ssl" -o "$T/both.vae"
    [ "$(sizes "$T/both.vae")" = "[16] 3" ]
    ssl-vae train -q --epochs 1 --latent 5 "$T/f100.ssl" -o "$T/z.vae"
    [ "$(sizes "$T/z.vae")" = "[400, 400] 5" ]
    ssl-vae train -q --epochs 1 --hidden 32,16 "$T/f100.ssl" -o "$T/h.vae"
    [ "$(sizes "$T/h.vae")" = "[32, 16] 12" ]
    ssl-vae train -q --epochs 1 --model m2 "$T/f4.ssl" -o "$T/f4.m2"
    [ "$(sizes "$T/f4.m2")" = "[500, 500] 50" ]
}
