set terminal pngcairo size 900,560
set output '/work/wt/lead/bench/results/2026-12-07/044716-quick-policies/latency.png'
set title 'Latency at 1000 req/s, 1 KiB (2026-12-07T04:47Z, quick)'
set ylabel 'latency (ms, log scale)'
set xlabel 'percentile at 1000 req/s (fortio, 1 KiB responses)'
set logscale y
set grid ytics
set key top left
set datafile missing 'NaN'
plot 
