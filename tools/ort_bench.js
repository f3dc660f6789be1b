#!/usr/bin/env node
// Time a model in ONNX Runtime on the same input as `facerec nn bench`.
// Prints one JSON line per model: {"model", "threads", "median_ms", "p90_ms", "min_ms"}.
//   node tools/ort_bench.js --threads N --iters K --warmup W [--denormal-as-zero] model.onnx [...]
'use strict';
const c = require('./ort_common');
const path = require('path');

async function main() {
  const args = process.argv.slice(2);
  let threads = 1, iters = 100, warmup = 10, daz = false;
  const models = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--threads') threads = +args[++i];
    else if (args[i] === '--iters') iters = +args[++i];
    else if (args[i] === '--warmup') warmup = +args[++i];
    else if (args[i] === '--denormal-as-zero') daz = true;
    else models.push(args[i]);
  }
  const ort = c.loadOrt();
  for (const file of models) {
    const sess = await c.makeSession(ort, file, threads, daz);
    const meta = {};
    for (const m of sess.inputMetadata) meta[m.name] = m.shape;
    const feeds = c.makeFeeds(ort, sess, file, meta);
    for (let i = 0; i < warmup; i++) await sess.run(feeds);
    const t = [];
    for (let i = 0; i < iters; i++) {
      const t0 = process.hrtime.bigint();
      await sess.run(feeds);
      t.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    t.sort((a, b) => a - b);
    const r = {
      model: path.basename(file), threads, iters, denormal_as_zero: daz,
      median_ms: +t[iters >> 1].toFixed(4), p90_ms: +t[Math.min(iters - 1, Math.floor(iters * 0.9))].toFixed(4),
      min_ms: +t[0].toFixed(4),
    };
    console.log(JSON.stringify(r).replace(/,"/g, ', "').replace(/":/g, '": '));
    await sess.release();
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
