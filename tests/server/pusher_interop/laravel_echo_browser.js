// laravel-echo 2 (with pusher-js 8, its Pusher connector) in headless Chromium against
// switchboard-gateway's Pusher endpoint. Both libraries are loaded into the pages from their
// published browser builds (pusher-js dist/web/pusher.min.js, laravel-echo dist/echo.iife.js),
// pinned by this folder's package-lock.json and installed by `npm ci`; Chromium is driven by
// playwright-core from the same lock file. Every private/presence subscription is signed by this
// script (Node crypto, the app secret) through Echo's `authorizer` option, as a Laravel
// backend's /broadcasting/auth would. A TCP relay sits between the pages and the gateway so the
// test can cut the connections. Checks:
//   1. Echo.channel().listen('OrderShipped') fires for App\Events\OrderShipped published through
//      the native HTTP API (/api/publish, event App%5CEvents%5COrderShipped)
//   2. Echo.private(): a signed subscription receives; a wrong signature reaches .error() with 401
//   3. Echo.join(): here / joining / leaving with alice on two pages (one member) and bob
//   4. whisper / listenForWhisper between two pages, never back to the whisperer
//   5. the relay drops every connection: Echo reconnects, the private channel is authorized
//      again for the new socket id and receives again
//   6. the native browser client (switchboard.js from the wasm-core build, served by the gateway)
//      and Echo on one presence channel: each sees the other join, publish and leave
// Usage: node laravel_echo_browser.js --gateway PATH --chromium PATH --web DIR
//        (NODE_PATH: node_modules; DIR: the browser client's web folder)
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const net = require('node:net');
const path = require('node:path');
const { parseArgs } = require('node:util');

const { values: args } = parseArgs({
  options: { gateway: { type: 'string' }, chromium: { type: 'string' }, web: { type: 'string' } },
});
if (!args.gateway || !args.chromium || !args.web) {
  console.error('FAIL: usage: laravel_echo_browser.js --gateway PATH --chromium PATH --web DIR');
  process.exit(1);
}
const { chromium } = require('playwright-core');

const APP = { id: 'app1', key: 'echo-key', secret: 'echo-secret' };
const API_KEY = crypto.randomBytes(16).toString('hex');
const TOKEN_SECRET = crypto.randomBytes(16).toString('hex');
const STEP_MS = 20000;
const modules = process.env.NODE_PATH.split(path.delimiter)[0];

let checks = 0;
function check(condition, what) {
  if (!condition) throw new Error('check failed: ' + what);
  console.log(`ok ${++checks} - ${what}`);
}

function until(predicate, what) {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + STEP_MS;
    const poll = async () => {
      let value;
      try { value = await predicate(); } catch (e) { return reject(e); }
      if (value) return resolve(value);
      if (Date.now() > deadline) return reject(new Error('timed out waiting for ' + what));
      setTimeout(poll, 20);
    };
    poll();
  });
}

function startGateway() {
  return new Promise((resolve, reject) => {
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', args.gateway, '--port', '0', '--api-key', API_KEY,
      '--io-threads', '1', '--log-level', 'warn', '--pusher-app', `${APP.id}:${APP.key}:${APP.secret}`,
      '--static', args.web, '--token-secret', TOKEN_SECRET],
    { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const timer = setTimeout(() => reject(new Error('gateway did not start: ' + out)), STEP_MS);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on [^\s]*:(\d+)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, port: Number(m[1]) }); }
    });
    child.on('exit', (code) => reject(new Error('gateway exited with ' + code)));
  });
}

/// The pages talk to the relay; dropAll() cuts every connection as a network failure would.
function startRelay(target) {
  const sockets = new Set();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({
    port: server.address().port,
    dropAll: () => { for (const s of sockets) s.destroy(); },
    close: () => { for (const s of sockets) s.destroy(); server.close(); },
  })));
}

async function publish(port, channel, event, data) {
  const response = await fetch(`http://127.0.0.1:${port}/api/publish`, {
    method: 'POST', headers: { 'X-API-Key': API_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify({ channel, event, data }),
  });
  check(response.status === 200, `/api/publish ${channel} ${event}: ${response.status}`);
}

/// What a Laravel backend's /broadcasting/auth answers: the app's signature, and for presence the
/// member (user_id, user_info). `forge` signs with a wrong secret.
const authorizations = [];
function authorize(socketId, channel, user, forge) {
  authorizations.push({ socketId, channel, user });
  let channelData;
  let text = `${socketId}:${channel}`;
  if (channel.startsWith('presence-')) {
    channelData = JSON.stringify({ user_id: user, user_info: { name: user } });
    text += `:${channelData}`;
  }
  const secret = forge ? 'not-the-secret' : APP.secret;
  const auth = `${APP.key}:${crypto.createHmac('sha256', secret).update(text).digest('hex')}`;
  return channelData === undefined ? { auth } : { auth, channel_data: channelData };
}

async function openPage(browser, relayPort, user, { forge = false } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${user}] page error: ${e.message}`));
  await page.exposeFunction('authorizeInNode', (socketId, channel) => authorize(socketId, channel, user, forge));
  await page.addScriptTag({ path: path.join(modules, 'pusher-js/dist/web/pusher.min.js') });
  await page.addScriptTag({ path: path.join(modules, 'laravel-echo/dist/echo.iife.js') });
  await page.evaluate(({ key, port }) => {
    window.seen = [];
    window.note = (kind) => (value) => window.seen.push({ kind, value });
    window.echo = new Echo.default({
      broadcaster: 'pusher', key, cluster: 'local', wsHost: '127.0.0.1', wsPort: port, wssPort: port,
      forceTLS: false, enabledTransports: ['ws'], disableStats: true,
      authorizer: (channel) => ({
        authorize: (socketId, callback) => {
          window.authorizeInNode(socketId, channel.name).then((answer) => callback(null, answer), (e) => callback(e, null));
        },
      }),
    });
  }, { key: APP.key, port: relayPort });
  await until(() => page.evaluate(() => echo.connectionStatus() === 'connected'), `${user} connected`);
  page.seenOf = (kind) => page.evaluate((k) => window.seen.filter((s) => s.kind === k).map((s) => s.value), kind);
  return page;
}

/// A native connection token (HS256) for `sub`, allowed on the native names of `channels`.
function nativeToken(sub, channels) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = b64({ alg: 'HS256', typ: 'JWT' }) + '.' +
    b64({ sub, info: { name: sub }, channels, exp: Math.floor(Date.now() / 1000) + 3600 });
  return body + '.' + crypto.createHmac('sha256', TOKEN_SECRET).update(body).digest('base64url');
}

/// A page at the gateway's origin with the native browser client (switchboard.js loads its
/// .wasm from beside itself) connected as `user`.
async function openNativePage(browser, port, user, channels) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${user}] page error: ${e.message}`));
  page.on('console', (m) => console.error(`[${user} console] ${m.text()}`));
  // A document served by the gateway itself (its health answer), so the page's origin is the
  // gateway's, as for an application's page, and Chromium lets it open sockets to 127.0.0.1.
  const origin = `http://127.0.0.1:${port}`;
  await page.goto(`${origin}/healthz`);
  await page.addScriptTag({ url: `${origin}/switchboard.js` });
  await page.evaluate(({ url, token }) => {
    window.seen = [];
    window.note = (kind) => (value) => window.seen.push({ kind, value });
    window.client = Switchboard.connect(url, { token });
  }, { url: `ws://127.0.0.1:${port}/ws`, token: nativeToken(user, channels) });
  page.seenOf = (kind) => page.evaluate((k) => window.seen.filter((s) => s.kind === k).map((s) => s.value), kind);
  return page;
}

async function main() {
  const gateway = await startGateway();
  const relay = await startRelay(gateway.port);
  const browser = await chromium.launch({
    executablePath: args.chromium, headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const watchdog = setTimeout(() => { console.error('FAIL: overall timeout'); process.exit(1); }, 120000);
  try {
    const alice = await openPage(browser, relay.port, 'alice');
    const alice2 = await openPage(browser, relay.port, 'alice');
    const bob = await openPage(browser, relay.port, 'bob');
    const mallory = await openPage(browser, relay.port, 'mallory', { forge: true });

    // 1. a public channel and a Laravel-style event name published natively
    await alice.evaluate(() => new Promise((resolve) => {
      echo.channel('orders').subscribed(resolve).listen('OrderShipped', note('shipped'));
    }));
    await publish(gateway.port, `pusher/${APP.id}/orders`, 'App%5CEvents%5COrderShipped', { order: { id: 7 } });
    const shipped = await until(() => alice.seenOf('shipped').then((s) => s.length && s), 'OrderShipped');
    check(shipped.length === 1 && shipped[0].order.id === 7, 'Echo.channel().listen(OrderShipped) got {order:{id:7}}');

    // 2. private: signed in Node through the authorizer; a forged signature reaches .error()
    await alice.evaluate(() => new Promise((resolve) => {
      echo.private('orders.7').subscribed(resolve).listen('.status', note('status'));
    }));
    check(authorizations.some((a) => a.user === 'alice' && a.channel === 'private-orders.7'), 'the authorizer was asked for private-orders.7');
    await publish(gateway.port, `private-pusher/${APP.id}/orders.7`, 'status', { state: 'packed' });
    await until(() => alice.seenOf('status').then((s) => s.length === 1), 'status on private-orders.7');
    check((await alice.seenOf('status'))[0].state === 'packed', 'Echo.private().listen(.status) got the native publication');
    const refusal = await mallory.evaluate(() => new Promise((resolve) => {
      echo.private('orders.7').error(resolve).subscribed(() => resolve('subscribed'));
    }));
    check(refusal !== 'subscribed' && refusal.status === 401, `a forged signature reaches .error() with 401: ${JSON.stringify(refusal)}`);

    // 3. presence: alice on two pages is one member; bob joins and leaves; alice leaves last
    const join = (page) => page.evaluate(() => new Promise((resolve) => {
      echo.join('room').here((users) => { note('here')(users.map((u) => u.name).sort()); resolve(); })
        .joining(note('joining')).leaving(note('leaving'));
    }));
    await join(alice);
    check(JSON.stringify((await alice.seenOf('here'))[0]) === '["alice"]', 'here: alice alone');
    await join(bob);
    check(JSON.stringify((await bob.seenOf('here'))[0]) === '["alice","bob"]', 'here at bob: alice, bob');
    await until(() => alice.seenOf('joining').then((s) => s.length === 1), 'joining bob at alice');
    check((await alice.seenOf('joining'))[0].name === 'bob', 'joining: bob');
    await join(alice2);
    check(JSON.stringify((await alice2.seenOf('here'))[0]) === '["alice","bob"]', 'here at alice\'s second page: one alice');
    await alice2.evaluate(() => echo.leave('room'));
    await bob.evaluate(() => echo.leave('room'));
    await until(() => alice.seenOf('leaving').then((s) => s.length === 1), 'leaving bob at alice');
    check((await alice.seenOf('leaving'))[0].name === 'bob', 'leaving: bob');
    check((await bob.seenOf('joining')).length === 0, 'alice\'s second connection was no joining at bob');
    check((await bob.seenOf('leaving')).length === 0, 'bob saw no leaving for alice\'s second page');

    // 4. whisper / listenForWhisper
    for (const page of [alice, bob]) {
      await page.evaluate(() => new Promise((resolve) => {
        echo.private('chat').subscribed(resolve).listenForWhisper('typing', note('typing'));
      }));
    }
    await bob.evaluate(() => echo.private('chat').whisper('typing', { name: 'bob' }));
    await until(() => alice.seenOf('typing').then((s) => s.length === 1), 'whisper at alice');
    check((await alice.seenOf('typing'))[0].name === 'bob', 'listenForWhisper got bob\'s whisper');
    await alice.evaluate(() => echo.private('chat').whisper('typing', { name: 'alice' }));
    await until(() => bob.seenOf('typing').then((s) => s.length === 1), 'whisper at bob');
    check((await bob.seenOf('typing')).length === 1 && (await alice.seenOf('typing')).length === 1, 'whispers are not echoed');

    // 5. reconnect with re-authorization
    const before = await alice.evaluate(() => echo.socketId());
    relay.dropAll();
    const after = await until(() => alice.evaluate((old) => {
      const id = echo.socketId();
      return echo.connectionStatus() === 'connected' && id && id !== old ? id : null;
    }, before), 'alice reconnected with a new socket id');
    await until(() => authorizations.some((a) => a.socketId === after && a.channel === 'private-orders.7'),
      'private-orders.7 authorized again for the new socket id');
    console.log(`# reconnected ${before} -> ${after}, private-orders.7 re-authorized`);
    // The re-subscription is confirmed before the publication (subscription_succeeded again).
    await until(() => alice.evaluate(() => echo.connector.pusher.channel('private-orders.7').subscribed), 'resubscribed');
    await publish(gateway.port, `private-pusher/${APP.id}/orders.7`, 'status', { state: 'shipped' });
    await until(() => alice.seenOf('status').then((s) => s.length === 2), 'status after the reconnect');
    check((await alice.seenOf('status'))[1].state === 'shipped', 'the private channel receives after the reconnect');

    // 6. a native browser client and Echo on one presence channel
    const room = `presence-pusher/${APP.id}/lounge`;
    const carol = await openNativePage(browser, gateway.port, 'carol', [room]);
    await carol.evaluate((name) => new Promise((resolve, reject) => {
      const ch = client.subscribe(name);
      ch.on('presence:join', (m) => note('join')(m.id));
      ch.on('presence:leave', (m) => note('leave')(m.id));
      ch.on('greeting', (data) => note('greeting')(data));
      ch.on('client-typing', (data, message) => note('typing')({ data, sender: message.sender }));
      ch.on('subscription:state', (s) => { if (s.subscribed) resolve(); else if (s.error) reject(new Error(JSON.stringify(s))); });
    }), room);
    await bob.evaluate(() => new Promise((resolve) => {
      echo.join('lounge').here((users) => { note('lounge-here')(users.map((u) => u.name).sort()); resolve(); })
        .joining(note('lounge-joining')).leaving(note('lounge-leaving'))
        .listen('.greeting', note('lounge-greeting'));
    }));
    check(JSON.stringify((await bob.seenOf('lounge-here'))[0]) === '["bob","carol"]',
          'Echo here() lists the native member carol with bob');
    await until(() => carol.seenOf('join').then((j) => j.includes('bob')), 'bob joining at the native client');
    check(true, 'the native client sees the Echo member bob join');
    await carol.evaluate((name) => client.publish(name, 'greeting', { text: 'hi from carol' }), room);
    await until(() => bob.seenOf('lounge-greeting').then((g) => g.length === 1), 'the native greeting at Echo');
    check((await bob.seenOf('lounge-greeting'))[0].text === 'hi from carol', 'Echo .listen(.greeting) got the native publication');
    await bob.evaluate(() => echo.join('lounge').whisper('typing', { who: 'bob' }));
    await until(() => carol.seenOf('typing').then((t) => t.length === 1), 'bob\'s whisper at the native client');
    const typing = (await carol.seenOf('typing'))[0];
    check(typing.data.who === 'bob' && /^\d+\.\d+$/.test(typing.sender),
          `the native client got Echo's whisper as client-typing from socket ${typing.sender}`);
    await carol.evaluate(() => client.close());
    await until(() => bob.seenOf('lounge-leaving').then((l) => l.length === 1), 'carol leaving at Echo');
    check((await bob.seenOf('lounge-leaving'))[0].name === 'carol', 'Echo leaving() fires for the native member carol');
    await bob.evaluate(() => echo.leave('lounge'));
  } finally {
    clearTimeout(watchdog);
    await browser.close().catch(() => {});
    relay.close();
    gateway.child.kill('SIGKILL');
  }
  console.log(`PASS: ${checks} checks`);
}

main().catch((e) => { console.error('FAIL: ' + (e.stack || e)); process.exit(1); });
