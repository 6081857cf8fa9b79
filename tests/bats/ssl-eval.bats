#!/usr/bin/env bats
# ssl-eval: scoring a stream with y and p, the JSON report, and the table subcommand.
load helpers
bats_require_minimum_version 1.5.0

# The hand-computed example of tests/unit/test_metrics.c (3 classes, 6 labelled rows + 1 unlabelled).
Y7='[0,0,1,1,2,2,-1]'
P7='[[0.7,0.2,0.1],[0.4,0.5,0.1],[0.1,0.8,0.1],[0.2,0.6,0.2],[0.3,0.3,0.4],[0.6,0.1,0.3],[1,0,0]]'
NAMES='{"class_names": ["setosa", "versicolor", "virginica"]}'

# mk OUT SPEC: writes a stream with the Python writer (skips the test without msgpack-numpy).
mk() {
    have_py msgpack_numpy || skip "python3-msgpack-numpy not installed"
    "$PY" "$BATS_TEST_DIRNAME/mkstream.py" "$@"
}

# jget FILE EXPR: evaluates a Python expression on the JSON object d read from FILE.
jget() {
    "$PY" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"
}

example() {
    mk "$T/ex.ssl" "{\"tensors\": [[\"y\",\"<i4\",[],$Y7], [\"p\",\"<f4\",[3],$P7]], \"meta\": $NAMES}"
}

@test "ssl-eval --help prints usage with an example, --version the version" {
    run ssl-eval --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"Usage: ssl-eval"* ]]
    [[ "$output" == *"ssl-fit predict model.mlp test.ssl | ssl-eval"* ]]
    run ssl-eval table --help
    [ "$status" -eq 0 ]
    [[ "$output" == *"ssl-eval table"* ]]
    run ssl-eval --version
    [ "$status" -eq 0 ]
    [[ "$output" =~ ^ssl-eval\ \(ssl-tools\)\ [0-9]+\.[0-9]+ ]]
}

@test "ssl-eval: the report for people has the hand-computed numbers, names and confusion matrix" {
    example
    run --separate-stderr ssl-eval "$T/ex.ssl"
    [ "$status" -eq 0 ]
    [ -z "$stderr" ]
    [[ "$output" == *"rows evaluated    6 (unlabelled rows skipped: 1)"* ]]
    [[ "$output" == *"accuracy          0.6667"* ]]
    [[ "$output" == *"macro-F1          0.6556"* ]]
    [[ "$output" == *"log-loss          0.6879"* ]]
    [[ "$output" == *"ECE (15 bins)     0.3000"* ]]
    [[ "$output" =~ versicolor\ +0\.6667\ +1\.0000\ +0\.8000\ +2 ]]
    [[ "$output" =~ 2\ +virginica\ +1\ 0\ 1 ]]
}

@test "ssl-eval reads stdin by default and with -" {
    example
    run ssl-eval < "$T/ex.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"accuracy          0.6667"* ]]
    run ssl-eval - < "$T/ex.ssl"
    [ "$status" -eq 0 ]
    [[ "$output" == *"accuracy          0.6667"* ]]
}

@test "ssl-eval --json: a perfect prediction scores 1, tags keep their types" {
    mk "$T/perfect.ssl" '{"tensors": [["y","<i4",[],[0,1,2,1,-1]], ["p","<f4",[3],[[1,0,0],[0,1,0],[0,0,1],[0.1,0.8,0.1],[0.3,0.3,0.4]]]], "batch": 2}'
    ssl-eval --json --tag method=mlp --tag dataset=digits --tag labels=50 --tag seed=0 --tag lr=1e-3 \
        "$T/perfect.ssl" > "$T/r.json"
    [ "$(wc -l < "$T/r.json")" -eq 1 ]
    [ "$(jget "$T/r.json" 'd["accuracy"], d["macro_f1"], d["rows"], d["unlabelled"]')" = "(1, 1, 4, 1)" ]
    [ "$(jget "$T/r.json" '(d["method"], d["dataset"], d["labels"], d["seed"], d["lr"])')" = "('mlp', 'digits', 50, 0, 0.001)" ]
    [ "$(jget "$T/r.json" 'list(d)[:4]')" = "['method', 'dataset', 'labels', 'seed']" ]
    [ "$(jget "$T/r.json" 'd["confusion"]')" = "[[1, 0, 0], [0, 2, 0], [0, 0, 1]]" ]
    [ "$(jget "$T/r.json" 'd["class_names"]')" = "['0', '1', '2']" ]
}

@test "ssl-eval --json: the hand-computed example" {
    example
    ssl-eval --json "$T/ex.ssl" > "$T/r.json"
    [ "$(jget "$T/r.json" 'round(d["macro_f1"], 6), round(d["log_loss"], 6), round(d["ece"], 6)')" = "(0.655556, 0.687866, 0.3)" ]
    [ "$(jget "$T/r.json" '[c["class"] for c in d["per_class"]]')" = "['setosa', 'versicolor', 'virginica']" ]
    [ "$(jget "$T/r.json" '[round(c["f1"], 4) for c in d["per_class"]]')" = "[0.5, 0.8, 0.6667]" ]
}

@test "ssl-eval -o FILE writes the file and nothing on stdout" {
    example
    run ssl-eval --json -o "$T/out.json" "$T/ex.ssl"
    [ "$status" -eq 0 ]
    [ -z "$output" ]
    [ "$(jget "$T/out.json" 'd["rows"]')" = 6 ]
}

@test "ssl-eval: a stream without p names the tensor and the fix; no output file" {
    mk "$T/test.ssl" '{"tensors": [["x","<f4",[2],[[1,2],[3,4]]], ["y","<i4",[],[0,1]]]}'
    cd "$T"
    run --separate-stderr ssl-eval -o out.json test.ssl
    assert_fails_with 1 "^ssl-eval: test.ssl: stream has no tensor 'p' \(run ssl-fit predict first\)$"
    refute compgen -G 'out.json*'   # neither the file nor a temporary one
}

@test "ssl-eval: a stream without y" {
    mk "$T/noy.ssl" '{"tensors": [["p","<f4",[2],[[1,0]]]]}'
    run --separate-stderr ssl-eval "$T/noy.ssl"
    assert_fails_with 1 "stream has no tensor 'y'"
}

@test "ssl-eval: a label >= K names the row" {
    mk "$T/bad.ssl" '{"tensors": [["y","<i4",[],[0,1,-1,3]], ["p","<f4",[3],[[1,0,0],[0,1,0],[0,1,0],[0,0,1]]]]}'
    run --separate-stderr ssl-eval "$T/bad.ssl"
    assert_fails_with 1 "^ssl-eval: .*bad.ssl: row 4: label 3 is out of range: p has 3 classes"
    [ -z "$output" ]
}

@test "ssl-eval: a truncated stream is an error, never a report" {
    example
    mk "$T/noend.ssl" "{\"tensors\": [[\"y\",\"<i4\",[],$Y7], [\"p\",\"<f4\",[3],$P7]], \"noend\": true}"
    run --separate-stderr ssl-eval "$T/noend.ssl"
    assert_fails_with 1 "truncated stream"
    [ -z "$output" ]
    mk "$T/cut.ssl" "{\"tensors\": [[\"y\",\"<i4\",[],$Y7], [\"p\",\"<f4\",[3],$P7]], \"cut\": 20}"
    run --separate-stderr ssl-eval --json "$T/cut.ssl"
    assert_fails_with 1 "truncated"
    [ -z "$output" ]
    head -c 30 "$T/ex.ssl" > "$T/head.ssl"
    run --separate-stderr ssl-eval "$T/head.ssl"
    assert_fails_with 1 "head.ssl: truncated"
}

@test "ssl-eval: wrong types, mismatched class names, nothing labelled, empty input" {
    mk "$T/f64.ssl" '{"tensors": [["y","<i4",[],[0]], ["p","<f8",[2],[[1,0]]]]}'
    run --separate-stderr ssl-eval "$T/f64.ssl"
    assert_fails_with 1 "tensor 'p' is f64"
    mk "$T/names.ssl" '{"tensors": [["y","<i4",[],[0]], ["p","<f4",[2],[[1,0]]]], "meta": {"class_names": ["a","b","c"]}}'
    run --separate-stderr ssl-eval "$T/names.ssl"
    assert_fails_with 1 "class_names has 3 names but p has 2 classes"
    mk "$T/unl.ssl" '{"tensors": [["y","<i4",[],[-1,-1]], ["p","<f4",[2],[[1,0],[0,1]]]]}'
    run --separate-stderr ssl-eval "$T/unl.ssl"
    assert_fails_with 1 "no labelled rows to evaluate"
    run --separate-stderr ssl-eval < /dev/null
    assert_fails_with 1 "^ssl-eval: stdin: empty input"
}

@test "ssl-eval: missing file, usage errors exit 2" {
    run --separate-stderr ssl-eval "$T/nope.ssl"
    assert_fails_with 1 "nope.ssl: No such file or directory"
    run --separate-stderr ssl-eval --bogus
    assert_fails_with 2 "unknown option '--bogus'"
    run --separate-stderr ssl-eval -x
    assert_fails_with 2 "unknown option '-x'"
    run --separate-stderr ssl-eval --tag novalue
    assert_fails_with 2 "--tag: 'novalue' is not KEY=VALUE"
    run --separate-stderr ssl-eval a.ssl b.ssl
    assert_fails_with 2 "at most one input file"
    example
    run --separate-stderr ssl-eval --json --tag accuracy=1 "$T/ex.ssl"
    assert_fails_with 2 "that field is a metric"
    run --separate-stderr ssl-eval -o
    assert_fails_with 2 "needs a value"
}

@test "ssl-eval | head -n 1 ends quietly" {
    # 300 classes: the confusion matrix alone is far more than a pipe holds
    have_py numpy || skip
    "$PY" -c '
import json, sys
k = 300
print(json.dumps({"tensors": [["y", "<i4", [], list(range(k))], ["p", "<f4", [k], [[1.0 if j == i else 0.0 for j in range(k)] for i in range(k)]]], "batch": 100}))' > "$T/spec.json"
    mk "$T/big.ssl" "@$T/spec.json"
    # even when the parent ignores SIGPIPE (then a write fails with EPIPE instead)
    run --separate-stderr bash -c 'trap "" PIPE; ssl-eval "$1" | head -n 1' _ "$T/big.ssl"
    [ "$status" -eq 0 ]
    [ "$output" = "rows evaluated    300 (unlabelled rows skipped: 0)" ]
    [ -z "$stderr" ]
}

# ---- ssl-eval table ----

run_json() { # FILE method labels seed accuracy macro_f1 [seconds]
    printf '{"method": "%s", "dataset": "digits", "labels": %s, "seed": %s, "accuracy": %s, "macro_f1": %s%s}\n' \
        "$2" "$3" "$4" "$5" "$6" "${7:+, \"seconds\": $7}" > "$1"
}

@test "ssl-eval table: mean ± sample std in percent, one row per method, first-seen order" {
    run_json "$T/a.json" mlp 50 0 0.85 0.84 10
    run_json "$T/b.json" logreg 50 0 0.80 0.79 2
    run_json "$T/c.json" mlp 50 1 0.87 0.86 12
    run_json "$T/d.json" mlp 50 2 0.89 0.85 14
    run --separate-stderr ssl-eval table "$T/a.json" "$T/b.json" "$T/c.json" "$T/d.json"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "| method | labels | runs | accuracy (%) | macro_f1 (%) | seconds |" ]
    [ "${lines[1]}" = "|---|---|---:|---:|---:|---:|" ]
    # accuracy .85 .87 .89: mean 87.0, sample std 2.0; macro-F1 .84 .86 .85: mean 85.0, std 1.0
    [ "${lines[2]}" = "| mlp | 50 | 3 | 87.0 ± 2.0 | 85.0 ± 1.0 | 12.0 |" ]
    [ "${lines[3]}" = "| logreg | 50 | 1 | 80.0 | 79.0 | 2.0 |" ]
    [ "${#lines[@]}" -eq 4 ]
}

@test "ssl-eval table: labels split groups by default, --by method merges them; no seconds column without seconds" {
    run_json "$T/a.json" mlp 10 0 0.60 0.50
    run_json "$T/b.json" mlp 100 0 0.80 0.70
    run ssl-eval table "$T/a.json" "$T/b.json"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "| method | labels | runs | accuracy (%) | macro_f1 (%) |" ]
    [ "${lines[2]}" = "| mlp | 10 | 1 | 60.0 | 50.0 |" ]
    [ "${lines[3]}" = "| mlp | 100 | 1 | 80.0 | 70.0 |" ]
    run ssl-eval table --by method --metrics accuracy "$T/a.json" "$T/b.json"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "| method | runs | accuracy (%) |" ]
    # .6 and .8: mean 70.0, sample std 14.1 (0.1414)
    [ "${lines[2]}" = "| mlp | 2 | 70.0 ± 14.1 |" ]
}

@test "ssl-eval table --format json and -o" {
    run_json "$T/a.json" mlp 50 0 0.85 0.84
    run_json "$T/c.json" mlp 50 1 0.87 0.86
    ssl-eval table --format json -o "$T/t.json" "$T/a.json" "$T/c.json"
    [ "$(jget "$T/t.json" '[(r["method"], r["labels"], r["runs"], round(r["accuracy"]["mean"], 6), round(r["accuracy"]["std"], 6)) for r in d]')" = "[('mlp', 50, 2, 0.86, 0.014142)]" ]
}

@test "ssl-eval table on reports written by ssl-eval --json, log_loss shown raw" {
    example
    ssl-eval --json --tag method=mlp --tag labels=5 --tag seed=0 "$T/ex.ssl" > "$T/r0.json"
    ssl-eval --json --tag method=mlp --tag labels=5 --tag seed=1 "$T/ex.ssl" > "$T/r1.json"
    run ssl-eval table --metrics accuracy,log_loss,ece "$T/r0.json" "$T/r1.json"
    [ "$status" -eq 0 ]
    [ "${lines[0]}" = "| method | labels | runs | accuracy (%) | log_loss | ece (%) |" ]
    [ "${lines[2]}" = "| mlp | 5 | 2 | 66.7 ± 0.0 | 0.688 ± 0.000 | 30.0 ± 0.0 |" ]
}

@test "ssl-eval table: errors name the file" {
    printf '{"method": "mlp",\n "accuracy": 0.5 "macro_f1": 1}\n' > "$T/bad.json"
    run --separate-stderr ssl-eval table "$T/bad.json"
    assert_fails_with 1 "bad.json:2:27: '}' expected near '\"macro_f1\"'$"
    printf '{"method": "mlp", "macro_f1": 0.5}' > "$T/nometric.json"
    run --separate-stderr ssl-eval table "$T/nometric.json"
    assert_fails_with 1 "nometric.json: no field 'accuracy'$"
    printf '[1, 2]' > "$T/arr.json"
    run --separate-stderr ssl-eval table "$T/arr.json"
    assert_fails_with 1 "arr.json: a run must be a JSON object"
    run --separate-stderr ssl-eval table "$T/missing.json"
    assert_fails_with 1 "missing.json: No such file"
    run --separate-stderr ssl-eval table
    assert_fails_with 2 "no run files given"
    run --separate-stderr ssl-eval table --format csv "$T/bad.json"
    assert_fails_with 2 "--format: 'csv' is not one of md\|json"
}

@test "ssl-eval agrees with a numpy reference on ssl-fit's predictions for digits" {
    command -v ssl-fit >/dev/null && command -v ssl-prep >/dev/null || skip "ssl-prep/ssl-fit not built"
    have_py msgpack_numpy || skip "python3-msgpack-numpy not installed"
    cd "$T"
    ssl-prep csv "$DIGITS" | ssl-prep split --test 0.3 --seed 42 --train-out tr.ssl --test-out te.ssl
    ssl-prep scale --method minmax --fit-stats sc.model tr.ssl > trs.ssl
    ssl-prep scale --stats sc.model te.ssl > tes.ssl
    # 5 labels per class and logistic regression: a weak, imperfectly calibrated model
    ssl-prep mask --labels-per-class 5 --seed 0 trs.ssl > tr5.ssl
    ssl-fit train -q --hidden 0 -o lr.model tr5.ssl
    ssl-fit predict -m lr.model tes.ssl > pred.ssl
    ssl-eval --json --tag method=logreg pred.ssl > r.json
    [ "$(jget r.json 'd["rows"], d["method"]')" = "(540, 'logreg')" ]
    run "$PY" "$BATS_TEST_DIRNAME/eval_ref.py" pred.ssl r.json
    [ "$output" = ok ]
}
