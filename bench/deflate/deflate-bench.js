// permessage-deflate benchmark client (bench/deflate/run-deflate.sh): S subscribers using the
// Node `ws` client (which offers permessage-deflate like a browser), one of them publishing M
// 1 KiB JSON messages, with or without `"compress": true`. Reads the gateway's /metrics and its
// CPU time (/proc/PID/stat) before and after, and prints one JSON line: deliveries, bytes written
// per delivery, gateway CPU microseconds per delivery.
//
// Usage: node deflate-bench.js --port P --pid PID [--subscribers 200] [--messages 2000]
//          [--compress 1] [--offer 1] [--batch 20]
// `ws` comes from bench/peers/node-ws (bench/peers/install.sh installs it).
'use strict';

const path = require('node:path');
const fs = require('node:fs');
const { parseArgs } = require('node:util');
const WebSocket = require(path.join(__dirname, '..', 'peers', 'node-ws', 'node_modules', 'ws'));

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    pid: { type: 'string' },
    subscribers: { type: 'string', default: '200' },
    messages: { type: 'string', default: '2000' },
    compress: { type: 'string', default: '1' },
    offer: { type: 'string', default: '1' },
    batch: { type: 'string', default: '20' },
  },
});
const port = Number(values.port);
const subscribers = Number(values.subscribers);
const messages = Number(values.messages);
const compress = values.compress === '1';
const offer = values.offer === '1';
const batch = Number(values.batch);
const ticksPerSecond = 100; // USER_HZ on Linux

function cpuTicks(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

async function metrics() {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out = {};
  for (const line of text.split('\n')) {
    const m = /^(switchboard_[a-z_]+) ([0-9.e+]+)$/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

/// A 1 KiB JSON object like a price board update.
function kilobyteData(i) {
  const rows = [];
  for (let r = 0; JSON.stringify(rows).length < 960; ++r)
    rows.push({ symbol: `S${r}`, bid: 101.25 + ((i + r) % 7) / 100, ask: 101.5, ts: 1700000000000 + i });
  return { seq: i, rows };
}

function open(received) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`, { perMessageDeflate: offer ? { threshold: 1 << 30 } : false });
    ws.on('error', reject);
    ws.on('open', () => ws.send(JSON.stringify({ op: 'connect', version: 1 })));
    ws.on('message', (raw) => {
      const msg = JSON.parse(raw);
      if (msg.op === 'welcome') ws.send(JSON.stringify({ op: 'subscribe', channel: 'bench', ackId: 's' }));
      else if (msg.op === 'subscribed') resolve(ws);
      else if (msg.op === 'message') received.count++;
    });
  });
}

(async () => {
  const received = { count: 0 };
  const clients = [];
  for (let i = 0; i < subscribers; ++i) clients.push(await open(received));
  const expected = subscribers * messages;
  const before = await metrics();
  const cpuBefore = cpuTicks(values.pid);
  const started = process.hrtime.bigint();
  for (let sent = 0; sent < messages;) {
    for (let k = 0; k < batch && sent < messages; ++k, ++sent) {
      const frame = { op: 'publish', channel: 'bench', event: 'tick', data: kilobyteData(sent) };
      if (compress) frame.compress = true;
      clients[0].send(JSON.stringify(frame));
    }
    // Keep the publisher under the gateway's rate limit and the subscribers caught up.
    await new Promise((r) => setTimeout(r, 10));
    while (received.count < sent * subscribers - subscribers * batch * 4) await new Promise((r) => setTimeout(r, 2));
  }
  const deadline = Date.now() + 60000;
  while (received.count < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = (cpuTicks(values.pid) - cpuBefore) / ticksPerSecond;
  const after = await metrics();
  const d = (k) => (after[k] || 0) - (before[k] || 0);
  console.log(JSON.stringify({
    offer, compress, subscribers, messages, deliveries: received.count, seconds: +seconds.toFixed(2),
    bytesPerDelivery: +(d('switchboard_bytes_out_total') / received.count).toFixed(1),
    cpuMicrosPerDelivery: +((cpu * 1e6) / received.count).toFixed(2),
    compressions: d('switchboard_websocket_deflate_compressions_total'),
    compressedFrames: d('switchboard_websocket_deflate_frames_out_total'),
  }));
  for (const ws of clients) ws.terminate();
  process.exit(received.count === expected ? 0 : 1);
})().catch((e) => { console.error(e); process.exit(2); });
