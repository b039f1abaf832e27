// permessage-deflate (RFC 7692) between switchboard-gateway and a third-party client: the Node
// `ws` 8.18 client, which offers the extension as browsers do and here also compresses every
// message it sends. Checks, against a gateway started on port 0:
//   1. the extension is agreed (server_no_context_takeover; client_no_context_takeover)
//   2. compressed client frames (connect, subscribe, publish) are understood
//   3. a publication marked compress, over the WebSocket and over the HTTP API, reaches the
//      client intact, and the gateway counts compressed frames for it
//   4. an unmarked publication arrives too (uncompressed)
//   5. a compressed message inflating past --max-frame-size is closed 1009 and counted
// Usage: node deflate_interop.js --gateway PATH   (NODE_PATH: where `ws` is installed)
'use strict';

const { spawn } = require('node:child_process');
const { parseArgs } = require('node:util');
const WebSocket = require('ws');

const { values: args } = parseArgs({ options: { gateway: { type: 'string' } } });
const API_KEY = 'interop-key';
const STEP_MS = 10000;

function fail(message) {
  console.error('FAIL: ' + message);
  process.exit(1);
}

function startGateway() {
  return new Promise((resolve, reject) => {
    // setpriv: the kernel kills the gateway when this script dies, however it dies.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', args.gateway, '--port', '0',
      '--api-key', API_KEY, '--io-threads', '1', '--log-level', 'warn', '--max-frame-size', '65536'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('gateway did not start: ' + out)), STEP_MS);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on [^\s]*:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.on('exit', (code) => reject(new Error('gateway exited with ' + code)));
  });
}

/// Resolves with the next message for which `match` is true (bounded).
function next(queue, match, what) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out waiting for ' + what)), STEP_MS);
    const check = () => {
      const i = queue.items.findIndex(match);
      if (i >= 0) {
        clearTimeout(timer);
        queue.waiters.delete(check);
        resolve(queue.items.splice(i, 1)[0]);
      }
    };
    queue.waiters.add(check);
    check();
  });
}

async function metrics(port) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const value = (name) => Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(text) || [])[1] || 0);
  return {
    framesOut: value('switchboard_websocket_deflate_frames_out_total'),
    messagesIn: value('switchboard_websocket_deflate_messages_in_total'),
    refused: value('switchboard_websocket_inflate_refused_total'),
  };
}

function kilobyteData() {
  const rows = [];
  for (let r = 0; JSON.stringify(rows).length < 1000; ++r) rows.push({ symbol: `S${r}`, bid: 101.25, ask: 101.5 });
  return { rows };
}

(async () => {
  const gw = await startGateway();
  const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/ws`, { perMessageDeflate: { threshold: 0 } });
  const queue = { items: [], waiters: new Set() };
  let extensions = '';
  let closed = null;
  ws.on('upgrade', (res) => { extensions = res.headers['sec-websocket-extensions'] || ''; });
  ws.on('message', (raw) => {
    queue.items.push(JSON.parse(raw));
    for (const w of [...queue.waiters]) w();
  });
  ws.on('close', (code, reason) => { closed = { code, reason: String(reason) }; });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });

  // 1
  if (!/^permessage-deflate/.test(extensions) || !/server_no_context_takeover/.test(extensions)
      || !/client_no_context_takeover/.test(extensions))
    fail('Sec-WebSocket-Extensions: ' + extensions);
  // 2
  ws.send(JSON.stringify({ op: 'connect', version: 1 }));
  await next(queue, (m) => m.op === 'welcome', 'welcome');
  ws.send(JSON.stringify({ op: 'subscribe', channel: 'interop', ackId: 's' }));
  await next(queue, (m) => m.op === 'subscribed', 'subscribed');
  // 3
  const data = kilobyteData();
  ws.send(JSON.stringify({ op: 'publish', channel: 'interop', event: 'ws', data, compress: true }));
  const viaWs = await next(queue, (m) => m.op === 'message' && m.event === 'ws', 'the WebSocket publication');
  if (JSON.stringify(viaWs.data) !== JSON.stringify(data)) fail('the WebSocket publication changed');
  const response = await fetch(`http://127.0.0.1:${gw.port}/api/publish`, {
    method: 'POST', headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ channel: 'interop', event: 'api', data, compress: true }),
  });
  if (response.status !== 200) fail('HTTP API publish: ' + response.status);
  const viaApi = await next(queue, (m) => m.op === 'message' && m.event === 'api', 'the HTTP API publication');
  if (JSON.stringify(viaApi.data) !== JSON.stringify(data)) fail('the HTTP API publication changed');
  // 4
  ws.send(JSON.stringify({ op: 'publish', channel: 'interop', event: 'plain', data }));
  await next(queue, (m) => m.op === 'message' && m.event === 'plain', 'the unmarked publication');
  let m = await metrics(gw.port);
  if (m.framesOut !== 2) fail(`compressed frames out: ${m.framesOut}, expected 2`);
  if (m.messagesIn < 4) fail(`compressed messages in: ${m.messagesIn}, expected at least 4`);
  // 5: 1 MiB of spaces is about 1 KiB compressed, under the 64 KiB limit on the wire.
  ws.send(JSON.stringify({ op: 'ping', pad: ' '.repeat(1 << 20) }));
  const deadline = Date.now() + STEP_MS;
  while (!closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  if (!closed || closed.code !== 1009) fail('the bomb was not closed 1009: ' + JSON.stringify(closed));
  m = await metrics(gw.port);
  if (m.refused !== 1) fail(`inflate refusals: ${m.refused}, expected 1`);
  console.log('PASS: permessage-deflate interop with ws ' + require('ws/package.json').version);
  gw.child.kill('SIGKILL');
  process.exit(0);
})().catch((e) => fail(e.stack || String(e)));
