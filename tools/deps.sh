#!/bin/sh
# Install the Debian packages facerec needs to build and test (as root), or
# print the exact command. Each one is there for a reason given in README.md.
PKGS="build-essential pkg-config libonnx-dev libonnx-testdata protobuf-c-compiler libprotobuf-c-dev
libopenblas-dev libcmocka-dev clang libclang-rt-14-dev valgrind
libturbojpeg0-dev libspng-dev libwebp-dev libgif-dev libtiff-dev
libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev postgresql-15 postgresql-client-15 libssl-dev libcurl4-openssl-dev wrk libfaiss-dev curl chromium
libavformat-dev libavcodec-dev libswscale-dev libavutil-dev
libgstrtspserver-1.0-dev gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-bad ffmpeg
libhiredis-dev redis-server python3"
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# node + npm fetch the models (and run the ONNX Runtime peer); any install
# of them will do, Debian's only when there is none
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null || {
        echo "deps: apt-get install failed" >&2; exit 1; }
else
    echo "deps: missing packages. Run:" >&2
    echo "  sudo apt-get install -y$missing" >&2
    exit 1
fi
