// Pusher webhooks of switchboard-gateway (--pusher-webhook ID=URL) received by
// tests/server/webhook_backend.py (served by backend_server.py), driven by pusher-js 8.4.0
// clients (pinned by package-lock.json). Checks, against a gateway started on port 0:
//   1. every request is {"time_ms":N,"events":[...]} with X-Pusher-Key and X-Pusher-Signature =
//      hex HMAC-SHA256(app secret, raw body)
//   2. channel_occupied / channel_vacated under Pusher names (public, presence)
//   3. member_added / member_removed once per user (two connections of one user: one member)
//   4. client_event with channel, event, data as sent, socket_id, and user_id on presence channels
//   5. an app without --pusher-webhook sends nothing there; no native-format events
//   0. --pusher-webhook refusals (unknown app id, no URL, not http[s]): exit 2
// Usage: node pusher_webhooks.js --gateway PATH --backend webhook_backend.py   (NODE_PATH as above)
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const readline = require('node:readline');
const { parseArgs } = require('node:util');
const PusherClient = require('pusher-js');

const { values: args } = parseArgs({ options: { gateway: { type: 'string' }, backend: { type: 'string' } } });
const APP = { id: 'hooked', key: 'hook-key', secret: 'hook-secret' };
const QUIET = { id: 'quiet', key: 'quiet-key', secret: 'quiet-secret' };
const STEP_MS = 10000;

function fail(message) {
  console.error('FAIL: ' + message);
  process.exit(1);
}
function check(condition, message) {
  if (!condition) fail(message);
}

/// Starts `program` (killed with this script) and resolves with {child, match} once a stdout
/// line matches `pattern`; `onLine` then gets every later line.
function start(program, argv, pattern, onLine = () => {}) {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', program, ...argv], { stdio: ['ignore', 'pipe', 'inherit'] });
    const timer = setTimeout(() => reject(new Error(program + ' did not start')), STEP_MS);
    let started = false;
    readline.createInterface({ input: child.stdout }).on('line', (line) => {
      const m = pattern.exec(line);
      if (!started && m) {
        started = true;
        clearTimeout(timer);
        resolve({ child, match: m });
      } else if (started) {
        onLine(line);
      }
    });
    child.on('exit', (code) => { if (!started) reject(new Error(program + ' exited with ' + code)); });
  });
}

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

function pusherClient(port, app, user) {
  return new PusherClient(app.key, {
    cluster: 'local', wsHost: '127.0.0.1', wsPort: port, forceTLS: false,
    enabledTransports: ['ws'], disableStats: true,
    channelAuthorization: {
      customHandler: ({ socketId, channelName }, callback) => {
        const channelData = channelName.startsWith('presence-')
          ? JSON.stringify({ user_id: user, user_info: { name: user } }) : undefined;
        const text = channelData === undefined ? `${socketId}:${channelName}` : `${socketId}:${channelName}:${channelData}`;
        const auth = `${app.key}:${crypto.createHmac('sha256', app.secret).update(text).digest('hex')}`;
        callback(null, channelData === undefined ? { auth } : { auth, channel_data: channelData });
      },
    },
  });
}

async function connected(client) {
  await until(() => client.connection.state === 'connected', 'pusher-js to connect');
  return client;
}

async function subscribed(client, name) {
  const channel = client.subscribe(name);
  let ok = false;
  channel.bind('pusher:subscription_succeeded', () => { ok = true; });
  await until(() => ok, `subscription to ${name}`);
  return channel;
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
  if (!args.gateway || !args.backend) fail('usage: node pusher_webhooks.js --gateway PATH --backend webhook_backend.py');
  // 0. --pusher-webhook refusals: exit 2 naming the flag.
  for (const flags of [['--pusher-app', 'a:k:s', '--pusher-webhook', 'b=http://127.0.0.1:1/x'],
    ['--pusher-app', 'a:k:s', '--pusher-webhook', 'a'], ['--pusher-app', 'a:k:s', '--pusher-webhook', 'a=ftp://x/y']]) {
    const r = await refusedFlags(flags);
    check(r.code === 2 && r.err.includes('--pusher-webhook'), `flags ${flags.join(' ')}: exit ${r.code}, ${r.err}`);
  }
  console.log('ok 0 --pusher-webhook refusals');
  const requests = []; // {headers, body (raw string)}
  const backend = await start('python3', [args.backend, '--port', '0'], /^port (\d+)$/, (line) => {
    const r = JSON.parse(line);
    requests.push({ path: r.path, headers: r.headers, body: Buffer.from(r.body, 'base64').toString('utf8') });
  });
  const hookUrl = `http://127.0.0.1:${backend.match[1]}/pusher`;
  const gw = await start(args.gateway, ['--port', '0', '--io-threads', '2', '--log-level', 'warn',
    '--pusher-app', `${APP.id}:${APP.key}:${APP.secret}`, '--pusher-app', `${QUIET.id}:${QUIET.key}:${QUIET.secret}`,
    '--pusher-webhook', `${APP.id}=${hookUrl}`, '--webhook-flush-interval', '10'], /listening on [^\s]*:(\d+)/);
  const port = Number(gw.match[1]);

  // Every request checked as it is read: the headers, the signature, the body's shape.
  const events = () => {
    const out = [];
    for (const r of requests) {
      check(r.path === '/pusher', 'path ' + r.path);
      check(r.headers['x-pusher-key'] === APP.key, 'X-Pusher-Key: ' + r.headers['x-pusher-key']);
      const expected = crypto.createHmac('sha256', APP.secret).update(r.body).digest('hex');
      check(r.headers['x-pusher-signature'] === expected, `X-Pusher-Signature ${r.headers['x-pusher-signature']}, expected ${expected}`);
      check(r.headers['x-switchboard-signature'] === undefined, 'a native signature header on a Pusher webhook');
      const body = JSON.parse(r.body);
      check(Number.isInteger(body.time_ms) && Math.abs(body.time_ms - Date.now()) < 60000 && Array.isArray(body.events),
        'body ' + r.body);
      out.push(...body.events);
    }
    return out;
  };
  const has = (wanted) => events().filter((e) => Object.keys(wanted).every((k) => e[k] === wanted[k]));

  // 2 and 3: occupancy and presence.
  const alice1 = await connected(pusherClient(port, APP, 'alice'));
  const alice2 = await connected(pusherClient(port, APP, 'alice'));
  const bob = await connected(pusherClient(port, APP, 'bob'));
  await subscribed(alice1, 'presence-room');
  await until(() => has({ name: 'channel_occupied', channel: 'presence-room' }).length === 1, 'channel_occupied presence-room');
  await subscribed(alice2, 'presence-room');
  await subscribed(bob, 'presence-room');
  await until(() => has({ name: 'member_added', user_id: 'bob' }).length === 1, 'member_added bob');
  check(has({ name: 'member_added', channel: 'presence-room', user_id: 'alice' }).length === 1, 'member_added alice once');
  const order = events().map((e) => e.name + ':' + (e.user_id || e.channel));
  check(order.indexOf('member_added:alice') < order.indexOf('channel_occupied:presence-room'), 'member_added before channel_occupied: ' + order);
  await subscribed(bob, 'news');
  await until(() => has({ name: 'channel_occupied', channel: 'news' }).length === 1, 'channel_occupied news');
  console.log('ok 1-3 signed batches, channel_occupied, member_added once per user');

  // 4. client events.
  const aliceChat = await subscribed(alice1, 'private-chat');
  await subscribed(bob, 'private-chat');
  aliceChat.trigger('client-typing', { who: 'alice', text: 'caf\u00e9 "q"' });
  alice1.channel('presence-room').trigger('client-wave', 'hello \u00e9');
  const typing = await until(() => has({ name: 'client_event', event: 'client-typing' })[0], 'client_event on private-chat');
  check(typing.channel === 'private-chat' && typing.socket_id === alice1.connection.socket_id && typing.user_id === undefined,
    'client_event: ' + JSON.stringify(typing));
  check(JSON.stringify(JSON.parse(typing.data)) === JSON.stringify({ who: 'alice', text: 'caf\u00e9 "q"' }), 'client_event data ' + typing.data);
  const wave = await until(() => has({ name: 'client_event', event: 'client-wave' })[0], 'client_event on presence-room');
  check(wave.channel === 'presence-room' && wave.data === 'hello \u00e9' && wave.user_id === 'alice', 'presence client_event: ' + JSON.stringify(wave));
  console.log('ok 4 client_event');

  // 3 (leaving): alice's first connection leaving is no member_removed; her last is. Events go
  // out in order, so once bob's leave is seen, a member_removed of alice1's leave would be too.
  alice1.disconnect();
  bob.disconnect();
  await until(() => has({ name: 'member_removed', user_id: 'bob' }).length === 1, 'member_removed bob');
  await until(() => has({ name: 'channel_vacated', channel: 'news' }).length === 1, 'channel_vacated news');
  await until(() => has({ name: 'channel_vacated', channel: 'private-chat' }).length === 1, 'channel_vacated private-chat');
  check(has({ name: 'member_removed', user_id: 'alice' }).length === 0, 'member_removed alice while her second connection stays');
  alice2.disconnect();
  await until(() => has({ name: 'member_removed', user_id: 'alice' }).length === 1, 'member_removed alice');
  await until(() => has({ name: 'channel_vacated', channel: 'presence-room' }).length === 1, 'channel_vacated presence-room');
  console.log('ok 3 member_removed once per user, channel_vacated');

  // 5. the other app has no webhook; nothing native-shaped arrives.
  const quiet = await connected(pusherClient(port, QUIET, 'q'));
  await subscribed(quiet, 'presence-quiet');
  const marker = await connected(pusherClient(port, APP, 'm'));
  await subscribed(marker, 'marker');
  await until(() => has({ name: 'channel_occupied', channel: 'marker' }).length === 1, 'marker occupied');
  check(events().every((e) => !String(e.channel).includes('quiet') && e.user === undefined && e.session === undefined),
    'events of another app or in the native format: ' + JSON.stringify(events()));
  const names = new Set(events().map((e) => e.name));
  check([...names].every((n) => ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event'].includes(n)),
    'event names ' + [...names]);
  console.log('ok 5 only this app, only Pusher events');

  quiet.disconnect();
  marker.disconnect();
  gw.child.kill('SIGTERM');
  backend.child.kill('SIGKILL');
  console.log('PASS');
  process.exit(0);
})().catch((e) => fail(e.stack || String(e)));
