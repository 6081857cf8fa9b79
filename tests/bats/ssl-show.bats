#!/usr/bin/env bats
# ssl-show: the header, class counts, feature ranges and first rows of a tensor stream.
load helpers
bats_require_minimum_version 1.5.0

mk() {
    have_py msgpack_numpy || skip "python3-msgpack-numpy not installed"
    "$PY" "$BATS_TEST_DIRNAME/mkstream.py" "$@"
}

jget() {
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

# 5 rows, 3 features, labels with names and one unlabelled row.
X5='[[0,1,2],[4,1,-2],[2,1,0.5],[6,1,1],[8,1,3]]'
small() {
    mk "$T/s.ssl" "{\"tensors\": [[\"x\",\"<f4\",[3],$X5], [\"y\",\"<i4\",[],[0,2,-1,2,1]], [\"id\",\"<i8\",[],[10,11,12,13,14]]],
        \"meta\": {\"class_names\": [\"cat\",\"dog\",\"owl\"], \"feature_names\": [\"a\",\"b\",\"c\"]}, $1 \"batch\": 2}"
}

@test "ssl-show --help and --version" {
    run ssl-show --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: ssl-show"* ]]
    [[ "$output" == *"ssl-prep csv data/digits.csv.gz | ssl-show"* ]]
    run ssl-show --version
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^ssl-show\ \(ssl-tools\)\  ]]
}

@test "ssl-show: header, rows, class counts with names, feature ranges, first rows" {
    small
    run --separate-stderr ssl-show "$T/s.ssl"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [ "${lines[0]}" = "format    ssl-stream version 1" ]
    [[ "${lines[1]}" =~ ^tensors\ +x\ +f32\ +\(3\)$ ]]
    [[ "${lines[2]}" =~ ^\ +y\ +i32\ +scalar$ ]]
    [[ "${lines[3]}" =~ ^\ +id\ +i64\ +scalar$ ]]
    [[ "$output" == *'"class_names": ["cat", "dog", "owl"]'* ]]
    [[ "$output" == *"rows      5"* ]]
    [[ "$output" == *"classes   3, 1 unlabelled rows"* ]]
    [[ "$output" =~ 0\ +cat\ +1 ]]
    [[ "$output" =~ 1\ +dog\ +1 ]]
    [[ "$output" =~ 2\ +owl\ +2 ]]
    [[ "$output" =~ -1\ +\(unlabelled\)\ +1 ]]
    # a: 0 4 2 6 8 -> 0/4/8; b constant 1; c: 2 -2 .5 1 3 -> -2/0.9/3
    [[ "$output" =~ 0\ +a\ +0\ +4\ +8 ]]
    [[ "$output" =~ 1\ +b\ +1\ +1\ +1 ]]
    [[ "$output" =~ 2\ +c\ +-2\ +0\.9\ +3 ]]
    [[ "$output" == *"first 3 rows"* ]]
    [[ "$output" == *"0:  x [0, 1, 2]  y 0 (cat)  id 10"* ]]
    [[ "$output" == *"2:  x [2, 1, 0.5]  y -1  id 12"* ]]
    [[ "$output" != *"3:  x"* ]]
}

@test "ssl-show -n sets the rows shown, -n 0 none; reads stdin" {
    small
    run ssl-show -n 5 < "$T/s.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"4:  x [8, 1, 3]  y 1 (dog)  id 14"* ]]
    run ssl-show -n 0 - < "$T/s.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" != *"first"* ]]
    [[ "$output" == *"rows      5"* ]]
}

@test "ssl-show: many features are summarised unless --all" {
    have_py numpy || skip
    "$PY" -c '
import json
rows = [[float(i + j) for j in range(20)] for i in range(4)]
print(json.dumps({"tensors": [["x", "<f4", [20], rows]], "meta": {"feature_names": ["f%d" % j for j in range(20)]}}))' > "$T/spec.json"
    mk "$T/w.ssl" "@$T/spec.json"
    run ssl-show "$T/w.ssl"
    [ "$status" -eq 0 ]
    # features 8..19 hold i + j for i = 0..3: min 8, max 22, mean 15; none constant
    [[ "$output" == *"... 12 more features (--all lists them): min 8, mean 15, max 22, 0 constant"* ]]
    [[ "$output" == *'"f6", "f7", "... 12 more (--all shows them)"]'* ]]
    [[ "$output" == *"x [0, 1, 2, 3, 4, 5, 6, 7, ... 20 values]"* ]]
    [[ "$output" != *"f19"* ]]
    run ssl-show --all "$T/w.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" =~ 19\ +f19\ +19\ +20\.5\ +22 ]]
    [[ "$output" == *"x [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19]"* ]]
}

@test "ssl-show --json: machine-readable summary" {
    small
    ssl-show --json -n 2 "$T/s.ssl" > "$T/s.json"
    [ "$(jget "$T/s.json" 'd["format"], d["version"], d["rows"]')" = "('ssl-stream', 1, 5)" ]
    [ "$(jget "$T/s.json" '[(t["name"], t["type"], t["shape"]) for t in d["tensors"]]')" = "[('x', 'f32', [3]), ('y', 'i32', []), ('id', 'i64', [])]" ]
    [ "$(jget "$T/s.json" '[(c["name"], c["count"]) for c in d["classes"]["counts"]], d["classes"]["unlabelled"]')" = "([('cat', 1), ('dog', 1), ('owl', 2)], 1)" ]
    [ "$(jget "$T/s.json" 'd["features"]["min"], [round(m, 6) for m in d["features"]["mean"]], d["features"]["max"]')" = "([0, 1, -2], [4, 1, 0.9], [8, 1, 3])" ]
    [ "$(jget "$T/s.json" 'd["head"]')" = "[{'x': [0, 1, 2], 'y': 0, 'id': 10}, {'x': [4, 1, -2], 'y': 2, 'id': 11}]" ]
    [ "$(jget "$T/s.json" 'd["meta"]["feature_names"]')" = "['a', 'b', 'c']" ]
}

@test "ssl-show: non-finite values are counted and left out of the ranges" {
    mk "$T/nan.ssl" '{"tensors": [["x","<f4",[2],[[1,5],[NaN,6],[3,Infinity]]]]}'
    run ssl-show "$T/nan.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"x has 2 columns, 2 non-finite values"* ]]
    [[ "$output" =~ 0\ +1\ +2\ +3 ]]
    [[ "$output" =~ 1\ +5\ +5\.5\ +6 ]]
    [[ "$output" != *"classes"* ]]
}

@test "ssl-show --header prints the header without reading the body" {
    small '"cut": 10,'
    run --separate-stderr ssl-show --header "$T/s.ssl"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "format    ssl-stream version 1" ]
    [[ "$output" != *"rows"* ]]
    run ssl-show --header --json "$T/s.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *'"format": "ssl-stream"'* ]]
    [[ "$output" != *'"rows"'* ]]
}

@test "ssl-show: a truncated or corrupt stream is an error, not a summary" {
    small '"noend": true,'
    run --separate-stderr ssl-show "$T/s.ssl"
    assert_fails_with 1 "^ssl-show: .*s.ssl: truncated stream: it ends after 5 rows without its end message$"
    [ -z "$output" ]
    small '"cut": 10,'
    run --separate-stderr ssl-show --json "$T/s.ssl"
    assert_fails_with 1 "truncated stream"
    [ -z "$output" ]
    small '"endrows": 7,'
    run --separate-stderr ssl-show "$T/s.ssl"
    assert_fails_with 1 "end message counts 7 rows, the stream had 5"
    printf 'not a stream at all' > "$T/junk.ssl"
    run --separate-stderr ssl-show "$T/junk.ssl"
    assert_fails_with 1 "junk.ssl"
    run --separate-stderr ssl-show -o "$T/out.txt" < /dev/null
    assert_fails_with 1 "^ssl-show: stdin: empty input"
    [ ! -e "$T/out.txt" ]
}

@test "ssl-show: missing file, usage errors exit 2" {
    run --separate-stderr ssl-show "$T/none.ssl"
    assert_fails_with 1 "none.ssl: No such file or directory"
    run --separate-stderr ssl-show --frobnicate
    assert_fails_with 2 "unknown option '--frobnicate'"
    run --separate-stderr ssl-show -n lots
    assert_fails_with 2 "--rows: 'lots' is not an integer"
    run --separate-stderr ssl-show -n -1
    assert_fails_with 2 "--rows: -1 is out of range"
    run --separate-stderr ssl-show a b
    assert_fails_with 2 "at most one input file"
}

@test "ssl-show | head -n 1 ends quietly" {
    have_py numpy || skip
    # 2000 rows of 40 features shown with --all: far more text than a pipe holds
    "$PY" -c '
import json
print(json.dumps({"tensors": [["x", "<f4", [40], [[float(i)] * 40 for i in range(2000)]]], "batch": 500}))' > "$T/spec.json"
    mk "$T/big.ssl" "@$T/spec.json"
    run --separate-stderr bash -c 'trap "" PIPE; ssl-show --all -n 2000 "$1" | head -n 1' _ "$T/big.ssl"
    [ "$status" -eq 0 ]
    [ "$output" = "format    ssl-stream version 1" ]
    [ -z "$stderr" ]
}

@test "ssl-show on ssl-prep's digits stream" {
    command -v ssl-prep >/dev/null || skip "ssl-prep not built"
    ssl-prep csv "$DIGITS" > "$T/d.ssl"
    run ssl-show "$T/d.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"rows      1797"* ]]
    [[ "$output" == *"classes   10"* ]]
    [[ "$output" == *"x has 64 columns"* ]]
}
