#!/usr/bin/env bats
# ssl-augment: every mode on the digits (5 labels per class), with tiny models trained once per file.

load helpers

# Python over a stream's tensors (x, y, w, origin, id, p ...), numpy as np, meta: prints the value.
ev() { "$PY" "$ROOT/tests/bats/stream_eval.py" "$@"; }

setup_file() {
    local D="$BATS_FILE_TMPDIR" B="$ROOT/${BUILD:-build}/bin"
    "$B/ssl-prep" csv --no-header "$ROOT/data/digits.csv.gz" |
        "$B/ssl-prep" split --test 0.3 --seed 42 --test-out "$D/te.ssl" |
        "$B/ssl-prep" scale --method minmax |
        "$B/ssl-prep" mask --labels-per-class 5 --seed 0 -o "$D/tr5.ssl"
    "$B/ssl-fit" train -q --epochs 100 "$D/tr5.ssl" -o "$D/base.mlp"
    "$B/ssl-vae" train -q --model m2 --hidden 32 --latent 4 --epochs 1 "$D/tr5.ssl" -o "$D/m2.vae"
    "$B/ssl-vae" train -q --hidden 32 --latent 4 --epochs 1 "$D/tr5.ssl" -o "$D/m1.vae"
    "$B/ssl-gan" train -q --d-hidden 32 --g-hidden 32 --noise-dim 8 --epochs 1 "$D/tr5.ssl" -o "$D/g.gan"
    "$B/ssl-gan" train -q --conditional --d-hidden 32 --g-hidden 32 --noise-dim 8 --epochs 1 "$D/tr5.ssl" -o "$D/gc.gan"
    # the base classifier's p on the training rows, to check the pseudo-label rules against
    "$B/ssl-fit" predict -m "$D/base.mlp" "$D/tr5.ssl" -o "$D/tr5_p.ssl"
}

setup() {
    T="$BATS_TEST_TMPDIR"
    D="$BATS_FILE_TMPDIR"
}

@test "ssl-augment: --help shows usage and an example, --version" {
    run ssl-augment --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: ssl-augment"* ]]
    [[ "$output" == *"Examples:"* ]]
    run ssl-augment --version
    [ "$status" -eq 0 ]
    [[ "$output" == *"ssl-augment"* ]]
}

@test "ssl-augment: --pseudo labels exactly the unlabelled rows whose max p passes the threshold" {
    ssl-augment -q --pseudo "$D/base.mlp" --threshold 0.8 --weight 0.5 "$D/tr5.ssl" -o "$T/p.ssl"
    want=$(ev "$D/tr5_p.ssl" 'int(((y < 0) & (p.max(1) >= np.float32(0.8))).sum())')
    [ "$want" -gt 0 ]
    [ "$(ev "$T/p.ssl" 'int((origin == 2).sum())')" -eq "$want" ]
    [ "$(ev "$T/p.ssl" 'len(y)')" -eq $((50 + want)) ]
    [ "$(ev "$T/p.ssl" 'int((origin == 0).sum()), int((y < 0).sum())')" = "(50, 0)" ]
    [ "$(ev "$T/p.ssl" 'sorted(set(w[origin == 2].tolist())), sorted(set(w[origin == 0].tolist()))')" = "([0.5], [1.0])" ]
    [ "$(ev "$T/p.ssl" 'meta["origin_names"]')" = "['real', 'generated', 'pseudo']" ]
    # the pseudo-labels are the classifier's argmax on those very rows (matched by id)
    ev "$D/tr5_p.ssl" 'dict(zip(id.tolist(), p.argmax(1).tolist()))' > "$T/argmax"
    [ "$(ev "$T/p.ssl" "all($(cat "$T/argmax")[i] == c for i, c in zip(id[origin == 2].tolist(), y[origin == 2].tolist()))")" = True ]
    # a higher threshold labels fewer rows
    ssl-augment -q --pseudo "$D/base.mlp" --threshold 0.99 "$D/tr5.ssl" -o "$T/p99.ssl"
    [ "$(ev "$T/p99.ssl" 'int((origin == 2).sum())')" -lt "$want" ]
}

@test "ssl-augment: --pseudo-from-p takes the stream's own p as --pseudo takes a model's" {
    ssl-augment -q --pseudo "$D/base.mlp" --threshold 0.8 --balance "$D/tr5.ssl" -o "$T/m.ssl"
    ssl-augment -q --pseudo-from-p --threshold 0.8 --balance "$D/tr5_p.ssl" -o "$T/s.ssl"
    [ "$(ev "$T/m.ssl" 'int((origin == 2).sum())')" -gt 0 ]
    [ "$(ev "$T/m.ssl" '(id.tolist(), y.tolist(), origin.tolist())')" = "$(ev "$T/s.ssl" '(id.tolist(), y.tolist(), origin.tolist())')" ]
    [ "$(ev "$T/s.ssl" 'meta["augment"]["pseudo_from"]')" = p ]
    run --separate-stderr ssl-augment --pseudo-from-p "$D/tr5.ssl"
    assert_fails_with 1 "tr5\.ssl: --pseudo-from-p: stream has no tensor 'p'"
    run --separate-stderr ssl-augment --pseudo "$D/base.mlp" --pseudo-from-p "$D/tr5_p.ssl"
    [ "$status" -eq 2 ] && [[ "$stderr" == *"--pseudo and --pseudo-from-p: one source of pseudo-labels"* ]]
}

@test "ssl-augment: --balance gives every class the smallest class's confident count" {
    ssl-augment -q --pseudo "$D/base.mlp" --threshold 0.8 --balance "$D/tr5.ssl" -o "$T/b.ssl"
    m=$(ev "$D/tr5_p.ssl" 'int(np.bincount(p.argmax(1)[(y < 0) & (p.max(1) >= np.float32(0.8))], minlength=10).min())')
    [ "$m" -gt 0 ]
    [ "$(ev "$T/b.ssl" 'sorted(set(np.bincount(y[origin == 2], minlength=10).tolist()))')" = "[$m]" ]
    # --per-class N caps every class at N, and with --balance the smaller of the two wins
    ssl-augment -q --pseudo "$D/base.mlp" --threshold 0.8 --per-class 3 "$D/tr5.ssl" -o "$T/c.ssl"
    [ "$(ev "$T/c.ssl" 'int(np.bincount(y[origin == 2]).max())')" -eq 3 ]
    ssl-augment -q --pseudo "$D/base.mlp" --threshold 0.8 --balance --per-class 2 "$D/tr5.ssl" -o "$T/d.ssl"
    [ "$(ev "$T/d.ssl" 'np.bincount(y[origin == 2], minlength=10).tolist()')" = "[2, 2, 2, 2, 2, 2, 2, 2, 2, 2]" ]
}

@test "ssl-augment: --rounds retrains and re-labels, one summary line per round" {
    run --separate-stderr ssl-augment --pseudo "$D/base.mlp" --threshold 0.9 --rounds 3 --round-hidden 16 \
        --round-epochs 20 "$D/tr5.ssl" -o "$T/r.ssl"
    [ "$status" -eq 0 ]
    [[ "$stderr" == *"round 1: "* && "$stderr" == *"round 3: "* ]]
    [ "$(ev "$T/r.ssl" 'meta["augment"]["rounds"]')" -eq 3 ]
    last=$(printf '%s\n' "$stderr" | grep 'round 3:' | sed 's/.*round 3: \([0-9]*\) pseudo.*/\1/')
    [ "$(ev "$T/r.ssl" 'int((origin == 2).sum())')" -eq "$last" ]
}

@test "ssl-augment: any classifier serves: an M2's q(y|x) and an SSL-GAN's D pseudo-label, filter and label" {
    for m in m2.vae g.gan; do
        prog=ssl-vae; [ "$m" = g.gan ] && prog=ssl-gan
        $prog predict -m "$D/$m" "$D/tr5.ssl" -o "$T/p_$m.ssl"
        ssl-augment -q --pseudo "$D/$m" --threshold 0.2 "$D/tr5.ssl" -o "$T/ps_$m.ssl"
        want=$(ev "$T/p_$m.ssl" 'int(((y < 0) & (p.max(1) >= np.float32(0.2))).sum())')
        [ "$want" -gt 0 ]
        [ "$(ev "$T/ps_$m.ssl" 'int((origin == 2).sum())')" -eq "$want" ]
        ev "$T/p_$m.ssl" 'dict(zip(id.tolist(), p.argmax(1).tolist()))' > "$T/argmax_$m"
        [ "$(ev "$T/ps_$m.ssl" "all($(cat "$T/argmax_$m")[i] == c for i, c in zip(id[origin == 2].tolist(), y[origin == 2].tolist()))")" = True ]
    done
    # the GAN's D as the filter of jittered M1 rows, the M2 as the labeller of unconditional GAN samples
    ssl-augment -q --from-vae "$D/m1.vae" --jitter 1 --per-row 2 --filter "$D/g.gan" --filter-threshold 0 "$D/tr5.ssl" -o "$T/fg.ssl"
    ssl-gan predict -m "$D/g.gan" "$T/fg.ssl" -o "$T/fgp.ssl"
    [ "$(ev "$T/fgp.ssl" 'bool((p.argmax(1)[origin == 1] == y[origin == 1]).all())')" = True ]
    [ "$(ev "$T/fg.ssl" 'meta["augment"]["filtered"] + meta["augment"]["generated"]')" -eq 100 ]
    ssl-augment -q --from-gan "$D/g.gan" --labeller "$D/m2.vae" --per-class 2 "$D/tr5.ssl" -o "$T/gl.ssl"
    ssl-vae predict -m "$D/m2.vae" "$T/gl.ssl" -o "$T/glp.ssl"
    [ "$(ev "$T/glp.ssl" 'int((origin == 1).sum()), bool((p.argmax(1)[origin == 1] == y[origin == 1]).all())')" = "(20, True)" ]
}

@test "ssl-augment: --keep-unlabelled keeps every input row" {
    ssl-augment -q --pseudo "$D/base.mlp" --keep-unlabelled "$D/tr5.ssl" -o "$T/k.ssl"
    [ "$(ev "$T/k.ssl" 'len(y)')" -eq "$(ev "$D/tr5.ssl" 'len(y)')" ]
    [ "$(ev "$T/k.ssl" 'int((y < 0).sum()) + int((origin == 2).sum())')" -eq "$(ev "$D/tr5.ssl" 'int((y < 0).sum())')" ]
    [ "$(ev "$T/k.ssl" 'bool((id == np.sort(id)).all())')" = True ]   # input order
}

@test "ssl-augment: --from-vae M2 --per-class N makes N rows of each class" {
    ssl-augment -q --from-vae "$D/m2.vae" --per-class 7 --weight 0.25 "$D/tr5.ssl" -o "$T/m2.ssl"
    [ "$(ev "$T/m2.ssl" 'len(y)')" -eq 120 ]
    [ "$(ev "$T/m2.ssl" 'np.bincount(y[origin == 1]).tolist()')" = "[7, 7, 7, 7, 7, 7, 7, 7, 7, 7]" ]
    [ "$(ev "$T/m2.ssl" 'sorted(set(w[origin == 1].tolist())), sorted(set(id[origin == 1].tolist()))')" = "([0.25], [-1])" ]
    [ "$(ev "$T/m2.ssl" 'bool(((x[origin == 1] >= 0) & (x[origin == 1] <= 1)).all())')" = True ]
    # --ratio overrides: 2 x 50 real labelled rows, shared by class
    ssl-augment -q --from-vae "$D/m2.vae" --per-class 7 --ratio 2 "$D/tr5.ssl" -o "$T/m2r.ssl"
    [ "$(ev "$T/m2r.ssl" 'np.bincount(y[origin == 1]).tolist()')" = "[10, 10, 10, 10, 10, 10, 10, 10, 10, 10]" ]
}

@test "ssl-augment: --from-vae M1 --jitter keeps each row's label, --per-row copies" {
    ssl-augment -q --from-vae "$D/m1.vae" --jitter 0.5 --per-row 3 "$D/tr5.ssl" -o "$T/j.ssl"
    [ "$(ev "$T/j.ssl" 'len(y), int((origin == 1).sum())')" = "(200, 150)" ]
    [ "$(ev "$T/j.ssl" 'y[origin == 1].tolist() == np.repeat(y[origin == 0], 3).tolist()')" = True ]
    # different draws: the copies of a row differ
    [ "$(ev "$T/j.ssl" 'bool(np.abs(x[origin == 1][0] - x[origin == 1][1]).max() > 0)')" = True ]
    ssl-augment -q --from-vae "$D/m1.vae" --jitter 0.5 --ratio 0.5 "$D/tr5.ssl" -o "$T/j2.ssl"
    [ "$(ev "$T/j2.ssl" 'int((origin == 1).sum())')" -eq 25 ]
}

@test "ssl-augment: --from-gan conditional, and unconditional with --labeller" {
    ssl-augment -q --from-gan "$D/gc.gan" --ratio 1 "$D/tr5.ssl" -o "$T/gc.ssl"
    [ "$(ev "$T/gc.ssl" 'np.bincount(y[origin == 1]).tolist()')" = "[5, 5, 5, 5, 5, 5, 5, 5, 5, 5]" ]
    ssl-augment -q --from-gan "$D/g.gan" --labeller "$D/base.mlp" --per-class 4 "$D/tr5.ssl" -o "$T/g.ssl"
    [ "$(ev "$T/g.ssl" 'int((origin == 1).sum())')" -eq 40 ]
    # the labels are the labeller's argmax
    ssl-fit predict -m "$D/base.mlp" "$T/g.ssl" -o "$T/gp.ssl"
    [ "$(ev "$T/gp.ssl" 'bool((p.argmax(1)[origin == 1] == y[origin == 1]).all())')" = True ]
}

@test "ssl-augment: --filter keeps only generated rows the classifier agrees with, confidently" {
    run --separate-stderr ssl-augment --from-vae "$D/m1.vae" --jitter 1 --per-row 4 --filter "$D/base.mlp" \
        --filter-threshold 0.6 "$D/tr5.ssl" -o "$T/f.ssl"
    [ "$status" -eq 0 ]
    [[ "$stderr" =~ dropped\ by\ the\ filter ]]
    kept=$(ev "$T/f.ssl" 'int((origin == 1).sum())')
    [ "$kept" -lt 200 ]
    ssl-fit predict -m "$D/base.mlp" "$T/f.ssl" -o "$T/fp.ssl"
    [ "$(ev "$T/fp.ssl" 'bool((p.argmax(1)[origin == 1] == y[origin == 1]).all() and (p.max(1)[origin == 1] >= np.float32(0.6)).all())')" = True ]
    [ "$(ev "$T/f.ssl" 'meta["augment"]["filtered"] + meta["augment"]["generated"]')" -eq 200 ]
}

@test "ssl-augment: pseudo-labels and a generator together; the output trains ssl-fit with w" {
    ssl-augment -q --pseudo "$D/base.mlp" --from-vae "$D/m2.vae" --per-class 3 --weight 0.5 "$D/tr5.ssl" -o "$T/both.ssl"
    [ "$(ev "$T/both.ssl" 'sorted(set(origin.tolist()))')" = "[0, 1, 2]" ]
    ssl-fit train -q --epochs 5 "$T/both.ssl" -o "$T/both.mlp"
    ssl-fit predict -m "$T/both.mlp" "$D/te.ssl" | ssl-eval > /dev/null
}

@test "ssl-augment: an augmented stream augmented again keeps its origin and w; M1 samples with --labeller" {
    ssl-augment -q --pseudo "$D/base.mlp" --weight 0.5 --keep-unlabelled "$D/tr5.ssl" |
        ssl-augment -q --from-vae "$D/m2.vae" --per-class 2 --weight 0.25 -o "$T/twice.ssl"
    [ "$(ev "$T/twice.ssl" 'sorted(set(zip(origin.tolist(), w.tolist()))), int((origin == 1).sum())')" = "([(0, 1.0), (1, 0.25), (2, 0.5)], 20)" ]
    ssl-augment -q --from-vae "$D/m1.vae" --labeller "$D/base.mlp" --per-class 3 "$D/tr5.ssl" -o "$T/u.ssl"
    [ "$(ev "$T/u.ssl" 'int((origin == 1).sum())')" -eq 30 ]
}

@test "ssl-augment: the same seed gives the same bytes, another seed other rows" {
    # (the command line goes into meta history: the runs differ only in where the output goes)
    ssl-augment -q --from-vae "$D/m1.vae" --jitter 0.5 --pseudo "$D/base.mlp" --rounds 2 --round-epochs 5 --seed 3 \
        "$D/tr5.ssl" > "$T/a.ssl"
    ssl-augment -q --from-vae "$D/m1.vae" --jitter 0.5 --pseudo "$D/base.mlp" --rounds 2 --round-epochs 5 --seed 3 \
        "$D/tr5.ssl" > "$T/b.ssl"
    cmp "$T/a.ssl" "$T/b.ssl"
    ssl-augment -q --from-vae "$D/m1.vae" --jitter 0.5 --pseudo "$D/base.mlp" --rounds 2 --round-epochs 5 --seed 4 \
        "$D/tr5.ssl" > "$T/c.ssl"
    refute cmp -s "$T/a.ssl" "$T/c.ssl"
    # the class-conditional generators too
    for g in "--from-gan $D/gc.gan" "--from-vae $D/m2.vae"; do
        ssl-augment -q $g --per-class 3 --seed 5 "$D/tr5.ssl" > "$T/g1.ssl"
        ssl-augment -q $g --per-class 3 --seed 5 "$D/tr5.ssl" > "$T/g2.ssl"
        cmp "$T/g1.ssl" "$T/g2.ssl"
        ssl-augment -q $g --per-class 3 --seed 6 "$D/tr5.ssl" > "$T/g3.ssl"
        refute cmp -s "$T/g1.ssl" "$T/g3.ssl"
    done
}

@test "ssl-augment: a threshold outside (0, 1] is an error" {
    for t in 0 1.5 -0.1; do
        run --separate-stderr ssl-augment --pseudo "$D/base.mlp" --threshold "$t" "$D/tr5.ssl" -o "$T/o.ssl"
        assert_fails_with 1 "ssl-augment: --threshold $t is outside \(0, 1\]"
    done
    [ ! -e "$T/o.ssl" ]
    run ssl-augment --pseudo "$D/base.mlp" --threshold 1 "$D/tr5.ssl" -o "$T/o.ssl"
    [ "$status" -eq 0 ]
}

@test "ssl-augment: no labelled rows at all is an error" {
    "$PY" "$ROOT/tests/bats/mkstream.py" "$T/unl.ssl" \
        "{\"tensors\": [[\"x\", \"<f4\", [64], $("$PY" -c 'print([[0.5] * 64] * 4)')], [\"y\", \"<i4\", [], [-1, -1, -1, -1]]]}"
    run --separate-stderr ssl-augment --pseudo "$D/base.mlp" "$T/unl.ssl" -o "$T/o.ssl"
    assert_fails_with 1 'unl.ssl: no labelled rows'
    [ ! -e "$T/o.ssl" ]
}

@test "ssl-augment: a generator or classifier of another width, a classifier of another K" {
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 30 > "$T/w3.ssl"
    ssl-vae train -q --hidden 8 --latent 2 --epochs 1 "$T/w3.ssl" -o "$T/m1w3.vae"
    run --separate-stderr ssl-augment --from-vae "$T/m1w3.vae" --jitter 1 "$D/tr5.ssl"
    assert_fails_with 1 'm1w3.vae: the generator makes 3 features, .*tr5.ssl has 64'
    ssl-gan train -q --conditional --d-hidden 8 --g-hidden 8 --noise-dim 2 --epochs 1 "$T/w3.ssl" -o "$T/gw3.gan"
    run --separate-stderr ssl-augment --from-gan "$T/gw3.gan" "$D/tr5.ssl"
    assert_fails_with 1 'gw3.gan: the generator makes 3 features, .*tr5.ssl has 64'
    ssl-fit train -q --epochs 2 "$T/w3.ssl" -o "$T/w3.mlp"
    run --separate-stderr ssl-augment --pseudo "$T/w3.mlp" "$D/tr5.ssl"
    assert_fails_with 1 'w3.mlp: the classifier takes 3 features, .*tr5.ssl has 64'
    # 64 features, 3 classes
    "$PY" "$ROOT/tests/bats/mkstream.py" "$T/k3.ssl" \
        "{\"tensors\": [[\"x\", \"<f4\", [64], $("$PY" -c 'print([[i / 10] * 64 for i in range(6)])')], [\"y\", \"<i4\", [], [0, 1, 2, 0, 1, 2]]]}"
    ssl-fit train -q --epochs 2 "$T/k3.ssl" -o "$T/k3.mlp"
    run --separate-stderr ssl-augment --pseudo "$T/k3.mlp" "$D/tr5.ssl"
    assert_fails_with 1 'k3.mlp: the model has 3 classes, .*tr5.ssl has 10'
    run --separate-stderr ssl-augment --from-vae "$D/m2.vae" --filter "$T/k3.mlp" "$D/tr5.ssl"
    assert_fails_with 1 'k3.mlp: the model has 3 classes'
}

@test "ssl-augment: a model of a kind that cannot serve" {
    run --separate-stderr ssl-augment --pseudo "$D/m1.vae" "$D/tr5.ssl"
    assert_fails_with 1 "m1.vae: a model of kind 'vae' \(M1\) cannot classify"
    run --separate-stderr ssl-augment --from-vae "$D/base.mlp" "$D/tr5.ssl"
    assert_fails_with 1 "base.mlp: a model of kind 'mlp' cannot generate rows"
    run --separate-stderr ssl-augment --from-vae "$D/m2.vae" --jitter 0.5 "$D/tr5.ssl"
    assert_fails_with 1 "m2.vae: --jitter needs an M1 model"
    run --separate-stderr ssl-augment --from-gan "$D/g.gan" "$D/tr5.ssl"
    assert_fails_with 1 "g.gan: the gan model is not class-conditional: give --labeller MODEL"
    run --separate-stderr ssl-augment --from-vae "$D/m1.vae" "$D/tr5.ssl"
    assert_fails_with 1 "m1.vae: the vae model is not class-conditional: give --labeller MODEL \(or --jitter S\)"
    run --separate-stderr ssl-augment --from-gan "$D/m2.vae" "$D/tr5.ssl"
    assert_fails_with 1 "--from-gan needs a gan model"
    run --separate-stderr ssl-augment --from-gan "$D/g.gan" --labeller "$D/m1.vae" "$D/tr5.ssl"
    assert_fails_with 1 "m1.vae: a model of kind 'vae'"
}

@test "ssl-augment: usage errors exit 2" {
    run --separate-stderr ssl-augment "$D/tr5.ssl"
    assert_fails_with 2 'nothing to do'
    run --separate-stderr ssl-augment --pseudo "$D/base.mlp" --bogus "$D/tr5.ssl"
    assert_fails_with 2 "unknown option '--bogus'"
    run --separate-stderr ssl-augment --rounds 2 --from-vae "$D/m2.vae" "$D/tr5.ssl"
    assert_fails_with 2 '--rounds needs --pseudo'
    run --separate-stderr ssl-augment --pseudo "$D/base.mlp" --threshold abc "$D/tr5.ssl"
    assert_fails_with 2 'threshold'
    run --separate-stderr ssl-augment --from-vae "$D/m2.vae" --from-gan "$D/g.gan" "$D/tr5.ssl"
    assert_fails_with 2 'one generator at a time'
}
