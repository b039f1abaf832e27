#!/usr/bin/env node
// Size budget of the browser client (ctest label `wasm`): what a browser downloads for it,
// switchboard.js (loader + JavaScript API) and switchboard.wasm, compressed like a server or CDN
// would (gzip level 9, here with node's zlib), must stay within the budget of docs/benchmarks.md
// ("Browser client size"). Prints raw and gzip bytes per file, then the total against the budget.
//
// Usage: node bundle_size.js --web DIR [--budget BYTES]   (default budget 100000)
'use strict';

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { parseArgs } = require('util');

const { values: args } = parseArgs({
  options: {
    web: { type: 'string' },
    budget: { type: 'string', default: '100000' },
  },
});

const FILES = ['switchboard.js', 'switchboard.wasm'];

function main() {
  const budget = Number(args.budget);
  if (!args.web || !Number.isInteger(budget) || budget <= 0) {
    console.error('usage: node bundle_size.js --web DIR [--budget BYTES]');
    return 2;
  }
  let totalRaw = 0;
  let totalGzip = 0;
  for (const name of FILES) {
    const file = path.join(args.web, name);
    let bytes;
    try {
      bytes = fs.readFileSync(file);
    } catch (e) {
      console.error(`FAIL: cannot read ${file} (${e.code || e.message}): build the wasm-core preset first`);
      return 1;
    }
    const gzip = zlib.gzipSync(bytes, { level: 9 }).length;
    totalRaw += bytes.length;
    totalGzip += gzip;
    console.log(`${name}: ${bytes.length} B raw, ${gzip} B gzip`);
  }
  console.log(`total: ${totalRaw} B raw, ${totalGzip} B gzip; budget ${budget} B gzip`);
  if (totalGzip > budget) {
    console.error(`FAIL: the browser client is ${totalGzip} B gzip, ${totalGzip - budget} B over its budget of ${budget} B`);
    return 1;
  }
  console.log(`PASS: ${budget - totalGzip} B under the budget`);
  return 0;
}

process.exitCode = main();
