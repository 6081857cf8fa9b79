#!/bin/sh
# digits.sh: the digits pipeline as chains of pipes, to read and to copy. It is the same recipe as
# pipelines/digits.mk (the MLP baseline), plus self-training with ssl-augment, for one seed.
#
#   sh pipelines/digits.sh                 seed 0, 5 labels per class
#   SEED=1 LABELS=10 sh pipelines/digits.sh
#
# Every program reads stdin and writes stdout unless told otherwise; the few files below are what a
# later stage needs whole (the test split, the scaler's statistics, the models).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PATH="${BIN:-$ROOT/build/bin}:$PATH"
SEED=${SEED:-0}
LABELS=${LABELS:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# 1. The semi-supervised training set, in one pipe:
#    CSV (64 pixel counts and the digit per row) -> stream
#    -> stratified 70/30 split: the test part goes to a file, the training part flows on
#    -> min-max scaling fitted on the training part (statistics saved for the test part)
#    -> keep LABELS labels per class, chosen by the seed; every other row becomes unlabelled (y = -1)
ssl-prep csv --no-header "$ROOT/data/digits.csv.gz" |
    ssl-prep split --test 0.3 --seed 42 --test-out "$work/test.ssl" |
    ssl-prep scale --method minmax --fit-stats "$work/scaler.model" |
    ssl-prep mask --labels-per-class "$LABELS" --seed "$SEED" > "$work/train.ssl"

# 2. Supervised only: an MLP on the labelled rows (ssl-fit ignores y = -1), then the test split,
#    scaled with the training statistics, through the model and into the scorer.
ssl-fit train --quiet --hidden 128,64 --seed "$SEED" "$work/train.ssl" -o "$work/mlp.model"
echo "== MLP on the $((LABELS * 10)) labelled rows"
ssl-prep scale --stats "$work/scaler.model" "$work/test.ssl" |
    ssl-fit predict -m "$work/mlp.model" |
    ssl-eval | head -n 4

# 3. Self-training: the MLP pseudo-labels the unlabelled rows it is at least 90% sure of, three
#    rounds (each round retrains an MLP on labelled + pseudo rows and re-labels); a new MLP learns
#    from the labelled and pseudo-labelled rows (origin 0 and 2, weight w) and is scored the same way.
ssl-augment --quiet --pseudo "$work/mlp.model" --threshold 0.9 --rounds 3 --seed "$SEED" "$work/train.ssl" |
    ssl-fit train --quiet --hidden 128,64 --seed "$SEED" -o "$work/self.model"
echo "== MLP with self-training (threshold 0.9, 3 rounds)"
ssl-prep scale --stats "$work/scaler.model" "$work/test.ssl" |
    ssl-fit predict -m "$work/self.model" |
    ssl-eval | head -n 4
