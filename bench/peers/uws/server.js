// Peer server for the Switchboard gateway load test: a uWebSockets broadcast hub.
//
// Speaks what the Node `ws` peer (../node-ws/server.js) speaks: no protocol; every text or binary
// message a client sends reaches every other open client as is. Here the fan-out is uWebSockets'
// own pub/sub, in C++: every client is subscribed to one topic when it opens, and a message is
// handed to `ws.publish(topic, message, isBinary)` (which skips the sender, as the `ws` peer
// does). JavaScript runs once per published message, never once per delivery.
//
// The package is @trufflesuite/uws-js-unofficial, a build of uWebSockets.js (uWebSockets and
// uSockets, C++, with V8 bindings) published on npm. Its own entry point silently falls back to a
// JavaScript implementation on top of `ws` when the native binary does not load; this server loads
// the native binary itself and exits with an error instead, so a row labelled uws is always the
// C++ core.
//
// Settings (one thread: uWS runs on Node's main thread, in the libuv loop):
//   compression         off (the other peers run without permessage-deflate too)
//   idleTimeout         0: off (the gateway runs with its idle close on, but the load pings
//                       nothing and is never idle long enough to meet it; ws and nats have none)
//   sendPingsAutomatically off
//   maxPayloadLength    16 MiB (--max-payload): far above the load's 1 KiB, like ws's 100 MiB
//   maxBackpressure     4 MiB (--max-backpressure) with closeOnBackpressureLimit off: a
//                       subscriber with more than 4 MiB unsent is skipped (the message is dropped
//                       for it) until it catches up, like the gateway's default outbox (4 MiB,
//                       drop policy). The load's window keeps every socket far below it.
//
// Usage: node server.js [--host 127.0.0.1] [--port 0] [--max-payload B] [--max-backpressure B]
// Prints `listening on HOST:PORT` once the socket is bound (port 0 picks a free port).
// SIGTERM / SIGINT close the listener and exit 0.
'use strict';

const path = require('node:path');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    'max-payload': { type: 'string', default: String(16 * 1024 * 1024) },
    'max-backpressure': { type: 'string', default: String(4 * 1024 * 1024) },
  },
});

function loadNativeUws() {
  const packageDir = path.dirname(require.resolve('@trufflesuite/uws-js-unofficial/package.json'));
  const binary = path.join(packageDir, 'binaries',
    `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  try {
    return require(binary);
  } catch (error) {
    console.error(`cannot load uWebSockets for Node ${process.version} (ABI ${process.versions.modules}) ` +
      `on ${process.platform}-${process.arch}: ${error.message}`);
    process.exit(1);
  }
}

const uWS = loadNativeUws();
const topic = 'broadcast';
let listenSocket = null;

const app = uWS.App().ws('/*', {
  compression: uWS.DISABLED,
  idleTimeout: 0,
  sendPingsAutomatically: false,
  maxPayloadLength: Number(values['max-payload']),
  maxBackpressure: Number(values['max-backpressure']),
  closeOnBackpressureLimit: false,
  open: (ws) => {
    ws.subscribe(topic);
  },
  message: (ws, message, isBinary) => {
    ws.publish(topic, message, isBinary);
  },
});

app.listen(values.host, Number(values.port), (socket) => {
  if (!socket) {
    console.error(`cannot listen on ${values.host}:${values.port}`);
    process.exit(1);
  }
  listenSocket = socket;
  console.log(`listening on ${values.host}:${uWS.us_socket_local_port(socket)}`);
});

function stop() {
  if (listenSocket) uWS.us_listen_socket_close(listenSocket);
  process.exit(0);
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
