#!/bin/sh
# plot-samples.sh OUT.png TITLE PANEL...: sample grids (PNGs of ssl-vae/ssl-gan sample --png) side by
# side in one titled PNG, three a row, drawn by gnuplot.
#   -p GRID.png TITLE   a panel
#   -c NAMES            its columns are the classes NAMES (comma-separated), as in the grid of K x K
#                       samples of a class-conditional model, whose rows cycle through the classes
set -eu
MIN=2 USAGE="plot-samples.sh OUT.png TITLE PANEL..."
. "$(dirname "$0")/plot-common.sh"
shift 2

panels=0 png=""
: > "$tmp/body"
flush() {
    [ -n "$png" ] || return 0
    printf 'plot %s binary filetype=png with rgbimage notitle\nunset xtics\n' "$(q "$png")" >> "$tmp/body"
    png=""
}
while [ $# -gt 0 ]; do
    case $1 in
    -p) flush; [ $# -ge 3 ] || { echo "plot-samples.sh: -p needs GRID.png TITLE" >&2; exit 2; }
        [ -s "$2" ] || { echo "plot-samples.sh: $2: no such image" >&2; exit 1; }
        panels=$((panels + 1)) png=$2
        printf 'set title %s\n' "$(q "$3")" >> "$tmp/body"; shift 3 ;;
    -c) [ -n "$png" ] || { echo "plot-samples.sh: -c before any -p" >&2; exit 2; }
        # the PNG's width (IHDR bytes 16-19) over K columns: 1-pixel gaps, so a cell is (width - 1) / K
        width=$(od -An -tu1 -j16 -N4 "$png" | awk '{ print ((($1 * 256 + $2) * 256 + $3) * 256) + $4 }')
        printf '%s\n' "$2" | awk -F, -v w="$width" '{
            cell = (w - 1) / NF; t = ""
            for (i = 1; i <= NF; i++) t = t (i > 1 ? ", " : "") "\"" $i "\" " (i - 1) * cell + cell / 2 + 0.5
            printf "set xtics (%s) rotate by 40 right scale 0 font \",8\"\n", t
        }' >> "$tmp/body"
        shift 2 ;;
    *) echo "plot-samples.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
flush
[ "$panels" -gt 0 ] || { echo "plot-samples.sh: no panel" >&2; exit 2; }

multiplot "$panels" $(( panels < 3 ? panels : 3 )) 400 440 \
    "$(printf 'set size ratio -1\nunset border\nunset ytics\nunset xtics\nunset key')"
draw
