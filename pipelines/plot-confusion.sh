#!/bin/sh
# plot-confusion.sh OUT.png TITLE REPORT.json...: the confusion matrix of ssl-eval --json reports (summed
# when several, e.g. the seeds of one method) as a gnuplot heat map: rows the true class, columns the
# predicted one, each cell the percentage of its true class (recall on the diagonal), the class names
# of the report on both axes and the accuracy in the title.
set -eu
MIN=3 USAGE="plot-confusion.sh OUT.png TITLE REPORT.json..."
. "$(dirname "$0")/plot-common.sh"
shift 2

# cells.dat: "pred true percent count rounded-percent" per cell; tics.gp: the class names; acc: the accuracy (%).
awk -v dir="$tmp" '
function fail(m) { print "plot-confusion.sh: " FILENAME ": " m > "/dev/stderr"; bad = 1; exit 1 }
{
    if (!match($0, /"confusion":\[\[[-0-9,\[\]]*\]\]/)) fail("no confusion matrix (not an ssl-eval --json report?)")
    m = substr($0, RSTART + 14, RLENGTH - 16)
    n = split(m, r, /\],\[/)
    if (K && n != K) fail("has " n " classes, the first report " K)
    K = n
    for (i = 1; i <= n; i++) {
        if (split(r[i], c, ",") != n) fail("confusion row " i " is not " n " wide")
        for (j = 1; j <= n; j++) C[i, j] += c[j]
    }
    if (names == "" && match($0, /"class_names":\[[^]]*\]/)) names = substr($0, RSTART + 15, RLENGTH - 16)
}
END {
    if (bad) exit 1
    if (names != "") split(substr(names, 2, length(names) - 2), nm, /","/)
    for (i = 1; i <= K; i++) {
        row = 0
        for (j = 1; j <= K; j++) row += C[i, j]
        for (j = 1; j <= K; j++) {
            pct = row ? 100 * C[i, j] / row : 0
            printf "%d %d %.2f %d %d\n", j - 1, i - 1, pct, C[i, j], int(pct + 0.5) > (dir "/cells.dat")
            all += C[i, j]
        }
        diag += C[i, i]
        tics = tics (i > 1 ? ", " : "") "\"" (i in nm ? nm[i] : i - 1) "\" " i - 1
    }
    printf "set xtics (%s) rotate by 40 right\nset ytics (%s)\n", tics, tics > (dir "/tics.gp")
    printf "%.1f\n", all ? 100 * diag / all : 0 > (dir "/acc")
}' "$@"

K=$(awk 'END { print $1 + 1 }' "$tmp/cells.dat")
size=$((K * 48 + 280))
cat > "$tmp/plot.gp" <<EOF
set terminal pngcairo noenhanced size $((size + 120)),$size font "sans,10"
set output '$out.tmp'
set title "$(printf '%s' "$title" | sed 's/"/\\"/g')\naccuracy $(cat "$tmp/acc")%" font ",12"
set xlabel "predicted class"
set ylabel "true class"
set xrange [-0.5:$K - 0.5]
set yrange [$K - 0.5:-0.5]
set size ratio -1
set tics nomirror scale 0
load '$tmp/tics.gp'
set cbrange [0:100]
set cblabel "% of the true class"
set palette defined (0 "white", 20 "#c6dbef", 60 "#4292c6", 100 "#08306b")
plot '$tmp/cells.dat' using 1:2:3 with image notitle, \
     '' using 1:2:(\$5 > 0 ? sprintf("%d", \$5) : "") :(\$3 >= 55 ? 0xffffff : 0x000000) \
        with labels textcolor rgb variable notitle
set output
EOF
draw
