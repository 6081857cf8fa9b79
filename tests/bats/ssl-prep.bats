#!/usr/bin/env bats
# ssl-prep: every subcommand on the embedded digits, stdin/stdout and -o, error paths, determinism.
bats_require_minimum_version 1.5.0
load helpers

# py FILE EXPR: prints the Python expression EXPR evaluated with h (header), m (meta), t (tensors)
# of the stream FILE (numpy as np). Skips the test without the Debian python's msgpack.
py() {
    have_py "msgpack, numpy" || skip "python3-msgpack not installed"
    "$PY" -c "
import sys; sys.path.insert(0, '$ROOT/docs')
import numpy as np
from read_stream import read_stream
h, t = read_stream(open(sys.argv[1], 'rb')); m = h['meta']
print($2)" "$1"
}

# A class count per label: "n0 n1 ..." of y >= 0.
counts() { py "$1" "' '.join(map(str, np.bincount(t['y'][t['y'] >= 0])))"; }

# IDX bytes: magic type and dims, then data bytes (octal escapes for printf).
idx_file() { printf "$1" > "$2"; }

@test "help and version" {
    run ssl-prep --help
    [ "$status" -eq 0 ] && [[ "$output" == *"Example"* ]] && [[ "$output" == *"mask"* ]]
    for cmd in csv idx scale split mask; do
        run ssl-prep "$cmd" --help
        [ "$status" -eq 0 ]
        [[ "$output" == *"Usage: ssl-prep $cmd"* ]]
        [[ "$output" == *"Example"* ]]
    done
    run ssl-prep --version
    [ "$status" -eq 0 ] && [[ "$output" == "ssl-prep (ssl-tools) "* ]]
    run ssl-prep csv --version
    [ "$status" -eq 0 ]
}

@test "usage errors exit 2" {
    run --separate-stderr ssl-prep
    assert_fails_with 2 'expected a command'
    run --separate-stderr ssl-prep frobnicate
    assert_fails_with 2 "unknown command 'frobnicate'"
    run --separate-stderr ssl-prep csv --bogus "$DIGITS"
    assert_fails_with 2 "unknown option '--bogus'"
    run --separate-stderr ssl-prep csv --skip abc "$DIGITS"
    assert_fails_with 2 "--skip: 'abc' is not an integer"
    run --separate-stderr ssl-prep csv "$DIGITS" extra
    assert_fails_with 2 "unexpected argument 'extra'"
    run --separate-stderr ssl-prep csv --delimiter ab "$DIGITS"
    assert_fails_with 2 "delimiter"
    run --separate-stderr ssl-prep split --test 1.5 --test-out "$T/te" "$DIGITS"
    assert_fails_with 2 "--test"
    run --separate-stderr ssl-prep split "$DIGITS"
    assert_fails_with 2 "--test-out is required"
    run --separate-stderr ssl-prep mask "$DIGITS"
    assert_fails_with 2 "give one of"
    run --separate-stderr ssl-prep mask --labels 5 --fraction 0.1 "$DIGITS"
    assert_fails_with 2 "give one of"
    run --separate-stderr ssl-prep scale --stats a --fit-stats b
    assert_fails_with 2 "exclude each other"
    run --separate-stderr ssl-prep scale --method cubic
    assert_fails_with 2 "'cubic' is not one of none|minmax|standard"
    run --separate-stderr ssl-prep idx
    assert_fails_with 2 "missing argument"
}

@test "csv: the digits, from a file, stdin, gzip or not, to stdout or -o" {
    ssl-prep csv "$DIGITS" > "$T/a.ssl"
    ssl-prep csv < "$DIGITS" > "$T/b.ssl"
    zcat "$DIGITS" | ssl-prep csv - -o "$T/c.ssl"
    [ -s "$T/a.ssl" ] && [ -s "$T/b.ssl" ] && [ -s "$T/c.ssl" ]
    run py "$T/a.ssl" "t['x'].shape, t['y'].dtype.str, t['id'][-1], m['x_range'], m['class_names'][9], 'feature_names' in m, m['scaling'], m['source']"
    [ "$output" = "(1797, 64) <i4 1796 [0.0, 16.0] 9 False none digits.csv.gz" ]   # no header: no names
    run py "$T/c.ssl" "t['x'].shape, m['source'], m['history']"
    [ "$output" = "(1797, 64) stdin ['ssl-prep csv - -o $T/c.ssl']" ]
    run counts "$T/b.ssl"
    [ "$output" = "178 182 177 183 181 182 181 179 174 180" ]
}

@test "csv: same input, same bytes" {
    ssl-prep csv "$DIGITS" > "$T/a.ssl"
    ssl-prep csv "$DIGITS" > "$T/b.ssl"
    cmp "$T/a.ssl" "$T/b.ssl"
}

@test "csv: header, named labels, marker, quotes, CRLF, BOM, skip, categorical, impute" {
    printf '\xef\xbb\xbf# exported\r\nw,"colour, shade",species\r\n1.5,red,setosa\r\n,"blue",virginica\r\n3,red,?\r\n' > "$T/s.csv"
    run --separate-stderr ssl-prep csv --skip 1 "$T/s.csv"
    assert_fails_with 1 's.csv:3:2: "red" is not a number'
    run --separate-stderr ssl-prep csv --skip 1 --categorical 2 "$T/s.csv"
    assert_fails_with 1 's.csv:4:1: empty value'
    ssl-prep csv --skip 1 --unlabelled '?' --categorical 2 --impute mean "$T/s.csv" > "$T/s.ssl"
    run py "$T/s.ssl" "m['feature_names'], m['class_names'], t['y'].tolist(), t['x'].tolist()"
    [ "$output" = "['w', 'colour, shade=blue', 'colour, shade=red'] ['setosa', 'virginica'] [0, 1, -1] [[1.5, 0.0, 1.0], [2.25, 1.0, 0.0], [3.0, 0.0, 1.0]]" ]
    printf 'a\tb\tlab\n1\t2\t0\n3\t4\t\n' > "$T/t.tsv"
    ssl-prep csv --delimiter tab --label lab "$T/t.tsv" > "$T/t.ssl"
    run py "$T/t.ssl" "t['x'].tolist(), t['y'].tolist(), m['class_names']"
    [ "$output" = "[[1.0, 2.0], [3.0, 4.0]] [0, -1] ['0']" ]
    ssl-prep csv --no-header --delimiter '\t' --label 3 <(tail -n +2 "$T/t.tsv") > "$T/t2.ssl"
    run py "$T/t2.ssl" "t['x'].tolist(), t['y'].tolist(), m.get('feature_names')"
    [ "$output" = "[[1.0, 2.0], [3.0, 4.0]] [0, -1] None" ]
    printf "1;'a;b';0\n" > "$T/q.csv"
    ssl-prep csv --delimiter ';' --quote "'" --categorical 2 "$T/q.csv" > "$T/q.ssl"
    run py "$T/q.ssl" "m['feature_names']"
    [ "$output" = "['c1', 'c2=a;b']" ]
}

@test "csv: --label none gives y = -1 and no class names" {
    ssl-prep csv --label none "$DIGITS" > "$T/u.ssl"
    run py "$T/u.ssl" "t['x'].shape, int(t['y'].max()), 'class_names' in m"
    [ "$output" = "(1797, 65) -1 False" ]
}

@test "csv: scikit-learn's meta line names the classes, said on stderr; --no-header reads it as data" {
    printf '4,2,setosa,versicolor\n5.1,3.5,0\n4.9,3.0,1\n4.7,3.2,0\n4.6,3.1,-1\n' > "$T/sk.csv"
    run --separate-stderr ssl-prep csv "$T/sk.csv" -o "$T/sk.ssl"
    [ "$status" -eq 0 ]
    [[ "$stderr" =~ ^ssl-prep:\ .*sk\.csv:1:\ read\ as\ scikit-learn.s\ meta\ line\ \(4\ rows,\ 2\ features ]]
    run py "$T/sk.ssl" "t['x'].shape, t['y'].tolist(), m['class_names'], m.get('feature_names')"
    [ "$output" = "(4, 2) [0, 1, 0, -1] ['setosa', 'versicolor'] None" ]
    # a first line of numbers that happens to fit is data, not a meta line
    printf '1,2,0\n3,4,1\n' > "$T/num.csv"
    run --separate-stderr ssl-prep csv "$T/num.csv" -o "$T/num.ssl"
    [ "$status" -eq 0 ] && [ -z "$stderr" ]
    run py "$T/num.ssl" "t['y'].tolist()"
    [ "$output" = "[0, 1]" ]
    # with --no-header the meta line is a row: too short for the rows after it, and the message says --skip 1
    printf '3,2,a,b\n1,2,0\n3,4,1\n5,6,0\n' > "$T/sk2.csv"
    run --separate-stderr ssl-prep csv --no-header "$T/sk2.csv" -o "$T/out.ssl"
    assert_fails_with 1 'sk2.csv:2:4: row has 3 fields, expected 4 \(as line 1 has; if line 1 is not data, --skip 1\)$'
    [ ! -e "$T/out.ssl" ]
}

@test "csv: -1 is an unlabelled row; integer labels outside 0..65535 become names, said on stderr" {
    printf '1,2,0\n3,4,-1\n5,6,2\n' > "$T/u.csv"
    run --separate-stderr ssl-prep csv "$T/u.csv" -o "$T/u.ssl"
    [ "$status" -eq 0 ] && [ -z "$stderr" ]
    run py "$T/u.ssl" "t['y'].tolist(), m['class_names']"
    [ "$output" = "[0, -1, 2] ['0', '1', '2']" ]
    printf '1,2,0\n3,4,-3\n5,6,70000\n7,8,-1\n' > "$T/neg.csv"
    run --separate-stderr ssl-prep csv "$T/neg.csv" -o "$T/neg.ssl"
    [ "$status" -eq 0 ]
    [[ "$stderr" == "ssl-prep: "*"neg.csv:2: label -3 is not a class index 0..65535 (-1 marks an unlabelled row): the labels are read as names" ]]
    run py "$T/neg.ssl" "t['y'].tolist(), m['class_names']"
    [ "$output" = "[1, 0, 2, -1] ['-3', '0', '70000']" ]
}

@test "csv: --class-names names integer labels; with labels that are names, an error" {
    printf '1,2,0\n3,4,2\n5,6,-1\n' > "$T/cn.csv"
    ssl-prep csv --class-names cat,dog,bird "$T/cn.csv" -o "$T/cn.ssl"
    run py "$T/cn.ssl" "t['y'].tolist(), m['class_names']"
    [ "$output" = "[0, 2, -1] ['cat', 'dog', 'bird']" ]
    run --separate-stderr ssl-prep csv --class-names cat,dog "$T/cn.csv" -o "$T/out.ssl"
    assert_fails_with 1 'cn.csv: --class-names gives 2 names, the labels go up to 2$'
    printf '1,2,a\n3,4,b\n' > "$T/nm.csv"
    run --separate-stderr ssl-prep csv --class-names x,y "$T/nm.csv" -o "$T/out.ssl"
    assert_fails_with 1 'nm.csv: --class-names names class indices 0, 1, ..., but the labels are names \("a"\)$'
    [ ! -e "$T/out.ssl" ]
}

@test "csv: a semicolon file read with commas names --delimiter" {
    printf 'a;b;c\n1;2;0\n' > "$T/semi.csv"
    run --separate-stderr ssl-prep csv "$T/semi.csv" -o "$T/out.ssl"
    assert_fails_with 1 "semi.csv: no feature columns; the fields hold ';': --delimiter ';'\?$"
}

@test "csv: a stray quote is explained; a long field is quoted by its start" {
    printf 'a,b,label\n1,2"x,0\n' > "$T/sq.csv"
    run --separate-stderr ssl-prep csv "$T/sq.csv" -o "$T/out.ssl"
    assert_fails_with 1 'sq.csv:2: a quote inside a field that is not quoted whole, or text after a closing quote \(a quote inside a quoted field is written ""\)$'
    "$PY" -c "print('a,b,label'); print('1,\"' + 'x' * 100000 + '\",0')" > "$T/long.csv"
    run --separate-stderr ssl-prep csv "$T/long.csv" -o "$T/out.ssl"
    assert_fails_with 1 '^ssl-prep: .*long.csv:2:2: "x{40}\.\.\." is not a number$'
    [ ! -e "$T/out.ssl" ]
}

@test "csv: errors name file:row:column, exit 1, leave no output file" {
    printf '1,2,0\n3,abc,1\n' > "$T/nn.csv"
    run --separate-stderr ssl-prep csv "$T/nn.csv" -o "$T/out.ssl"
    assert_fails_with 1 '^ssl-prep: .*nn.csv:2:2: "abc" is not a number$'
    printf '1,2,0\n3,4,1\n5,6\n' > "$T/rag.csv"
    run --separate-stderr ssl-prep csv "$T/rag.csv" -o "$T/out.ssl"
    assert_fails_with 1 'rag.csv:3:3: row has 2 fields, expected 3'
    printf '1,2,0\n3,NaN,1\n' > "$T/nan.csv"
    run --separate-stderr ssl-prep csv "$T/nan.csv" -o "$T/out.ssl"
    assert_fails_with 1 'nan.csv:2:2: "NaN" is not a finite number'
    printf '1,2,0\n3,inf,1\n' > "$T/inf.csv"
    run --separate-stderr ssl-prep csv "$T/inf.csv" -o "$T/out.ssl"
    assert_fails_with 1 'inf.csv:2:2: "inf" is not a finite number'
    run --separate-stderr ssl-prep csv --label 70 "$DIGITS" -o "$T/out.ssl"
    assert_fails_with 1 'digits.csv.gz:1:70: no label column 70: rows have 65 fields'
    printf 'a,b\n1,2\n' > "$T/h.csv"
    run --separate-stderr ssl-prep csv --label species "$T/h.csv" -o "$T/out.ssl"
    assert_fails_with 1 "h.csv:1: no label column 'species' in the header"
    : > "$T/empty.csv"
    run --separate-stderr ssl-prep csv "$T/empty.csv" -o "$T/out.ssl"
    assert_fails_with 1 'empty.csv: empty input'
    printf '1,2,0\n3,"4,1\n' > "$T/open.csv"
    run --separate-stderr ssl-prep csv "$T/open.csv" -o "$T/out.ssl"
    assert_fails_with 1 'open.csv:2: unterminated quoted field'
    run --separate-stderr ssl-prep csv "$T/missing.csv" -o "$T/out.ssl"
    assert_fails_with 1 'missing.csv: No such file or directory'
    printf '1,2,0\n3,4,1\n' | gzip | head -c 20 > "$T/cut.csv.gz"
    run --separate-stderr ssl-prep csv "$T/cut.csv.gz" -o "$T/out.ssl"
    assert_fails_with 1 'cut.csv.gz: truncated gzip'
    [ ! -e "$T/out.ssl" ]
    [ -z "$(ls "$T" | grep tmp)" ]
}

@test "csv: a closed pipe ends quietly" {
    run --separate-stderr bash -c "ssl-prep csv '$DIGITS' | head -c 10 > /dev/null"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
}

@test "idx: tiny raw and gzip files, --limit, class names" {
    idx_file '\0\0\10\3\0\0\0\3\0\0\0\1\0\0\0\2\0\377\63\146\0\0' "$T/img"
    idx_file '\0\0\10\1\0\0\0\3\1\0\2' "$T/lab"
    gzip -c "$T/img" > "$T/img.gz"
    ssl-prep idx "$T/img.gz" "$T/lab" > "$T/i.ssl"
    run py "$T/i.ssl" "t['x'].tolist(), t['y'].tolist(), t['id'].tolist(), m['image_shape'], m['class_names'], m['x_range']"
    [ "$output" = "[[0.0, 1.0], [0.20000000298023224, 0.4000000059604645], [0.0, 0.0]] [1, 0, 2] [0, 1, 2] [1, 2] ['0', '1', '2'] [0.0, 1.0]" ]
    ssl-prep idx --limit 2 --class-names a,b,c "$T/img" "$T/lab" -o "$T/j.ssl"
    run py "$T/j.ssl" "t['y'].tolist(), m['class_names']"
    [ "$output" = "[1, 0] ['a', 'b', 'c']" ]
    ssl-prep idx "$T/img" > "$T/k.ssl"
    run py "$T/k.ssl" "t['y'].tolist(), 'class_names' in m"
    [ "$output" = "[-1, -1, -1] False" ]
}

@test "idx: bad magic, truncated, counts that differ" {
    idx_file '\0\0\10\3\0\0\0\3\0\0\0\1\0\0\0\2\0\377\63\146\0\0' "$T/img"
    idx_file '\0\0\10\1\0\0\0\2\1\0' "$T/lab2"
    idx_file '\0\0\10\3\0\0\0\3\0\0\0\1\0\0\0\2\0\377' "$T/short"
    run --separate-stderr ssl-prep idx "$T/img" "$T/lab2" -o "$T/o.ssl"
    assert_fails_with 1 '3 images but 2 labels'
    run --separate-stderr ssl-prep idx "$T/short" -o "$T/o.ssl"
    assert_fails_with 1 'short: truncated'
    run --separate-stderr ssl-prep idx "$DIGITS" -o "$T/o.ssl"
    assert_fails_with 1 'digits.csv.gz: bad magic 0x'
    run --separate-stderr ssl-prep idx --class-names a,b "$T/img" "$T/img"
    assert_fails_with 1 'not a label file'
    [ ! -e "$T/o.ssl" ]
}

@test "idx: Fashion-MNIST" {
    f=/usr/share/datasets/fashion-mnist
    [ -e $f/t10k-images-idx3-ubyte.gz ] || skip "dataset-fashion-mnist not installed"
    ssl-prep idx --limit 500 $f/t10k-images-idx3-ubyte.gz $f/t10k-labels-idx1-ubyte.gz > "$T/f.ssl"
    run py "$T/f.ssl" "t['x'].shape, m['image_shape'], len(m['class_names']), t['x'].max() <= 1.0"
    [ "$output" = "(500, 784) [28, 28] 10 True" ]
}

@test "scale: fit on train, apply to test, stats file, x_range, width mismatch" {
    ssl-prep csv "$DIGITS" | ssl-prep split --test 0.3 --seed 42 --train-out "$T/tr.ssl" --test-out "$T/te.ssl"
    ssl-prep scale --method minmax --fit-stats "$T/sc.model" "$T/tr.ssl" > "$T/tr_s.ssl"
    ssl-prep scale --stats "$T/sc.model" < "$T/te.ssl" > "$T/te_s.ssl"
    run py "$T/tr_s.ssl" "float(t['x'].min()), float(t['x'].max()), m['x_range'], m['scaling']"
    [ "$output" = "0.0 1.0 [0.0, 1.0] minmax" ]
    # the test split keeps the training statistics: its range is the actual one, here beyond 1
    run py "$T/te_s.ssl" "m['x_range'] == [float(t['x'].min()), float(t['x'].max())], m['x_range'][1] > 1"
    [ "$output" = "True True" ]
    ssl-prep scale --method standard "$T/tr.ssl" > "$T/tr_z.ssl"
    run py "$T/tr_z.ssl" "bool(abs(t['x'].mean(0)).max() < 1e-5), m['scaling']"
    [ "$output" = "True standard" ]
    # a pipe is read twice through a temporary copy: same bytes as from the file
    cat "$T/te.ssl" | ssl-prep scale --stats "$T/sc.model" > "$T/te_s2.ssl"
    cmp "$T/te_s.ssl" "$T/te_s2.ssl"
    ssl-prep idx <(printf '\0\0\10\3\0\0\0\1\0\0\0\1\0\0\0\2\0\377') > "$T/two.ssl"
    run --separate-stderr ssl-prep scale --stats "$T/sc.model" "$T/two.ssl" -o "$T/o.ssl"
    assert_fails_with 1 'the stream has 2 features, scaler .*sc.model has 64'
    run --separate-stderr ssl-prep scale --stats "$T/tr.ssl" "$T/te.ssl" -o "$T/o.ssl"
    assert_fails_with 1 'tr.ssl'
    head -c 2000 "$T/te.ssl" > "$T/cut.ssl"
    run --separate-stderr ssl-prep scale --fit-stats "$T/o.model" "$T/cut.ssl" -o "$T/o.ssl"
    assert_fails_with 1 'cut.ssl: truncated'
    [ ! -e "$T/o.ssl" ] && [ ! -e "$T/o.model" ]
}

@test "split: stratified proportions, deterministic, atomic outputs" {
    ssl-prep csv "$DIGITS" > "$T/d.ssl"
    ssl-prep split --test 0.3 --seed 42 --train-out "$T/tr.ssl" --test-out "$T/te.ssl" "$T/d.ssl"
    run counts "$T/te.ssl"
    [ "$output" = "54 55 53 55 54 55 54 54 52 54" ]
    run py "$T/tr.ssl" "len(t['y']), m['split']"
    [ "$output" = "1257 train" ]
    run py "$T/te.ssl" "len(t['y']), len(set(t['id'].tolist())), m['split']"
    [ "$output" = "540 540 test" ]
    ssl-prep split --test 0.3 --seed 42 --train-out "$T/tr2.ssl" --test-out "$T/te2.ssl" "$T/d.ssl"
    cmp "$T/tr.ssl" "$T/tr2.ssl" && cmp "$T/te.ssl" "$T/te2.ssl"
    ssl-prep split --test 0.3 --seed 7 --train-out "$T/tr3.ssl" --test-out "$T/te3.ssl" "$T/d.ssl"
    refute cmp -s "$T/te.ssl" "$T/te3.ssl"
    # train to stdout; from stdin
    ssl-prep split --test 0.5 --test-out "$T/te4.ssl" < "$T/d.ssl" > "$T/tr4.ssl"
    run py "$T/tr4.ssl" "len(t['y'])"
    [ "$output" = "898" ]
    run --separate-stderr ssl-prep split --test 0.3 --train-out "$T/a.ssl" --test-out "$T/b.ssl" "$T/missing.ssl"
    assert_fails_with 1 'missing.ssl'
    run --separate-stderr ssl-prep split --test 0.0001 --train-out "$T/a.ssl" --test-out "$T/b.ssl" "$T/tr4.ssl"
    [ "$status" -eq 0 ]
    ssl-prep idx <(printf '\0\0\10\3\0\0\0\1\0\0\0\1\0\0\0\2\0\377') > "$T/one.ssl"
    run --separate-stderr ssl-prep split --test 0.5 --train-out "$T/c.ssl" --test-out "$T/d2.ssl" "$T/one.ssl"
    assert_fails_with 1 'empty training split'
    [ ! -e "$T/c.ssl" ] && [ ! -e "$T/d2.ssl" ]
}

@test "mask: per class, a count, a fraction, drop unlabelled, errors" {
    ssl-prep csv "$DIGITS" > "$T/d.ssl"
    ssl-prep mask --labels-per-class 5 --seed 0 "$T/d.ssl" > "$T/m5.ssl"
    run counts "$T/m5.ssl"
    [ "$output" = "5 5 5 5 5 5 5 5 5 5" ]
    run py "$T/m5.ssl" "len(t['y']), m['labels_kept'], m['history'][-1]"
    [ "$output" = "1797 50 ssl-prep mask --labels-per-class 5 --seed 0 $T/d.ssl" ]
    ssl-prep mask --labels-per-class 5 --seed 0 -o "$T/m5b.ssl" < "$T/d.ssl"
    ssl-prep mask --labels-per-class 5 --seed 0 "$T/d.ssl" > "$T/m5c.ssl"
    cmp "$T/m5.ssl" "$T/m5c.ssl"
    ssl-prep mask --labels-per-class 5 --seed 1 "$T/d.ssl" > "$T/m5d.ssl"
    refute cmp -s "$T/m5.ssl" "$T/m5d.ssl"
    ssl-prep mask --labels 23 --seed 3 "$T/d.ssl" > "$T/m23.ssl"
    run py "$T/m23.ssl" "sorted(np.bincount(t['y'][t['y'] >= 0], minlength=10).tolist()), m['labels_kept']"
    [ "$output" = "[2, 2, 2, 2, 2, 2, 2, 3, 3, 3] 23" ]
    ssl-prep mask --fraction 0.1 --seed 3 --drop-unlabelled "$T/d.ssl" > "$T/f.ssl"
    run py "$T/f.ssl" "len(t['y']), int(t['y'].min()), m['labels_kept']"
    [ "$output" = "180 0 180" ]
    run --separate-stderr ssl-prep mask --labels-per-class 5 "$T/f.ssl" -o "$T/o.ssl"
    [ "$status" -eq 0 ]
    run --separate-stderr ssl-prep mask --labels-per-class 200 --seed 0 "$T/d.ssl" -o "$T/bad.ssl"
    assert_fails_with 1 'd.ssl: class 0 has 178 labelled rows, fewer than --labels-per-class 200'
    run --separate-stderr ssl-prep mask --labels 5000 "$T/d.ssl" -o "$T/bad.ssl"
    assert_fails_with 1 '5000 labels asked for, the data has 1797'
    [ ! -e "$T/bad.ssl" ]
}

@test "the digits pipeline composes" {
    cd "$T"
    ssl-prep csv "$DIGITS" | ssl-prep split --test 0.3 --seed 42 --train-out tr.ssl --test-out te.ssl
    ssl-prep scale --method minmax --fit-stats scaler.model tr.ssl > tr_s.ssl
    ssl-prep scale --stats scaler.model te.ssl > te_s.ssl
    ssl-prep mask --labels-per-class 5 --seed 0 tr_s.ssl > tr_5.ssl
    run py tr_5.ssl "len(t['y']), m['labels_kept'], m['scaling'], len(m['history'])"
    [ "$output" = "1257 50 minmax 4" ]
}

@test "scale, split and mask pass other tensors and the meta through" {
    have_py "msgpack, msgpack_numpy, numpy" || skip "python3-msgpack-numpy not installed"
    "$PY" "$ROOT/tests/bats/mkstream.py" --example 30 > "$T/w.ssl"
    ssl-prep scale --method standard "$T/w.ssl" > "$T/s.ssl"
    ssl-prep split --test 0.5 --seed 1 --train-out "$T/tr.ssl" --test-out "$T/te.ssl" "$T/s.ssl"
    ssl-prep mask --labels-per-class 2 --seed 1 "$T/tr.ssl" > "$T/m.ssl"
    run py "$T/m.ssl" "[x['name'] for x in h['tensors']], t['p'].shape, bool((t['p'].argmax(1) == t['id'] % 3).all()), m['scaling'], m['split'], m['labels_kept']"
    [ "$output" = "['x', 'y', 'p', 'id'] (15, 3) True standard train 6" ]
    run py "$T/te.ssl" "sorted(t['id'].tolist()) != list(range(15)), len(t['id'])"
    [ "$output" = "True 15" ]
}
