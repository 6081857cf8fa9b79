# Sourced by the plot-*.sh scripts after `set -eu`, with USAGE set and MIN the least argument count: takes
# OUT and TITLE off the arguments, makes a scratch folder $tmp (removed on exit), and defines q (a gnuplot
# string: single-quoted, a quote inside doubled), draw (runs $tmp/plot.gp, which writes $out.tmp, and
# renames that to $out, so a failed plot leaves no OUT) and multiplot (the panels in $tmp/body as a grid).
[ $# -ge "$MIN" ] || { echo "usage: $USAGE" >&2; exit 2; }
out=$1 title=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/plot.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/''/g")"; }
draw() { gnuplot "$tmp/plot.gp" && mv "$out.tmp" "$out"; }
# multiplot PANELS COLS WIDTH HEIGHT SETTINGS: $tmp/plot.gp drawing $tmp/body's PANELS panels, COLS a row,
# each WIDTH x HEIGHT pixels, under the title, after the gnuplot SETTINGS shared by every panel.
multiplot() {
    rows=$(( ($1 + $2 - 1) / $2 ))
    {
        printf 'set terminal pngcairo noenhanced size %d,%d font "sans,10"\n' $(($2 * $3)) $((rows * $4 + 40))
        printf 'set output %s\n' "$(q "$out.tmp")"
        printf 'set multiplot layout %d,%d title %s font ",13"\n' "$rows" "$2" "$(q "$title")"
        printf '%s\n' "$5"
        cat "$tmp/body"
        printf 'unset multiplot\nset output\n'
    } > "$tmp/plot.gp"
}
