#!/usr/bin/env node
// Golden outputs for the parity test: run each model in ONNX Runtime on the
// deterministic input of fr_nn_fill_pattern() and write every output as .npy
// into OUT/<model>/<output>.npy.
//   npm install --ignore-scripts --prefix tools
//   node tools/ort_golden.js models tests/fixtures/golden
'use strict';
const fs = require('fs');
const path = require('path');
const c = require('./ort_common');

async function main() {
  const [modelsDir = 'models', outDir = 'tests/fixtures/golden'] = process.argv.slice(2);
  const ort = c.loadOrt();
  const files = fs.readdirSync(modelsDir).filter((f) => f.endsWith('.onnx')).sort();
  for (const f of files) {
    const file = path.join(modelsDir, f);
    const sess = await c.makeSession(ort, file, 1);
    const meta = {};
    for (const m of sess.inputMetadata) meta[m.name] = m.shape;
    const out = await sess.run(c.makeFeeds(ort, sess, file, meta));
    const dir = path.join(outDir, path.basename(f, '.onnx'));
    fs.mkdirSync(dir, { recursive: true });
    for (const name of sess.outputNames) {
      const t = out[name];
      const safe = name.replace(/[/\\:]/g, '_');
      fs.writeFileSync(path.join(dir, `${safe}.npy`), c.npyBytes(t.data, t.dims));
    }
    fs.writeFileSync(path.join(dir, 'outputs.txt'), sess.outputNames.join('\n') + '\n');
    console.log(`${f}: ${sess.outputNames.length} outputs -> ${dir}`);
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
