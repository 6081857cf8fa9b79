#!/usr/bin/env bats
# Interrupted training (lib/trainctl.h): SIGINT/SIGTERM write MODEL.ckpt and die by the signal;
# --resume ends with the same bytes as an uninterrupted run, for every trainer (ssl-fit, ssl-vae
# M1 and M2, ssl-gan); SIGKILL at any moment leaves a whole model or none; a NaN loss stops naming
# epoch and batch and keeps the checkpoint. The interrupts come from SSL_STOP_AFTER_STEPS (the
# N-th step behaves as if SIGINT had arrived), so nothing depends on timing, except the real
# SIGTERM and SIGKILL tests, which hold whatever the moment.
load helpers
load models
bats_require_minimum_version 1.5.0

setup_file() {
    # about 540 training rows, x in [0, 1]; tr5.ssl: 5 labels per class
    prep_digits "$BATS_FILE_TMPDIR" 0.7
}

# 540 rows in batches of 50: 10-11 steps an epoch, so step 25 falls in epoch 3
FIT="ssl-fit train --hidden 16 --epochs 5 --batch 50 --patience 100 --seed 3 --threads 1 -q"
M1="ssl-vae train --hidden 16 --latent 4 --epochs 4 --batch 50 --seed 3 --threads 1 -q"
M2="ssl-vae train --model m2 --hidden 16 --latent 4 --epochs 4 --batch 50 --seed 3 --threads 1 -q"
GAN="ssl-gan train --d-hidden 32,16 --g-hidden 16 --noise-dim 8 --epochs 4 --batch 50 --seed 3 --threads 1 -q"

# interrupt_resume MODEL CMD...: the run stopped at step 25 dies by SIGINT (130), names the
# checkpoint of epoch 2 and leaves the file already at MODEL alone; --resume then ends with the
# uninterrupted run's bytes and removes the checkpoint.
interrupt_resume() {
    local m=$1
    shift
    "$@" -o "$m.full"
    echo old > "$m"
    run --separate-stderr env SSL_STOP_AFTER_STEPS=25 "$@" -o "$m"
    [ "$status" -eq 130 ] || { echo "status $status: $stderr"; return 1; }
    [[ "$stderr" == *"interrupted (SIGINT); $m.ckpt holds the state after epoch 2: "*"--resume"* ]]
    [ -s "$m.ckpt" ]
    refute cmp -s "$m.ckpt" "$m.full"
    [ "$(cat "$m")" = old ] || [ "$1" = ssl-gan ]   # ssl-gan writes MODEL every epoch (--checkpoint-every 1)
    "$@" --resume -o "$m"
    cmp "$m" "$m.full"
    [ ! -e "$m.ckpt" ]
}

@test "ssl-fit train: interrupted, then --resume: the uninterrupted run's bytes" {
    interrupt_resume "$T/m" $FIT "$D/tr.ssl"
}

@test "ssl-fit train --val (best weights, early-stopping state): the same after --resume" {
    interrupt_resume "$T/m" $FIT --val "$D/te.ssl" "$D/tr.ssl"
}

@test "ssl-fit train --vat --entmin --batch-norm --lr-decay-start: the same after --resume" {
    interrupt_resume "$T/m" $FIT --vat 1 --entmin 0.5 --batch-norm --lr-decay-start 3 --unlabelled-batch 20 "$D/tr.ssl"
}

@test "ssl-fit train --fixmatch --shift --flip --batch-norm: the same after --resume" {
    interrupt_resume "$T/m" $FIT --fixmatch 1 --fixmatch-threshold 0.5 --cutout 3 --shift 1 --flip --batch-norm \
        --unlabelled-batch 20 "$D/tr.ssl"
}

@test "ssl-fit train --stream-data: --resume gives the uninterrupted bytes, rows held or streamed" {
    # the default buffer holds the 540 rows (a cumulative shuffle the checkpoint keeps); 100 streams them
    interrupt_resume "$T/h" $FIT --stream-data "$D/tr.ssl"
    interrupt_resume "$T/s" $FIT --stream-data --shuffle-buffer 100 "$D/tr.ssl"
}

@test "ssl-gan train --stream-data: --resume gives the uninterrupted bytes, rows held or streamed" {
    interrupt_resume "$T/h" $GAN --stream-data "$D/tr5.ssl"
    interrupt_resume "$T/s" $GAN --stream-data --shuffle-buffer 100 "$D/tr5.ssl"
}

@test "ssl-vae train (M1): interrupted, then --resume: the uninterrupted run's bytes" {
    interrupt_resume "$T/m" $M1 --kl-warmup 2 "$D/tr.ssl"
}

@test "ssl-vae train --model m2: interrupted, then --resume: the uninterrupted run's bytes" {
    interrupt_resume "$T/m" $M2 "$D/tr5.ssl"
}

@test "ssl-vae train --model m2 --vat --entmin --shift: the same after --resume" {
    interrupt_resume "$T/m" $M2 --vat 1 --entmin 0.5 --shift 1 "$D/tr5.ssl"
}

@test "ssl-vae train --model adgm, sdgm --binarise: the same after --resume" {
    interrupt_resume "$T/a" ssl-vae train --model adgm --aux 3 --latent 4 --hidden 16 --epochs 4 --batch 50 --seed 3 --threads 1 -q --binarise "$D/tr5.ssl"
    interrupt_resume "$T/s" ssl-vae train --model sdgm --aux 3 --latent 4 --hidden 16 --epochs 4 --batch 50 --seed 3 --threads 1 -q "$D/tr5.ssl"
}

@test "ssl-gan train --vat --entmin: the same after --resume" {
    interrupt_resume "$T/m" $GAN --vat 1 --entmin 0.5 "$D/tr5.ssl"
}

@test "ssl-gan train: interrupted, then --resume: the uninterrupted run's bytes" {
    interrupt_resume "$T/m" $GAN --lr-decay-start 2 "$D/tr5.ssl"
}

@test "ssl-gan train --g-deconv: interrupted, then --resume: the uninterrupted run's bytes (G's batch-norm statistics kept)" {
    interrupt_resume "$T/m" ${GAN/--g-hidden 16/--g-deconv 4x2x2,4:3:2,1:3:2} "$D/tr5.ssl"
}

@test "an interrupted run keeps its --log of the epochs done; one stopped in its first epoch leaves the old file" {
    local prog
    for prog in "$FIT $D/tr.ssl" "$M1 $D/tr.ssl" "$M2 $D/tr5.ssl" "$GAN $D/tr5.ssl"; do
        echo old > "$T/log.json"
        run --separate-stderr env SSL_STOP_AFTER_STEPS=25 $prog --log "$T/log.json" -o "$T/m"
        [ "$status" -eq 130 ]
        "$PY" -c "import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; assert [e['epoch'] for e in r] == [1, 2], r" "$T/log.json"
        echo old > "$T/log.json"
        run --separate-stderr env SSL_STOP_AFTER_STEPS=3 $prog --log "$T/log.json" -o "$T/m"
        [ "$status" -eq 130 ]
        [ "$(cat "$T/log.json")" = old ]
        [ -z "$(ls "$T" | grep "^log.json.tmp")" ]   # no temporary file left behind
    done
}

@test "a checkpoint loads as a model: ssl-fit predict and ssl-gan predict read it" {
    SSL_STOP_AFTER_STEPS=25 run $FIT "$D/tr.ssl" -o "$T/f"
    [ "$status" -eq 130 ]
    ssl-fit predict -m "$T/f.ckpt" "$D/te.ssl" | ssl-eval | grep -q accuracy
    SSL_STOP_AFTER_STEPS=25 run $GAN "$D/tr5.ssl" -o "$T/g"
    [ "$status" -eq 130 ]
    ssl-gan predict -m "$T/g.ckpt" "$D/te.ssl" | ssl-eval | grep -q accuracy
}

@test "--resume without a checkpoint, or from another kind of model: one line, exit 1" {
    run --separate-stderr $FIT --resume "$D/tr.ssl" -o "$T/none"
    assert_fails_with 1 "none\.ckpt: No such file or directory: nothing to resume"
    SSL_STOP_AFTER_STEPS=25 run $FIT "$D/tr.ssl" -o "$T/f"
    run --separate-stderr $M1 --resume "$D/tr.ssl" -o "$T/f"
    assert_fails_with 1 "f\.ckpt: model is of kind 'mlp', expected 'vae'"
    run --separate-stderr ssl-fit train --hidden 8 --epochs 5 --batch 50 --seed 3 -q --resume "$D/tr.ssl" -o "$T/f"
    assert_fails_with 1 "f\.ckpt: the interrupted run had --hidden \[16\], this one --hidden \[8\]"
}

@test "a real SIGTERM: status 143, the checkpoint, and --resume ends with the uninterrupted bytes" {
    cmd=(ssl-fit train --hidden 32 --epochs 1000 --batch 50 --patience 10000 --seed 3 --threads 1 "$D/tr.ssl")
    "${cmd[@]}" -q -o "$T/full"
    : > "$T/err"   # there before the loop reads it, however late the job starts
    "${cmd[@]}" -o "$T/m" 2> "$T/err" &
    local pid=$! n=0
    while [ "$(grep -c 'epoch' "$T/err")" -lt 3 ] && [ $n -lt 200 ]; do sleep 0.02; n=$((n + 1)); done
    kill -TERM $pid
    local st=0
    wait $pid || st=$?
    [ "$st" -ne 0 ] || skip "training ended before the signal"
    [ "$st" -eq 143 ]
    grep -q "interrupted (SIGTERM); $T/m.ckpt holds the state after epoch" "$T/err"
    "${cmd[@]}" -q --resume -o "$T/m"
    cmp "$T/m" "$T/full"
}

@test "SIGKILL at any moment leaves a whole model (the old one or a new one) and a whole checkpoint, or none" {
    $GAN --epochs 1 "$D/tr5.ssl" -o "$T/g"
    $M1 --epochs 1 "$D/tr.ssl" -o "$T/v"
    local i kills=0
    for i in 1 2 3 4 5 6 7 8; do
        $GAN --epochs 200 --checkpoint-every 1 "$D/tr5.ssl" -o "$T/g" &
        local p1=$!
        $M1 --epochs 200 --checkpoint-every 1 "$D/tr.ssl" -o "$T/v" &
        local p2=$!
        sleep "0.$((i * 11))"
        kill -9 $p1 $p2 2> /dev/null && kills=$((kills + 1))
        wait $p1 $p2 || true
        ssl-gan predict -m "$T/g" "$D/te.ssl" > /dev/null
        ssl-vae encode -m "$T/v" "$D/te.ssl" > /dev/null
        if [ -e "$T/g.ckpt" ]; then ssl-gan predict -m "$T/g.ckpt" "$D/te.ssl" > /dev/null; fi
        if [ -e "$T/v.ckpt" ]; then ssl-vae encode -m "$T/v.ckpt" "$D/te.ssl" > /dev/null; fi
    done
    [ "$kills" -ge 4 ]
}

# 64 features near FLT_MAX, all of one sign in a row: a hidden unit whose weights sum above 1 in
# size overflows to +inf in one of the first two rows (with 64 units, some unit does), and inf
# times the next layer's weights of both signs gives inf - inf = NaN, whatever the step size
huge_stream() {
    "$PY" -c 'import json; r = [[3.4e38] * 64, [-3.4e38] * 64, [3e38, -3e38] * 32, [-1e38, 3e38] * 32]
print(json.dumps({"tensors": [["x", "<f4", [64], r], ["y", "<i4", [], [0, 1, -1, -1]]], "meta": {"class_names": ["a", "b"]}}))' > "$1.json"
    "$PY" "$BATS_TEST_DIRNAME/mkstream.py" "$1" "@$1.json"
}

@test "a NaN loss stops every trainer naming epoch and batch; MODEL stays, MODEL.ckpt keeps the last good state" {
    huge_stream "$T/huge.ssl"
    local prog
    for prog in "ssl-fit train --hidden 64 --epochs 3" "ssl-vae train --likelihood gaussian --hidden 64 --latent 2 --epochs 3" \
                "ssl-vae train --model m2 --likelihood gaussian --hidden 64 --latent 2 --epochs 3" \
                "ssl-gan train --d-hidden 64 --g-hidden 4 --noise-dim 2 --g-output none --epochs 3"; do
        echo old > "$T/m"
        rm -f "$T/m.ckpt"
        run --separate-stderr $prog -q "$T/huge.ssl" -o "$T/m"
        assert_fails_with 1 "epoch 1[,:] batch 1: .*(not finite|is -?nan|diverged).*m\.ckpt keeps the state after epoch 0"
        [ "$(cat "$T/m")" = old ]
        [ -s "$T/m.ckpt" ]
    done
}

@test "--resume with other options than the interrupted run's: refused, naming the option; the checkpoint stays" {
    local cmd
    for cmd in "$FIT" "$M1" "$M2" "$GAN"; do
        rm -f "$T/m" "$T/m.ckpt"
        run --separate-stderr env SSL_STOP_AFTER_STEPS=25 $cmd "$D/tr.ssl" -o "$T/m"
        [ "$status" -eq 130 ]
        [ -s "$T/m.ckpt" ]
        run --separate-stderr $cmd --lr 0.0123 --resume "$D/tr.ssl" -o "$T/m"
        assert_fails_with 1 "m.ckpt: the interrupted run had --lr 0.*, this one --lr 0.0123: resume with its options"
        run --separate-stderr $cmd --seed 4 --resume "$D/tr.ssl" -o "$T/m"
        assert_fails_with 1 "had --seed 3, this one --seed 4"
        [ -s "$T/m.ckpt" ]
        $cmd --resume "$D/tr.ssl" -o "$T/m"   # the same options: it finishes
        [ ! -e "$T/m.ckpt" ]
    done
}

@test "ssl-fit train --conv --batch-norm --vat --entmin --val, and --stream-data: the same after --resume" {
    interrupt_resume "$T/m" $FIT --conv 4:3:1,8:3:2 --batch-norm --vat 1 --entmin 0.5 --unlabelled-batch 20 --val "$D/te.ssl" "$D/tr.ssl"
    interrupt_resume "$T/s" $FIT --conv 4:3:2 --conv-pool --stream-data --shuffle-buffer 100 "$D/tr.ssl"
}
