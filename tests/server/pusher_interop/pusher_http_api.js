// The Pusher HTTP API of switchboard-gateway (/apps/ID/...) against the real Pusher Node server
// SDK (`pusher` 5.3.4, pinned by package-lock.json), with pusher-js 8.4.0 and a raw Pusher
// protocol client (Node `ws`, to see each frame's data string as sent) receiving. Checks, against
// a gateway started on port 0 with one app:
//   1. trigger: data strings (escapes, non-ASCII, JSON text, a JSON string literal) arrive byte
//      for byte; a Laravel event name; several channels at once
//   2. socket_id excludes that connection (Laravel's toOthers())
//   3. triggerBatch: every event arrives, answer {"batch":[{},..]}
//   4. GET channels (filter_by_prefix, info=user_count / subscription_count), channel, users
//   5. refusals, nothing delivered: wrong secret 401, old auth_timestamp 401, wrong body_md5 401,
//      data over --pusher-max-event-bytes 413 (alone and inside a batch), a batch of 11 400,
//      unknown app 404; each counted in /metrics
// Usage: node pusher_http_api.js --gateway PATH   (NODE_PATH: where pusher, pusher-js, ws are)
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const PusherClient = require('pusher-js');
const PusherServer = require('pusher');
const WebSocket = require('ws');

const { values: args } = parseArgs({ options: { gateway: { type: 'string' } } });
const APP = { id: '4242', key: 'http-key', secret: 'http-secret' };
const MAX_EVENT_BYTES = 2048;
const STEP_MS = 10000;

function fail(message) {
  console.error('FAIL: ' + message);
  process.exit(1);
}
function check(condition, message) {
  if (!condition) fail(message);
}

function startGateway() {
  return new Promise((resolve, reject) => {
    // setpriv: the kernel kills the gateway when this script dies, however it dies.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', args.gateway, '--port', '0',
      '--io-threads', '2', '--log-level', 'warn', '--pusher-max-event-bytes', String(MAX_EVENT_BYTES),
      '--pusher-app', `${APP.id}:${APP.key}:${APP.secret}`],
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

/// Resolves when `predicate()` holds (polled), rejects after STEP_MS naming `what`.
function until(predicate, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + STEP_MS;
    const poll = () => {
      let value;
      try { value = predicate(); } catch (e) { return reject(e); }
      if (value) return resolve(value);
      if (Date.now() > deadline) return reject(new Error('timed out waiting for ' + what));
      setTimeout(poll, 5);
    };
    poll();
  });
}

/// A pusher-js client signing its presence subscriptions as user `user`.
function pusherClient(port, user) {
  const client = new PusherClient(APP.key, {
    cluster: 'local', wsHost: '127.0.0.1', wsPort: port, forceTLS: false,
    enabledTransports: ['ws'], disableStats: true,
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, callback) => {
        const channelData = JSON.stringify({ user_id: user, user_info: { name: user } });
        const auth = `${APP.key}:${crypto.createHmac('sha256', APP.secret)
          .update(`${socketId}:${channelName}:${channelData}`).digest('hex')}`;
        callback(null, { auth, channel_data: channelData });
      },
    },
  });
  client.received = [];
  client.bind_global((event, data) => { client.received.push({ event, data }); });
  return client;
}

async function subscribed(client, name) {
  const channel = client.subscribe(name);
  let ok = false;
  let error = null;
  channel.bind('pusher:subscription_succeeded', () => { ok = true; });
  channel.bind('pusher:subscription_error', (e) => { error = e; });
  await until(() => ok || error, `subscription to ${name}`);
  if (error) fail(`subscription to ${name} refused: ${JSON.stringify(error)}`);
  return channel;
}

/// A raw Pusher protocol connection subscribed to public `channels`: its `events` are the frames
/// as received (data exactly as the gateway sent it).
async function rawClient(port, channels) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/app/${APP.key}?protocol=7&client=js&version=8.4.0`);
  ws.events = [];
  ws.subscribed = new Set();
  ws.on('message', (bytes) => {
    const frame = JSON.parse(bytes.toString());
    if (frame.event === 'pusher_internal:subscription_succeeded') ws.subscribed.add(frame.channel);
    else if (!frame.event.startsWith('pusher')) ws.events.push(frame);
  });
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  for (const channel of channels) ws.send(JSON.stringify({ event: 'pusher:subscribe', data: { channel } }));
  await until(() => channels.every((c) => ws.subscribed.has(c)), 'raw client subscriptions');
  return ws;
}

async function metric(port, name) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

/// A request signed by hand as Pusher documents it, with `tamper` changing the query before
/// signing (an old timestamp, a wrong body_md5); resolves with {status, text}.
async function signedRequest(port, method, path, body, tamper = (q) => q) {
  let query = { auth_key: APP.key, auth_timestamp: String(Math.floor(Date.now() / 1000)), auth_version: '1.0' };
  if (body !== undefined) query.body_md5 = crypto.createHash('md5').update(body).digest('hex');
  query = tamper(query);
  const text = Object.keys(query).sort().map((k) => `${k}=${query[k]}`).join('&');
  const signature = crypto.createHmac('sha256', APP.secret).update(`${method}\n${path}\n${text}`).digest('hex');
  const response = await fetch(`http://127.0.0.1:${port}${path}?${text}&auth_signature=${signature}`, {
    method, body, headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  });
  return { status: response.status, text: await response.text() };
}

(async () => {
  if (!args.gateway) fail('usage: node pusher_http_api.js --gateway PATH');
  const gw = await startGateway();
  const { port } = gw;
  const server = new PusherServer({ appId: APP.id, key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(port), useTLS: false });

  // 1. trigger, byte for byte.
  const raw = await rawClient(port, ['orders', 'news']);
  const alice = pusherClient(port, 'alice');
  const bob = pusherClient(port, 'bob');
  const aliceOrders = await subscribed(alice, 'orders');
  await subscribed(bob, 'orders');
  await subscribed(alice, 'presence-room');
  await subscribed(bob, 'presence-room');
  const payloads = [
    'caf\u00e9 "quoted" \\ back\\slash tab\t \u2713 \u{1F600} </script> \\u00e9',
    '{"msg":"h\\u00e9 \\"x\\" \u00e9","n":1.50,"list":[1, 2 ,3]}',
    '"a JSON string literal"',
    '  {"spaced": true}  ',
    '',
  ];
  const fromPusherJs = [];
  aliceOrders.bind('App\\Events\\OrderShipped', (d) => fromPusherJs.push(d));
  for (const data of payloads) {
    const response = await server.trigger('orders', 'App\\Events\\OrderShipped', data);
    check(response.status === 200, 'trigger status ' + response.status);
    const body = await response.text();
    check(body.trim() === '{}', 'trigger answer: ' + body);
  }
  await until(() => raw.events.length === payloads.length && fromPusherJs.length === payloads.length, 'triggered events');
  payloads.forEach((data, i) => {
    const frame = raw.events[i];
    check(frame.channel === 'orders' && frame.event === 'App\\Events\\OrderShipped', 'frame ' + JSON.stringify(frame));
    check(frame.data === data, `data ${i} arrived as ${JSON.stringify(frame.data)}, sent ${JSON.stringify(data)}`);
    let expected = data;
    try { expected = JSON.parse(data); } catch (e) { /* pusher-js keeps non-JSON text as it is */ }
    check(JSON.stringify(fromPusherJs[i]) === JSON.stringify(expected), `pusher-js data ${i}: ${JSON.stringify(fromPusherJs[i])}`);
  });
  raw.events.length = 0;
  await server.trigger(['orders', 'news'], 'both', { two: 'channels' });
  await until(() => raw.events.length === 2, 'an event on two channels');
  check(raw.events.map((e) => e.channel).sort().join() === 'news,orders' && raw.events[0].data === '{"two":"channels"}',
    'two channels: ' + JSON.stringify(raw.events));
  console.log('ok 1 trigger delivers data byte for byte');

  // 2. socket_id excludes its connection.
  raw.events.length = 0;
  let bobGot = 0;
  let aliceGot = 0;
  bob.channel('orders').bind('excluded', () => { bobGot += 1; });
  aliceOrders.bind('excluded', () => { aliceGot += 1; });
  await server.trigger('orders', 'excluded', 'x', { socket_id: alice.connection.socket_id });
  await until(() => bobGot === 1 && raw.events.length === 1, 'the excluded event at the others');
  await server.trigger('orders', 'App\\Events\\OrderShipped', 'marker');
  await until(() => raw.events.length === 2, 'marker');
  await until(() => alice.received.some((r) => r.event === 'App\\Events\\OrderShipped' && r.data === 'marker'), 'marker at alice');
  check(aliceGot === 0, 'the excluded socket got its event');
  console.log('ok 2 socket_id excludes that connection');

  // 3. triggerBatch.
  raw.events.length = 0;
  const batch = [
    { channel: 'orders', name: 'b1', data: '{"i":1}' },
    { channel: 'news', name: 'b2', data: 'plain \u00e9' },
    { channel: 'orders', name: 'b3', data: '3' },
  ];
  const batchResponse = await server.triggerBatch(batch);
  const batchBody = JSON.parse(await batchResponse.text());
  check(JSON.stringify(batchBody) === '{"batch":[{},{},{}]}', 'batch answer: ' + JSON.stringify(batchBody));
  await until(() => raw.events.length === 3, 'batch events');
  batch.forEach((e, i) => check(raw.events[i].event === e.name && raw.events[i].channel === e.channel && raw.events[i].data === e.data,
    'batch event ' + JSON.stringify(raw.events[i])));
  console.log('ok 3 triggerBatch');

  // 4. channels, channel, users.
  const getJson = async (path, params) => {
    const response = await server.get({ path, params });
    check(response.status === 200, `GET ${path}: ${response.status}`);
    return response.json();
  };
  const all = await getJson('/channels', {});
  check(JSON.stringify(Object.keys(all.channels).sort()) === '["news","orders","presence-room"]', 'channels: ' + JSON.stringify(all));
  const presence = await getJson('/channels', { filter_by_prefix: 'presence-', info: 'user_count' });
  check(JSON.stringify(presence) === '{"channels":{"presence-room":{"user_count":2}}}', 'presence channels: ' + JSON.stringify(presence));
  const counted = await getJson('/channels', { info: 'subscription_count' });
  check(counted.channels.orders.subscription_count === 3, 'subscription counts: ' + JSON.stringify(counted));
  const orders = await getJson('/channels/orders', { info: 'subscription_count' });
  check(JSON.stringify(orders) === '{"occupied":true,"subscription_count":3}', 'channel orders: ' + JSON.stringify(orders));
  const empty = await getJson('/channels/nobody-here', {});
  check(JSON.stringify(empty) === '{"occupied":false}', 'empty channel: ' + JSON.stringify(empty));
  const room = await getJson('/channels/presence-room', { info: 'user_count,subscription_count' });
  check(room.occupied === true && room.user_count === 2 && room.subscription_count === 2, 'presence channel: ' + JSON.stringify(room));
  const users = await getJson('/channels/presence-room/users', {});
  check(JSON.stringify(users.users.map((u) => u.id).sort()) === '["alice","bob"]', 'users: ' + JSON.stringify(users));
  const notPresence = await server.get({ path: '/channels/orders/users' }).then((r) => r.status, (e) => e.status);
  check(notPresence === 400, 'users of a public channel: ' + notPresence);
  console.log('ok 4 channels, channel, users');

  // 5. refusals: nothing delivered, each counted.
  raw.events.length = 0;
  const status = (promise) => promise.then((r) => r.status, (e) => e.status);
  const wrongSecret = new PusherServer({ appId: APP.id, key: APP.key, secret: 'not-the-secret', host: '127.0.0.1', port: String(port), useTLS: false });
  check(await status(wrongSecret.trigger('orders', 'refused', 'wrong secret')) === 401, 'wrong secret: 401');
  const body = JSON.stringify({ name: 'refused', data: 'old', channels: ['orders'] });
  const old = await signedRequest(port, 'POST', `/apps/${APP.id}/events`, body,
    (q) => ({ ...q, auth_timestamp: String(Math.floor(Date.now() / 1000) - 601) }));
  check(old.status === 401, 'old timestamp: ' + old.status);
  const fresh = await signedRequest(port, 'POST', `/apps/${APP.id}/events`, body);
  check(fresh.status === 200, 'the same request signed now: ' + fresh.status + ' ' + fresh.text);
  await until(() => raw.events.length === 1 && raw.events[0].data === 'old', 'the hand-signed event');
  raw.events.length = 0;
  const md5 = await signedRequest(port, 'POST', `/apps/${APP.id}/events`, body,
    (q) => ({ ...q, body_md5: crypto.createHash('md5').update(body + ' ').digest('hex') }));
  check(md5.status === 401, 'wrong body_md5: ' + md5.status);
  const noMd5 = await signedRequest(port, 'POST', `/apps/${APP.id}/events`, body, ({ body_md5: _, ...q }) => q);
  check(noMd5.status === 401, 'missing body_md5: ' + noMd5.status);
  const unsigned = await fetch(`http://127.0.0.1:${port}/apps/${APP.id}/channels`);
  check(unsigned.status === 401, 'unsigned: ' + unsigned.status);
  const big = 'x'.repeat(MAX_EVENT_BYTES + 1);
  check(await status(server.trigger('orders', 'refused', big)) === 413, 'oversize: 413');
  check(await status(server.trigger('orders', 'fits', 'x'.repeat(MAX_EVENT_BYTES))) === 200, 'data at the limit: 200');
  await until(() => raw.events.length === 1, 'the event at the limit');
  raw.events.length = 0;
  check(await status(server.triggerBatch([{ channel: 'orders', name: 'refused', data: 'a' }, { channel: 'orders', name: 'refused', data: big }])) === 413,
    'batch with an oversize event: 413');
  const eleven = Array.from({ length: 11 }, (_, i) => ({ channel: 'orders', name: 'refused', data: String(i) }));
  check(await status(server.triggerBatch(eleven)) === 400, 'batch of 11: 400');
  check(await status(server.triggerBatch(eleven.slice(0, 10))) === 200, 'batch of 10: 200');
  await until(() => raw.events.length === 10, 'the batch of 10');
  check(raw.events.every((e) => e.event === 'refused' && e.channel === 'orders'), 'batch of 10 events');
  raw.events.length = 0;
  const otherApp = new PusherServer({ appId: '999', key: APP.key, secret: APP.secret, host: '127.0.0.1', port: String(port), useTLS: false });
  check(await status(otherApp.trigger('orders', 'refused', 'x')) === 404, 'unknown app: 404');
  await server.trigger('orders', 'sentinel', 'end');
  await until(() => raw.events.length === 1, 'sentinel');
  check(raw.events[0].event === 'sentinel', 'a refused event was delivered: ' + JSON.stringify(raw.events));
  check(await metric(port, 'switchboard_pusher_api_auth_failures_total') === 5, 'auth failures counted');
  check(await metric(port, 'switchboard_pusher_api_too_large_total') === 2, 'oversize counted');
  check(await metric(port, 'switchboard_pusher_api_bad_requests_total') === 2, 'bad requests counted (users of a public channel, batch of 11)');
  check(await metric(port, 'switchboard_pusher_api_unknown_apps_total') === 1, 'unknown app counted');
  console.log('ok 5 refusals deliver nothing and are counted');

  alice.disconnect();
  bob.disconnect();
  raw.close();
  gw.child.kill('SIGTERM');
  console.log('PASS');
  process.exit(0);
})().catch((e) => fail(e.stack || String(e)));
