#!/bin/sh
# Splits a folder-per-identity face set (LFW: DIR/NAME/NAME_NNNN.jpg) by the
# gender our attribute model gives the first image of each identity (the face
# nearest the centre), for `facerec eval openset --subset FILE`: a population
# unlike the whole set (people of one gender score higher against each other),
# to check that a gallery's self-calibration follows its own impostors
# (docs/ACCURACY.md, "Self-calibration"). Writes OUT/male.txt, OUT/female.txt
# (identity names, sorted) and OUT/gender.tsv (name, P(male)).
#   sh tools/split_by_gender.sh DIR OUT [BUILD]      needs jq; ~1 min per 1,000 identities on 2 cores
set -eu
if [ "${1:-}" = "--one" ]; then   # --one DIR BUILD NAME: "NAME<TAB>P(male)" of its first image's central face
    img=$(ls "$2/$4" | sort | head -1)
    "$3/facerec" detect "$2/$4/$img" --attributes --json 2>/dev/null |
        jq -r --arg n "$4" '.width as $w | .height as $h | .faces
            | map(. + {d: ((((.box[0] + .box[2]) / 2 - $w / 2) | . * .) + (((.box[1] + .box[3]) / 2 - $h / 2) | . * .))})
            | sort_by(.d) | first | select(. != null) | "\($n)\t\(.attributes.gender_male)"' || true
    exit 0
fi
dir=$1 out=$2 build=${3:-build}
command -v jq >/dev/null || { echo "split_by_gender: jq is missing (apt-get install jq)" >&2; exit 1; }
mkdir -p "$out"
ls "$dir" | sort | xargs -P 2 -I{} sh "$0" --one "$dir" "$build" {} | LC_ALL=C sort > "$out/gender.tsv"
awk -F'\t' '$2 >= 0.5 {print $1}' "$out/gender.tsv" > "$out/male.txt"
awk -F'\t' '$2 < 0.5 {print $1}' "$out/gender.tsv" > "$out/female.txt"
echo "$(wc -l < "$out/male.txt") male, $(wc -l < "$out/female.txt") female identities of $(ls "$dir" | wc -l)"
