#!/bin/sh
# sweep.sh: tunes ONE ssl-augment (or ssl-fit) parameter the honest way. It carves a validation split out of the
# labelled rows, tries each value of the grid on what is left, picks the value with the best
# validation accuracy, and only then trains on the whole training stream with that value and scores
# the test split, once.
#
# usage: sh pipelines/sweep.sh TRAIN.ssl TEST.ssl OUTDIR
#
# Settings (environment variables, defaults in brackets):
#   PARAM     the ssl-augment option swept                               [--threshold]
#   VALUES    its grid                                                   [0.7 0.8 0.9 0.95 0.99]
#   AUG_ARGS  the other ssl-augment options; the word BASE stands for a base MLP trained by this
#             script on the labelled rows at hand (without the validation rows while sweeping);
#             "none": no augmentation, PARAM is an ssl-fit option;
#             "graph": no classifier to train, PARAM is an ssl-graph option (GRAPH_ARGS the
#             others), the validation rows and then TEST classified by label propagation
#             over the rows at hand                                        [--pseudo BASE]
#   FIT_ARGS  ssl-fit train options, for the base MLP and the final one  [--hidden 128,64]
#   VAL       fraction of each class's labelled rows held out            [0.4]
#   SEED      seed of the split, the models and ssl-augment              [0]
#   BIN       where the programs are                                     [build/bin next to this file]
# Generator models named in AUG_ARGS (--from-vae, --from-gan) are used as given: for a strict
# protocol, train them on the sweep's own part (OUTDIR/fit.ssl) rather than on TRAIN.ssl.
#
# Writes into OUTDIR: fit.ssl and val.ssl (the carved parts), sweep.tsv (value, validation
# accuracy), best (the value chosen), pred.ssl (TEST with p of the final classifier) and test.json
# (its ssl-eval report, tagged with the parameter and the value).
#
# Examples:
#   sh pipelines/sweep.sh train_5.ssl test.ssl out/threshold
#   PARAM=--ratio VALUES="0.5 1 2 4" AUG_ARGS="--from-vae m2.vae --filter BASE" \
#     sh pipelines/sweep.sh train_5.ssl test.ssl out/ratio
set -eu
[ $# -eq 3 ] || { echo "usage: sh pipelines/sweep.sh TRAIN.ssl TEST.ssl OUTDIR" >&2; exit 2; }
TRAIN=$1 TEST=$2 OUT=$3
PARAM=${PARAM:---threshold}
VALUES=${VALUES:-0.7 0.8 0.9 0.95 0.99}
AUG_ARGS=${AUG_ARGS:---pseudo BASE}
FIT_ARGS=${FIT_ARGS:---hidden 128,64}
VAL=${VAL:-0.4}
SEED=${SEED:-0}
GRAPH_ARGS=${GRAPH_ARGS:-}
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/build/bin}
mkdir -p "$OUT"

# run_one TRAIN_PART BASE_MODEL VALUE MODEL_OUT: base-free augmentation args, then the classifier.
run_one() {
    if [ "$AUG_ARGS" = none ]; then
        # shellcheck disable=SC2086
        "$BIN/ssl-fit" train -q $FIT_ARGS "$PARAM" "$3" --seed "$SEED" "$1" -o "$4"
        return
    fi
    args=$(printf '%s\n' "$AUG_ARGS" | sed "s|BASE|$2|g")
    # shellcheck disable=SC2086 # word splitting of the option lists is intended
    "$BIN/ssl-augment" -q $args "$PARAM" "$3" --seed "$SEED" "$1" |
        "$BIN/ssl-fit" train -q $FIT_ARGS --seed "$SEED" -o "$4"
}
accuracy() { sed 's/.*"accuracy":\([-0-9.eE+]*\).*/\1/'; }

# graph_predict TRAIN_PART VALUE ROWS OUT: ROWS with p by ssl-graph over TRAIN_PART's rows and theirs.
graph_predict() {
    # shellcheck disable=SC2086
    "$BIN/ssl-graph" -q $GRAPH_ARGS "$PARAM" "$2" --train "$1" "$3" -o "$4"
}

# 1. The validation split: a stratified split of the training stream (unlabelled rows are one more
#    group, so the sweep's part keeps 1 - VAL of them), of which only the labelled rows are kept.
"$BIN/ssl-prep" split --test "$VAL" --seed "$SEED" --train-out "$OUT/fit.ssl" --test-out "$OUT/val_all.ssl" "$TRAIN"
"$BIN/ssl-prep" mask --drop-unlabelled "$OUT/val_all.ssl" -o "$OUT/val.ssl"
rm -f "$OUT/val_all.ssl"

# 2. Every value on the sweep's part, scored on the validation rows.
# shellcheck disable=SC2086
case $AUG_ARGS in none | graph) ;; *) "$BIN/ssl-fit" train -q $FIT_ARGS --seed "$SEED" "$OUT/fit.ssl" -o "$OUT/base_fit.mlp" ;; esac
: > "$OUT/sweep.tsv"
for v in $VALUES; do
    if [ "$AUG_ARGS" = graph ]; then
        graph_predict "$OUT/fit.ssl" "$v" "$OUT/val.ssl" "$OUT/sweep.ssl"
    else
        run_one "$OUT/fit.ssl" "$OUT/base_fit.mlp" "$v" "$OUT/sweep.mlp"
        "$BIN/ssl-fit" predict -m "$OUT/sweep.mlp" "$OUT/val.ssl" -o "$OUT/sweep.ssl"
    fi
    acc=$("$BIN/ssl-eval" --json "$OUT/sweep.ssl" | accuracy)
    printf '%s\t%s\n' "$v" "$acc" >> "$OUT/sweep.tsv"
    echo "sweep.sh: $PARAM $v: validation accuracy $acc" >&2
done
rm -f "$OUT/sweep.mlp" "$OUT/sweep.ssl"

# 3. The best value (the first one on ties), then the final run on all the training rows.
best=$(sort -s -t "$(printf '\t')" -k2,2gr "$OUT/sweep.tsv" | head -n 1 | cut -f 1)
echo "$best" > "$OUT/best"
echo "sweep.sh: chose $PARAM $best" >&2
if [ "$AUG_ARGS" = graph ]; then
    graph_predict "$TRAIN" "$best" "$TEST" "$OUT/pred.ssl"
else
    # shellcheck disable=SC2086
    [ "$AUG_ARGS" = none ] || "$BIN/ssl-fit" train -q $FIT_ARGS --seed "$SEED" "$TRAIN" -o "$OUT/base.mlp"
    run_one "$TRAIN" "$OUT/base.mlp" "$best" "$OUT/final.mlp"
    "$BIN/ssl-fit" predict -m "$OUT/final.mlp" "$TEST" -o "$OUT/pred.ssl"
fi
"$BIN/ssl-eval" --json --tag "param=$PARAM" --tag "value=$best" --tag "seed=$SEED" "$OUT/pred.ssl" -o "$OUT/test.json"
echo "sweep.sh: test accuracy $(accuracy < "$OUT/test.json")" >&2
