// The Pusher Channels protocol 7 endpoint of switchboard-gateway against the real pusher-js 8
// client (pinned by package-lock.json, installed in the build tree by `npm ci`), plus a native
// Switchboard WebSocket client (Node `ws`) on the same channels. Checks, against a gateway
// started on port 0 with one app:
//   1. connect: connection_established with a socket_id N.N; unknown key 4001, protocol 6 4007
//   2. a public channel receives an event published through the native HTTP API (/api/publish),
//      with a Laravel-style event name and JSON data
//   3. a private channel: a correct signature subscribes, a wrong one gets subscription_error
//   4. presence: two connections of one user are one member; member_added / member_removed once
//   5. client events between two pusher-js clients, not echoed to the sender; on a presence
//      channel the callback's metadata.user_id is the sender's user, on a private one it is absent
//   6. unsubscribe stops delivery
//   7. a native client and a pusher-js client on one private channel see each other's messages,
//      and the native client's presence join reaches pusher-js as member_added
// Usage: node pusher_interop.js --gateway PATH   (NODE_PATH: where pusher-js and ws are installed)
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');
const Pusher = require('pusher-js');
const WebSocket = require('ws');

const { values: args } = parseArgs({ options: { gateway: { type: 'string' } } });
const APP = { id: 'app1', key: 'key1', secret: 'secret1' };
const API_KEY = 'pusher-interop-key';
const TOKEN_SECRET = 'pusher-interop-token-secret';
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
      '--api-key', API_KEY, '--token-secret', TOKEN_SECRET, '--io-threads', '2', '--log-level', 'warn',
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

function sign(socketId, channel, channelData) {
  const text = channelData === undefined ? `${socketId}:${channel}` : `${socketId}:${channel}:${channelData}`;
  return `${APP.key}:${crypto.createHmac('sha256', APP.secret).update(text).digest('hex')}`;
}

/// A pusher-js client whose subscriptions are signed as a Laravel backend would sign them, as
/// user `user` on presence channels; `secret` lets a test sign with a wrong one.
function pusherClient(port, user, secret = APP.secret) {
  const client = new Pusher(APP.key, {
    cluster: 'local', wsHost: '127.0.0.1', wsPort: port, forceTLS: false,
    enabledTransports: ['ws'], disableStats: true,
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, callback) => {
        const channelData = channelName.startsWith('presence-')
          ? JSON.stringify({ user_id: user, user_info: { name: user } }) : undefined;
        const text = channelData === undefined ? `${socketId}:${channelName}` : `${socketId}:${channelName}:${channelData}`;
        const auth = `${APP.key}:${crypto.createHmac('sha256', secret).update(text).digest('hex')}`;
        callback(null, channelData === undefined ? { auth } : { auth, channel_data: channelData });
      },
    },
  });
  client.received = []; // every event of every channel: {channel, event, data}
  client.bind_global((event, data) => { client.received.push({ event, data }); });
  return client;
}

function connected(client) {
  return until(() => client.connection.state === 'connected' && client.connection.socket_id, 'pusher-js to connect');
}

/// Subscribes and resolves with the channel once subscription_succeeded arrived.
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

function eventsNamed(client, event) {
  return client.received.filter((r) => r.event === event);
}

async function publish(port, channel, event, data) {
  const response = await fetch(`http://127.0.0.1:${port}/api/publish`, {
    method: 'POST', headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ channel, event, data }),
  });
  check(response.status === 200, `/api/publish answered ${response.status}: ${await response.text()}`);
}

function token(claims) {
  const b64 = (v) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const body = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
  return `${body}.${crypto.createHmac('sha256', TOKEN_SECRET).update(body).digest('base64url')}`;
}

/// A native client (docs/protocol.md) connected with `claims`; resolves after welcome.
async function nativeClient(port, claims) {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  ws.frames = [];
  ws.on('message', (bytes) => ws.frames.push(JSON.parse(bytes.toString())));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  ws.send(JSON.stringify({ op: 'connect', version: 1, token: token(claims) }));
  await until(() => ws.frames.find((f) => f.op === 'welcome'), 'native welcome');
  return ws;
}

/// A raw WebSocket on the Pusher endpoint: resolves with its first message and its close code.
function rawPusher(port, path) {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`);
    let first = null;
    const timer = setTimeout(() => reject(new Error('no close on ' + path)), STEP_MS);
    ws.on('message', (bytes) => { if (!first) first = JSON.parse(bytes.toString()); });
    ws.on('close', (code) => { clearTimeout(timer); resolve({ first, code }); });
    ws.on('error', () => {});
  });
}

async function metric(port, name) {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  return Number((new RegExp(`^${name} (\\S+)$`, 'm').exec(text) || [])[1] || 0);
}

/// Runs the gateway with `flags`; resolves with its exit code and stderr (it must refuse them).
function refusedFlags(flags) {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', args.gateway, '--port', '0', ...flags],
      { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (chunk) => { err += chunk; });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error('gateway accepted ' + flags.join(' '))); }, STEP_MS);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, err }); });
  });
}

(async () => {
  // 0. configuration refusals: exit 2 with a message naming the flag.
  for (const flags of [['--pusher-app', 'only-two:parts'], ['--pusher-app', 'a/b:key:secret'],
    ['--pusher-app', 'a:k:s1', '--pusher-app', 'a:k2:s2']]) {
    const r = await refusedFlags(flags);
    check(r.code === 2 && r.err.includes('--pusher-app'), `flags ${flags.join(' ')}: exit ${r.code}, ${r.err}`);
  }
  console.log('ok 0 --pusher-app refusals');

  const gw = await startGateway();
  const port = gw.port;
  const clients = [];
  const open = (user, secret) => { const c = pusherClient(port, user, secret); clients.push(c); return c; };

  // 1. connect, and the refusals pusher-js acts on.
  const alice1 = open('alice');
  await connected(alice1);
  check(/^\d+\.\d+$/.test(alice1.connection.socket_id), 'socket_id is N.N: ' + alice1.connection.socket_id);
  const unknown = await rawPusher(port, '/app/nope?protocol=7&client=js&version=8.4.0');
  check(unknown.first && unknown.first.event === 'pusher:error' && unknown.first.data.code === 4001 && unknown.code === 4001,
    'unknown key: pusher:error 4001 and close 4001, got ' + JSON.stringify(unknown));
  const old = await rawPusher(port, `/app/${APP.key}?protocol=6`);
  check(old.first && old.first.data.code === 4007 && old.code === 4007, 'protocol 6: 4007, got ' + JSON.stringify(old));
  check(await metric(port, 'switchboard_pusher_refused_connections_total') === 2, 'refused connections counted');
  const plain = await fetch(`http://127.0.0.1:${port}/app/${APP.key}?protocol=7`);
  check(plain.status === 426, '/app/KEY without an upgrade: 426, got ' + plain.status);
  console.log('ok 1 connect, 4001, 4007');

  // 2. public channel, event from the native HTTP API.
  const news = await subscribed(alice1, 'news');
  let shipped = null;
  news.bind('App\\Events\\OrderShipped', (data) => { shipped = data; });
  await publish(port, `pusher/${APP.id}/news`, 'App%5CEvents%5COrderShipped', { order: 7, items: ['a', 'b'] });
  await until(() => shipped, 'OrderShipped on news');
  check(shipped.order === 7 && shipped.items.length === 2, 'event data: ' + JSON.stringify(shipped));
  console.log('ok 2 public channel, HTTP API publish');

  // 3. private channel, right and wrong signature.
  await subscribed(alice1, 'private-orders');
  const mallory = open('mallory', 'not-the-secret');
  await connected(mallory);
  const refused = mallory.subscribe('private-orders');
  let refusal = null;
  refused.bind('pusher:subscription_error', (e) => { refusal = e; });
  await until(() => refusal, 'subscription_error for a wrong signature');
  check(refusal.type === 'AuthError' && refusal.status === 401, 'refusal: ' + JSON.stringify(refusal));
  check(await metric(port, 'switchboard_pusher_subscription_errors_total') === 1, 'subscription error counted');
  console.log('ok 3 private channel, signature refused with subscription_error');

  // 4. presence: alice twice, bob once.
  const bob = open('bob');
  await connected(bob);
  const bobRoom = await subscribed(bob, 'presence-room');
  check(bobRoom.members.count === 1, 'bob alone first');
  const added = [];
  const removed = [];
  bobRoom.bind('pusher:member_added', (m) => added.push(m.id));
  bobRoom.bind('pusher:member_removed', (m) => removed.push(m.id));
  const aliceRoom = await subscribed(alice1, 'presence-room');
  check(aliceRoom.members.count === 2 && aliceRoom.members.get('bob').info.name === 'bob', 'alice sees bob');
  const alice2 = open('alice');
  await connected(alice2);
  const alice2Room = await subscribed(alice2, 'presence-room');
  check(alice2Room.members.count === 2, 'two connections of alice are one member: ' + alice2Room.members.count);
  // A marker after alice2's join: any second member_added would have reached bob before it.
  let marker = false;
  bobRoom.bind('marker', () => { marker = true; });
  await publish(port, `presence-pusher/${APP.id}/room`, 'marker', 1);
  await until(() => marker, 'marker on presence-room');
  check(added.length === 1 && added[0] === 'alice', 'member_added once per user: ' + JSON.stringify(added));
  check(bobRoom.members.count === 2, 'bob counts 2 members');
  alice1.unsubscribe('presence-room');
  marker = false;
  await publish(port, `presence-pusher/${APP.id}/room`, 'marker', 2);
  await until(() => marker, 'second marker');
  check(removed.length === 0, 'alice still has a connection: no member_removed yet');
  alice2.disconnect();
  await until(() => removed.length === 1, 'member_removed when alice\'s last connection left');
  check(removed[0] === 'alice' && bobRoom.members.count === 1, 'alice removed');
  console.log('ok 4 presence: one member per user, member_added / member_removed');

  // 5. client events on a private channel, not echoed.
  const aliceChat = await subscribed(alice1, 'private-chat');
  const bobChat = await subscribed(bob, 'private-chat');
  const atAlice = [];
  const atBob = [];
  const bobMetadata = [];
  aliceChat.bind('client-typing', (d) => atAlice.push(d));
  bobChat.bind('client-typing', (d, metadata) => { atBob.push(d); bobMetadata.push(metadata); });
  check(aliceChat.trigger('client-typing', { who: 'alice' }), 'alice triggers');
  await until(() => atBob.length === 1, 'bob receives alice\'s client event');
  check(atBob[0].who === 'alice', 'client event data: ' + JSON.stringify(atBob[0]));
  check(!bobMetadata[0] || bobMetadata[0].user_id === undefined,
        'no user_id on a private channel: ' + JSON.stringify(bobMetadata[0]));
  check(bobChat.trigger('client-typing', { who: 'bob' }), 'bob triggers');
  await until(() => atAlice.length === 1, 'alice receives bob\'s client event');
  check(atAlice.length === 1 && atAlice[0].who === 'bob', 'alice got only bob\'s event (no echo): ' + JSON.stringify(atAlice));
  check(atBob.length === 1, 'bob got only alice\'s event (no echo)');
  // On a presence channel, pusher-js hands the sender's user_id to the callback as metadata.
  const aliceRoomAgain = await subscribed(alice1, 'presence-room');
  const roomTyping = [];
  bobRoom.bind('client-typing', (d, metadata) => roomTyping.push({ d, metadata }));
  check(aliceRoomAgain.trigger('client-typing', { where: 'room' }), 'alice triggers on presence-room');
  await until(() => roomTyping.length === 1, 'bob receives alice\'s presence client event');
  check(roomTyping[0].d.where === 'room' && roomTyping[0].metadata && roomTyping[0].metadata.user_id === 'alice',
        'presence client event metadata.user_id: ' + JSON.stringify(roomTyping[0]));
  alice1.unsubscribe('presence-room');
  console.log('ok 5 client events, not echoed; metadata.user_id on presence channels');

  // 6. unsubscribe stops delivery.
  const bobNews = await subscribed(bob, 'news');
  let bobNewsEvents = 0;
  bobNews.bind('headline', () => { ++bobNewsEvents; });
  await publish(port, `pusher/${APP.id}/news`, 'headline', 'one');
  await until(() => bobNewsEvents === 1, 'headline before unsubscribe');
  bob.unsubscribe('news');
  // pusher:unsubscribe is handled before the next frame of the same connection: a ping round
  // trip through a client event proves it arrived.
  bobChat.trigger('client-typing', { who: 'bob', n: 2 });
  await until(() => atAlice.length === 2, 'client event after unsubscribe');
  await publish(port, `pusher/${APP.id}/news`, 'headline', 'two');
  marker = false;
  await publish(port, `presence-pusher/${APP.id}/room`, 'marker', 3);
  await until(() => marker, 'marker after unsubscribe');
  check(bobNewsEvents === 1, 'no delivery after unsubscribe');
  console.log('ok 6 unsubscribe');

  // 7. a native client and pusher-js on one channel.
  const chat = `private-pusher/${APP.id}/chat`;
  const room = `presence-pusher/${APP.id}/room`;
  const native = await nativeClient(port, { sub: 'nat', info: { name: 'Native' }, channels: [chat, room] });
  native.send(JSON.stringify({ op: 'subscribe', channel: chat, ackId: 's1' }));
  await until(() => native.frames.find((f) => f.op === 'subscribed' && f.ackId === 's1'), 'native subscribed');
  aliceChat.trigger('client-hello', { from: 'pusher' });
  const fromPusher = await until(() => native.frames.find((f) => f.op === 'message' && f.event === 'client-hello'),
    'native receives the pusher-js client event');
  check(fromPusher.channel === chat && fromPusher.data.from === 'pusher' && fromPusher.sender === alice1.connection.socket_id,
    'native message: ' + JSON.stringify(fromPusher));
  let fromNative = null;
  aliceChat.bind('client-reply', (d) => { fromNative = d; });
  native.send(JSON.stringify({ op: 'publish', channel: chat, event: 'client-reply', data: { from: 'native' }, ackId: 'p1' }));
  await until(() => fromNative, 'pusher-js receives the native publish');
  check(fromNative.from === 'native', 'pusher-js data: ' + JSON.stringify(fromNative));
  native.send(JSON.stringify({ op: 'subscribe', channel: room, ackId: 's2' }));
  await until(() => added.includes('nat'), 'pusher-js sees the native client join presence');
  check(bobRoom.members.get('nat').info.name === 'Native', 'native member info');
  native.close();
  await until(() => removed.includes('nat'), 'pusher-js sees the native client leave');
  console.log('ok 7 native and pusher-js clients see each other');

  check(await metric(port, 'switchboard_pusher_client_events_total') === 5, 'client events counted');
  for (const c of clients) c.disconnect();
  gw.child.kill('SIGTERM');
  console.log('PASS');
  process.exit(0);
})().catch((e) => fail(e.stack || String(e)));
