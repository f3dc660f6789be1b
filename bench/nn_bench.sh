#!/bin/sh
# make bench: every model, ours beside ONNX Runtime from the same run, at 1
# and 2 threads. Each side is timed REPEAT times in alternation and the
# median of the per-run medians is reported, so a busy moment on the machine
# hits both. ONNX Runtime runs twice per round: as configured by default, and
# with its session.set_denormal_as_zero option (facerec always flushes
# denormals, include/facerec/base.h), so the ratio compares like with like on
# CPUs where denormals are slow. Prints a Markdown table (docs/PERFORMANCE.md
# takes it as is), headed by the CPU model.
#   sh bench/nn_bench.sh [BUILD_DIR] [ITERS] [REPEAT]
set -eu
build=${1:-build}
iters=${2:-100}
repeat=${3:-3}
models=${MODELS:-"fr_detect fr_feature fr_landmark fr_liveness fr_pose fr_eye fr_age fr_gender fr_expression"}
threads_list=${THREADS:-"1 2"}
if [ ! -d tools/node_modules/onnxruntime-node ]; then
    echo "bench: installing the peer (onnxruntime-node) into tools/node_modules" >&2
    (cd tools && npm install --ignore-scripts --no-audit --no-fund --silent) >&2
fi
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo "CPU: $cpu, $(nproc) cores; isa: $($build/facerec nn bench --model models/fr_eye.onnx --iters 1 --warmup 0 | sed -n 's/.*"isa": "\([a-z0-9]*\)".*/\1/p'); iters $iters x $repeat runs"
echo
echo "| model | threads | facerec ms | ONNX Runtime ms | ORT, denormals as zero, ms | ratio facerec/ORT | ratio facerec/ORT (DAZ) | peak activations |"
echo "|---|---|---|---|---|---|---|---|"
for m in $models; do
    for t in $threads_list; do
        ours="" peer="" peerz="" mem=""
        for r in $(seq "$repeat"); do
            o=$($build/facerec nn bench --model "models/$m.onnx" --threads "$t" --iters "$iters")
            ours="$ours $(echo "$o" | field median_ms)"
            mem=$(echo "$o" | field peak_mem_bytes)
            p=$(node tools/ort_bench.js --threads "$t" --iters "$iters" "models/$m.onnx")
            peer="$peer $(echo "$p" | field median_ms)"
            p=$(node tools/ort_bench.js --threads "$t" --iters "$iters" --denormal-as-zero "models/$m.onnx")
            peerz="$peerz $(echo "$p" | field median_ms)"
        done
        a=$(echo $ours | tr ' ' '\n' | median)
        b=$(echo $peer | tr ' ' '\n' | median)
        z=$(echo $peerz | tr ' ' '\n' | median)
        ratio=$(awk -v a="$a" -v b="$b" 'BEGIN {printf "%.2f", a / b}')
        ratioz=$(awk -v a="$a" -v b="$z" 'BEGIN {printf "%.2f", a / b}')
        kb=$(awk -v m="$mem" 'BEGIN {printf "%.0f KiB", m / 1024}')
        echo "| $m | $t | $a | $b | $z | $ratio | $ratioz | $kb |"
    done
done
