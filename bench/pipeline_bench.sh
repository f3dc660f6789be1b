#!/bin/sh
# make bench, the face pipeline: per-stage times of `facerec bench pipeline`
# and, from the same run, ONNX Runtime's times for the three models the
# pipeline runs (fr_detect once per image, fr_landmark and fr_feature once per
# face), so "end to end per face" can be read against the peer's model time.
# Two image sets: portraits (committed LFW-size fixtures, one face each) and,
# when ../shared/data is present, two large photos (1 MP, 4:4:4 JPEGs).
#   sh bench/pipeline_bench.sh [BUILD_DIR] [ITERS]
set -eu
build=${1:-build}
iters=${2:-20}
field() { sed -n "s/.*\"$1\": *\([0-9.]*\).*/\1/p"; }
ort() { node tools/ort_bench.js --threads 1 --iters 100 "models/$1.onnx" | field median_ms; }
f=tests/fixtures/faces
sets="portraits"
portraits="$f/AJ_Lamas_0001.jpg $f/Aaron_Peirsol_0001.jpg $f/Aaron_Peirsol_0003.jpg $f/obama_small.jpg"
ex=../shared/data/photos/face_recognition/examples
photos="$ex/obama.jpg $ex/two_people.jpg"
[ -f "$ex/obama.jpg" ] && sets="$sets photos"
for s in $sets; do
    eval "imgs=\$$s"
    echo "### $s: $(echo $imgs | wc -w) images"
    out=$($build/facerec bench pipeline $imgs --iters "$iters")
    echo "$out" | sed 's/^/    /'
    det=$(ort fr_detect) lm=$(ort fr_landmark) ft=$(ort fr_feature)
    echo "$out" | awk -v det="$det" -v lm="$lm" -v ft="$ft" '
        /images,/ { nimg = $1; nface = $3 }
        /end to end/ { e2e = $4 }
        END {
            fpi = nface / nimg; peer = det / fpi + lm + ft
            printf "    ONNX Runtime, same run: fr_detect %.3f ms, fr_landmark %.3f ms, fr_feature %.3f ms\n", det, lm, ft
            printf "    => facerec end to end %.3f ms per face vs ONNX Runtime model time alone %.3f ms per face: ratio %.2f\n", e2e, peer, e2e / peer
        }'
    echo
done
