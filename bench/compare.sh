#!/usr/bin/env bash
# Before/after on a shared machine: bench_train of two (or more) builds, interleaved.
#   bench/compare.sh ROUNDS NETS BUILD...      e.g. bench/compare.sh 4 m1,m2,gan build-main build
# Each round runs every net of NETS (comma-separated: mlp, mlp-digits, m1, m2, gan) at 1 and 2 threads on
# every build in turn (BUILD/bench/bench_train; m1 on 20000 rows, m2 and gan on 1000). Per net and threads
# the floor is the least replay time over every run of every build (the builds make the same products),
# and per build: the least epoch time, ratio = floor / epoch, and the least time outside the products.
set -eu
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: bench/compare.sh ROUNDS NETS BUILD..." >&2; exit 2; }
rounds=$1 nets=$2
shift 2
for b in "$@"; do [ -x "$b/bench/bench_train" ] || { echo "bench/compare.sh: no $b/bench/bench_train" >&2; exit 1; }; done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for _ in $(seq "$rounds"); do
    for n in ${nets//,/ }; do
        case $n in m1) rows=20000 ;; m2 | gan) rows=1000 ;; mlp-digits) rows=1257 ;; *) rows=60000 ;; esac
        for t in 1 2; do
            for b in "$@"; do echo "$n $t $b $("$b/bench/bench_train" "$n" --rows "$rows" --threads "$t")" >> "$out"; done
        done
    done
done
/usr/bin/python3 - "$out" <<'PY'
import collections, sys
runs = collections.defaultdict(list)
for line in open(sys.argv[1]):
    n, t, b, *kv = line.split()
    runs[(n, t, b)].append(dict(x.split("=", 1) for x in kv))
print(f"{'net':<11}{'thr':>4} {'build':<12}{'epoch s':>9}{'floor s':>9}{'ratio':>7}{'outside s':>10}")
for (n, t, b), ds in runs.items():
    fl = min(float(d["floor_s"]) for (n2, t2, _), dd in runs.items() if (n2, t2) == (n, t) for d in dd)
    e = min(float(d["epoch_s"]) for d in ds)
    o = min(float(d["epoch_s"]) - float(d["in_sgemm_s"]) for d in ds)
    print(f"{n:<11}{t:>4} {b:<12}{e:>9.4f}{fl:>9.4f}{fl / e:>7.2f}{o:>10.4f}")
PY
