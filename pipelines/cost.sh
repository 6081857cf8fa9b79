#!/bin/sh
# cost.sh WORK: what a comparison's runs cost, from the wall times its rules recorded (pipelines/timed)
# under build/pipelines/DATASET: one line per stage (seconds summed over label sets and seeds, and the
# number of runs), then the total of every stage, each training counted once (a method's NAME.time that
# adds up the models it used, the M1's copy m1.time and an M2 copied as aug-m2 are left out). Data
# preparation, prediction and evaluation are not timed: small next to the training.
#   sh pipelines/cost.sh build/pipelines/fashion-mnist
set -eu
[ $# -eq 1 ] && [ -d "$1" ] || { echo "usage: cost.sh WORK (e.g. build/pipelines/fashion-mnist)" >&2; exit 2; }
cd "$1"
# Stages: the leaf .time files. A method built by aug_method has NAME.aug.time and NAME.fit.time and a
# NAME.time that sums them with its models': the sum is left out. aug-m2.time is m2.time when copied.
for f in m1/s*.time L*/s*/*.time; do
    [ -e "$f" ] || continue
    d=$(dirname "$f") b=$(basename "$f" .time)
    case $b in
    m1) continue ;;                                      # the run's copy of m1/sN.time
    *.aug|*.fit) ;;
    *) [ -e "$d/$b.aug.time" ] && continue               # an aug_method's total
       [ "$b" = aug-m2 ] && [ -e "$d/m2.model" ] && cmp -s "$d/aug-m2.vae" "$d/m2.model" 2>/dev/null && continue ;;
    esac
    case $f in m1/*) stage=m1 ;; *) stage=$(echo "$d" | cut -d/ -f1)/$b ;; esac
    echo "$stage $(cat "$f")"
done | awk '{ s[$1] += $2; n[$1]++; t += $2 }
    END { for (k in s) printf "%-28s %9.1f s  %d runs\n", k, s[k], n[k] | "sort"; close("sort");
          printf "%-28s %9.1f s  (%.2f h of training, one job after another)\n", "total", t, t / 3600 }'
