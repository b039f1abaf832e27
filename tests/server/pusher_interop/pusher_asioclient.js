// The pusher-js side of server_tst_pusherasioclient: switchboard::AsioClient (the native C++
// client, in the QtTest) and the real pusher-js 8 client (pinned by package-lock.json) on the
// same channels of switchboard-gateway. The test starts the gateway and this script, and the two
// take turns over stdio:
//
// stdout (JSON lines), then what the test does    stdin (JSON lines), then what this script checks
//   {"step":"ready","socket_id":..}: AsioClient      {"go":"published"}: the three publications
//     publishes on news (2) and private-chat           arrived with the documented data
//   {"step":"triggered"}: AsioClient got alice's     {"go":"joined"}: member_added "native" with
//     client-typing; HTTP /api/publish on chat;        the token's info, and the HTTP publication
//     AsioClient joins presence-room
//   {"step":"saw_native"}, then bob joins
//   {"step":"bob_joined"}: AsioClient saw bob,       {"go":"leave"}: member_removed "native"
//     unsubscribes
//   {"done":true}: every check passed (progress lines "ok N" go to stderr)
// Usage: node pusher_asioclient.js --port P --key K --secret S
'use strict';

const crypto = require('node:crypto');
const readline = require('node:readline');
const { parseArgs } = require('node:util');
const Pusher = require('pusher-js');

const { values: args } = parseArgs({
  options: { port: { type: 'string' }, key: { type: 'string' }, secret: { type: 'string' } },
});
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

const fromTest = [];
readline.createInterface({ input: process.stdin }).on('line', (line) => fromTest.push(JSON.parse(line)));

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
const go = (what) => until(() => fromTest.find((m) => m.go === what), `the test's "${what}"`);

/// A pusher-js client that signs its own subscriptions with the app secret, as user `user`.
function pusherClient(user) {
  return new Pusher(args.key, {
    cluster: 'local', wsHost: '127.0.0.1', wsPort: PORT, wssPort: PORT, forceTLS: false,
    enabledTransports: ['ws'], disableStats: true,
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, callback) => {
        const channelData = channelName.startsWith('presence-')
          ? JSON.stringify({ user_id: user, user_info: { name: user } }) : undefined;
        const text = [socketId, channelName, channelData].filter((p) => p !== undefined).join(':');
        const auth = `${args.key}:${crypto.createHmac('sha256', args.secret).update(text).digest('hex')}`;
        callback(null, channelData ? { auth, channel_data: channelData } : { auth });
      },
    },
  });
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

(async () => {
  const alice = pusherClient('alice');
  await until(() => alice.connection.state === 'connected' && alice.connection.socket_id, 'alice to connect');
  const news = await subscribed(alice, 'news');
  const chat = await subscribed(alice, 'private-chat');
  const room = await subscribed(alice, 'presence-room');
  const got = [];
  news.bind('App\\Events\\OrderShipped', (data, metadata) => got.push({ event: 'shipped', data, metadata }));
  news.bind('headline', (data) => got.push({ event: 'headline', data }));
  chat.bind('client-native', (data, metadata) => got.push({ event: 'client-native', data, metadata }));
  chat.bind('note', (data) => got.push({ event: 'note', data }));
  const added = [];
  const removed = [];
  room.bind('pusher:member_added', (m) => added.push(m));
  room.bind('pusher:member_removed', (m) => removed.push(m));
  say({ step: 'ready', socket_id: alice.connection.socket_id });

  // The AsioClient's publishes, with the data mapping of docs/pusher.md.
  await go('published');
  await until(() => got.length >= 3, 'the AsioClient\'s three publications');
  const shipped = got.find((g) => g.event === 'shipped');
  check(shipped && shipped.data.order === 7 && shipped.data.items.join() === 'a,b',
    'App%5CEvents%5COrderShipped arrives as App\\Events\\OrderShipped with its object: ' + JSON.stringify(shipped));
  const headline = got.find((g) => g.event === 'headline');
  check(headline && headline.data === 'hello', 'a JSON string arrives as that string: ' + JSON.stringify(headline));
  const native = got.find((g) => g.event === 'client-native');
  check(native && native.data.from === 'asio' && (!native.metadata || native.metadata.user_id === undefined),
    'the AsioClient\'s publication on private-chat: ' + JSON.stringify(native));
  console.error('ok 1 AsioClient publications reach pusher-js');

  check(chat.trigger('client-typing', { x: 1 }), 'alice triggers client-typing');
  say({ step: 'triggered' });
  await until(() => got.find((g) => g.event === 'note'), 'the HTTP API publication on private-chat');
  check(got.find((g) => g.event === 'note').data.via === 'http', 'HTTP API data');
  await go('joined');
  await until(() => added.find((m) => m.id === 'native'), 'member_added for the AsioClient\'s user');
  check(added.find((m) => m.id === 'native').info.name === 'Native C++', 'its info is the token\'s: ' + JSON.stringify(added));
  check(room.members.count === 2, 'alice counts 2 members: ' + room.members.count);
  say({ step: 'saw_native' });
  console.error('ok 2 the AsioClient is a presence member for pusher-js');

  const bob = pusherClient('bob');
  await until(() => bob.connection.state === 'connected', 'bob to connect');
  const bobRoom = await subscribed(bob, 'presence-room');
  check(bobRoom.members.count === 3 && bobRoom.members.get('native') && bobRoom.members.get('alice'),
    'bob\'s roster has alice, native and bob: ' + bobRoom.members.count);
  say({ step: 'bob_joined' });
  await go('leave');
  await until(() => removed.find((m) => m.id === 'native'), 'member_removed when the AsioClient leaves');
  console.error('ok 3 pusher-js is a presence member for the AsioClient, and it leaves');

  alice.disconnect();
  bob.disconnect();
  say({ done: true });
  process.exit(0);
})().catch((e) => fail(e.stack || String(e)));
