#!/usr/bin/env bats
# The layout's rules (docs/architecture.md), checked on the source tree.
load helpers

@test "lib/: every include follows the parts' rules (tests/layers.sh)" {
    run sh "$ROOT/tests/layers.sh"
    [ "$status" -eq 0 ] || { echo "$output"; return 1; }
}

@test "no weak symbols: nothing outside the library replaces its functions" {
    run grep -rn --include="*.[ch]" "__attribute__((weak" "$ROOT/lib" "$ROOT/tools" "$ROOT/bench" "$ROOT/tests"
    [ "$status" -eq 1 ] || { echo "$output"; return 1; }
}

@test "no source file of lib/ or tools/ is over 900 lines: a longer one is several modules" {
    run awk 'FNR == 901 { print FILENAME }' "$ROOT"/lib/*/*.c "$ROOT"/lib/*/*.h "$ROOT"/tools/*.c
    [ -z "$output" ] || { echo "over 900 lines: $output"; return 1; }
}
