#!/usr/bin/env node
// Runs a JavaScript example of the documentation in headless Chromium (tests/docs/run_examples.py,
// examples marked `browser`). The page is a document of the gateway's origin that loads the
// browser client (/switchboard.js, served by switchboard-gateway --static); the example runs
// in it as the body of an async function (top-level await allowed). Every console line of the
// page goes to stdout. Exit 0 once the example returned and every --expect text was printed,
// 1 on an exception, a page error or the deadline.
//
// Usage: node browser_example.js --base http://127.0.0.1:PORT --script FILE [--expect TEXT]...
//                                [--chromium PATH] [--timeout MS]
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');
const { chromium } = require('playwright-core');

const { values: args } = parseArgs({
  options: {
    base: { type: 'string' },
    script: { type: 'string' },
    expect: { type: 'string', multiple: true, default: [] },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    timeout: { type: 'string', default: '20000' },
  },
});
const deadline = Date.now() + Number(args.timeout);
let printed = '';
const print = (line) => { printed += line + '\n'; console.log(line); };

async function main() {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-docs-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: args.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    let pageError = null;
    page.on('pageerror', (e) => { pageError = e; print(`page error: ${e.message}`); });
    page.on('console', (m) => print(m.text()));
    // A document the gateway itself serves (a page made up by the test would count as a public
    // address and Chromium would refuse its connections to 127.0.0.1), without the live page's
    // own client: /healthz, then the browser client's script.
    await page.goto(`${args.base}/healthz`, { timeout: deadline - Date.now() });
    await page.addScriptTag({ url: '/switchboard.js' });
    const code = fs.readFileSync(args.script, 'utf8');
    await page.evaluate(`(async () => {\n${code}\n})()`);
    while (!args.expect.every((e) => printed.includes(e))) {
      if (pageError) throw pageError;
      if (Date.now() > deadline) throw new Error('deadline passed before every expected line was printed');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
}

const timer = setTimeout(() => { print('deadline passed'); process.exit(1); }, Number(args.timeout) + 5000);
main().then(() => { clearTimeout(timer); process.exit(0); },
            (e) => { print(`FAIL: ${e.message}`); process.exit(1); });
