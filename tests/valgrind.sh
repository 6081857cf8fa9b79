#!/usr/bin/env bash
# Runs a few programs under valgrind (memcheck) on small data: any invalid access, use of
# uninitialised memory or definite/indirect leak fails (exit 1). Not part of `make test` (slow);
# run it by hand after `make`:  tests/valgrind.sh   (BUILD=build-dir to use another build)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BUILD:-build}/bin
export OPENBLAS_NUM_THREADS=1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
VG=(valgrind -q --error-exitcode=99 --leak-check=full --show-leak-kinds=definite,indirect
    --errors-for-leak-kinds=definite,indirect --track-origins=yes)
fails=0 runs=0
# check WANT CMD...: runs CMD under valgrind; WANT is the exit status the program should have.
check() {
    local want=$1 st=0
    shift
    runs=$((runs + 1))
    "${VG[@]}" --log-file="$T/vg.log" "$@" >"$T/out" 2>"$T/err" || st=$?
    if [ "$st" -ne "$want" ] || [ -s "$T/vg.log" ]; then
        fails=$((fails + 1))
        echo "FAIL (status $st, expected $want): $*"
        head -n 40 "$T/vg.log"
    else
        echo "ok   $*"
    fi
}
zcat data/digits.csv.gz | awk 'NR <= 301' > "$T/d.csv"
"$BIN/ssl-prep" csv "$T/d.csv" -o "$T/d.ssl"
"$BIN/ssl-prep" split --test 0.3 --train-out "$T/tr.ssl" --test-out "$T/te.ssl" "$T/d.ssl"
check 0 "$BIN/ssl-prep" csv "$T/d.csv" -o "$T/x.ssl"
check 0 "$BIN/ssl-prep" scale --method minmax --fit-stats "$T/sc.model" "$T/tr.ssl" -o "$T/tr_s.ssl"
check 0 "$BIN/ssl-prep" scale --stats "$T/sc.model" "$T/te.ssl" -o "$T/te_s.ssl"
check 0 "$BIN/ssl-prep" split --test 0.3 --train-out "$T/a.ssl" --test-out "$T/b.ssl" "$T/d.ssl"
check 0 "$BIN/ssl-prep" mask --labels-per-class 3 "$T/tr_s.ssl" -o "$T/m.ssl"
check 0 "$BIN/ssl-fit" train -q --hidden 16 --epochs 3 "$T/tr_s.ssl" -o "$T/mlp.model"
check 0 "$BIN/ssl-fit" predict -m "$T/mlp.model" "$T/te_s.ssl" -o "$T/p.ssl"
check 0 "$BIN/ssl-eval" "$T/p.ssl"
check 0 "$BIN/ssl-eval" --json --tag method=mlp "$T/p.ssl" -o "$T/r.json"
check 0 "$BIN/ssl-eval" table "$T/r.json"
check 0 "$BIN/ssl-show" --all "$T/p.ssl"
# error paths free what they took too
head -c 2000 "$T/p.ssl" > "$T/cut.ssl"
check 1 "$BIN/ssl-fit" predict -m "$T/mlp.model" "$T/cut.ssl" -o "$T/q.ssl"
check 1 "$BIN/ssl-eval" "$T/cut.ssl"
check 1 "$BIN/ssl-prep" csv "$T/cut.ssl" -o "$T/y.ssl"
echo "valgrind: $runs runs, $fails failed"
[ "$fails" -eq 0 ]
