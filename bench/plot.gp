# SPDX-License-Identifier: LGPL-2.1-or-later
# Latency against concurrency, from bench-broker --plot-data (bench/run):
#   gnuplot -e "datafile='latency-vs-concurrency.dat'; outfile='x.svg'" bench/plot.gp
# One block per series; its title is the block's "# " comment line (the
# file's first comment line is the column header).
n = int(system(sprintf("grep -c '^# ' '%s'", datafile))) - 1
title(i) = system(sprintf("grep '^# ' '%s' | sed -n '%dp' | cut -c3-", datafile, i + 2))

set terminal svg size 1000,620 dynamic font "sans,11" background "white"
set output outfile
set title "locald-broker: median latency per call against concurrent clients (same run)"
set logscale xy
set xtics (1, 8, 64)
set xrange [0.8:80]
set xlabel "concurrent clients"
set ylabel "median latency per call (ms, log)"
set grid ytics mytics xtics
set key outside right top vertical font "sans,9"
plot for [i=0:n-1] datafile index i using 1:2 with linespoints lw 1.5 pt (i % 13) + 1 title title(i)
