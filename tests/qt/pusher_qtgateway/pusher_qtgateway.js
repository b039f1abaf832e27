// The Qt gateway's Pusher endpoint against the real pusher-js 8 client (the pinned copy that
// tests/server/pusher_interop installs with `npm ci`; NODE_PATH points at it). Driven by
// tst_qtgatewaypusher, which hosts the Gateway, a native Qt Client on the same channels, and
// the application's auth endpoint: every private/presence signature is asked of the test over
// stdio and signed there with switchboard::qtws::pusherAuthResponse (QMessageAuthenticationCode).
//
// Lines on stdout (JSON): {"auth":{id,socket_id,channel,user}}  ask the Qt side to sign
//                         {"step":"subscribed"}                 everything subscribed: Qt publishes
//                         {"done":true}                         every check passed
// Lines on stdin (JSON):  {"id":N,"response":{auth,channel_data}} | {"published":true}
// Usage: node pusher_qtgateway.js --port P --key K
'use strict';

const readline = require('node:readline');
const { parseArgs } = require('node:util');
const Pusher = require('pusher-js');
const WebSocket = require('ws');

const { values: args } = parseArgs({ options: { port: { type: 'string' }, key: { type: 'string' } } });
const PORT = Number(args.port);
const STEP_MS = 10000;

function fail(message) {
  process.stderr.write('FAIL: ' + message + '\n');
  process.exit(1);
}
function check(condition, message) {
  if (!condition) fail(message);
}
function say(object) {
  process.stdout.write(JSON.stringify(object) + '\n');
}

const pendingAuth = new Map();
let nextAuthId = 1;
let published = false;
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const message = JSON.parse(line);
  if (message.published) published = true;
  if (message.id !== undefined) {
    const callback = pendingAuth.get(message.id);
    pendingAuth.delete(message.id);
    if (callback) callback(null, message.response);
  }
});

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

/// A pusher-js client whose subscriptions the Qt test signs, as user `user` on presence
/// channels; `channelFor` lets a test have a signature made for another channel.
function pusherClient(user, channelFor = (c) => c) {
  return new Pusher(args.key, {
    cluster: 'local', wsHost: '127.0.0.1', wsPort: PORT, wssPort: PORT, forceTLS: false,
    enabledTransports: ['ws'], disableStats: true,
    channelAuthorization: {
      customHandler: (params, callback) => {
        const id = nextAuthId++;
        pendingAuth.set(id, callback);
        say({ auth: { id, socket_id: params.socketId, channel: channelFor(params.channelName), user } });
      },
    },
  });
}

function connected(client) {
  return until(() => client.connection.state === 'connected' && client.connection.socket_id, 'connection_established');
}

function subscribed(client, name) {
  const channel = client.subscribe(name);
  const result = { ok: false, error: null };
  channel.bind('pusher:subscription_succeeded', () => { result.ok = true; });
  channel.bind('pusher:subscription_error', (e) => { result.error = e; });
  return until(() => result.ok || result.error, 'subscription of ' + name).then(() => {
    if (result.error) throw new Error(name + ' refused: ' + JSON.stringify(result.error));
    return channel;
  });
}

function record(channel, event) {
  const seen = [];
  channel.bind(event, (data) => seen.push(data));
  return seen;
}

/// A raw WebSocket on `path`: resolves with the first frame and the close code.
function rawOpen(path) {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(`ws://127.0.0.1:${PORT}${path}`);
    const result = { frames: [], code: null };
    socket.on('message', (data) => result.frames.push(JSON.parse(data.toString())));
    socket.on('close', (code) => { result.code = code; resolve(result); });
    socket.on('error', reject);
    setTimeout(() => reject(new Error('no close on ' + path)), STEP_MS);
  });
}

async function main() {
  // 1. connect: socket_id N.N; an unknown key is refused 4001, a missing protocol 4008
  const alice = pusherClient('alice');
  const alice2 = pusherClient('alice');
  const bob = pusherClient('bob');
  for (const client of [alice, alice2, bob]) {
    await connected(client);
    check(/^\d+\.\d+$/.test(client.connection.socket_id), 'socket_id N.N: ' + client.connection.socket_id);
  }
  const unknown = await rawOpen('/app/no-such-key?protocol=7&client=js&version=8.4.0');
  check(unknown.code === 4001 && unknown.frames[0].event === 'pusher:error' && unknown.frames[0].data.code === 4001,
    'unknown key: pusher:error 4001 and close 4001, got ' + JSON.stringify(unknown));
  const noProtocol = await rawOpen(`/app/${args.key}`);
  check(noProtocol.code === 4008, 'no protocol: close 4008, got ' + noProtocol.code);

  // 2. public channel
  const news = await subscribed(alice, 'news');
  const newsEvents = record(news, 'App\\Events\\OrderShipped');

  // 3. private channel: signed by the Qt side; a signature for another channel is refused 401
  const aliceChat = await subscribed(alice, 'private-chat');
  const bobChat = await subscribed(bob, 'private-chat');
  const mallory = pusherClient('mallory', () => 'private-other');
  await connected(mallory);
  const refused = await subscribed(mallory, 'private-chat').then(() => null, (e) => e.message);
  check(refused && refused.includes('401'), 'a signature for another channel is refused with 401: ' + refused);
  mallory.disconnect();

  // 4. presence: alice twice (one member), then bob; the native Qt client ("native") is there
  const aliceRoom = await subscribed(alice, 'presence-room');
  const aliceAdded = record(aliceRoom, 'pusher:member_added');
  const aliceRemoved = record(aliceRoom, 'pusher:member_removed');
  await subscribed(alice2, 'presence-room');
  const bobRoom = await subscribed(bob, 'presence-room');
  const bobAdded = record(bobRoom, 'pusher:member_added');
  const bobRemoved = record(bobRoom, 'pusher:member_removed');
  const ids = [];
  bobRoom.members.each((m) => ids.push(String(m.id)));
  check(ids.sort().join(',') === 'alice,bob,native', 'roster alice,bob,native, got ' + ids.join(','));
  check(bobRoom.members.get('alice').info.name === 'Alice', 'user_info from the signed channel_data');
  await until(() => aliceAdded.length === 1, 'member_added bob at alice');
  check(aliceAdded[0].id === 'bob', 'member_added bob, got ' + JSON.stringify(aliceAdded));

  // 5. client events: bob -> alice, never back to bob
  const aliceTyping = record(aliceChat, 'client-typing');
  const bobTyping = record(bobChat, 'client-typing');
  check(bobChat.trigger('client-typing', { x: 1 }), 'trigger returned false');
  await until(() => aliceTyping.length === 1, 'client-typing at alice');
  check(aliceTyping[0].x === 1, 'client event data: ' + JSON.stringify(aliceTyping));

  // 6. the native side publishes: the server on news (Laravel-style event), the Qt Client a
  //    client event on the private channel
  const aliceNative = record(aliceChat, 'client-native');
  const bobNative = record(bobChat, 'client-native');
  say({ step: 'subscribed' });
  await until(() => published, 'the Qt side to publish');
  await until(() => newsEvents.length === 1, 'App\\Events\\OrderShipped on news');
  check(newsEvents[0].id === 7, 'server publication data: ' + JSON.stringify(newsEvents));
  await until(() => aliceNative.length === 1 && bobNative.length === 1, 'the Qt client event at alice and bob');
  check(aliceNative[0].from === 'qt', 'native client event data: ' + JSON.stringify(aliceNative));
  check(bobTyping.length === 0, 'client-typing was echoed to its sender');

  // 7. presence leaves: alice's second connection is not a member_removed; her last one is
  alice2.disconnect();
  await until(() => alice2.connection.state === 'disconnected', 'alice2 disconnected');
  alice.disconnect();
  await until(() => bobRemoved.length === 1, 'member_removed alice at bob');
  check(bobRemoved[0].id === 'alice', 'member_removed alice, got ' + JSON.stringify(bobRemoved));
  check(aliceRemoved.length === 0 && bobAdded.length === 0, 'no member events for a second connection');
  bob.disconnect();
  say({ done: true });
  setTimeout(() => process.exit(0), 50);
}

main().catch((e) => fail(e.stack || String(e)));
