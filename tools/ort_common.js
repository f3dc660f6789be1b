// Shared by the ONNX Runtime tools: load the runtime, make the same
// deterministic inputs as fr_nn_fill_pattern() (xorshift32, float32 steps),
// and write .npy files.
'use strict';
const fs = require('fs');
const path = require('path');

function loadOrt() {
  try {
    return require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));
  } catch (e) {
    console.error('onnxruntime-node is missing: run  npm install --ignore-scripts --prefix tools');
    process.exit(2);
  }
}

// Same ranges as src/cli/cmd_nn.c input_range()
function inputRange(model) {
  if (model.includes('fr_liveness')) return [0, 255];
  if (model.includes('fr_landmark') || model.includes('fr_eye')) return [0, 1];
  if (model.includes('fr_pose') || model.includes('fr_expression')) return [-2, 2];
  return [-1, 1];
}

function fillPattern(n, seed, lo, hi) {
  const out = new Float32Array(n);
  let x = (seed >>> 0) || 1;
  const f = Math.fround;
  const span = f(hi - lo);
  for (let i = 0; i < n; i++) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    out[i] = f(lo + f(span * f((x >>> 8) / 16777216)));
  }
  return out;
}

function npyBytes(data, dims) {
  const descr = data instanceof Float32Array ? '<f4' : '<i8';
  const shape = dims.length === 1 ? `${dims[0]},` : dims.join(', ');
  let hdr = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape}), }`;
  const total = 10 + hdr.length + 1;
  hdr += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from('\x93NUMPY', 'latin1').copy(head, 0);
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(hdr.length, 8);
  return Buffer.concat([head, Buffer.from(hdr, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]);
}

// daz: ONNX Runtime's own session.set_denormal_as_zero (flush-to-zero and
// denormals-are-zero on its threads), the mode facerec always runs in.
async function makeSession(ort, file, threads, daz) {
  const o = {
    intraOpNumThreads: threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: 'all', logSeverityLevel: 3,
  };
  if (daz) o.extra = { session: { set_denormal_as_zero: '1' } };
  return ort.InferenceSession.create(file, o);
}

function makeFeeds(ort, sess, file, meta) {
  const [lo, hi] = inputRange(file);
  const feeds = {};
  sess.inputNames.forEach((name, i) => {
    const dims = meta[name];
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[name] = new ort.Tensor('float32', fillPattern(n, 1 + i, lo, hi), dims);
  });
  return feeds;
}

module.exports = { loadOrt, inputRange, fillPattern, npyBytes, makeSession, makeFeeds };
