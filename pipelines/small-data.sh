#!/bin/sh
# small-data.sh [BIN]: test accuracy (%) of `PROGRAM train ARGS` with 5 labels per class on small tables:
# scikit-learn's iris, wine and breast cancer CSVs (Debian's python3-sklearn) split 70/30 (--seed 1) and
# standardised, and the digits pipeline's seeds 0-2 (build/pipelines/digits, `make demo` makes them).
# One line per setting "PROGRAM ARGS" in SETTINGS, |-separated (default: logistic regression's learning
# rates); the unlabelled rows are there for the programs that use them. E.g.
#   SETTINGS='ssl-vae --model m2|ssl-vae --model m2 --epochs 100' sh pipelines/small-data.sh
#   SETTINGS='m1|m1 --epochs 1000|selftrain --rounds 3|selftrain --rounds 3 --threshold 0.7' sh pipelines/small-data.sh
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$ROOT/build/bin}
SK=/usr/lib/python3/dist-packages/sklearn/datasets/data
DIGITS=${DIGITS-$ROOT/build/pipelines/digits}   # DIGITS=none: the three tables only
SETTINGS=${SETTINGS:-"ssl-fit --hidden 0 --lr 0.001|ssl-fit --hidden 0 --lr 0.003|ssl-fit --hidden 0 --lr 0.01|ssl-fit --hidden 0 --lr 0.03|ssl-fit --hidden 0 --lr 0.1"}
W=$(mktemp -d)
trap 'rm -rf "$W"' EXIT
for f in iris wine_data breast_cancer; do
    "$BIN/ssl-prep" csv "$SK/$f.csv" 2>/dev/null |
        "$BIN/ssl-prep" split --test 0.3 --seed 1 --train-out "$W/$f-tr.ssl" --test-out "$W/$f-te.ssl"
    "$BIN/ssl-prep" scale --method standard --fit-stats "$W/$f.stats" "$W/$f-tr.ssl" > "$W/$f-trs.ssl"
    "$BIN/ssl-prep" scale --stats "$W/$f.stats" "$W/$f-te.ssl" > "$W/$f-tes.ssl"
    "$BIN/ssl-prep" mask --labels-per-class 5 --seed 0 "$W/$f-trs.ssl" > "$W/$f-5.ssl"
done
# predictions LABELLED TEST PROGRAM ARGS...: the test split with p added by PROGRAM trained with ARGS.
# Two programs are pipelines of the tools: "m1 ARGS" is `ssl-vae train ARGS` (M1) and the default
# ssl-fit MLP on its latents; "selftrain ARGS" is the default MLP, `ssl-augment --pseudo MLP ARGS`
# and the default MLP again on the labelled and pseudo-labelled rows.
predictions() {
    l=$1 t=$2 prog=$3; shift 3
    case $prog in
    m1)
        "$BIN/ssl-vae" train -q "$@" "$l" -o "$W/m1.vae"
        "$BIN/ssl-vae" encode -m "$W/m1.vae" --replace "$l" -o "$W/z.ssl"
        "$BIN/ssl-vae" encode -m "$W/m1.vae" --replace "$t" -o "$W/z_test.ssl"
        predictions "$W/z.ssl" "$W/z_test.ssl" ssl-fit ;;
    selftrain)
        "$BIN/ssl-fit" train -q "$l" -o "$W/base.model"
        "$BIN/ssl-augment" -q --pseudo "$W/base.model" "$@" "$l" -o "$W/pseudo.ssl"
        predictions "$W/pseudo.ssl" "$t" ssl-fit ;;
    *)
        "$BIN/$prog" train -q "$@" "$l" -o "$W/m.model"
        "$BIN/$prog" predict -m "$W/m.model" "$t" ;;
    esac
}
# accuracy LABELLED TEST PROGRAM ARGS...: the test accuracy in percent of PROGRAM trained with ARGS
accuracy() {
    predictions "$@" | "$BIN/ssl-eval" --json |
        sed 's/.*"accuracy":\([0-9.e-]*\).*/\1/' | awk '{ printf "%.1f", 100 * $1 }'
}
echo "| PROGRAM train | iris | wine | breast cancer | digits s0 / s1 / s2 |"
echo "|---|---:|---:|---:|---|"
echo "$SETTINGS" | tr '|' '\n' | while read -r args; do
    # shellcheck disable=SC2086  # ARGS split into options
    line="| \`$args\` | $(accuracy "$W/iris-5.ssl" "$W/iris-tes.ssl" $args) | $(accuracy "$W/wine_data-5.ssl" "$W/wine_data-tes.ssl" $args)"
    line="$line | $(accuracy "$W/breast_cancer-5.ssl" "$W/breast_cancer-tes.ssl" $args) |"
    if [ -f "$DIGITS/L5/s0/labelled.ssl" ]; then
        # shellcheck disable=SC2086
        line="$line $(accuracy "$DIGITS/L5/s0/labelled.ssl" "$DIGITS/test_s.ssl" $args --seed 0) /"
        line="$line $(accuracy "$DIGITS/L5/s1/labelled.ssl" "$DIGITS/test_s.ssl" $args --seed 1) /"
        line="$line $(accuracy "$DIGITS/L5/s2/labelled.ssl" "$DIGITS/test_s.ssl" $args --seed 2) |"
    else
        line="$line |"
    fi
    echo "$line"
done
