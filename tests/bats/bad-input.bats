#!/usr/bin/env bats
# Bad input over every program: each case must exit 1 with ONE line on stderr naming the place
# (file:row:column or file: message) and leave no output file. Also: -o /dev/full, and a closed
# pipe (| head -c 1) ends quietly. Each test reports its case count on fd 3 ("# N cases").
load helpers
export OPENBLAS_NUM_THREADS=1   # tiny data: skip starting a thread pool in every run

# Fixtures shared by the tests (tiny: every model trains in well under a second).
setup_file() {
    export F="$BATS_FILE_TMPDIR"
    cd "$F"
    ROOT="$ROOT" "$PY" - <<'EOF'
import io, os, sys
import msgpack, numpy as np
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests"))
from sslstream import pack, stream_bytes

def stream(path, cols, meta, batch, end=True, version=(1, 0)):
    out = stream_bytes(list(cols.items()), meta, batch, end, version)
    open(path, "wb").write(out)
    return out

rng = np.random.default_rng(0)
meta = {"class_names": ["a", "b", "c"], "feature_names": ["f1", "f2", "f3"], "x_range": [0, 1]}
x = rng.random((24, 3)).astype(np.float32)
y = (np.arange(24) % 3).astype(np.int32)
ids = np.arange(24, dtype=np.int64)
good = stream("good.ssl", {"x": x, "y": y, "id": ids}, meta, 12)
p = np.full((24, 3), 1 / 3, np.float32)
stream("pred.ssl", {"x": x, "y": y, "p": p}, meta, 8)
# cuts of good.ssl (header, 2 batches, end): at every message boundary (0 = empty input) and mid-message
ends = [0]
u = msgpack.Unpacker(io.BytesIO(good))
for _ in u:
    ends.append(u.tell())
assert len(ends) == 5
cuts = sorted({c for a, b in zip(ends, ends[1:]) for c in (a, (a + b) // 2)})
for c in cuts:
    open(f"cut{c}.ssl", "wb").write(good[:c])
open("cuts", "w").write(" ".join(f"cut{c}.ssl" for c in cuts) + "\n")
# a corrupt header, a byte MessagePack never uses, garbage, an unknown version
open("badformat.ssl", "wb").write(good.replace(b"ssl-stream", b"ssl-strean", 1))
i = good.index(b"feature_names")
open("badbyte.ssl", "wb").write(good[:i - 1] + b"\xc1" + good[i:])
open("garbage.ssl", "wb").write(b"\x00\x01\x02hello")
stream("v2.ssl", {"x": x, "y": y}, meta, 8, version=(2, 0))
# five features (for the width checks), labels out of range, non-finite features, four classes
meta5 = dict(meta, feature_names=["f1", "f2", "f3", "f4", "f5"])
stream("wide.ssl", {"x": rng.random((24, 5)).astype(np.float32), "y": y}, meta5, 8)
y7 = y.copy(); y7[5] = 7
stream("y7.ssl", {"x": x, "y": y7}, meta, 8)
stream("y7p.ssl", {"x": x, "y": y7, "p": p}, meta, 8)
# no rows: an end message right after the header, or a batch of 0 rows before it
stream("zero.ssl", {"x": x[:0], "y": y[:0]}, meta, 8)
zero = stream("zerobatch.ssl", {"x": x[:0], "y": y[:0]}, meta, 8)
head_len = len(pack({"format": "ssl-stream", "version": [1, 0], "meta": meta,
                     "tensors": [{"name": "x", "type": "<f4", "shape": [3]}, {"name": "y", "type": "<i4", "shape": []}]}))
open("zerobatch.ssl", "wb").write(zero[:head_len] + pack({"rows": 0, "tensors": {"x": x[:0], "y": y[:0]}}) + zero[head_len:])
yneg = y.copy(); yneg[4] = -5
stream("yneg.ssl", {"x": x, "y": yneg}, meta, 8)
stream("yneg-p.ssl", {"x": x, "y": yneg, "p": p}, meta, 8)
xn = x.copy(); xn[3, 1] = np.nan
stream("xnan.ssl", {"x": xn, "y": y}, meta, 8)
xi = x.copy(); xi[2, 0] = -np.inf
stream("xinf.ssl", {"x": xi, "y": y}, meta, 8)
stream("four.ssl", {"x": x, "y": (np.arange(24) % 4).astype(np.int32)}, dict(meta, class_names=list("abcd")), 8)
# a large stream for the closed-pipe cases
n = 30000
stream("big.ssl", {"x": rng.random((n, 3)).astype(np.float32), "y": (np.arange(n) % 3).astype(np.int32),
                   "id": np.arange(n, dtype=np.int64)}, meta, 4096)
EOF
    printf 'a,b,label\n0.1,0.2,0\n0.3,0.4,1\n0.5,0.6,2\n0.7,0.8,0\n' > good.csv
    ssl-fit train -q --hidden 4 --epochs 1 good.ssl -o mlp.model
    ssl-prep scale --method minmax --fit-stats scaler.model good.ssl -o /dev/null
    if present ssl-vae; then
        ssl-vae train -q --hidden 4 --latent 2 --epochs 1 good.ssl -o vae.model
        ssl-vae train -q --model m2 --hidden 4 --latent 2 --epochs 1 good.ssl -o m2.model
    fi
    if present ssl-gan; then
        ssl-gan train -q --d-hidden 4 --g-hidden 4 --noise-dim 2 --epochs 1 good.ssl -o gan.model
    fi
    head -c 200 mlp.model > trunc.model
    : > empty.model
}

setup() {
    T="$BATS_TEST_TMPDIR"
    cd "$F"
    O="$T/out"
    mkdir -p "$O"
    cases=0
}

# True when the program is built (ssl-vae, ssl-gan and ssl-augment are guarded while in progress).
present() { [ -x "$BUILD_DIR/bin/$1" ]; }

teardown() { echo "# $cases cases" >&3; }

# bad REGEX CMD...: exit 1, one line on stderr matching REGEX, nothing written to $O.
bad() {
    local regex=$1
    shift
    present "$1" || return 0
    cases=$((cases + 1))
    # as run --separate-stderr, without its cost (hundreds of cases)
    status=0
    "$@" >/dev/null 2>"$T/stderr" || status=$?
    stderr=$(<"$T/stderr")
    assert_fails_with 1 "$regex" || { echo "case: $*"; return 1; }
    [ -z "$(ls -A "$O")" ] || { echo "case: $*: left $(ls -A "$O")"; return 1; }
}

# The commands that read a stream, IN standing for the input file; outputs go to $O.
stream_cmds() {
    cat <<EOF
ssl-prep scale --method minmax IN -o $O/s
ssl-prep scale --stats scaler.model IN -o $O/s
ssl-prep split --test 0.3 --train-out $O/tr --test-out $O/te IN
ssl-prep mask --labels-per-class 1 IN -o $O/m
ssl-fit train -q --hidden 4 --epochs 1 IN -o $O/m.model
ssl-fit predict -m mlp.model IN -o $O/p
ssl-eval IN -o $O/e
ssl-show IN -o $O/s
ssl-vae train -q --hidden 4 --latent 2 --epochs 1 IN -o $O/v.model
ssl-vae train -q --model m2 --hidden 4 --latent 2 --epochs 1 IN -o $O/v.model
ssl-vae encode -m vae.model IN -o $O/z
ssl-vae reconstruct -m vae.model IN -o $O/r
ssl-vae predict -m m2.model IN -o $O/p
ssl-gan train -q --d-hidden 4 --g-hidden 4 --noise-dim 2 --epochs 1 IN -o $O/g.model
ssl-gan predict -m gan.model IN -o $O/p
ssl-augment --pseudo mlp.model IN -o $O/a
EOF
}

# Runs every stream command on each file given: the message must name the file.
each_stream_cmd() {
    local f cmd
    for f in "$@"; do
        while read -r cmd; do
            bad "^${cmd%% *}: ${f//./\\.}: " ${cmd//IN/$f}
        done < <(stream_cmds)
    done
}

@test "streams of no rows: every trainer says so in one line, the filters pass them on" {
    for f in zero.ssl zerobatch.ssl; do
        ssl-show "$f" | grep -q '^rows *0'
        bad "^ssl-fit: ${f//./\\.}: no (labelled )?rows" ssl-fit train -q --hidden 4 --epochs 1 "$f" -o "$O/m"
        bad "^ssl-vae: ${f//./\\.}: no rows" ssl-vae train -q --hidden 4 --latent 2 --epochs 1 "$f" -o "$O/m"
        bad "^ssl-vae: ${f//./\\.}: no rows" ssl-vae train -q --model m2 --hidden 4 --latent 2 --epochs 1 "$f" -o "$O/m"
        bad "^ssl-gan: ${f//./\\.}: no (labelled )?rows" ssl-gan train -q --d-hidden 4 --g-hidden 4 --epochs 1 "$f" -o "$O/m"
        ssl-fit predict -m mlp.model "$f" | ssl-show - | grep -q '^rows *0'
        ssl-vae encode -m vae.model "$f" | ssl-show - | grep -q '^rows *0'
        ssl-vae reconstruct -m vae.model "$f" | ssl-show - | grep -q '^rows *0'
    done
    [ "$cases" -eq 8 ]
}

@test "sizes a file declares but its bytes do not hold: refused before anything is allocated" {
    "$PY" - <<'PY'
import msgpack, numpy as np
def arr(shape, data=b""):
    return {b"nd": True, b"type": "<f4", b"kind": b"", b"shape": list(shape), b"data": data}
head = lambda w: msgpack.packb({"format": "ssl-stream", "version": [1, 0], "meta": {},
                                "tensors": [{"name": "x", "type": "<f4", "shape": w}]})
# a batch claiming 2^28 rows with no data; x of 2^28 and of (2^28)^4 values a row; 2^24 a row, no rows
open("rowbomb.ssl", "wb").write(head([3]) + msgpack.packb({"rows": 2 ** 28, "tensors": {"x": arr([2 ** 28, 3])}}))
open("widebomb.ssl", "wb").write(head([2 ** 28]) + msgpack.packb({"end": True, "rows": 0}))
open("wide4.ssl", "wb").write(head([2 ** 28] * 4) + msgpack.packb({"end": True, "rows": 0}))
open("wide24.ssl", "wb").write(head([2 ** 24]) + msgpack.packb({"end": True, "rows": 0}))
# models whose info declares layers their tensors do not hold
for path, key, value in [("mlp.model", "hidden", [30000, 30000]), ("vae.model", "latent", 2 ** 31),
                         ("vae.model", "hidden", [30000, 30000]), ("gan.model", "d_hidden", [30000, 30000])]:
    m = msgpack.unpackb(open(path, "rb").read(), raw=False)
    m["info"][key] = value
    open(f"bomb-{key}-{path}", "wb").write(msgpack.packb(m, use_bin_type=True))
PY
    bad "^ssl-show: rowbomb\.ssl: message 2: tensor 'x': array data has 0 bytes" ssl-show rowbomb.ssl
    bad "^ssl-show: widebomb\.ssl: header: tensor 'x': bad dimension" ssl-show widebomb.ssl
    bad "^ssl-show: wide4\.ssl: header: tensor 'x': bad dimension" ssl-show wide4.ssl
    bad "^ssl-prep: wide24\.ssl: no rows to fit" ssl-prep scale --method minmax wide24.ssl -o "$O/s"
    bad "^ssl-fit: bomb-hidden-mlp\.model: .*layer1\.w: shape" ssl-fit predict -m bomb-hidden-mlp.model good.ssl -o "$O/p"
    bad "^ssl-vae: bomb-latent-vae\.model: model info: bad architecture" ssl-vae encode -m bomb-latent-vae.model good.ssl -o "$O/z"
    bad "^ssl-vae: bomb-hidden-vae\.model: .*enc\.0\.w: shape" ssl-vae encode -m bomb-hidden-vae.model good.ssl -o "$O/z"
    bad "^ssl-gan: bomb-d_hidden-gan\.model: .*shape" ssl-gan predict -m bomb-d_hidden-gan.model good.ssl -o "$O/p"
    [ "$cases" -eq 8 ]
    # and none of them costs more than 64 MB
    for cmd in "ssl-show rowbomb.ssl" "ssl-show wide24.ssl" "ssl-show --json wide24.ssl" \
               "ssl-prep scale --method minmax wide24.ssl" "ssl-fit predict -m bomb-hidden-mlp.model good.ssl" \
               "ssl-vae encode -m bomb-hidden-vae.model good.ssl" "ssl-gan predict -m bomb-d_hidden-gan.model good.ssl"; do
        kb=$(peak_kb $cmd)
        [ "$kb" -lt 65536 ] || { echo "$cmd: $kb KB"; return 1; }
    done
}

# Bounded by address space (ulimit -v), which counts every mapping whatever the kernel's page accounting.
@test "a 1 MB CSV of one line (half a million columns), with or without a header, fits in 64 MB" {
    sanitized && skip "ulimit -v under AddressSanitizer"
    "$PY" -c "import sys; sys.stdout.write(','.join(['1'] * 500000) + '\n')" > "$T/wide.csv"
    "$PY" -c "import sys; n = 150000; sys.stdout.write(','.join('a%d' % i for i in range(n)) + '\n' + ','.join(['1'] * n) + '\n')" > "$T/wideh.csv"
    for args in "--no-header $T/wide.csv" "--label none $T/wideh.csv"; do
        run --separate-stderr bash -c "ulimit -v 65536; exec ssl-prep csv $args -o '$O/w.ssl'"
        [ "$status" -eq 0 ] || { echo "ssl-prep csv $args under 64 MB: status $status: $stderr"; return 1; }
        ssl-show "$O/w.ssl" > /dev/null
        rm "$O/w.ssl"
    done
}

@test "CSV: empty, blank, header only, ragged, unclosed quote, not numbers, non-finite, no such columns, cut gzip" {
    printf '' > "$T/empty.csv"
    printf '\n\r\n\n' > "$T/blank.csv"
    printf 'a,b,label\n' > "$T/header.csv"
    printf 'a,b,label\n1,2,0\n3,4\n' > "$T/ragged.csv"
    printf 'a,b,label\n1,2,0\n3,4,1,5\n' > "$T/long.csv"
    printf 'a,b,label\n1,"2,0\n3,4,1\n' > "$T/quote.csv"
    printf 'a,b,label\n1,2,0\n3,x4,1\n' > "$T/text.csv"
    printf 'a,b,label\n1,nan,0\n' > "$T/nan.csv"
    printf 'a,b,label\n1,2,0\n-inf,4,1\n' > "$T/inf.csv"
    printf 'a,b,label\n1,1e999,0\n' > "$T/huge.csv"
    printf 'a,b,label\n1,,0\n' > "$T/hole.csv"
    printf 'a,b,label\n1,2,0\n1,2\0abc,0\n' > "$T/nul.csv"
    printf 'a,b,label\n1,2,0\n0x10,2,1\n' > "$T/hex.csv"
    gzip -c good.csv | head -c 40 > "$T/cut.csv.gz"
    bad "^ssl-prep: .*empty\.csv: empty input" ssl-prep csv "$T/empty.csv" -o "$O/x"
    bad "^ssl-prep: .*blank\.csv: empty input" ssl-prep csv "$T/blank.csv" -o "$O/x"
    bad "^ssl-prep: .*header\.csv: no data rows" ssl-prep csv "$T/header.csv" -o "$O/x"
    bad "^ssl-prep: .*ragged\.csv:3:[0-9]+: row has 2 fields, expected 3" ssl-prep csv "$T/ragged.csv" -o "$O/x"
    bad "^ssl-prep: .*long\.csv:3:[0-9]+: row has 4 fields, expected 3" ssl-prep csv "$T/long.csv" -o "$O/x"
    bad "^ssl-prep: .*quote\.csv:2: unterminated quoted field" ssl-prep csv "$T/quote.csv" -o "$O/x"
    bad '^ssl-prep: .*text\.csv:3:2: "x4" is not a number' ssl-prep csv "$T/text.csv" -o "$O/x"
    bad '^ssl-prep: .*nan\.csv:2:2: "nan" is not a finite number' ssl-prep csv "$T/nan.csv" -o "$O/x"
    bad '^ssl-prep: .*inf\.csv:3:1: "-inf" is not a finite number' ssl-prep csv "$T/inf.csv" -o "$O/x"
    bad '^ssl-prep: .*huge\.csv:2:2: "1e999" is not a finite number' ssl-prep csv "$T/huge.csv" -o "$O/x"
    bad '^ssl-prep: .*hole\.csv:2:2: empty value' ssl-prep csv "$T/hole.csv" -o "$O/x"
    bad '^ssl-prep: .*nul\.csv:3: a NUL byte' ssl-prep csv "$T/nul.csv" -o "$O/x"
    bad '^ssl-prep: .*hex\.csv:3:1: "0x10" is not a number' ssl-prep csv "$T/hex.csv" -o "$O/x"
    bad "^ssl-prep: good\.csv:1: no label column 'nope'" ssl-prep csv --label nope good.csv -o "$O/x"
    bad "^ssl-prep: good\.csv:1:9: no label column 9" ssl-prep csv --label 9 good.csv -o "$O/x"
    bad "^ssl-prep: good\.csv:1: no categorical column 'nope'" ssl-prep csv --categorical nope good.csv -o "$O/x"
    bad "^ssl-prep: .*cut\.csv\.gz: truncated gzip" ssl-prep csv "$T/cut.csv.gz" -o "$O/x"
    bad "^ssl-prep: good\.csv: .*not an IDX file" ssl-prep idx good.csv -o "$O/x"
    [ "$cases" -eq 18 ]
}

@test "streams cut at every message boundary and mid-message, in every stream reader" {
    read -ra cuts < cuts
    [ "${#cuts[@]}" -eq 8 ]
    each_stream_cmd "${cuts[@]}"
    [ "$cases" -ge 100 ]
}

@test "a corrupt header, a byte MessagePack never uses, garbage, a CSV, an unknown version: every stream reader" {
    each_stream_cmd badformat.ssl badbyte.ssl garbage.ssl good.csv v2.ssl
    [ "$cases" -ge 40 ]
    # and the messages say what is wrong
    bad "^ssl-show: v2\.ssl: header: stream format version 2 is not supported" ssl-show v2.ssl
    bad "^ssl-show: badformat\.ssl: header: not an ssl-tools tensor stream" ssl-show badformat.ssl
    bad "^ssl-show: badbyte\.ssl: message 1: corrupt MessagePack data" ssl-show badbyte.ssl
}

# The commands that read a model, MODEL standing for the file; on wide.ssl (5 features) where data is read.
model_cmds() {
    cat <<EOF
ssl-prep scale --stats MODEL wide.ssl -o $O/s
ssl-fit predict -m MODEL wide.ssl -o $O/p
ssl-vae encode -m MODEL wide.ssl -o $O/z
ssl-vae reconstruct -m MODEL wide.ssl -o $O/r
ssl-vae predict -m MODEL wide.ssl -o $O/p
ssl-vae sample -m MODEL -n 3 -o $O/x
ssl-gan predict -m MODEL wide.ssl -o $O/p
ssl-gan sample -m MODEL -n 3 -o $O/x
ssl-augment --pseudo MODEL wide.ssl -o $O/a
ssl-augment --from-vae MODEL wide.ssl -o $O/a
ssl-augment --from-gan MODEL wide.ssl -o $O/a
EOF
}

@test "model files: truncated, empty, a stream, missing, of the wrong kind, of the wrong width" {
    local cmd m
    while read -r cmd; do
        for m in trunc.model empty.model good.ssl no-such.model; do
            bad "^${cmd%% *}: (wide\.ssl: )?${m//./\\.}: " ${cmd//MODEL/$m}
        done
    done < <(model_cmds)
    bad "truncated model file" ssl-fit predict -m trunc.model good.ssl -o "$O/p"
    bad "empty model file" ssl-fit predict -m empty.model good.ssl -o "$O/p"
    # wrong kind: every model each reader does not take
    bad "scaler\.model: model is of kind 'scaler', expected 'mlp'" ssl-fit predict -m scaler.model good.ssl -o "$O/p"
    bad "mlp\.model: model is of kind 'mlp', expected 'scaler'" ssl-prep scale --stats mlp.model good.ssl -o "$O/s"
    bad "mlp\.model: model is of kind 'mlp', expected 'vae' or 'm2'" ssl-vae encode -m mlp.model good.ssl -o "$O/z"
    bad "mlp\.model: model is of kind 'mlp', expected 'gan'" ssl-gan predict -m mlp.model good.ssl -o "$O/p"
    bad "scaler\.model: .*kind 'scaler' cannot classify" ssl-augment --pseudo scaler.model good.ssl -o "$O/a"
    bad "mlp\.model: .*kind 'mlp' cannot generate" ssl-augment --from-gan mlp.model good.ssl -o "$O/a"
    if present ssl-vae; then
        bad "vae\.model: model is of kind 'vae', expected 'mlp'" ssl-fit predict -m vae.model good.ssl -o "$O/p"
        bad "vae\.model: predict needs an M2 model" ssl-vae predict -m vae.model good.ssl -o "$O/p"
        bad "m2\.model: encode needs an M1 model" ssl-vae encode -m m2.model good.ssl -o "$O/z"
    fi
    if present ssl-gan; then
        bad "gan\.model: model is of kind 'gan', expected 'vae' or 'm2'" ssl-vae sample -m gan.model -n 2 -o "$O/x"
    fi
    # wrong width: models of 3 features on a stream of 5
    bad "wide\.ssl: .*5 features.*3" ssl-prep scale --stats scaler.model wide.ssl -o "$O/s"
    bad "wide\.ssl: .*5 features.*3" ssl-fit predict -m mlp.model wide.ssl -o "$O/p"
    bad "wide\.ssl: .*5 features.*3" ssl-vae encode -m vae.model wide.ssl -o "$O/z"
    bad "wide\.ssl: .*5 features.*3" ssl-vae reconstruct -m vae.model wide.ssl -o "$O/r"
    bad "wide\.ssl: .*5 features.*3" ssl-vae predict -m m2.model wide.ssl -o "$O/p"
    bad "wide\.ssl: .*5 features.*3" ssl-gan predict -m gan.model wide.ssl -o "$O/p"
    bad "mlp\.model: .*3 features, wide\.ssl has 5" ssl-augment --pseudo mlp.model wide.ssl -o "$O/a"
    bad "m2\.model: .*3 features, wide\.ssl has 5" ssl-augment --from-vae m2.model wide.ssl -o "$O/a"
    bad "gan\.model: .*3 features, wide\.ssl has 5" ssl-augment --from-gan gan.model wide.ssl -o "$O/a"
    [ "$cases" -ge 40 ]
}

@test "labels out of range (beyond the classes, below -1, more classes than the model) and non-finite features" {
    local f
    for f in y7.ssl yneg.ssl; do
        bad "^ssl-prep: ${f%.ssl}\.ssl: row [56]: label (7 is not one of the 3 classes|-5 is neither a class nor -1)" ssl-prep mask --labels-per-class 1 $f -o "$O/m"
        bad "^ssl-fit: ${f%.ssl}\.ssl: row [56]: label (7|-5), but the model has 3 classes" ssl-fit train -q --hidden 4 --epochs 1 $f -o "$O/m"
        bad "^ssl-vae: ${f%.ssl}\.ssl: row [56]: label (7|-5)" ssl-vae train -q --model m2 --hidden 4 --latent 2 --epochs 1 $f -o "$O/m"
        bad "^ssl-gan: ${f%.ssl}\.ssl: row [56]: label (7, but the model has 3 classes|-5 is negative \(-1 marks an unlabelled row\))" ssl-gan train -q --d-hidden 4 --g-hidden 4 --noise-dim 2 --epochs 1 $f -o "$O/m"
    done
    bad "^ssl-prep: yneg\.ssl: row 5: label -5" ssl-prep split --test-out "$O/te" --train-out "$O/tr" yneg.ssl
    bad "^ssl-augment: y7\.ssl: row 6: label 7 is not one of the 3 classes" ssl-augment --pseudo mlp.model y7.ssl -o "$O/a"
    bad "^ssl-augment: yneg\.ssl: row 5: label -5 is neither a class nor -1" ssl-augment --pseudo mlp.model yneg.ssl -o "$O/a"
    bad "^ssl-eval: y7p\.ssl: row 6: label 7 is out of range: p has 3 classes" ssl-eval y7p.ssl -o "$O/e"
    bad "^ssl-eval: yneg-p\.ssl: row 5: label -5 is out of range" ssl-eval yneg-p.ssl -o "$O/e"
    bad "^ssl-fit: good\.ssl: the stream names 3 classes, --classes says 2" ssl-fit train -q --classes 2 good.ssl -o "$O/m"
    bad "^ssl-vae: good\.ssl: the stream names 3 classes, --classes says 2" ssl-vae train -q --model m2 --classes 2 good.ssl -o "$O/m"
    bad "^ssl-fit: four\.ssl: the stream names 4 classes, the model has 3" ssl-fit predict -m mlp.model four.ssl -o "$O/p"
    bad "^ssl-vae: four\.ssl: the stream names 4 classes, the model has 3" ssl-vae predict -m m2.model four.ssl -o "$O/p"
    bad "^ssl-gan: four\.ssl: the stream names 4 classes, the model has 3" ssl-gan predict -m gan.model four.ssl -o "$O/p"
    bad "^ssl-augment: mlp\.model: the model has 3 classes, four\.ssl has 4" ssl-augment --pseudo mlp.model four.ssl -o "$O/a"
    for f in xnan.ssl xinf.ssl; do
        bad "^ssl-prep: ${f%.ssl}\.ssl: row [34]: x has a NaN or infinite value" ssl-prep scale --method minmax $f -o "$O/s"
        bad "^ssl-fit: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-fit train -q --hidden 4 --epochs 1 $f -o "$O/m"
        bad "^ssl-fit: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-fit train -q --hidden 4 --epochs 1 --val $f good.ssl -o "$O/m"
        bad "^ssl-vae: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-vae train -q --hidden 4 --latent 2 --epochs 1 $f -o "$O/m"
        bad "^ssl-vae: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-vae train -q --model m2 --hidden 4 --latent 2 --epochs 1 $f -o "$O/m"
        bad "^ssl-gan: ${f%.ssl}\.ssl: row [34]: x\[[01]\] is not a finite number" ssl-gan train -q --d-hidden 4 --g-hidden 4 --noise-dim 2 --epochs 1 $f -o "$O/m"
        bad "^ssl-fit: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-fit predict -m mlp.model $f -o "$O/p"
        bad "^ssl-gan: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-gan predict -m gan.model $f -o "$O/p"
        bad "^ssl-vae: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-vae encode -m vae.model $f -o "$O/z"
        bad "^ssl-vae: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-vae reconstruct -m vae.model $f -o "$O/r"
        bad "^ssl-vae: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-vae predict -m m2.model $f -o "$O/p"
        bad "^ssl-augment: ${f%.ssl}\.ssl: row [34]: x has a non-finite value" ssl-augment --pseudo mlp.model $f -o "$O/a"
    done
    [ "$cases" -ge 30 ]
}

@test "-o /dev/full: exit 1, one line naming /dev/full, for every program" {
    bad "^[a-z-]+: /dev/full: write error" ssl-prep csv good.csv -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-prep scale --method minmax good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-prep split --test-out /dev/full good.ssl
    bad "^[a-z-]+: /dev/full: write error" ssl-prep mask --labels-per-class 1 good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-fit train -q --hidden 4 --epochs 1 good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-fit predict -m mlp.model good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-eval pred.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-show good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-vae train -q --hidden 4 --latent 2 --epochs 1 good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-vae encode -m vae.model good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-vae sample -m vae.model -n 3 -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-gan train -q --d-hidden 4 --g-hidden 4 --noise-dim 2 --epochs 1 good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-gan predict -m gan.model good.ssl -o /dev/full
    bad "^[a-z-]+: /dev/full: write error" ssl-augment --pseudo mlp.model good.ssl -o /dev/full
    bad "^ssl-vae: /dev/full: write error" ssl-vae reconstruct -m vae.model good.ssl -o /dev/full
    bad "^ssl-gan: /dev/full: write error" ssl-gan sample -m gan.model -n 3 -o /dev/full
    bad "^ssl-prep: /dev/full: write error" ssl-prep split --train-out /dev/full --test-out "$O/te" good.ssl
    bad "^ssl-eval: /dev/full: write error" ssl-eval --json pred.ssl -o /dev/full
    [ "$cases" -ge 18 ]
}

# closed CMD...: CMD | head -c 1 ends with status 0 or 141 (SIGPIPE) and nothing on stderr.
closed() {
    present "$1" || return 0
    cases=$((cases + 1))
    local st
    st=$("$@" 2>"$T/err" | { head -c 1 >/dev/null; }; echo "${PIPESTATUS[0]}")
    { [ "$st" -eq 0 ] || [ "$st" -eq 141 ]; } || { echo "$*: status $st"; return 1; }
    [ ! -s "$T/err" ] || { echo "$*: stderr: $(cat "$T/err")"; return 1; }
}

@test "a closed pipe (| head -c 1) ends quietly, for every program writing a stream" {
    closed ssl-prep csv "$DIGITS"
    closed ssl-prep scale --method minmax big.ssl
    closed ssl-prep split --test-out "$O/te" big.ssl
    closed ssl-prep mask --labels-per-class 3 big.ssl
    closed ssl-fit predict -m mlp.model big.ssl
    closed ssl-show --all -n 30000 big.ssl
    closed ssl-vae encode -m vae.model big.ssl
    closed ssl-vae reconstruct -m vae.model big.ssl
    closed ssl-vae predict -m m2.model big.ssl
    closed ssl-vae sample -m vae.model -n 30000
    closed ssl-gan predict -m gan.model big.ssl
    closed ssl-gan sample -m gan.model -n 30000
    closed ssl-augment --pseudo mlp.model --threshold 0.3 big.ssl
    [ "$cases" -ge 6 ]
}

@test "messages: --version to a full disk, stdout named as stdout, a usage error is 2, escapes not echoed, non-finite metrics" {
    for p in ssl-prep ssl-fit ssl-eval ssl-show ssl-vae ssl-gan ssl-augment ssl-graph; do
        run --separate-stderr "$p" --version
        [ "$status" -eq 0 ]
        status=0
        "$p" --version > /dev/full 2> "$T/err" || status=$?
        [ "$status" -eq 1 ] || { echo "$p --version > /dev/full: status $status"; return 1; }
    done
    status=0
    ssl-prep mask --labels-per-class 1 good.ssl > /dev/full 2> "$T/err" || status=$?
    [ "$status" -eq 1 ] && grep -q "^ssl-prep: stdout: write error" "$T/err"
    run --separate-stderr ssl-gan train --d-hidden 0 good.ssl -o "$O/g"
    assert_fails_with 2 "--d-hidden: D needs at least one hidden layer"
    ROOT="$ROOT" "$PY" - <<'PY'
import os, sys
import msgpack, numpy as np
sys.path.insert(0, os.path.join(os.environ["ROOT"], "tests"))
from sslstream import stream_bytes
meta = {"class_names": ["a\x1b[31mred", "b"], "feature_names": ["\x1b]0;t\x07", "f"]}
open("esc.ssl", "wb").write(stream_bytes([("x", np.zeros((2, 2), np.float32)), ("y", np.array([0, 1], np.int32))], meta))
m = msgpack.unpackb(open("mlp.model", "rb").read(), raw=False)
m["info"]["class_names"] = ["only-one"]
open("fewnames.model", "wb").write(msgpack.packb(m, use_bin_type=True))
PY
    [ "$(ssl-show esc.ssl | grep -c $'\x1b')" -eq 0 ]
    ssl-show esc.ssl | grep -q 'a?\[31mred'
    echo '{"method": "x", "accuracy": 1e400, "macro_f1": 0.5}' > "$T/r.json"
    bad "^ssl-eval: .*r\.json:1:33: real number overflow" ssl-eval table --by method "$T/r.json" -o "$O/t"
    # a model naming fewer classes than it has: its names are not written (the stream stays consistent)
    ssl-fit predict -m fewnames.model good.ssl -o "$T/p.ssl"
    ssl-eval "$T/p.ssl" > /dev/null
}
