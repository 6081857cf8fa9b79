#!/bin/sh
# plot-curves.sh OUT.png TITLE PANEL...: learning curves from the trainers' --log files (JSON lines, one
# object per epoch) drawn by gnuplot as one PNG, a panel per PANEL, two panels a row.
#   -p TITLE            starts a panel
#   -y LABEL            its y-axis label
#   -l                  its y axis logarithmic
#   -s FILE FIELD NAME  a line: FIELD of every line of FILE against its "epoch", in the key as NAME
#                       (-FIELD: its negative, e.g. -elbo)
# Example: plot-curves.sh curves.png "digits" -p "MLP" -y loss -l -s mlp.log loss mlp -s logreg.log loss logreg
set -eu
MIN=2 USAGE="plot-curves.sh OUT.png TITLE PANEL..."
. "$(dirname "$0")/plot-common.sh"
shift 2

panels=0 lines=0 plot=""
flush() { [ -n "$plot" ] && printf 'plot %s\n' "$plot" >> "$tmp/body"; plot=""; }
: > "$tmp/body"
while [ $# -gt 0 ]; do
    case $1 in
    -p) flush; panels=$((panels + 1))
        printf 'set title %s\nset ylabel ""\nunset logscale y\n' "$(q "$2")" >> "$tmp/body"; shift 2 ;;
    -y) printf 'set ylabel %s\n' "$(q "$2")" >> "$tmp/body"; shift 2 ;;
    -l) printf 'set logscale y\n' >> "$tmp/body"; shift ;;
    -s) [ $# -ge 4 ] || { echo "plot-curves.sh: -s needs FILE FIELD NAME" >&2; exit 2; }
        [ -s "$2" ] || { echo "plot-curves.sh: $2: no such log (or empty)" >&2; exit 1; }
        lines=$((lines + 1))
        # "epoch": N and "FIELD": V of each JSON line; lines without FIELD are skipped.
        awk -v f="$3" 'BEGIN { sign = 1; if (f ~ /^-/) { sign = -1; f = substr(f, 2) } }
        {
            e = ""; v = ""
            if (match($0, /"epoch": *[0-9]+/)) { e = substr($0, RSTART, RLENGTH); sub(/.*: */, "", e) }
            if (match($0, "\"" f "\": *[-+0-9.eEnaif]+")) { v = substr($0, RSTART, RLENGTH); sub(/.*: */, "", v) }
            if (e != "" && v != "") print e, sign * v
        }' "$2" > "$tmp/$lines.dat"
        [ -s "$tmp/$lines.dat" ] || { echo "plot-curves.sh: $2: no \"$3\" per epoch" >&2; exit 1; }
        plot="${plot:+$plot, }$(q "$tmp/$lines.dat") using 1:2 with lines lw 2 title $(q "$4")"
        shift 4 ;;
    *) echo "plot-curves.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
flush
[ "$panels" -gt 0 ] || { echo "plot-curves.sh: no panel" >&2; exit 2; }

multiplot "$panels" $(( panels > 1 ? 2 : 1 )) 560 380 \
    "$(printf 'set xlabel "epoch"\nset grid\nset key top right noopaque\nset border 3\nset tics nomirror')"
draw
