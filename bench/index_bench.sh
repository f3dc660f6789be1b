#!/bin/sh
# The index benchmark: exact top-10 search over random unit 512-d galleries,
# facerec (build/bench/index_bench) beside FAISS IndexFlatIP
# (build/bench/faiss_flat) on the same vectors, one thread each. The two run
# REPEAT times in alternation (who goes first alternates too), so a busy
# moment on the machine hits both; each figure is the median of the per-run
# medians. Prints a Markdown table with the ratio facerec/FAISS (below 1:
# facerec is faster).
#   sh bench/index_bench.sh [BUILD_DIR] [SIZES] [REPEAT]
#   SIZES: comma-separated, ascending (default 10000,100000; add 1000000 for
#   the million-face case: 2 GB per program and about a minute per run)
set -eu
build=${1:-build}
sizes=${2:-10000,100000}
repeat=${3:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$repeat"); do
    if [ $((r % 2)) -eq 1 ]; then
        "$build/bench/index_bench" "$sizes" >> "$tmp/ours"
        "$build/bench/faiss_flat" "$sizes" >> "$tmp/peer"
    else
        "$build/bench/faiss_flat" "$sizes" >> "$tmp/peer"
        "$build/bench/index_bench" "$sizes" >> "$tmp/ours"
    fi
done
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# field FILE N NAME: every run's value of NAME on the lines of size N
field() { sed -n "s/^n=$2 .*$3=\([0-9.]*\).*/\1/p" "$1"; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "CPU: $cpu, $(nproc) cores; $(head -1 "$tmp/ours"); $repeat runs each, alternating"
echo
echo "| faces | 1 probe: facerec ms | FAISS ms | ratio | 64 probes: facerec ms/probe | FAISS ms/probe | ratio | add: facerec ms | FAISS ms | same top-1 |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for n in $(echo "$sizes" | tr ',' ' '); do
    os=$(field "$tmp/ours" "$n" single_ms | median)
    ps=$(field "$tmp/peer" "$n" single_ms | median)
    ob=$(field "$tmp/ours" "$n" batch_ms | median)
    pb=$(field "$tmp/peer" "$n" batch_ms | median)
    oa=$(field "$tmp/ours" "$n" add_ms | median)
    pa=$(field "$tmp/peer" "$n" add_ms | median)
    same=no
    [ "$(field "$tmp/ours" "$n" top1 | sort -u)" = "$(field "$tmp/peer" "$n" top1 | sort -u)" ] && same=yes
    rs=$(awk -v a="$os" -v b="$ps" 'BEGIN {printf "%.2f", a / b}')
    rb=$(awk -v a="$ob" -v b="$pb" 'BEGIN {printf "%.2f", a / b}')
    echo "| $n | $os | $ps | $rs | $ob | $pb | $rb | $oa | $pa | $same |"
done
