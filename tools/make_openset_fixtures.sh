#!/bin/sh
# Write the open-set identification fixtures (tests/fixtures/openset/) used by
# test_identify_openset in tests/e2e/test_e2e.c: "unknown means unknown".
# It was run once and its output is committed; the tests need neither this
# script nor ../shared. Needs ImageMagick's convert (Debian: imagemagick), jq,
# and a built build/facerec with the models in ./models. Run from the
# repository root:
#   sh tools/make_openset_fixtures.sh [../shared/data]
#
# Source: LFW (DATA/lfw/images/NAME/NAME_NNNN.jpg, 250x250, face centred).
# Every file is the central 150x150 of the LFW image (the face and little
# else: background faces mostly fall outside, and detection stays reliable),
# re-encoded at JPEG quality 85 without metadata (~4-6 KB each).
# Identities are taken in sorted (C locale) order, so a rerun picks the same:
#   gallery/   300 identities with >= 2 images whose FIRST image, cropped,
#              enrols: `facerec detect --json` finds exactly one face, its
#              quality reasons are empty and its quality score >= 0.3 (the
#              enrolment gate). An identity whose first image fails is
#              skipped, not replaced by its second image.
#   mated/     for 40 of those 300, their 2nd image (same gate): the mated
#              probes. The 40 are spread over the alphabet: gallery
#              identities 0, 7, 14, ... first, then 1, 8, 15, ..., until 40
#              pass.
#   strangers/ 60 identities with exactly 1 image (never enrolled, so any
#              "match" is a false positive), same gate, spread over the
#              alphabet: one per 1/60 of the sorted list, the first that
#              passes from that point on.
#   crowd.jpg  retinaface's img3_crowd.jpg (1000x644, ~240 faces with eye
#              distances of 6-16 px; 325 KB) re-encoded at quality 85 at
#              full size (~280 KB): the faces the detector reports all carry
#              SMALL_FACE, as before. Used for the low-quality gate.
# File names are LFW's (NAME_NNNN.jpg), so the test knows the identity.
#   files.txt  every picked file, "DIR/NAME_NNNN.jpg" a line, sorted: what
#              the test reads (so it needs no directory listing).
set -eu
data=${1:-../shared/data}
lfw=$data/lfw/images
out=tests/fixtures/openset
fr=${BUILD:-build}/facerec
[ -d "$lfw" ] || { echo "no LFW at $lfw" >&2; exit 2; }
[ -x "$fr" ] || { echo "no $fr (make all first)" >&2; exit 2; }
export LC_ALL=C
rm -rf "$out"
mkdir -p "$out/gallery" "$out/mated" "$out/strangers"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# crop SRC DST: the central 150x150 at quality 85
crop() { convert "$1" -gravity center -crop 150x150+0+0 +repage -strip -quality 85 "$2"; }
# good FILE: one face, no quality reason, quality score >= 0.3
good() {
    "$fr" detect "$1" --json 2>/dev/null |
        jq -e '(.faces | length) == 1 and (.faces[0].quality.reasons | length) == 0
               and .faces[0].quality.score >= 0.3' >/dev/null
}
# try NAME N DIR: crop NAME_000N.jpg into DIR when it passes
try() {
    f=$(printf '%s_%04d.jpg' "$1" "$2")
    [ -f "$lfw/$1/$f" ] || return 1
    crop "$lfw/$1/$f" "$t/$f"
    if good "$t/$f"; then mv "$t/$f" "$3/$f"; return 0; fi
    rm -f "$t/$f"
    return 1
}

# identities by image count
for p in "$lfw"/*/; do
    d=$(basename "$p")
    n=$(find "$p" -maxdepth 1 -name '*.jpg' | wc -l)
    if [ "$n" -ge 2 ]; then echo "$d" >>"$t/multi"; elif [ "$n" -eq 1 ]; then echo "$d" >>"$t/single"; fi
done

# gallery: the first 300 whose first image passes
: >"$t/gallery"
while read -r name; do
    [ "$(wc -l <"$t/gallery")" -lt 300 ] || break
    if try "$name" 1 "$out/gallery"; then echo "$name" >>"$t/gallery"; fi
done <"$t/multi"
[ "$(wc -l <"$t/gallery")" -eq 300 ] || { echo "fewer than 300 gallery identities" >&2; exit 1; }

# mated probes: 40, spread (index mod 7 first, then index)
awk '{ print (NR - 1) % 7, NR - 1, $0 }' "$t/gallery" | sort -k1,1n -k2,2n | cut -d' ' -f3 >"$t/mated_order"
m=0
while read -r name; do
    [ "$m" -lt 40 ] || break
    if try "$name" 2 "$out/mated"; then m=$((m + 1)); fi
done <"$t/mated_order"
[ "$m" -eq 40 ] || { echo "only $m mated probes" >&2; exit 1; }

# strangers: 60, one from each 1/60 of the single-image identities
ns=$(wc -l <"$t/single")
s=0
k=0
while [ "$k" -lt 60 ]; do
    i=$((k * ns / 60 + 1))
    while [ "$i" -le "$ns" ]; do
        name=$(sed -n "${i}p" "$t/single")
        if [ ! -f "$out/strangers/${name}_0001.jpg" ] && try "$name" 1 "$out/strangers"; then
            s=$((s + 1))
            break
        fi
        i=$((i + 1))
    done
    k=$((k + 1))
done
[ "$s" -eq 60 ] || { echo "only $s strangers" >&2; exit 1; }

# the crowd
convert "$data/photos/retinaface/img3_crowd.jpg" -strip -quality 85 "$out/crowd.jpg"
small=$("$fr" detect "$out/crowd.jpg" --json |
    jq '[.faces[] | select(.quality.reasons | any(. == "SMALL_FACE"))] | length')
[ "$small" -ge 10 ] || { echo "crowd.jpg: only $small SMALL_FACE faces" >&2; exit 1; }

(cd "$out" && ls gallery/*.jpg mated/*.jpg strangers/*.jpg) >"$out/files.txt"

count() { find "$out/$1" -name '*.jpg' | wc -l; }
echo "gallery $(count gallery), mated $(count mated), strangers $(count strangers)," \
    "crowd SMALL_FACE $small; $(du -sb "$out" | cut -f1) bytes"
