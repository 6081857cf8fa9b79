#!/usr/bin/env bats
# What -o and every other written file guarantee (lib/atomicfile.h): a regular file is replaced whole
# with its mode kept (new files: 0666 less the umask), a symbolic link's target is replaced and the
# link stays, /dev/stdout and other descriptors are written through, and one file named as two
# outputs is a usage error.
load helpers

setup() {
    T="$BATS_TEST_TMPDIR"
    cd "$T"
    ssl-prep csv --no-header "$DIGITS" -o d.ssl
}

@test "-o /dev/stdout while stdout is a file: the file gets the stream" {
    ssl-prep mask --labels-per-class 2 d.ssl -o /dev/stdout > f.ssl
    ssl-prep mask --labels-per-class 2 d.ssl -o /dev/stdout | cat > want.ssl
    [ -s f.ssl ]
    cmp f.ssl want.ssl
    ssl-show f.ssl > /dev/null
}

@test "-o /dev/stdout into a pipe, and appending through >>" {
    ssl-prep mask --labels-per-class 2 d.ssl -o /dev/stdout > want.ssl
    ssl-prep mask --labels-per-class 2 d.ssl -o /dev/stdout | cat > piped.ssl
    cmp piped.ssl want.ssl
    printf 'keep' > log.txt
    ssl-prep mask --labels-per-class 2 d.ssl -o /dev/stdout >> log.txt
    [ "$(head -c 4 log.txt)" = keep ]
    [ "$(stat -c %s log.txt)" -eq $(( $(stat -c %s want.ssl) + 4 )) ]
}

@test "a symbolic link as -o: its target is replaced, the link stays" {
    echo old > target.ssl
    ln -s target.ssl link.ssl
    ssl-prep mask --labels-per-class 2 d.ssl -o link.ssl
    [ -L link.ssl ]
    [ "$(readlink link.ssl)" = target.ssl ]
    ssl-show target.ssl > /dev/null
    [ -z "$(ls | grep tmp)" ]
}

@test "a link to nowhere as -o: one line, exit 1, nothing created" {
    ln -s missing/dir/x.ssl dangling.ssl
    run --separate-stderr ssl-prep mask --labels-per-class 2 d.ssl -o dangling.ssl
    assert_fails_with 1 'dangling.ssl: a symbolic link to nowhere'
    refute test -e missing
}

@test "new outputs honour the umask; a replaced file keeps its mode" {
    (umask 077 && ssl-prep mask --labels-per-class 2 d.ssl -o private.ssl)
    [ "$(stat -c %a private.ssl)" = 600 ]
    (umask 022 && ssl-prep mask --labels-per-class 2 d.ssl -o public.ssl)
    [ "$(stat -c %a public.ssl)" = 644 ]
    echo x > kept.ssl
    chmod 640 kept.ssl
    ssl-prep mask --labels-per-class 2 d.ssl -o kept.ssl
    [ "$(stat -c %a kept.ssl)" = 640 ]
    ssl-show kept.ssl > /dev/null
}

@test "models and checkpoints keep the umask too" {
    (umask 077 && ssl-vae train -q --hidden 4 --latent 2 --epochs 2 --checkpoint-every 1 d.ssl -o v.model)
    [ "$(stat -c %a v.model)" = 600 ]
}

@test "one file named as two outputs is a usage error, before any work" {
    run --separate-stderr ssl-fit train -q --hidden 4 --epochs 1 d.ssl -o m.model --log ./m.model
    assert_fails_with 2 'm.model and ./m.model are the same file'
    refute test -e m.model
    run --separate-stderr ssl-prep split --train-out a.ssl --test-out "$T/a.ssl" d.ssl
    assert_fails_with 2 'a.ssl and .*a.ssl are the same file'
    touch a.ssl
    ln -s a.ssl b.ssl
    run --separate-stderr ssl-prep split --train-out a.ssl --test-out b.ssl d.ssl
    assert_fails_with 2 'the same file'
    run --separate-stderr ssl-vae train -q --epochs 1 --hidden 4 --latent 2 d.ssl -o v.model --log v.model
    assert_fails_with 2 'the same file'
    run --separate-stderr ssl-gan train -q --epochs 1 --d-hidden 4 --g-hidden 4 d.ssl -o g.model --log g.model
    assert_fails_with 2 'the same file'
}

@test "a link planted where a checkpoint is written does not redirect it" {
    echo victim > victim.txt
    ln -s victim.txt v.model.ckpt-tmp
    ssl-vae train -q --hidden 4 --latent 2 --epochs 2 --checkpoint-every 1 d.ssl -o v.model
    [ "$(cat victim.txt)" = victim ]
    ssl-show v.model > /dev/null 2>&1 || ssl-vae sample -m v.model -n 2 > /dev/null
}

@test "a program killed while writing (SIGTERM, SIGKILL) leaves no temporary file and the old output" {
    echo old > out.ssl
    for sig in TERM KILL; do
        mkfifo in.csv
        ssl-prep csv in.csv -o out.ssl &
        pid=$!
        exec 7> in.csv
        printf 'a,b,label\n1,2,0\n' >&7
        sleep 0.3
        kill -$sig $pid
        wait $pid || true
        exec 7>&-
        rm in.csv
        [ "$(cat out.ssl)" = old ]
        [ -z "$(ls | grep tmp)" ] || { ls; return 1; }
    done
}
