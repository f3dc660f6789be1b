#!/bin/sh
# make test: every unit test binary (cmocka), the official ONNX operator
# tests, and the engine self-check on the nine models. Ends with the line
# "N passed, M failed" (cmocka cases + conformance + self-check).
#   sh tests/run.sh BUILD_DIR
set -u
build=${1:-build}
passed=0 failed=0
log=$build/tests/last.log
mkdir -p "$build/tests"
count() {   # name, exit status, output file
    p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$3" | tail -1)
    f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$3" | tail -1)
    p=${p:-0} f=${f:-0}
    if [ "$2" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p)) failed=$((failed + f))
    if [ "$f" -eq 0 ]; then echo "ok   $1 ($p)"; else
        echo "FAIL $1"
        # the failed assertions first: a sanitizer's report after them would push them out of the tail
        grep -E '^\[ +(ERROR|LINE|FAILED) +\]' "$3" | head -20 | sed 's/^/    /'
        sed 's/^/    /' "$3" | grep -v '^    \[ *\(RUN\|OK\) ' | tail -40
    fi
}
for t in $(find "$build/tests" -type f -name 'test_*' ! -name '*.d' | sort); do
    [ -x "$t" ] || continue
    BUILD="$build" timeout 900 "$t" > "$log" 2>&1
    count "${t#$build/tests/}" $? "$log"
done
# The official ONNX node tests (Debian libonnx-testdata)
timeout 900 "$build/facerec" nn conformance --quiet /usr/share/libonnx-testdata/data/node > "$log" 2>&1
rc=$?
line=$(tail -1 "$log")
cp=$(echo "$line" | sed -n 's/^\([0-9]*\) passed.*/\1/p')
cf=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
echo "conformance: $line"
passed=$((passed + ${cp:-0})) failed=$((failed + ${cf:-1}))
[ "$rc" -eq 0 ] || grep ^FAIL "$log" | head -20
# All nine models load and run
if timeout 600 "$build/facerec" nn selfcheck models > "$log" 2>&1; then
    passed=$((passed + 1)); echo "ok   selfcheck (9 models)"
else
    failed=$((failed + 1)); echo "FAIL selfcheck"; cat "$log"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
