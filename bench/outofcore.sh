#!/usr/bin/env bash
# Scale-out benchmarks (docs/scale-out.md), on Fashion-MNIST's training images (synthetic images
# when the data set is not installed):
#  1. out-of-core: peak RSS (/usr/bin/time's maximum RSS) of one epoch at N and 10N rows, held in
#     memory and with --stream-data (shuffle buffer 1000 rows): ssl-vae M1, ssl-fit (every row
#     labelled), ssl-vae M2 (10 labels a class, the unlabelled rows streamed), ssl-gan (10 labels a
#     class, D 250-250, G 250; the labelled rows held, every row streamed twice); then 20N rows (a
#     stream file larger than the limit) under an address-space limit (ulimit -v 256 MiB) for M1 and
#     ssl-gan (10 labels a class): in memory it must fail, streamed it must train.
#  2. data-parallel: seconds per epoch of the Kingma M1 (784-500-500-50, batch 128) on 10000 rows at
#     P = 1 (1 and 2 BLAS threads) and P = 2 processes of 1 thread (mpirun, the MPI build), and the
#     bytes all-reduced per step (the flat gradient buffer); the same for ssl-gan with its default
#     networks (batch 100, 5000 rows, 10 labels a class).
# Usage: bench/outofcore.sh [BUILD [MPI_BUILD]]   (default build and build-mpi; part 2 is skipped
#        without mpirun or MPI_BUILD/bin/ssl-vae)
set -eu
cd "$(dirname "$0")/.."
BIN=$PWD/${1:-build}/bin
MBIN=$PWD/${2:-build-mpi}/bin
DATA=/usr/share/datasets/fashion-mnist
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
N=6000

if [ -f $DATA/train-images-idx3-ubyte.gz ]; then
    kind=fashion-mnist
    img=$DATA/train-images-idx3-ubyte.gz
    lab=$DATA/train-labels-idx1-ubyte.gz
else
    kind=synthetic
    img=$T/img lab=$T/lab
    /usr/bin/python3 -c '
import numpy as np, sys
rs = np.random.RandomState(0)
open(sys.argv[1], "wb").write(b"\0\0\x08\x03" + np.array([60000, 28, 28], ">i4").tobytes() + rs.randint(0, 256, 60000 * 784).astype(np.uint8).tobytes())
open(sys.argv[2], "wb").write(b"\0\0\x08\x01" + np.array([60000], ">i4").tobytes() + rs.randint(0, 10, 60000).astype(np.uint8).tobytes())' "$img" "$lab"
fi
for n in $N $((10 * N)); do
    "$BIN/ssl-prep" idx --limit $n "$img" "$lab" -o "$T/$n.ssl"
    "$BIN/ssl-prep" mask --labels-per-class 10 --seed 0 "$T/$n.ssl" > "$T/${n}m.ssl"
done

rss() {   # peak RSS in MiB of a command
    /usr/bin/time -f %M -o "$T/rss" "$@" 2> "$T/err" || { cat "$T/err" >&2; echo "bench/outofcore.sh: failed: $*" >&2; exit 1; }
    awk '{ printf "%.1f", $1 / 1024 }' "$T/rss"
}
TRAIN=(train -q --epochs 1 --hidden 64 --latent 8 --threads 1 --seed 1)

FIT=(train -q --epochs 1 --hidden 64 --threads 1 --seed 1)
echo "1. peak RSS (MiB) of one epoch, $kind rows (x: 3136 bytes a row)"
printf '%-60s %10s %10s %8s\n' "" "$N rows" "$((10 * N)) rows" ratio
row() {   # NAME FILE-SUFFIX COMMAND...: the command on the N and 10N rows
    local name=$1 sfx=$2 a b
    shift 2
    a=$(rss "$@" "$T/$N$sfx.ssl" -o "$T/m.out"); b=$(rss "$@" "$T/$((10 * N))$sfx.ssl" -o "$T/m.out")
    printf '%-60s %10s %10s %8.2f\n' "$name" "$a" "$b" "$(awk -v a="$a" -v b="$b" 'BEGIN { print b / a }')"
}
S=(--stream-data --shuffle-buffer 1000)
row "ssl-vae M1, in memory" "" "$BIN/ssl-vae" "${TRAIN[@]}"
row "ssl-vae M1, ${S[*]}" "" "$BIN/ssl-vae" "${TRAIN[@]}" "${S[@]}"
row "ssl-fit, in memory" "" "$BIN/ssl-fit" "${FIT[@]}"
row "ssl-fit, ${S[*]}" "" "$BIN/ssl-fit" "${FIT[@]}" "${S[@]}"
row "ssl-vae M2 (10 labels a class), in memory" m "$BIN/ssl-vae" "${TRAIN[@]}" --model m2 --batch 100
row "ssl-vae M2 (10 labels a class), ${S[*]}" m "$BIN/ssl-vae" "${TRAIN[@]}" --model m2 --batch 100 "${S[@]}"
GAN=(train -q --epochs 1 --d-hidden 250,250 --g-hidden 250 --threads 1 --seed 1)
row "ssl-gan (10 labels a class), in memory" m "$BIN/ssl-gan" "${GAN[@]}"
row "ssl-gan (10 labels a class), ${S[*]}" m "$BIN/ssl-gan" "${GAN[@]}" "${S[@]}"

# Larger than memory: the 10N rows twice over (a stream file of 2 x 10N rows), trained under an
# address-space limit (ulimit -v) smaller than that file. The limit must leave room for OpenBLAS's
# 128 MiB buffer (address space it reserves, mostly untouched) and the libraries: 256 MiB.
twice() {   # SRC DST: the rows of SRC twice over
    /usr/bin/python3 - "$1" "$2" <<'EOF2'
import sys, msgpack
msgs = list(msgpack.Unpacker(open(sys.argv[1], "rb"), raw=False, max_bin_len=1 << 30))
body = [m for m in msgs[1:] if "tensors" in m]
with open(sys.argv[2], "wb") as f:
    f.write(msgpack.packb(msgs[0]))
    for _ in range(2):
        for m in body: f.write(msgpack.packb(m))
    f.write(msgpack.packb({"end": True, "rows": 2 * sum(m["rows"] for m in body)}))
EOF2
}
twice "$T/$((10 * N)).ssl" "$T/big.ssl"
twice "$T/$((10 * N))m.ssl" "$T/bigm.ssl"   # for ssl-gan: its labelled rows are held
limit_kb=262144
echo
echo "   $((20 * N)) rows ($(( $(stat -c %s "$T/big.ssl") / 1048576 )) MiB of stream) under ulimit -v $limit_kb (256 MiB of address space):"
for prog in ssl-vae ssl-gan; do
    for mode in "in memory" "--stream-data"; do
        extra=(); [ "$mode" = "--stream-data" ] && extra=(--stream-data --shuffle-buffer 1000)
        if [ $prog = ssl-vae ]; then args=("${TRAIN[@]}") big=$T/big.ssl; else args=("${GAN[@]}") big=$T/bigm.ssl; fi
        # one BLAS thread from the start, and a time limit: when OpenBLAS cannot map its buffer it retries
        # at every product instead of failing
        if (ulimit -v "$limit_kb"; OPENBLAS_NUM_THREADS=1 timeout 300 /usr/bin/time -f %M -o "$T/rss" \
                "$BIN/$prog" "${args[@]}" "${extra[@]}" "$big" -o "$T/m.out") 2> "$T/err"; then
            echo "   $prog, $mode: trained, peak RSS $(awk '{ printf "%.1f", $1 / 1024 }' "$T/rss") MiB"
        else
            echo "   $prog, $mode: failed: $(head -c 200 "$T/err")"
        fi
    done
done

echo
if ! command -v mpirun > /dev/null || [ ! -x "$MBIN/ssl-vae" ]; then
    echo "2. skipped: no mpirun or no $MBIN/ssl-vae (apt-get install openmpi-bin libopenmpi-dev; make MPI=1)"
    exit 0
fi
"$BIN/ssl-prep" idx --limit 10000 "$img" -o "$T/10k.ssl"
"$BIN/ssl-prep" idx --limit 5000 "$img" "$lab" | "$BIN/ssl-prep" mask --labels-per-class 10 --seed 0 > "$T/5k.ssl"
epoch2() {   # FILE CMD...: best of 3 of the second epoch's seconds (the first also pays for start-up and page faults)
    local file=$1
    shift
    for i in 1 2 3; do
        "$@" --log "$T/log" "$file" -o "$T/model"
        /usr/bin/python3 -c 'import json, sys; print("%.2f" % json.loads(open(sys.argv[1]).read().splitlines()[1])["seconds"])' "$T/log"
    done | sort -n | head -n 1
}
MPIRUN=(mpirun --oversubscribe --allow-run-as-root --bind-to none --mca btl_vader_single_copy_mechanism none -x OPENBLAS_NUM_THREADS=1 -np 2)
times() {   # STEPS FILE PROG ARGS...: P = 1 at 1 and 2 BLAS threads, P = 2; seconds an epoch, ms a step
    local steps=$1 file=$2 t1 t1b t2
    shift 2
    t1=$(epoch2 "$file" "$@" --threads 1)
    t1b=$(epoch2 "$file" "$@" --threads 2)
    t2=$(epoch2 "$file" "${MPIRUN[@]}" "$@" --threads 1)
    printf '   %-40s %8s s/epoch %8.1f ms/step\n' "P = 1, 1 BLAS thread" "$t1" "$(awk -v t="$t1" -v n="$steps" 'BEGIN { print t / n * 1000 }')"
    printf '   %-40s %8s s/epoch %8.1f ms/step\n' "P = 1, 2 BLAS threads" "$t1b" "$(awk -v t="$t1b" -v n="$steps" 'BEGIN { print t / n * 1000 }')"
    printf '   %-40s %8s s/epoch %8.1f ms/step  speed-up %.2f\n' "P = 2 (mpirun), 1 BLAS thread each" "$t2" \
        "$(awk -v t="$t2" -v n="$steps" 'BEGIN { print t / n * 1000 }')" "$(awk -v a="$t1" -v b="$t2" 'BEGIN { print a / b }')"
}
allreduced() {   # MODEL [EXTRA]: the floats all-reduced a step: the trained tensors (nn_params pads each to 16 floats)
    /usr/bin/python3 - "$@" <<'EOF'
import sys, msgpack, msgpack_numpy
p = msgpack.unpackb(open(sys.argv[1], "rb").read(), object_hook=msgpack_numpy.decode, raw=False)["params"]
# a GAN's batch-norm statistics and weight average are not trained
floats = sum((v.size + 15) // 16 * 16 for k, v in p.items() if not k.endswith((".mean", ".var")) and not k.startswith("ema."))
extra = int(sys.argv[2]) if len(sys.argv) > 2 else 0
print("   all-reduced per step: %d floats = %.2f MB%s (ring all-reduce: each rank sends and receives 2(P-1)/P of it)"
      % (floats + extra, (floats + extra) * 4 / 1e6, " (with %d feature sums)" % extra if extra else ""))
EOF
}
echo "2. data-parallel ssl-vae M1 784-500-500-50, batch 128, 10000 rows (79 steps an epoch), $(nproc) cores," \
     "load average $(cut -d ' ' -f 1 /proc/loadavg) before"
times 79 "$T/10k.ssl" "$MBIN/ssl-vae" train -q --hidden 500,500 --latent 50 --batch 128 --epochs 2 --seed 1
allreduced "$T/model"
echo "   ssl-gan, D 1000-500-250-250-250, G 500-500, batch 100 (x3 rows in D), 5000 rows (50 steps an epoch)," \
     "load average $(cut -d ' ' -f 1 /proc/loadavg) before"
times 50 "$T/5k.ssl" "$MBIN/ssl-gan" train -q --batch 100 --epochs 2 --seed 1
allreduced "$T/model" 500
