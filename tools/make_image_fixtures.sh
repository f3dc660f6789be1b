#!/bin/sh
# Write the image decoder fixtures (tests/fixtures/images/) and the seed
# corpus of the image fuzzer (fuzz/corpus/image/). Needs ImageMagick
# (apt-get install imagemagick) and python3; the tests need neither, the
# files are committed. Run from the repository root:
#   sh tools/make_image_fixtures.sh [../shared/data]
#
# Most fixtures are one synthetic 64x48 pattern, so the tests can check
# pixels: quadrants red (top left), green (top right), blue (bottom left),
# white (bottom right). Lossless formats must give these exactly.
# fuzz/corpus/image/fz-<sha1> are small inputs libFuzzer found (a merge of a
# 5-minute run); they are kept there and not written by this script.
set -eu
data=${1:-../shared/data}
fx=tests/fixtures/images
cp_=fuzz/corpus/image
mkdir -p "$fx" "$cp_"
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
convert -size 32x24 xc:red xc:lime +append \( -size 32x24 xc:blue xc:white +append \) -append "$t/pat.ppm"
c() { convert "$@"; }
c "$t/pat.ppm" -quality 95 -sampling-factor 1x1 "$fx/baseline.jpg"
c "$t/pat.ppm" -quality 90 -interlace Plane "$fx/progressive.jpg"
c "$t/pat.ppm" -colorspace Gray -quality 90 "$fx/grey.jpg"
c "$t/pat.ppm" -colorspace CMYK -quality 95 "$fx/cmyk.jpg"
# exif1..8.jpg: the pattern with an EXIF block holding orientation N (odd N
# big-endian "MM", even N little-endian "II"), inserted after SOI by hand
c "$t/pat.ppm" -quality 90 -strip "$t/plain.jpg"
python3 - "$t/plain.jpg" "$fx" <<'PY'
import struct, sys
jpg = open(sys.argv[1], "rb").read()
for o in range(1, 9):
    e = ">" if o % 2 else "<"
    tiff = (b"MM\0*" if o % 2 else b"II*\0") + struct.pack(e + "I", 8) + struct.pack(e + "H", 2) \
        + struct.pack(e + "HHIHH", 0x010F, 2, 4, 0x4142, 0x4300)[:12] \
        + struct.pack(e + "HHIH", 0x0112, 3, 1, o) + b"\0\0" + struct.pack(e + "I", 0)
    app1 = b"Exif\0\0" + tiff
    seg = b"\xff\xe1" + struct.pack(">H", len(app1) + 2) + app1
    open("%s/exif%d.jpg" % (sys.argv[2], o), "wb").write(jpg[:2] + seg + jpg[2:])
PY
# a real camera file: 640x480 stored, EXIF orientation 6; shrunk, tag kept
c "$data/antispoof/silent-face/image_T1.jpg" -resize 80x60 -quality 80 "$fx/antispoof_exif6.jpg"
c "$t/pat.ppm" PNG24:"$fx/rgb.png"
c "$t/pat.ppm" -interlace PNG PNG24:"$fx/interlaced.png"
c "$t/pat.ppm" PNG8:"$fx/palette.png"
c "$t/pat.ppm" -depth 16 PNG48:"$fx/rgb16.png"
c "$t/pat.ppm" -colorspace Gray -depth 8 PNG:"$fx/grey.png"
c "$t/pat.ppm" -colorspace Gray -depth 16 PNG:"$fx/grey16.png"
# alpha: opaque red | fully transparent | half-transparent black, 16x16 each
c -size 16x16 xc:red xc:none xc:"rgba(0,0,0,0.5)" +append PNG32:"$fx/alpha.png"
c "$fx/alpha.png" -depth 16 PNG64:"$fx/alpha16.png"
c "$t/pat.ppm" -define webp:lossless=true "$fx/lossless.webp"
c "$fx/alpha.png" -define webp:lossless=true "$fx/alpha.webp"
# a lossy WebP photo named .jpg: decoded by content
c "$data/photos/facenet/Anthony_Hopkins_0001.jpg" -resize 100x100 -quality 70 webp:"$fx/webp_named.jpg"
c "$t/pat.ppm" "$fx/pattern.gif"
c "$t/pat.ppm" -interlace GIF "$fx/interlaced.gif"
c "$t/pat.ppm" BMP3:"$fx/rgb24.bmp"
c "$t/pat.ppm" -type Palette BMP3:"$fx/palette8.bmp"
c "$fx/alpha.png" BMP:"$fx/alpha32.bmp"
c "$t/pat.ppm" -compress LZW "$fx/lzw.tiff"
cp "$data/broken/compreface_imgtools/truncated.jpg" "$fx/truncated.jpg"
cp "$data/broken/compreface_imgtools/corrupted.png" "$fx/corrupted.png"
: > "$fx/empty.jpg"
python3 - "$fx" <<'PY'
import random, struct, sys, zlib
fx = sys.argv[1]
random.seed(3)
open(fx + "/random.bin", "wb").write(bytes(random.getrandbits(8) for _ in range(1000)))
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
# bombs: headers that claim 100000 x 100000 pixels (GIF and JPEG: their maximum)
png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0)) \
    + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")
open(fx + "/bomb.png", "wb").write(png)
gif = b"GIF89a" + struct.pack("<HHBBB", 65535, 65535, 0, 0, 0) + b",\0\0\0\0" + struct.pack("<HH", 65535, 65535) + b"\0\x02\x02\x4c\x01\0;"
open(fx + "/bomb.gif", "wb").write(gif)
bmp_hdr = struct.pack("<IiiHHIIiiII", 40, 100000, 100000, 1, 24, 0, 0, 0, 0, 0, 0)
open(fx + "/bomb.bmp", "wb").write(b"BM" + struct.pack("<IHHI", 14 + 40 + 64, 0, 0, 54) + bmp_hdr + b"\0" * 64)
# JPEG: baseline.jpg with its SOF0 size patched to 65500 x 65500 (the JPEG maximum)
jpg = bytearray(open(fx + "/baseline.jpg", "rb").read())
i = jpg.index(b"\xff\xc0")
jpg[i + 5:i + 9] = struct.pack(">HH", 65500, 65500)
open(fx + "/bomb.jpg", "wb").write(jpg)
# WebP lossless header 16384 x 16384
bits = (16383) | (16383 << 14)
vp8l = b"\x2f" + struct.pack("<I", bits) + b"\0" * 8
webp = b"RIFF" + struct.pack("<I", 4 + 8 + len(vp8l)) + b"WEBP" + b"VP8L" + struct.pack("<I", len(vp8l)) + vp8l
open(fx + "/bomb.webp", "wb").write(webp)
# TIFF 100000 x 100000, one strip
ents = [(256, 4, 1, 100000), (257, 4, 1, 100000), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
        (273, 4, 1, 8), (278, 4, 1, 100000), (279, 4, 1, 16)]
ifd = struct.pack("<H", len(ents)) + b"".join(struct.pack("<HHII", *e) for e in ents) + b"\0\0\0\0"
tif = b"II*\0" + struct.pack("<I", 8 + 16) + b"\0" * 16 + ifd
open(fx + "/bomb.tiff", "wb").write(tif)
PY
# fuzz seeds: the small fixtures, hostile and valid
for f in "$fx"/*; do
    [ "$(wc -c < "$f")" -le 8192 ] && cp "$f" "$cp_/"
done
rm -f "$cp_/empty.jpg"
chmod 644 "$fx"/* "$cp_"/*
# exif6.png, exif8.webp: the PNG and lossless WebP patterns with an EXIF
# orientation (a PNG eXIf chunk after IHDR; the WebP in the extended VP8X
# format with an EXIF chunk)
python3 - "$fx" <<'PY'
import struct, sys, zlib
fx = sys.argv[1]
def tiff(o):
    return b"MM\0*" + struct.pack(">IH", 8, 1) + struct.pack(">HHIHH", 0x0112, 3, 1, o, 0) + struct.pack(">I", 0)
png = open(fx + "/rgb.png", "rb").read()
end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
d = tiff(6)
chunk = struct.pack(">I", len(d)) + b"eXIf" + d + struct.pack(">I", zlib.crc32(b"eXIf" + d) & 0xffffffff)
open(fx + "/exif6.png", "wb").write(png[:end] + chunk + png[end:])
webp = open(fx + "/lossless.webp", "rb").read()
b0, b1, b2, b3 = webp[21:25]
w = 1 + (((b1 & 0x3F) << 8) | b0)
h = 1 + (((b3 & 0xF) << 10) | (b2 << 2) | ((b1 & 0xC0) >> 6))
vp8x = b"VP8X" + struct.pack("<I", 10) + bytes([8, 0, 0, 0]) + struct.pack("<I", w - 1)[:3] + struct.pack("<I", h - 1)[:3]
e = tiff(8)
body = b"WEBP" + vp8x + webp[12:] + b"EXIF" + struct.pack("<I", len(e)) + e + (b"\0" if len(e) % 2 else b"")
open(fx + "/exif8.webp", "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
PY
