#!/usr/bin/env bash
# Peak resident memory (/usr/bin/time's maximum RSS) of the streaming commands at 10k and 70k rows
# of Fashion-MNIST (train + test images as one 70000-image IDX file; synthetic IDX images when the
# data set is not installed): ssl-show, ssl-fit predict, ssl-eval and ssl-vae encode
# (each reading a file, writing to /dev/null). Memory must not grow with the rows: the last column
# is RSS(70k) / RSS(10k). Training holds its data, so it is not in this table.
# Usage: bench/memory.sh [BUILD]   (BUILD: the build folder, default build)
set -eu
cd "$(dirname "$0")/.."
BIN=$PWD/${1:-build}/bin
DATA=/usr/share/datasets/fashion-mnist
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

# IDX headers: magic, count (big-endian 70000 = 0x00011170), then rows and cols for images
if [ -f $DATA/train-images-idx3-ubyte.gz ] && [ -f $DATA/t10k-images-idx3-ubyte.gz ]; then
    kind=fashion-mnist
    { printf '\x00\x00\x08\x03\x00\x01\x11\x70\x00\x00\x00\x1c\x00\x00\x00\x1c'
      zcat $DATA/train-images-idx3-ubyte.gz | tail -c +17; zcat $DATA/t10k-images-idx3-ubyte.gz | tail -c +17; } > "$T/img"
    { printf '\x00\x00\x08\x01\x00\x01\x11\x70'
      zcat $DATA/train-labels-idx1-ubyte.gz | tail -c +9; zcat $DATA/t10k-labels-idx1-ubyte.gz | tail -c +9; } > "$T/lab"
else
    kind=synthetic
    /usr/bin/python3 -c '
import numpy as np, sys
rs = np.random.RandomState(0)
open(sys.argv[1], "wb").write(b"\0\0\x08\x03" + np.array([70000, 28, 28], ">i4").tobytes() + rs.randint(0, 256, 70000 * 784).astype(np.uint8).tobytes())
open(sys.argv[2], "wb").write(b"\0\0\x08\x01" + np.array([70000], ">i4").tobytes() + rs.randint(0, 10, 70000).astype(np.uint8).tobytes())' "$T/img" "$T/lab"
fi

rss() {   # peak RSS in MiB of a command (stdout to /dev/null)
    /usr/bin/time -f %M -o "$T/rss" "$@" > /dev/null 2> "$T/err" || { cat "$T/err" >&2; echo "bench/memory.sh: failed: $*" >&2; exit 1; }
    awk '{ printf "%.1f", $1 / 1024 }' "$T/rss"
}

for n in 10000 70000; do
    "$BIN/ssl-prep" idx --limit $n "$T/img" "$T/lab" > "$T/$n.ssl"
done
# small models, trained on the 10k rows (their speed is not measured here)
"$BIN/ssl-fit" train -q --epochs 1 "$T/10000.ssl" -o "$T/m.mlp"
"$BIN/ssl-vae" train -q --epochs 1 --hidden 64 --latent 8 "$T/10000.ssl" -o "$T/m.vae"
for n in 10000 70000; do "$BIN/ssl-fit" predict -m "$T/m.mlp" "$T/$n.ssl" > "$T/$n.pred.ssl"; done

echo "peak RSS (MiB) of the streaming commands, $kind rows ($(nproc) cores)"
printf '%-34s %10s %10s %8s\n' command "10k rows" "70k rows" ratio
row() {   # NAME SUFFIX COMMAND...: the command reads $T/ROWS$SUFFIX
    local name=$1 suffix=$2 a b
    shift 2
    a=$(rss "$@" "$T/10000$suffix"); b=$(rss "$@" "$T/70000$suffix")
    printf '%-34s %10s %10s %8.2f\n' "$name" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')"
}
row "ssl-show" .ssl "$BIN/ssl-show"
row "ssl-fit predict -m M" .ssl "$BIN/ssl-fit" predict -m "$T/m.mlp"
row "ssl-eval" .pred.ssl "$BIN/ssl-eval"
row "ssl-vae encode -m M1" .ssl "$BIN/ssl-vae" encode -m "$T/m.vae"
