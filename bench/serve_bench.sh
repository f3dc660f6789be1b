#!/bin/sh
# make bench, the service: identify (multipart photo, one face) against a
# gallery of GALLERY synthetic faces (default 10 000), driven by wrk at 1, 8
# and 32 connections; then more requests until TOTAL (default 100 000) have
# been served, with the server's resident memory before and after. The same
# photo through `facerec bench pipeline` (2 threads) gives the faces/s the
# service is measured against.
#   sh bench/serve_bench.sh [BUILD_DIR]     env: GALLERY, TOTAL, DURATION (s per run), PORT
set -eu
build=${1:-build}
gallery=${GALLERY:-10000}
total=${TOTAL:-100000}
dur=${DURATION:-20}
port=${PORT:-18390}
photo=${PHOTO:-tests/fixtures/faces/Aaron_Peirsol_0003.jpg}
command -v wrk >/dev/null || { echo "serve bench: wrk is missing (apt-get install wrk)" >&2; exit 1; }
data=$(mktemp -d)
trap 'kill $pid 2>/dev/null; rm -rf "$data"' EXIT
export FACEREC_DATA_DIR="$data" FACEREC_ADMIN_TOKEN=bench-admin-token-0123456789 FACEREC_LISTEN=127.0.0.1:$port
export FACEREC_LOG_LEVEL=warn
key=$($build/facerec client create bench 2>/dev/null | sed -n 's/.*: \(frk_[A-Za-z0-9_-]*\)$/\1/p')
$build/facerec bench seed "$gallery" >/dev/null 2>&1
$build/facerec serve >"$data/serve.log" 2>&1 &
pid=$!
for i in $(seq 100); do
    curl -sf "http://127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break
    sleep 0.2
done
rss() { awk '/VmRSS/ {print $2}' /proc/$pid/status; }
url="http://127.0.0.1:$port/api/v1/identify"
curl -sf -H "X-API-Key: $key" -F "photo=@$photo" "$url" >/dev/null || { echo "serve bench: identify failed" >&2; cat "$data/serve.log" >&2; exit 1; }
rss0=$(rss)
echo "identify, $gallery-face gallery, photo $(basename "$photo"), $(nproc) cores, ${dur} s per run"
echo "| connections | requests/s | p50 ms | p99 ms | errors | non-2xx |"
echo "|---|---|---|---|---|---|"
done_req=0 best=0
for c in 1 8 32; do
    out=$(PHOTO=$photo KEY=$key wrk -t$([ $c -lt 2 ] && echo 1 || echo 2) -c$c -d${dur}s --latency -s bench/identify.lua "$url" | grep '^RESULT')
    v() { echo "$out" | sed -n "s/.* $1=\([0-9.]*\).*/\1/p"; }
    echo "| $c | $(v rps) | $(v p50_ms) | $(v p99_ms) | $(v errors) | $(v non2xx) |"
    done_req=$((done_req + $(v requests)))
    best=$(awk -v a="$best" -v b="$(v rps)" 'BEGIN {print (b > a) ? b : a}')
done
# soak: more identify requests in rounds until TOTAL, with resident memory
# and the bytes our allocator holds (facerec_allocated_bytes) after each
alloc() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^facerec_allocated_bytes/ {printf "%d", $2 / 1024}'; }
echo "| requests so far | resident KiB | facerec_allocated KiB | errors, non-2xx |"
echo "|---|---|---|---|"
echo "| $done_req | $(rss) | $(alloc) | |"
while [ "$done_req" -lt "$total" ]; do
    rest=$((total - done_req))
    [ "$rest" -gt 25000 ] && rest=25000
    secs=$(awk -v r="$rest" -v s="$best" 'BEGIN {printf "%d", r / s + 1}')
    out=$(PHOTO=$photo KEY=$key wrk -t2 -c8 -d${secs}s -s bench/identify.lua "$url" | grep '^RESULT')
    n=$(echo "$out" | sed -n 's/.*requests=\([0-9]*\).*/\1/p')
    e=$(echo "$out" | sed -n 's/.*errors=\([0-9]*\) non2xx=\([0-9]*\).*/\1 \2/p')
    done_req=$((done_req + n))
    echo "| $done_req | $(rss) | $(alloc) | $e |"
done
rss1=$(rss)
echo "resident memory: ${rss0} KiB before, ${rss1} KiB after $done_req requests"
pipe=$($build/facerec bench pipeline "$photo" --iters 50 | sed -n 's/.*2 threads: \([0-9.]*\) faces.*/\1/p')
awk -v a="$best" -v b="$pipe" 'BEGIN {printf "best identify %.1f requests/s vs facerec bench pipeline %.1f faces/s (2 threads, same photo): %.0f%%\n", a, b, 100 * a / b}'
