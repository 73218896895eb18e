# Written by bench/nflogbench; run in this directory: gnuplot chart.gp
if (strstrt(GPVAL_TERMINALS, "pngcairo") > 0) { set terminal pngcairo size 1400,560 font "sans,11" } else { set terminal png size 1400,560 }
set output 'chart.png'
set multiplot layout 1,2 title "nflog-agent vs ulogd2: same kernel flood, readers pinned to one CPU (median per step)"
set grid
set key top left opaque
set xlabel "offered rate (thousand packets/s, measured at the generator)"
set ylabel "events lost (% of those the kernel logged)"
set yrange [0:*]
plot 'chart.dat' index 0 using 1:2 with linespoints lc rgb "#d62728" lw 2 pt 7 title "ulogd2 alone", \
     'chart.dat' index 1 using 1:2 with linespoints lc rgb "#1f77b4" lw 2 pt 7 title "nflog-agent alone", \
     'chart.dat' index 2 using 1:2 with linespoints  title "nflog-agent-file alone", \
     'chart.dat' index 3 using 1:2 with linespoints lc rgb "#d62728" lw 2 dt 2 pt 6 title "ulogd2 (both at once)", \
     'chart.dat' index 4 using 1:2 with linespoints lc rgb "#1f77b4" lw 2 dt 2 pt 6 title "nflog-agent (both at once)", \
     'chart.dat' index 5 using 1:2 with linespoints  title "nflog-agent-https alone"
set ylabel "reader CPU per event (µs) = CPU seconds per million events"
set key top right
plot 'chart.dat' index 0 using 1:3 with linespoints lc rgb "#d62728" lw 2 pt 7 title "ulogd2 alone", \
     'chart.dat' index 1 using 1:3 with linespoints lc rgb "#1f77b4" lw 2 pt 7 title "nflog-agent alone", \
     'chart.dat' index 2 using 1:3 with linespoints  title "nflog-agent-file alone", \
     'chart.dat' index 3 using 1:3 with linespoints lc rgb "#d62728" lw 2 dt 2 pt 6 title "ulogd2 (both at once)", \
     'chart.dat' index 4 using 1:3 with linespoints lc rgb "#1f77b4" lw 2 dt 2 pt 6 title "nflog-agent (both at once)", \
     'chart.dat' index 5 using 1:3 with linespoints  title "nflog-agent-https alone"
unset multiplot
