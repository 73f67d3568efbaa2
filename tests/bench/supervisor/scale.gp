# corrald RSS and ListInstances latency vs number of VMs, from supervisor-bench --curve.
# gnuplot -e "data='curve.dat'; out='scale.svg'; note='...'" scale.gp
set terminal svg size 720,420 dynamic font "sans,11"
set output out
set title "corrald: RSS and ListInstances latency vs supervised VMs\n{/*0.8 ".note."}"
set xlabel "VMs (q35, TCG, 32 MiB, no guest)"
set ylabel "corrald RSS (MiB)"
set y2label "ListInstances latency (µs, log)"
set ytics nomirror
set y2tics
set yrange [0:*]
set logscale y2
set y2range [10:*]
set logscale x
set xtics (1, 10, 50, 100)
set key below
set grid
plot data using 1:2 with linespoints lw 2 pt 7 title "RSS (MiB)", \
     data using 1:3 axes x1y2 with linespoints lw 2 pt 5 title "ListInstances p50 (µs)", \
     data using 1:4 axes x1y2 with linespoints lw 1 pt 4 dt 2 title "ListInstances p99 (µs)"
