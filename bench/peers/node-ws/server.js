// Peer server for the Switchboard gateway load test: the plain Node `ws` broadcast server.
//
// Every text or binary message a client sends is sent to every other open client, one `send`
// per client, as the `ws` documentation's broadcast example does. No subscriptions, no protocol:
// it is the baseline a WebSocket fan-out server is compared with.
//
// Usage: node server.js [--host 127.0.0.1] [--port 0]
// Prints `listening on HOST:PORT` once the socket is bound (port 0 picks a free port).
// SIGTERM / SIGINT close the listener and exit 0.
'use strict';

const { WebSocketServer, WebSocket } = require('ws');
const { parseArgs } = require('node:util');

const { values } = parseArgs({
  options: {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    backlog: { type: 'string', default: '4096' },
  },
});

const wss = new WebSocketServer({
  host: values.host,
  port: Number(values.port),
  backlog: Number(values.backlog),
  perMessageDeflate: false,
  clientTracking: true,
});

wss.on('listening', () => {
  const address = wss.address();
  console.log(`listening on ${address.address}:${address.port}`);
});

wss.on('connection', (socket) => {
  socket.on('error', () => {});
  socket.on('message', (data, isBinary) => {
    for (const client of wss.clients) {
      if (client !== socket && client.readyState === WebSocket.OPEN) {
        client.send(data, { binary: isBinary });
      }
    }
  });
});

function stop() {
  for (const client of wss.clients) client.terminate();
  wss.close(() => process.exit(0));
}
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
