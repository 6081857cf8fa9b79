# Shared by every bats file: the programs under test come from $BUILD/bin (build/ by default,
# build-san/ under SANITIZE=1); each test gets a scratch folder $T.
bats_require_minimum_version 1.5.0
ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
BUILD_DIR="$ROOT/${BUILD:-build}"
export PATH="$BUILD_DIR/bin:$PATH"
DIGITS="$ROOT/data/digits.csv.gz"
# Debian's python (with python3-msgpack/numpy), not a pyenv shim
PY=/usr/bin/python3

setup() {
    T="$BATS_TEST_TMPDIR"
}

# True when the programs are the sanitizer build (AddressSanitizer reserves terabytes of address
# space, so an address-space limit, ulimit -v, says nothing about the program there).
sanitized() { [[ "$BUILD_DIR" == *-san ]]; }

# True when the Debian python has the given modules.
have_py() {
    [ -x "$PY" ] && "$PY" -c "import $1" 2>/dev/null
}

# Asserts: exit status $1, exactly one line on stderr, and that line matching the regex $2.
# Use with: run --separate-stderr prog ...
assert_fails_with() {
    local want=$1 regex=$2
    [ "$status" -eq "$want" ] || { echo "status $status, expected $want; stderr: $stderr"; return 1; }
    local nl
    nl=$(printf '%s\n' "$stderr" | grep -c .)
    if [ "$want" -eq 1 ] && [ "$nl" -ne 1 ]; then echo "expected one line on stderr, got $nl: $stderr"; return 1; fi
    [[ "$stderr" =~ $regex ]] || { echo "stderr '$stderr' does not match /$regex/"; return 1; }
}

# refute CMD...: fails the test when CMD succeeds. A bare `! CMD` in the middle of a bats test cannot fail it
# (errexit ignores negated commands), so every "must differ" / "must not exist" check goes through this.
refute() {
    if "$@"; then
        echo "refute: this succeeded but must not: $*" >&2
        return 1
    fi
}

# peak_kb CMD...: runs CMD (its stdout and stderr to /dev/null) and prints its peak resident memory in KB.
peak_kb() {
    "$PY" -c 'import resource, subprocess, sys
subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)' "$@"
}
