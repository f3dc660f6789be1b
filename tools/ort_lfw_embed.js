#!/usr/bin/env node
// The ONNX Runtime *reference* face pipeline over a folder-per-identity face
// set (LFW: DIR/NAME/NAME_NNNN.jpg): every image is decoded, its face
// detected, 68 landmarks -> 5 points, aligned to 112x112 and embedded, and
// the embeddings are written in the file format that
// `facerec eval openset --embeddings FILE` reads, so the same 1:N protocol
// runs on ONNX Runtime's embeddings as on ours.
//
//   npm install --ignore-scripts --prefix tools
//   node tools/ort_lfw_embed.js --models models --images DIR --out FILE [--limit N]
//
// The pipeline mirrors the C one (src/face/face.c, src/image/ops.c) step by
// step -- same OpenCV-style fixed-point bilinear resize, same crop and grey
// formula, same similarity transform and warp, BGR into fr_feature -- but
// inference runs in ONNX Runtime and every image operation is written here
// in JS, so the two implementations share no code. Float32 steps of the C
// code are rounded with Math.fround where it matters.
//
// JPEG decoding uses jpeg-js (pure JS, exact version in tools/package.json),
// not our libjpeg-turbo decoder: an independent reference decoder that needs
// no native build (it installs with --ignore-scripts like onnxruntime-node).
// Its IDCT / chroma upsampling differ from libjpeg-turbo's by a few grey
// levels, one of the (small) known differences from our pipeline. LFW has no
// EXIF orientation, so none is applied.
//
// Output (little-endian):
//   "facerec-embeddings 1 count=N dim=512 model=<16 hex> source=onnxruntime\n"
//   N lines "<relative path>\t<status>\t<quality>\t<reasons>\n" (status 0 face,
//   1 no face: central 60 % box used; quality and reasons -1: not computed)
//   N * 512 float32, row-major, same order (paths sorted by byte order).
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const c = require('./ort_common');

const f32 = Math.fround;
const DET_W = 320, DET_H = 240, LM_SIZE = 64, AL_SIZE = 112, EMB_DIM = 512;
const SCORE_THR = f32(0.65), NMS_IOU = f32(0.4), TOPK = 750, MAX_FACES = 1000;
const LIN_BITS = 11, LIN_ONE = 1 << LIN_BITS;
const TMPL5 = [38.2946, 51.6963, 73.5318, 51.5014, 56.0252, 71.7366, 41.5493, 92.3655, 70.7299, 92.2041].map(f32);

// ../shared/MODELS.md: each file is checked before it is loaded
const SHA256 = {
  fr_detect: '6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854',
  fr_landmark: 'f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258',
  fr_feature: '87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581',
};

function usage(msg) {
  if (msg) console.error(`ort_lfw_embed: ${msg}`);
  console.error('usage: node tools/ort_lfw_embed.js --models DIR --images DIR --out FILE [--limit N]');
  process.exit(64);
}

function parseArgs(argv) {
  const o = { models: 'models', images: null, out: null, limit: 0 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--models' || k === '--images' || k === '--out' || k === '--limit') {
      if (v === undefined) usage(`${k} needs a value`);
      o[k.slice(2)] = v;
      i++;
    } else {
      usage(`unknown argument ${k}`);
    }
  }
  if (!o.images || !o.out) usage();
  o.limit = o.limit ? Number(o.limit) : 0;
  if (!Number.isInteger(o.limit) || o.limit < 0) usage('--limit must be a non-negative integer');
  return o;
}

const byteOrder = (a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b));

// Relative paths NAME/FILE, identity folders and files each in byte order.
function listImages(dir) {
  const out = [];
  const ids = fs.readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const id of ids.sort(byteOrder)) {
    const files = fs.readdirSync(path.join(dir, id), { withFileTypes: true })
      .filter((d) => d.isFile() && /\.jpe?g$/i.test(d.name)).map((d) => d.name);
    for (const f of files.sort(byteOrder)) out.push(`${id}/${f}`);
  }
  return out;
}

// ---- image operations (mirrors of src/image/ops.c); images are {w, h, c, data: Uint8Array} ----

// Bilinear taps along one axis, as lin_coord / lin_tab: pixel centres,
// s = (i + 0.5) * sn / dn - 0.5 clamped to [0, sn - 1], 11-bit weight of i1.
function linTab(sn, dn, mul) {
  const i0 = new Int32Array(dn), i1 = new Int32Array(dn), a = new Int32Array(dn);
  const scale = sn / dn;
  for (let i = 0; i < dn; i++) {
    const f = (i + 0.5) * scale - 0.5;
    const fl = Math.floor(f);
    let s = fl, fr = f - fl;
    if (s < 0) { s = 0; fr = 0; }
    if (s >= sn - 1) { s = sn - 1; fr = 0; }
    i0[i] = s * mul;
    i1[i] = (s + 1 < sn ? s + 1 : sn - 1) * mul;
    a[i] = Math.floor(fr * LIN_ONE + 0.5);
  }
  return { i0, i1, a };
}

// OpenCV INTER_LINEAR with 11-bit fixed-point weights, uint8 out (resize_linear).
function resizeBilinear(src, dw, dh) {
  const cn = src.c, sw = src.w, sh = src.h;
  if (dw === sw && dh === sh) return { w: dw, h: dh, c: cn, data: src.data.slice() };
  const tx = linTab(sw, dw, cn), ty = linTab(sh, dh, 1);
  const rowlen = dw * cn, sstride = sw * cn;
  const out = new Uint8Array(dh * rowlen);
  const r0 = new Int32Array(rowlen), r1 = new Int32Array(rowlen);
  const hrow = (y, d) => {
    const base = y * sstride;
    for (let x = 0; x < dw; x++) {
      const p = base + tx.i0[x], q = base + tx.i1[x], a = tx.a[x], b = LIN_ONE - a;
      for (let k = 0; k < cn; k++) d[x * cn + k] = src.data[p + k] * b + src.data[q + k] * a;
    }
  };
  for (let y = 0; y < dh; y++) {
    hrow(ty.i0[y], r0);
    hrow(ty.i1[y], r1);
    const a = ty.a[y], b = LIN_ONE - a, o = y * rowlen;
    // at most 255 << 22 plus the rounding half: fits an int32, as in C
    for (let i = 0; i < rowlen; i++) out[o + i] = (r0[i] * b + r1[i] * a + (1 << (2 * LIN_BITS - 1))) >> (2 * LIN_BITS);
  }
  return { w: dw, h: dh, c: cn, data: out };
}

function crop(src, x0, y0, x1, y1) {
  const cl = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);
  const cx0 = cl(x0, 0, src.w), cx1 = cl(x1, 0, src.w), cy0 = cl(y0, 0, src.h), cy1 = cl(y1, 0, src.h);
  if (cx1 <= cx0 || cy1 <= cy0) throw new Error('crop: empty');
  const w = cx1 - cx0, h = cy1 - cy0, cn = src.c, len = w * cn;
  const out = new Uint8Array(h * len);
  for (let y = 0; y < h; y++) {
    const s = ((cy0 + y) * src.w + cx0) * cn;
    out.set(src.data.subarray(s, s + len), y * len);
  }
  return { w, h, c: cn, data: out };
}

// grey_row: BT.601 in 14-bit fixed point, half up
function toGrey(src) {
  const n = src.w * src.h, out = new Uint8Array(n), p = src.data;
  if (src.c === 1) out.set(p);
  else for (let i = 0; i < n; i++) out[i] = (p[3 * i] * 4899 + p[3 * i + 1] * 9617 + p[3 * i + 2] * 1868 + 8192) >>> 14;
  return { w: src.w, h: src.h, c: 1, data: out };
}

// fr_image_to_chw with mean 127, scale 1/128 (bgr: plane 0 takes channel 2)
function toChw127(img, bgr, out) {
  const n = img.w * img.h, p = img.data, s = 1 / 128;
  const c0 = bgr ? 2 : 0, c2 = bgr ? 0 : 2;
  for (let i = 0; i < n; i++) {
    out[i] = (p[3 * i + c0] - 127) * s;
    out[n + i] = (p[3 * i + 1] - 127) * s;
    out[2 * n + i] = (p[3 * i + c2] - 127) * s;
  }
  return out;
}

const roundU8 = (v) => {
  const i = Math.trunc(f32(v + 0.5));
  return i < 0 ? 0 : i > 255 ? 255 : i;
};

// warp_px / warp_row: inverse map m (output -> source) in float32, bilinear,
// samples outside (-1, w) x (-1, h) are 0, and so are the outside neighbours
// of a sample at the border.
function warpAffine(src, m, w, h) {
  const cn = src.c, sw = src.w, sh = src.h, sd = src.data, sstride = sw * cn;
  const out = new Uint8Array(w * h * cn);
  let o = 0;
  for (let y = 0; y < h; y++) {
    const bx = f32(f32(m[1] * y) + m[2]), by = f32(f32(m[4] * y) + m[5]);
    for (let x = 0; x < w; x++, o += cn) {
      const sx = f32(f32(m[0] * x) + bx), sy = f32(f32(m[3] * x) + by);
      if (!(sx > -1 && sx < sw && sy > -1 && sy < sh)) continue;   // stays 0
      const x0 = Math.trunc(f32(sx + 1)) - 1, y0 = Math.trunc(f32(sy + 1)) - 1;
      const fx = f32(sx - x0), fy = f32(sy - y0);
      const inX0 = x0 >= 0 && x0 < sw, inX1 = x0 + 1 >= 0 && x0 + 1 < sw;
      const inY0 = y0 >= 0 && y0 < sh, inY1 = y0 + 1 >= 0 && y0 + 1 < sh;
      const pr = y0 * sstride, qr = (y0 + 1) * sstride, i0 = x0 * cn, i1 = (x0 + 1) * cn;
      for (let k = 0; k < cn; k++) {
        const p00 = inY0 && inX0 ? sd[pr + i0 + k] : 0, p01 = inY0 && inX1 ? sd[pr + i1 + k] : 0;
        const p10 = inY1 && inX0 ? sd[qr + i0 + k] : 0, p11 = inY1 && inX1 ? sd[qr + i1 + k] : 0;
        const t = f32(p00 + f32(fx * (p01 - p00)));
        const b = f32(p10 + f32(fx * (p11 - p10)));
        out[o + k] = roundU8(f32(t + f32(fy * f32(b - t))));
      }
    }
  }
  return { w, h, c: cn, data: out };
}

// ---- face pipeline (mirrors src/face/face.c) ----

function iou(a, b) {
  const ix = f32(Math.min(a[2], b[2]) - Math.max(a[0], b[0])), iy = f32(Math.min(a[3], b[3]) - Math.max(a[1], b[1]));
  if (ix <= 0 || iy <= 0) return 0;
  const inter = f32(ix * iy);
  const ua = f32(f32(f32(f32(a[2] - a[0]) * f32(a[3] - a[1])) + f32(f32(b[2] - b[0]) * f32(b[3] - b[1]))) - inter);
  return ua > 0 ? f32(inter / ua) : 0;
}

class Pipeline {
  constructor(ort, det, lm, feat) {
    this.ort = ort;
    this.det = det;
    this.lm = lm;
    this.feat = feat;
    this.detIn = new Float32Array(3 * DET_W * DET_H);
    this.lmIn = new Float32Array(LM_SIZE * LM_SIZE);
    this.featIn = new Float32Array(3 * AL_SIZE * AL_SIZE);
  }

  // fr_face_detect without tiling (the eval path passes no options): one
  // 320x240 pass, score > 0.65, top 750, NMS 0.4 in score order, boxes
  // clamped to the image, boxes under 2 px dropped. No squaring or
  // expansion of the box.
  async detect(img) {
    toChw127(resizeBilinear(img, DET_W, DET_H), false, this.detIn);
    const out = await this.det.run({ input: new this.ort.Tensor('float32', this.detIn, [1, 3, DET_H, DET_W]) });
    const s = out.scores.data, b = out.boxes.data, total = s.length / 2;
    const W = f32(img.w), H = f32(img.h);
    let cand = [];
    for (let i = 0; i < total; i++) {
      if (s[2 * i + 1] <= SCORE_THR) continue;
      const q = 4 * i;
      cand.push({ score: s[2 * i + 1], box: [f32(b[q] * W), f32(b[q + 1] * H), f32(b[q + 2] * W), f32(b[q + 3] * H)] });
    }
    cand.sort((x, y) => y.score - x.score);
    if (cand.length > TOPK) cand = cand.slice(0, TOPK);
    const keep = cand.map(() => true);
    for (let i = 0; i < cand.length; i++) {
      if (!keep[i]) continue;
      for (let j = i + 1; j < cand.length; j++) if (keep[j] && iou(cand[i].box, cand[j].box) > NMS_IOU) keep[j] = false;
    }
    const faces = [];
    for (let i = 0; i < cand.length && faces.length < MAX_FACES; i++) {
      if (!keep[i]) continue;
      const bb = cand[i].box;
      bb[0] = Math.max(0, bb[0]);
      bb[1] = Math.max(0, bb[1]);
      bb[2] = Math.min(W, bb[2]);
      bb[3] = Math.min(H, bb[3]);
      if (f32(bb[2] - bb[0]) < 2 || f32(bb[3] - bb[1]) < 2) continue;
      faces.push({ box: bb, score: cand[i].score });
    }
    return faces;
  }

  // fr_face_landmarks: integer box kept inside the image (shifted, not
  // shrunk), crop, bilinear 64x64, grey, v/256; 68 points -> 5.
  async landmarks(img, box) {
    let x1 = Math.trunc(box[0]), y1 = Math.trunc(box[1]);
    const x2 = Math.trunc(box[2]), y2 = Math.trunc(box[3]);
    let w = x2 - x1, h = y2 - y1;
    if (w < 2 || h < 2) throw new Error('face box too small');
    if (w > img.w) w = img.w;
    if (h > img.h) h = img.h;
    if (x1 + w > img.w) x1 = img.w - w;
    if (y1 + h > img.h) y1 = img.h - h;
    if (x1 < 0) x1 = 0;
    if (y1 < 0) y1 = 0;
    const grey = toGrey(resizeBilinear(crop(img, x1, y1, x1 + w, y1 + h), LM_SIZE, LM_SIZE));
    for (let i = 0; i < LM_SIZE * LM_SIZE; i++) this.lmIn[i] = grey.data[i] * (1 / 256);
    const out = await this.lm.run({ input: new this.ort.Tensor('float32', this.lmIn, [1, 1, LM_SIZE, LM_SIZE]) });
    const p = out.output.data, l = new Float32Array(136);
    for (let i = 0; i < 68; i++) {
      l[2 * i] = f32(p[2 * i] * w) + x1;
      l[2 * i + 1] = f32(p[2 * i + 1] * h) + y1;
    }
    const lm5 = new Float32Array(10);
    const avg4 = (a, b, c2, d, k) => f32(f32(f32(f32(l[2 * a + k] + l[2 * b + k]) + l[2 * c2 + k]) + l[2 * d + k]) / 4);
    for (let k = 0; k < 2; k++) {
      lm5[0 + k] = avg4(37, 38, 40, 41, k);
      lm5[2 + k] = avg4(43, 44, 46, 47, k);
      lm5[4 + k] = l[2 * 30 + k];
      lm5[6 + k] = f32(l[2 * 48 + k] + l[2 * 60 + k]) / 2;
      lm5[8 + k] = f32(l[2 * 54 + k] + l[2 * 64 + k]) / 2;
    }
    return lm5;
  }

  // fr_face_similarity + fr_face_align: least-squares similarity (closed form,
  // in double) of the 5 points onto the template, inverted, warped to 112x112.
  static align(img, lm5) {
    const ms = [0, 0], md = [0, 0];
    for (let i = 0; i < 5; i++) {
      for (let k = 0; k < 2; k++) {
        ms[k] += lm5[2 * i + k] / 5;
        md[k] += TMPL5[2 * i + k] / 5;
      }
    }
    let numA = 0, numB = 0, den = 0;
    for (let i = 0; i < 5; i++) {
      const sx = lm5[2 * i] - ms[0], sy = lm5[2 * i + 1] - ms[1];
      const dx = TMPL5[2 * i] - md[0], dy = TMPL5[2 * i + 1] - md[1];
      numA += sx * dx + sy * dy;
      numB += sx * dy - sy * dx;
      den += sx * sx + sy * sy;
    }
    const A = den > 0 ? numA / den : 1, B = den > 0 ? numB / den : 0;
    const a = f32(A), b = f32(B);
    const tx = f32(md[0] - (A * ms[0] - B * ms[1])), ty = f32(md[1] - (B * ms[0] + A * ms[1]));
    const n = a * a + b * b;
    if (n < 1e-12) throw new Error('degenerate landmarks');
    const m = new Float32Array([a / n, b / n, -(a * tx + b * ty) / n, -b / n, a / n, (b * tx - a * ty) / n]);
    return warpAffine(img, m, AL_SIZE, AL_SIZE);
  }

  // fr_face_embed_aligned: BGR planes, (v - 127)/128, L2-normalised
  async embed(al) {
    toChw127(al, true, this.featIn);
    const out = await this.feat.run({ input: new this.ort.Tensor('float32', this.featIn, [1, 3, AL_SIZE, AL_SIZE]) });
    const p = out.output.data;
    let ss = 0;
    for (let i = 0; i < EMB_DIM; i++) ss += p[i] * p[i];
    const inv = ss > 0 ? f32(1 / Math.sqrt(ss)) : 0;
    const e = new Float32Array(EMB_DIM);
    for (let i = 0; i < EMB_DIM; i++) e[i] = p[i] * inv;
    return e;
  }

  // embed_one of src/cli/cmd_eval.c: the face nearest the image centre
  // (FR_FACE_CENTRAL), else the central 60 % of the image as the box.
  async embedImage(img) {
    const faces = await this.detect(img);
    let box, status = 0;
    if (faces.length > 0) {
      let best = 0, bestV = -Infinity;
      for (let i = 0; i < faces.length; i++) {
        const bb = faces[i].box;
        const cx = f32(f32(f32(bb[0] + bb[2]) / 2) - img.w / 2), cy = f32(f32(f32(bb[1] + bb[3]) / 2) - img.h / 2);
        const v = -f32(f32(cx * cx) + f32(cy * cy));
        if (v > bestV) { bestV = v; best = i; }
      }
      box = faces[best].box;
    } else {
      box = [f32(0.2 * img.w), f32(0.2 * img.h), f32(0.8 * img.w), f32(0.8 * img.h)];
      status = 1;
    }
    const lm5 = await this.landmarks(img, box);
    const emb = await this.embed(Pipeline.align(img, lm5));
    return { status, emb, box, lm5 };
  }
}

function decodeJpeg(jpeg, file) {
  const d = jpeg(fs.readFileSync(file), { useTArray: true, formatAsRGBA: false, tolerantDecoding: false });
  return { w: d.width, h: d.height, c: 3, data: d.data };
}

function sha256(file) {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const ort = c.loadOrt();
  let jpeg;
  try {
    jpeg = require(path.join(__dirname, 'node_modules', 'jpeg-js')).decode;
  } catch (e) {
    console.error('jpeg-js is missing: run  npm install --ignore-scripts --prefix tools');
    process.exit(2);
  }
  const sessions = {};
  for (const name of Object.keys(SHA256)) {
    const file = path.join(o.models, `${name}.onnx`);
    if (!fs.existsSync(file)) { console.error(`ort_lfw_embed: ${file} is missing (make models)`); process.exit(2); }
    if (sha256(file) !== SHA256[name]) { console.error(`ort_lfw_embed: ${file}: SHA-256 does not match MODELS.md`); process.exit(2); }
    // ort_common's makeSession options, plus no spinning: three sessions take
    // turns on one image, and a pool spinning after its run steals the cores
    // from the next session's run (measured ~25 % slower on 2 cores)
    sessions[name] = await ort.InferenceSession.create(file, {
      intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential',
      graphOptimizationLevel: 'all', logSeverityLevel: 3,
      extra: { session: { intra_op: { allow_spinning: '0' } } },
    });
  }
  const modelId = sha256(path.join(o.models, 'fr_feature.onnx')).slice(0, 16);
  let rel = listImages(o.images);
  if (o.limit) rel = rel.slice(0, o.limit);
  const N = rel.length;
  if (N === 0) { console.error(`ort_lfw_embed: no images under ${o.images}`); process.exit(2); }
  for (const r of rel) if (/[\t\n]/.test(r)) { console.error(`ort_lfw_embed: unusable path ${JSON.stringify(r)}`); process.exit(2); }

  const pipe = new Pipeline(ort, sessions.fr_detect, sessions.fr_landmark, sessions.fr_feature);
  const emb = Buffer.alloc(N * EMB_DIM * 4);
  const status = new Int32Array(N);
  const t0 = process.hrtime.bigint();
  let noFace = 0;
  for (let i = 0; i < N; i++) {
    const file = path.join(o.images, rel[i]);
    let r;
    try {
      r = await pipe.embedImage(decodeJpeg(jpeg, file));
    } catch (e) {
      console.error(`ort_lfw_embed: ${file}: ${e.message}`);
      process.exit(2);
    }
    status[i] = r.status;
    noFace += r.status;
    for (let k = 0; k < EMB_DIM; k++) emb.writeFloatLE(r.emb[k], (i * EMB_DIM + k) * 4);
    if ((i + 1) % 500 === 0 || i + 1 === N) {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      console.error(`${i + 1}/${N} images, ${noFace} without a face, ${s.toFixed(1)} s`);
    }
  }
  let text = `facerec-embeddings 1 count=${N} dim=${EMB_DIM} model=${modelId} source=onnxruntime\n`;
  for (let i = 0; i < N; i++) text += `${rel[i]}\t${status[i]}\t-1\t-1\n`;
  const tmp = `${o.out}.tmp`;
  fs.writeFileSync(tmp, Buffer.concat([Buffer.from(text, 'utf8'), emb]));
  fs.renameSync(tmp, o.out);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.error(`ort_lfw_embed: ${N} images (${noFace} without a face) in ${secs.toFixed(1)} s -> ${o.out}`);
}

if (require.main === module) main().catch((e) => { console.error(e); process.exit(1); });
module.exports = { Pipeline, resizeBilinear, warpAffine, toGrey, crop, listImages, decodeJpeg };
