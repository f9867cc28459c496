// Converts every .docx of a folder to PDF with Carbone (its LibreOffice factories), for bench_peers.py.
// Usage: node carbone_convert.js FOLDER FACTORIES ; prints one JSON line: {"documents", "seconds", "failed", "startup"}.
// Carbone is installed by `make bench-peers` in out/peers (NODE_PATH points there), never in the project.
'use strict';
const fs = require('fs');
const path = require('path');
const carbone = require('carbone');

const folder = process.argv[2];
const factories = parseInt(process.argv[3] || '2', 10);
const files = fs.readdirSync(folder).filter((name) => name.endsWith('.docx')).sort();

let lastError = null;

function convert(file) {
  return new Promise((resolve) => {
    carbone.convert(fs.readFileSync(path.join(folder, file)), { convertTo: 'pdf', extension: 'docx' }, (err, pdf) => {
      if (!err) fs.writeFileSync(path.join(folder, file.replace(/\.docx$/, '.carbone.pdf')), pdf);
      else lastError = err;
      resolve(err ? 1 : 0);
    });
  });
}

async function main() {
  carbone.set({ factories, startFactory: true });
  // The factories start with the first conversion: timed apart, as the other tools' start-up.
  let started = process.hrtime.bigint();
  let failed = await convert(files[0]);
  const startup = Number(process.hrtime.bigint() - started) / 1e9;
  if (failed) {
    // Carbone could not convert at all (LibreOffice not found, say): said, not timed.
    console.error(`Carbone cannot convert here: ${lastError}`);
    process.exit(2);
  }
  const rest = files.slice(1);
  let next = 0;
  started = process.hrtime.bigint();
  // As many conversions in flight as factories, and one waiting each: Carbone queues the others.
  const workers = Array.from({ length: factories * 2 }, async () => {
    while (next < rest.length) {
      failed += await convert(rest[next++]);
    }
  });
  await Promise.all(workers);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log(JSON.stringify({ documents: rest.length, seconds, failed, startup }));
  process.exit(0);
}

main().catch((err) => { console.error(err); process.exit(1); });
