set terminal pngcairo size 900,560
set output '/work/wt/lead/bench/results/2026-12-07/043415-quick/latency.png'
set title 'Latency at 1000 req/s, 1 KiB (2026-12-07T04:34Z, quick)'
set ylabel 'latency (ms, log scale)'
set xlabel 'percentile at 1000 req/s (fortio, 1 KiB responses)'
set logscale y
set grid ytics
set key top left
set datafile missing 'NaN'
plot '/work/wt/lead/bench/results/2026-12-07/043415-quick/latency.dat' using 2:xtic(1) with linespoints lw 2 pt 7 dt 1 lc rgb '#555555' title 'direct, 16 conns', \
  '/work/wt/lead/bench/results/2026-12-07/043415-quick/latency.dat' using 3:xtic(1) with linespoints lw 2 pt 6 dt 2 lc rgb '#555555' title 'direct, 4 conns', \
  '/work/wt/lead/bench/results/2026-12-07/043415-quick/latency.dat' using 4:xtic(1) with linespoints lw 2 pt 7 dt 1 lc rgb '#d95f02' title 'haproxy-pair, 16 conns', \
  '/work/wt/lead/bench/results/2026-12-07/043415-quick/latency.dat' using 5:xtic(1) with linespoints lw 2 pt 6 dt 2 lc rgb '#d95f02' title 'haproxy-pair, 4 conns', \
  '/work/wt/lead/bench/results/2026-12-07/043415-quick/latency.dat' using 6:xtic(1) with linespoints lw 2 pt 7 dt 1 lc rgb '#1b9e77' title 'skein-pair, 16 conns', \
  '/work/wt/lead/bench/results/2026-12-07/043415-quick/latency.dat' using 7:xtic(1) with linespoints lw 2 pt 6 dt 2 lc rgb '#1b9e77' title 'skein-pair, 4 conns'
