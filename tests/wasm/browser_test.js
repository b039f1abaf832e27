#!/usr/bin/env node
// End-to-end test of the browser client in headless Chromium (ctest label `wasm`).
//
// Starts switchboard-gateway (port 0) serving the web folder, puts a small TCP relay in front of
// it so the page keeps one address across gateway restarts, and drives two Chromium instances
// (each its own browser context and fresh user data dir) through playwright-core:
//   1. both pages connect and join one presence channel; each sees the other in the roster;
//      ping() measures a round trip and the page's header shows one
//   2. a message published from one page's publish box arrives in the other page
//   3. a publish through the gateway's HTTP API appears in both pages
//   4. request() to a topic without handler rejects with the gateway's error
//   5. the gateway is stopped and restarted with --history-snapshot while the pages are cut off;
//      messages published before the stop and after the new start (before the pages can be
//      back) are recovered once each, in order, with recovered true; presence is rejoined and
//      publishing works again
//   6. the network drops (relay cuts every connection) while the HTTP API publishes: the pages
//      reconnect and recover what was published meanwhile, once each and in order
//   then a client with an asynchronous tokenProvider joins presence, and close() rejects what
//   is pending with 499 and removes its member; ping() after close rejects with 499; a client
//   whose tokens live 3 s refreshes them in place (one connection, several tokens)
//   then a subscribe with {latest: true} gets the channel's newest publication at once
//   7. closing one browser removes its member from the other page's roster (leave event)
// The page itself: one identity (the token's user, whatever the Name field said), a round trip
// that is measured again every 2 s with its age shown, a refused join that shows the error and
// disables publishing, and a 390 px wide layout without horizontal scrolling.
// Screenshots are saved to $SWITCHBOARD_TEST_ARTIFACTS/browser-client.png and
// browser-client-390.png (390x844, a phone).
//
// Usage: node browser_test.js --gateway PATH --web DIR [--chromium PATH]
'use strict';

const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const net = require('net');
const os = require('os');
const path = require('path');
const { parseArgs } = require('util');

const { values: args } = parseArgs({
  options: {
    gateway: { type: 'string' },
    web: { type: 'string' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
  },
});
if (!args.gateway || !args.web) {
  console.error('usage: browser_test.js --gateway PATH --web DIR [--chromium PATH]');
  process.exit(2);
}
for (const f of ['index.html', 'switchboard.js', 'switchboard.wasm']) {
  if (!fs.existsSync(path.join(args.web, f))) {
    console.error(`FAIL: ${path.join(args.web, f)} is missing: build the browser client first ` +
                  '(cmake --preset wasm-core && cmake --build --preset wasm-core)');
    process.exit(1);
  }
}

const { chromium } = require('playwright-core');

const TOTAL_TIMEOUT_MS = 150000;
const STEP_TIMEOUT_MS = 20000;
const API_KEY = crypto.randomBytes(16).toString('hex');
const TOKEN_SECRET = crypto.randomBytes(32).toString('hex');
const CHANNEL = 'presence-lobby';
const artifactsDir = process.env.SWITCHBOARD_TEST_ARTIFACTS || path.join(os.tmpdir(), 'switchboard-test-artifacts');

let checks = 0;
function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
  ++checks;
  console.log('ok ' + checks + ' - ' + what);
}

// A connection token for the gateway: HS256 JWT with the claims TokenVerifier reads.
function token(sub, name, lifetimeSeconds = 3600) {
  const b64 = (o) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = b64({ alg: 'HS256', typ: 'JWT' }) + '.' +
    b64({ sub, info: { name }, channels: [CHANNEL], exp: Math.floor(Date.now() / 1000) + lifetimeSeconds });
  return body + '.' + crypto.createHmac('sha256', TOKEN_SECRET).update(body).digest('base64url');
}

// ---------------------------------------------------------------------------------------------
// Gateway process

const gateways = new Set();

function startGateway(extraArgs = []) {
  return new Promise((resolve, reject) => {
    // setpriv (util-linux) asks the kernel to SIGKILL the gateway when this script dies, even by
    // SIGKILL at ctest's timeout, then execs it: no gateway outlives the test.
    const child = spawn('setpriv', ['--pdeathsig', 'KILL', '--', args.gateway,
      '--listen', '127.0.0.1', '--port', '0', '--static', args.web,
      '--api-key', API_KEY, '--token-secret', TOKEN_SECRET,
      '--drain-timeout', '500', '--io-threads', '1', '--log-level', 'warn',
      ...extraArgs,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    gateways.add(child);
    let out = '';
    const timer = setTimeout(() => reject(new Error('gateway did not print its port; output: ' + out)), STEP_TIMEOUT_MS);
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const m = /listening on [^\s]*:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, port: Number(m[1]) });
      }
    });
    child.stderr.on('data', (chunk) => process.stderr.write('[gateway] ' + chunk));
    child.on('exit', (code, signal) => {
      gateways.delete(child);
      clearTimeout(timer);
      reject(new Error(`gateway exited early (code ${code}, signal ${signal}); output: ${out}`));
    });
  });
}

function stopGateway(gw) {
  return new Promise((resolve) => {
    if (gw.child.exitCode !== null) return resolve(gw.child.exitCode);
    const kill = setTimeout(() => gw.child.kill('SIGKILL'), 10000);
    gw.child.removeAllListeners('exit');
    gw.child.on('exit', (code) => { clearTimeout(kill); gateways.delete(gw.child); resolve(code); });
    gw.child.kill('SIGTERM');
  });
}

async function httpPublish(port, body) {
  const res = await fetch(`http://127.0.0.1:${port}/api/publish`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`HTTP publish failed: ${res.status} ${text}`);
  return JSON.parse(text);
}

// ---------------------------------------------------------------------------------------------
// A TCP relay: the pages talk to it, it talks to whichever gateway runs. While `held`, new
// connections are refused (closed at once), as if nothing listened.

function startRelay() {
  const sockets = new Set();
  const relay = { target: 0, held: false, port: 0 };
  const server = net.createServer((client) => {
    if (relay.held || !relay.target) { client.destroy(); return; }
    const upstream = net.connect(relay.target, '127.0.0.1');
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => { client.destroy(); upstream.destroy(); });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  relay.dropAll = () => { for (const s of sockets) s.destroy(); };
  relay.close = () => { for (const s of sockets) s.destroy(); return new Promise((r) => server.close(r)); };
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    relay.port = server.address().port;
    resolve(relay);
  }));
}

// ---------------------------------------------------------------------------------------------
// Browser

const browsers = [];
const tempDirs = [];

async function openPage(relayPort, user, name) {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-chromium-'));
  tempDirs.push(userDataDir);
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: args.chromium,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
           '--disable-component-update', '--disable-sync'],
    viewport: { width: 1100, height: 720 },
  });
  browsers.push(context);
  const page = context.pages()[0] || await context.newPage();
  page.on('pageerror', (e) => console.error(`[${user} page error] ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') console.error(`[${user} console] ${m.text()}`); });
  // What the page load fetched: name, status, encoding, cache policy.
  const loads = [];
  page.on('response', async (r) => {
    const h = await r.allHeaders().catch(() => ({}));
    loads.push({ name: new URL(r.url()).pathname.slice(1) || '/', status: r.status(), encoding: h['content-encoding'] || '',
                 cache: h['cache-control'] || '' });
  });
  // The Name field is preset to something else than the token's user: the token must win.
  const query = new URLSearchParams({ channel: CHANNEL, user: 'typed-' + user, token: token(user, name) });
  await page.goto(`http://127.0.0.1:${relayPort}/?${query}`, { timeout: STEP_TIMEOUT_MS });
  return { page, context, user, loads };
}

const waitFor = (page, fn, arg, what) =>
  page.waitForFunction(fn, arg, { timeout: STEP_TIMEOUT_MS, polling: 50 })
    .catch((e) => { throw new Error(`timed out waiting for ${what}: ${e.message.split('\n')[0]}`); });

const stateIs = (page, state) =>
  waitFor(page, (s) => document.querySelector('#state').dataset.state === s, state, `state ${state}`);

const rosterIs = (page, ids) =>
  waitFor(page, (want) => [...document.querySelectorAll('#roster li')].map((li) => li.dataset.id).sort().join(',') === want,
          ids.slice().sort().join(','), `roster ${ids}`);

const messageShown = (page, text) =>
  waitFor(page, (t) => [...document.querySelectorAll('#messages li .text')].some((el) => el.textContent === t),
          text, `message "${text}"`);

// ---------------------------------------------------------------------------------------------

// The texts of the page's message list that start with `prefix`, in display order.
const shownTexts = (page, prefix) => page.evaluate((p) =>
  [...document.querySelectorAll('#messages li .text')].map((el) => el.textContent).filter((t) => t.startsWith(p)), prefix);

async function run() {
  fs.mkdirSync(artifactsDir, { recursive: true });
  // History survives the restart of step 5 through this snapshot file.
  const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'switchboard-gateway-'));
  tempDirs.push(stateDir);
  const snapshotArgs = ['--history-snapshot', path.join(stateDir, 'history.json')];
  let gateway = await startGateway(snapshotArgs);
  const relay = await startRelay();
  relay.target = gateway.port;

  // 1. Two browsers join one presence channel and see each other.
  const alice = await openPage(relay.port, 'alice', 'Alice');
  const bob = await openPage(relay.port, 'bob', 'Bob');
  await stateIs(alice.page, 'connected');
  await stateIs(bob.page, 'connected');
  check(true, 'both pages connected through the gateway');
  // Figures for docs/benchmarks.md (cold cache): the page's User Timing marks.
  const timing = await alice.page.evaluate(() => {
    const at = (name) => Math.round((performance.getEntriesByName(name)[0] || { startTime: -1 }).startTime);
    return { dcl: Math.round(performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd),
             ready: at('switchboard-ready'), connected: at('switchboard-connected') };
  });
  console.log(`# page timing (alice): DOMContentLoaded ${timing.dcl} ms, wasm ready ${timing.ready} ms, ` +
              `connected ${timing.connected} ms after navigation start`);
  await rosterIs(alice.page, ['alice', 'bob']);
  await rosterIs(bob.page, ['alice', 'bob']);
  check(true, 'each page sees both members in the presence roster');

  // The page loads content-hashed, precompressed files, cached for a year; index.html revalidates.
  const hashed = (re) => alice.loads.find((l) => re.test(l.name)) || {};
  const wasm = hashed(/^switchboard\.[0-9a-f]{8}\.wasm$/), js = hashed(/^switchboard\.[0-9a-f]{8}\.js$/);
  const index = hashed(/^\/$/);
  check(wasm.status === 200 && /^(gzip|br)$/.test(wasm.encoding) && /immutable/.test(wasm.cache) &&
        js.status === 200 && /^(gzip|br)$/.test(js.encoding) && /immutable/.test(js.cache) && index.cache === 'no-cache',
        'the page loads hashed, compressed, immutable assets (' + JSON.stringify(alice.loads.filter((l) => l.name !== 'ws')) + ')');

  // Round trip: ping() resolves with fractional milliseconds on performance.now(), and
  // roundTripTime keeps the figure; the page measures on connect and shows it in its header.
  const rtt = await alice.page.evaluate(() => window.switchboardClient.ping({ timeout: 5000 })
    .then((ms) => ({ ms, last: window.switchboardClient.roundTripTime })));
  console.log(`# round trip (alice, loopback through the relay): ${rtt.ms.toFixed(3)} ms`);
  check(typeof rtt.ms === 'number' && Number.isFinite(rtt.ms) && rtt.ms > 0 && rtt.ms < 1000,
        'ping() resolves with a round trip in ms: ' + rtt.ms);
  check(rtt.last === rtt.ms, 'roundTripTime holds the last measured round trip: ' + rtt.last);
  // Timed on performance.now() (100 us steps or finer), not whole milliseconds: among a few
  // round trips at least one has a fraction.
  const samples = await alice.page.evaluate(async () => {
    const out = [];
    for (let i = 0; i < 8; ++i) out.push(await window.switchboardClient.ping());
    return out;
  });
  check(samples.some((ms) => ms !== Math.floor(ms)), 'round trips have sub-millisecond resolution: ' + samples.join(', '));
  await waitFor(alice.page, () => /round trip \d+(\.\d+)? ms/.test(document.querySelector('#rtt').textContent),
                undefined, 'round trip in the header');
  const shownRtt = Number(await alice.page.evaluate(() => document.querySelector('#rtt').dataset.ms));
  check(Number.isFinite(shownRtt) && shownRtt > 0 && shownRtt < 1000,
        'the page header shows a round trip: ' + await alice.page.textContent('#rtt'));
  // The round trip is measured again (every 2 s while visible), and its age is shown.
  const firstAt = Number(await alice.page.evaluate(() => document.querySelector('#rtt').dataset.at));
  check(firstAt > 0, 'the round trip shown has a measurement time');
  await waitFor(alice.page, (t) => Number(document.querySelector('#rtt').dataset.at) > t, firstAt, 'a fresh round trip');
  const rttAge = await alice.page.textContent('#rtt-age');
  check(/^· (now|\d+ s ago)$/.test(rttAge.trim()), 'the header shows a refreshed round trip and its age: ' +
        await alice.page.textContent('#rtt') + ' ' + rttAge.trim());

  // One identity: the token's user, not what the Name field was preset to.
  const shownIdentity = await alice.page.evaluate(() => ({
    field: document.querySelector('#user').value, readOnly: document.querySelector('#user').readOnly,
    self: [...document.querySelectorAll('#roster li.self')].map((li) => li.dataset.id + ':' + li.textContent),
    note: document.querySelector('#identity').textContent }));
  check(shownIdentity.field === 'Alice' && shownIdentity.readOnly && JSON.stringify(shownIdentity.self) === '["alice:Alice (you)"]'
        && /Alice/.test(shownIdentity.note) && !/typed-/.test(shownIdentity.note),
        "with a token the page shows one identity, the token's (" + JSON.stringify(shownIdentity) + ')');

  await alice.page.evaluate(() => {
    const ch = window.switchboardClient.channel('presence-lobby');
    window.presenceLog = [];
    ch.on('presence:join', (m) => window.presenceLog.push('join:' + m.id));
    ch.on('presence:leave', (m) => window.presenceLog.push('leave:' + m.id));
  });
  // Each page records the `recovered` flag of every (re)subscribe to the channel, so a step can
  // check the resubscribe it caused, not an earlier one.
  for (const page of [alice.page, bob.page]) {
    await page.evaluate((c) => {
      window.resubscribes = [];
      window.switchboardClient.channel(c).on('subscription:state', (s) => {
        if (s.subscribed) window.resubscribes.push(s.recovered);
      });
    }, CHANNEL);
  }
  const resubscribesOf = (page) => page.evaluate(() => window.resubscribes.splice(0));

  // 2. A publish from one page arrives in the other.
  await alice.page.fill('#data', 'hello from alice');
  await alice.page.click('#publish-form button');
  await messageShown(bob.page, 'hello from alice');
  check(true, "alice's publish arrives in bob's page");
  const author = await bob.page.evaluate(() => [...document.querySelectorAll('#messages li')]
    .filter((li) => li.querySelector('.text').textContent === 'hello from alice').map((li) => li.querySelector('.meta').textContent)[0]);
  check(/· Alice$/.test(author), "the message carries the token's name as its author: " + author);
  await waitFor(alice.page, () => /stored at offset \d+/.test(document.querySelector('#publish-status').textContent),
                undefined, 'publish acknowledgement');
  check(true, 'the publish promise resolved with the stored offset');

  // 3. An HTTP publish appears in both pages.
  const httpResult = await httpPublish(gateway.port, { channel: CHANNEL, event: 'announcement', data: { text: 'from the HTTP API' } });
  check(httpResult !== null, 'HTTP publish accepted: ' + JSON.stringify(httpResult));
  await messageShown(alice.page, 'from the HTTP API');
  await messageShown(bob.page, 'from the HTTP API');
  check(true, 'the HTTP publish appears in both pages');

  // 4. request() rejects with the gateway's error when no handler serves the topic.
  const requestOutcome = await alice.page.evaluate(() =>
    window.switchboardClient.request('no/such/handler', { q: 1 }, { timeout: 5000 })
      .then((v) => 'resolved:' + JSON.stringify(v), (e) => 'rejected:' + e.code));
  check(/^rejected:\d+$/.test(requestOutcome) && requestOutcome !== 'rejected:408',
        'request to a topic without handler rejects with an error reply (' + requestOutcome + ')');

  // The JavaScript API on its own: subscribe, and an HTTP publish on that channel arrives.
  await alice.page.evaluate(() => new Promise((resolve) => {
    window.newsLog = [];
    const ch = window.switchboardClient.subscribe('news');
    ch.on('headline', (data) => window.newsLog.push(data.text));
    ch.on('subscription:state', (s) => { if (s.subscribed) resolve(); });
  }));
  await httpPublish(gateway.port, { channel: 'news', event: 'headline', data: { text: 'extra' } });
  await waitFor(alice.page, () => window.newsLog.includes('extra'), undefined, 'news headline');
  check(true, 'a channel subscribed through the JavaScript API receives its events');

  // Replies between clients: bob answers with message.reply(); alice's publish with wantReply
  // resolves with bob's reply, her waitFor() sees the question go by, and what nobody answers
  // rejects with 408.
  const subscribeQuestions = (page, answer) => page.evaluate((answer) => new Promise((resolve) => {
    const ch = window.switchboardClient.subscribe('questions');
    if (answer) {
      ch.on('ask', (data, message) => {
        if (message.reply) message.reply({ answer: data.n * 2 }).then(() => { window.replyAcked = true; });
      });
    }
    let done = false;
    ch.on('subscription:state', (st) => { if (st.subscribed && !done) { done = true; resolve(); } });
  }), answer);
  await subscribeQuestions(bob.page, true);
  await subscribeQuestions(alice.page, false);
  const bobSession = await bob.page.evaluate(() => window.switchboardClient.sessionId);
  const replyOutcome = await alice.page.evaluate(async () => {
    const c = window.switchboardClient;
    const seen = c.waitFor('questions.*', 5000);
    const r = await c.publish('questions', 'ask', { n: 21 }, { wantReply: true, timeout: 5000 });
    const e = await seen;
    const silent = await c.publish('questions', 'unanswered', 1, { wantReply: true, timeout: 300 })
      .then(() => 'resolved', (err) => err.code);
    const nothing = await c.waitFor('questions.never', 200).then(() => 'resolved', (err) => err.code);
    const noToken = await c.reply({}, 1).then(() => 'resolved', (err) => err.code);
    return { payload: r.payload, from: r.from, key: e.key, replyTo: !!e.replyTo, silent, nothing, noToken };
  });
  check(replyOutcome.payload && replyOutcome.payload.answer === 42 && replyOutcome.from === bobSession,
        "publish({wantReply}) resolves with bob's reply: " + JSON.stringify(replyOutcome));
  check(replyOutcome.key === 'questions.ask' && replyOutcome.replyTo, 'waitFor() resolves with the next event, which carries replyTo');
  check(replyOutcome.silent === 408 && replyOutcome.nothing === 408,
        'an unanswered publish and a waitFor() with no event reject with 408');
  check(replyOutcome.noToken === 400, 'reply() to a message without replyTo rejects with 400');
  await waitFor(bob.page, () => window.replyAcked === true, undefined, "bob's reply acknowledged");
  check(true, "bob's message.reply() resolves once the gateway handed it on");

  // 5. The gateway restarts with --history-snapshot, and what was published meanwhile is
  // recovered. The gap must be certain, not a race with the pages' reconnect backoff: the relay
  // first refuses new connections and cuts the open ones, so from then on no page can be
  // connected until the test lets it. While the pages are away: two publishes to the old
  // gateway, SIGTERM (it drains and writes the snapshot), a new gateway on the same file, and
  // two publishes to it. Only then does the relay point at the new gateway and let the pages in.
  // Every one of the four messages can reach a page only through recovery on resubscribe.
  relay.held = true;
  relay.dropAll();
  const reconnecting = (page, who) => waitFor(page,
    () => ['reconnecting', 'connecting'].includes(document.querySelector('#state').dataset.state), undefined, who + ' reconnecting');
  await reconnecting(alice.page, 'alice');
  await reconnecting(bob.page, 'bob');
  check(true, 'both pages are cut off and reconnecting');
  for (const page of [alice.page, bob.page]) await resubscribesOf(page);
  let beforeStop;
  for (const text of ['restart: before stop one', 'restart: before stop two'])
    beforeStop = (await httpPublish(gateway.port, { channel: CHANNEL, event: 'announcement', data: { text } })).publications[0];
  const exitCode = await stopGateway(gateway);
  check(exitCode === 0, 'gateway stopped cleanly (exit ' + exitCode + ')');
  check(fs.existsSync(snapshotArgs[1]), 'the gateway wrote its history snapshot on SIGTERM');
  gateway = await startGateway(snapshotArgs);
  const afterStart = [];
  for (const text of ['restart: after start one', 'restart: after start two']) {
    const r = await httpPublish(gateway.port, { channel: CHANNEL, event: 'announcement', data: { text } });
    afterStart.push(r.publications[0]);
  }
  // The restored stream goes on: same epoch, offsets continuing (not 1 and 2 of a new stream).
  check(afterStart[0].epoch === beforeStop.epoch && afterStart[0].offset === beforeStop.offset + 1 &&
        afterStart[1].offset === beforeStop.offset + 2,
        'the restarted gateway continues the stream from the snapshot: ' + JSON.stringify([beforeStop, ...afterStart]));
  relay.target = gateway.port;
  relay.held = false;
  await stateIs(alice.page, 'connected');
  await stateIs(bob.page, 'connected');
  check(true, 'both pages reconnected to the restarted gateway');
  const expected = ['restart: before stop one', 'restart: before stop two', 'restart: after start one', 'restart: after start two'];
  for (const page of [alice.page, bob.page]) {
    await messageShown(page, 'restart: after start two');
    const shown = await shownTexts(page, 'restart: ');
    check(JSON.stringify(shown) === JSON.stringify(expected),
          'messages published around the restart are recovered once each, in order: ' + JSON.stringify(shown));
    const flags = await resubscribesOf(page);
    check(JSON.stringify(flags) === '[true]', 'the resubscribe after the restart reports recovered: ' + JSON.stringify(flags));
  }
  await rosterIs(alice.page, ['alice', 'bob']);
  await rosterIs(bob.page, ['alice', 'bob']);
  check(true, 'the presence roster is rebuilt after the restart');
  await bob.page.fill('#data', 'bob is back');
  await bob.page.click('#publish-form button');
  await messageShown(alice.page, 'bob is back');
  check(true, 'publishing works again after the restart');

  // 6. The network drops (the gateway keeps running): what is published while the pages are
  // away is recovered on resubscribe, once each and in order.
  relay.held = true;
  relay.dropAll();
  await reconnecting(alice.page, 'alice');
  await reconnecting(bob.page, 'bob');
  for (const text of ['missed one', 'missed two'])
    await httpPublish(gateway.port, { channel: CHANNEL, event: 'announcement', data: { text } });
  relay.held = false;
  await stateIs(alice.page, 'connected');
  await stateIs(bob.page, 'connected');
  for (const page of [alice.page, bob.page]) {
    await messageShown(page, 'missed two');
    const missed = await shownTexts(page, 'missed ');
    check(JSON.stringify(missed) === JSON.stringify(['missed one', 'missed two']),
          'messages published while away are recovered once each, in order: ' + JSON.stringify(missed));
    const recovered = await page.evaluate((c) => window.switchboardClient.channel(c).recovered, CHANNEL);
    check(recovered === true, 'the channel reports recovered after resubscribing');
    const flags = await resubscribesOf(page);
    check(JSON.stringify(flags) === '[true]', 'the resubscribe after the network drop reports recovered: ' + JSON.stringify(flags));
  }

  // Latest value: a channel published to before anyone subscribes; subscribe(..., {latest: true})
  // delivers its newest publication at once, marked latest, and channel.latest holds it.
  for (const level of [40, 55])
    await httpPublish(gateway.port, { channel: 'gauges/tank-1', event: 'level', data: { level } });
  const latest = await alice.page.evaluate(() => new Promise((resolve, reject) => {
    const ch = window.switchboardClient.subscribe('gauges/tank-1', { latest: true });
    const seen = [];
    const timer = setTimeout(() => reject(new Error('no latest value: ' + JSON.stringify(seen))), 10000);
    ch.on('level', (data, message) => {
      seen.push({ data, offset: message.offset, latest: message.latest });
      clearTimeout(timer);
      resolve({ seen, channelLatest: ch.latest, latestMessage: ch.latestMessage && ch.latestMessage.offset });
    });
  }));
  check(JSON.stringify(latest.seen) === '[{"data":{"level":55},"offset":2,"latest":true}]' &&
        latest.channelLatest.level === 55 && latest.latestMessage === 2,
        "subscribe with {latest: true} delivers the channel's newest publication at once: " + JSON.stringify(latest));

  const shot = path.join(artifactsDir, 'browser-client.png');
  await alice.page.screenshot({ path: shot, fullPage: true });
  check(fs.statSync(shot).size > 0, 'screenshot saved to ' + shot);

  // A phone, 390x844: one column, no horizontal scrolling, every control on screen.
  await alice.page.setViewportSize({ width: 390, height: 844 });
  const narrow = await alice.page.evaluate(() => {
    const out = { scrollWidth: document.documentElement.scrollWidth, outside: [] };
    for (const sel of ['#state', '#channel', '#user', '#token', '#join-form button', '#channel-state', '#roster',
                       '#messages', '#event', '#data', '#publish-form button']) {
      const r = document.querySelector(sel).getBoundingClientRect();
      if (!(r.width > 0 && r.height > 0 && r.left >= 0 && r.right <= 390)) out.outside.push(sel + ' ' + JSON.stringify(r));
    }
    const columns = getComputedStyle(document.querySelector('main')).gridTemplateColumns.split(' ').length;
    out.columns = columns;
    return out;
  });
  check(narrow.scrollWidth <= 390 && narrow.outside.length === 0 && narrow.columns === 1,
        'at 390 px: one column, no horizontal scroll, every control visible (' + JSON.stringify(narrow) + ')');
  const phoneShot = path.join(artifactsDir, 'browser-client-390.png');
  await alice.page.screenshot({ path: phoneShot, fullPage: true });
  check(fs.statSync(phoneShot).size > 0, 'screenshot saved to ' + phoneShot);
  await alice.page.setViewportSize({ width: 1100, height: 720 });

  // Failover: a client given [a port nothing listens on, the gateway] moves to the second URL,
  // reports it (the 'url' event and client.url) and subscribes there.
  const deadPort = await new Promise((resolve) => {
    const probe = net.createServer();
    probe.listen(0, '127.0.0.1', () => { const p = probe.address().port; probe.close(() => resolve(p)); });
  });
  const failover = await alice.page.evaluate(([dead, live, tok]) => new Promise((resolve, reject) => {
    const c = Switchboard.connect([`ws://127.0.0.1:${dead}/ws`, `ws://127.0.0.1:${live}/ws`],
                                  { token: tok, backoff: { initial: 50, max: 200 } });
    const moves = [];
    const first = c.url;
    c.on('url', (u) => moves.push(u));
    const timer = setTimeout(() => { c.close(); reject(new Error('no failover: ' + c.state + ' at ' + c.url)); }, 10000);
    c.subscribe('failover-check').on('subscription:state', (st) => {
      if (!st.subscribed) return;
      clearTimeout(timer);
      const out = { first, url: c.url, urls: c.urls, moves };
      c.close();
      resolve(out);
    });
  }), [deadPort, gateway.port, token('dave', 'Dave')]);
  const live = `ws://127.0.0.1:${gateway.port}/ws`;
  check(failover.first === `ws://127.0.0.1:${deadPort}/ws` && failover.url === live && failover.moves[0] === live
        && failover.urls.length === 2,
        'a client given [dead, live] URLs fails over to the live one and subscribes there (' + JSON.stringify(failover) + ')');

  // Calls made right after connect() wait for the connection (the docs' examples do this):
  // subscribe then publish at once resolves with the stored offset; with failFast it rejects 503.
  const early = await alice.page.evaluate(([live, tok]) => {
    const lines = [];
    const c = Switchboard.connect(live, { token: tok, logger: (level, message) => lines.push(level + ' ' + message) });
    c.subscribe('early-check');
    const outcome = c.publish('early-check', 'hello', { n: 1 })
      .then((ack) => 'resolved:' + (typeof ack.offset), (e) => 'rejected:' + e.code);
    const f = Switchboard.connect(live, { token: tok, failFast: true });
    const fast = f.ready.then(() => f.publish('early-check', 'hello', { n: 2 }))
      .then(() => 'resolved', (e) => 'rejected:' + e.code);
    return Promise.all([outcome, fast]).then((r) => { c.close(); f.close(); return r.concat([lines]); });
  }, [`ws://127.0.0.1:${gateway.port}/ws`, token('erin', 'Erin')]);
  check(early[0] === 'resolved:number', 'a publish made right after connect() waits and resolves with its offset (' + early[0] + ')');
  check(early[1] === 'rejected:503', 'with failFast the same publish rejects with 503 (' + early[1] + ')');
  check(early[2].some((l) => l.startsWith('info connected to ws://127.0.0.1:' + gateway.port + '/ws: session '))
        && early[2].some((l) => l.startsWith('debug subscribing to early-check')),
        "the session's log lines reach options.logger (" + JSON.stringify(early[2].slice(0, 4)) + ')');

  // The binary encoding (encoding: 'binary', subprotocol switchboard.v1.binary): the same API
  // and events, fewer bytes. Two clients in alice's page, one per encoding, subscribe to one
  // channel; the same HTTP publishes reach both, intact, and the binary one receives fewer bytes.
  const encodings = await alice.page.evaluate(([live, tok]) => {
    const open = (encoding) => new Promise((resolve, reject) => {
      const c = Switchboard.connect(live, { token: tok, encoding });
      const seen = [];
      const ch = c.subscribe('encoding-check');
      ch.on('reading', (data, message) => {
        seen.push({ data, offset: message.offset });
        if (window.onReading) window.onReading();
      });
      const timer = setTimeout(() => reject(new Error(encoding + ' client did not subscribe: ' + c.state)), 10000);
      ch.on('subscription:state', (st) => { if (st.subscribed) { clearTimeout(timer); resolve({ c, seen }); } });
    });
    return Promise.all([open('json'), open('binary')]).then(([json, binary]) => {
      window.encodingClients = { json, binary };
      return { json: json.c.wireEncoding, binary: binary.c.wireEncoding,
               bytes: [json.c.bytesReceived, binary.c.bytesReceived] };
    });
  }, [`ws://127.0.0.1:${gateway.port}/ws`, token('frank', 'Frank')]);
  check(encodings.json === 'json' && encodings.binary === 'binary',
        "a client with encoding 'binary' negotiates it, the default stays JSON (" + JSON.stringify(encodings) + ')');
  const readings = [{ text: 'x'.repeat(64) }, { n: 42, big: 9007199254740993, t: -21.5, s: 'Grüße ☃ "quoted"' }, 'plain string', null];
  for (const data of readings)
    await httpPublish(gateway.port, { channel: 'encoding-check', event: 'reading', data });
  const received = await alice.page.evaluate((n) => new Promise((resolve, reject) => {
    const { json, binary } = window.encodingClients;
    const timer = setTimeout(() => reject(new Error('readings missing: ' + json.seen.length + '/' + binary.seen.length)), 10000);
    // Checked on every reading (and once now, for those already in): no polling.
    const check = () => {
      if (json.seen.length < n || binary.seen.length < n) return;
      clearTimeout(timer);
      window.onReading = null;
      const out = { json: json.seen, binary: binary.seen, bytes: [json.c.bytesReceived, binary.c.bytesReceived] };
      json.c.close();
      binary.c.close();
      resolve(out);
    };
    window.onReading = check;
    check();
  }), readings.length);
  check(JSON.stringify(received.binary) === JSON.stringify(received.json) && received.json.length === readings.length,
        'the binary client receives the same events, data and offsets as the JSON one: ' + JSON.stringify(received.binary));
  const deliveryBytes = [received.bytes[0] - encodings.bytes[0], received.bytes[1] - encodings.bytes[1]];
  console.log(`# ${readings.length} deliveries received in the browser: JSON ${deliveryBytes[0]} bytes, binary ${deliveryBytes[1]} bytes`);
  check(deliveryBytes[1] < deliveryBytes[0], 'the binary encoding takes fewer bytes: ' + JSON.stringify(deliveryBytes));

  // The server subscribes alice's page (POST /api/subscribe): the client surfaces the channel,
  // which receives its messages, and drops it on /api/unsubscribe.
  await alice.page.evaluate(() => {
    window.serverLog = [];
    window.switchboardClient.on('server-subscribed', (ch) => {
      window.serverLog.push('+' + ch.name);
      ch.on('alarm', (data) => window.serverLog.push('alarm ' + data.level));
    });
    window.switchboardClient.on('server-unsubscribed', (name) => window.serverLog.push('-' + name));
  });
  const apiSubscription = async (path, body) => {
    const res = await fetch(`http://127.0.0.1:${gateway.port}/api/${path}`, {
      method: 'POST', headers: { 'Content-Type': 'application/json', 'X-API-Key': API_KEY }, body: JSON.stringify(body) });
    return res.status + ' ' + await res.text();
  };
  const subscribedByServer = await apiSubscription('subscribe', { channel: 'server-made', user: 'alice' });
  check(/^200 /.test(subscribedByServer), 'POST /api/subscribe for alice: ' + subscribedByServer);
  await waitFor(alice.page, () => window.serverLog.includes('+server-made'), undefined, 'server-subscribed event');
  await httpPublish(gateway.port, { channel: 'server-made', event: 'alarm', data: { level: 3 } });
  await waitFor(alice.page, () => window.serverLog.includes('alarm 3'), undefined, 'message on the server-made channel');
  await apiSubscription('unsubscribe', { channel: 'server-made', user: 'alice' });
  await waitFor(alice.page, () => window.serverLog.includes('-server-made') && !window.switchboardClient.channel('server-made'),
                undefined, 'server-unsubscribed event');
  check(true, 'a subscription the server made appears as a channel, gets its messages, and goes when the server ends it');

  // A second client in alice's page, with an asynchronous tokenProvider, joins as carol; a
  // publish still waiting for its ack when close() is called rejects with 499.
  await alice.page.evaluate((tok) => new Promise((resolve, reject) => {
    const provider = () => new Promise((r) => setTimeout(() => r(tok), 20));
    window.carol = Switchboard.connect(undefined, { tokenProvider: provider });
    window.carol.subscribe('presence-lobby').on('subscription:state', (s) => {
      if (s.subscribed) resolve();
      else if (s.error) reject(new Error('carol could not join: ' + s.error.message));
    });
  }), token('carol', 'Carol'));
  await rosterIs(bob.page, ['alice', 'bob', 'carol']);
  check(true, "a client using an asynchronous tokenProvider joins presence as its token's user");
  const closeOutcome = await alice.page.evaluate(() => {
    const pending = window.carol.publish('presence-lobby', 'chat', { text: 'never acknowledged' });
    window.carol.close();
    return pending.then(() => 'resolved', (e) => 'rejected:' + e.code + ':' + window.carol.state);
  });
  check(closeOutcome === 'rejected:499:closed', 'close() rejects pending publishes with 499 (' + closeOutcome + ')');
  const pingAfterClose = await alice.page.evaluate(() => window.carol.ping()
    .then((ms) => 'resolved:' + ms, (e) => 'rejected:' + e.name + ':' + e.code));
  check(pingAfterClose === 'rejected:SwitchboardError:499', 'ping() after close() rejects with 499 (' + pingAfterClose + ')');
  await rosterIs(bob.page, ['alice', 'bob']);
  check(true, "the closed client's member leaves the roster");

  // Token refresh in place: dave's tokens live 3 s; the gateway says so before each expiry and
  // the client sends its provider's fresh token, so one connection outlives several tokens.
  await alice.page.exposeFunction('shortLivedToken', () => token('dave', 'Dave', 3));
  const refresh = await alice.page.evaluate(() => new Promise((resolve) => {
    let asked = 0;
    const states = [];
    const dave = Switchboard.connect(undefined, { tokenProvider: () => { ++asked; return window.shortLivedToken(); } });
    dave.on('state', (state) => states.push(state));
    dave.on('connected', () => {
      const session = dave.sessionId;
      setTimeout(() => {
        resolve({ asked, states: states.slice(), sameSession: dave.sessionId === session, state: dave.state });
        dave.close();
      }, 7000);
    });
  }));
  check(refresh.sameSession && refresh.state === 'connected' && refresh.asked >= 3
        && refresh.states.filter((st) => st === 'connected').length === 1
        && !refresh.states.includes('reconnecting') && !refresh.states.includes('closed'),
        'a client refreshes its expiring token in place, without reconnecting: ' + JSON.stringify(refresh));

  // 7. Bob's browser goes away: alice sees him leave.
  await bob.context.close();
  browsers.splice(browsers.indexOf(bob.context), 1);
  await rosterIs(alice.page, ['alice']);
  await waitFor(alice.page, () => window.presenceLog.includes('leave:bob'), undefined, 'leave event');
  check(true, "bob's leave reaches alice's roster and presence:leave listener");

  // A join the gateway refuses (the token does not grant the channel): the page shows the error
  // with its code and disables publishing; joining the granted channel again enables it.
  await alice.page.fill('#channel', 'presence-elsewhere');
  await alice.page.click('#join-form button');
  await waitFor(alice.page, () => document.querySelector('#channel-state').dataset.state === 'refused', undefined, 'refused join');
  const refused = await alice.page.evaluate(() => ({
    text: document.querySelector('#channel-state').textContent, code: document.querySelector('#channel-state').dataset.code,
    publishDisabled: document.querySelector('#publish-fields').disabled && document.querySelector('#publish-form button').matches(':disabled'),
    roster: document.querySelectorAll('#roster li').length }));
  check(/^\d{3,4}$/.test(refused.code) && refused.text.includes('(' + refused.code + ')') && refused.text.includes('presence-elsewhere')
        && refused.publishDisabled && refused.roster === 0,
        'a refused join shows its error and code and disables publishing (' + JSON.stringify(refused) + ')');
  await alice.page.fill('#channel', CHANNEL);
  await alice.page.click('#join-form button');
  await waitFor(alice.page, () => document.querySelector('#channel-state').dataset.state === 'subscribed'
                && !document.querySelector('#publish-fields').disabled, undefined, 'rejoined');
  await rosterIs(alice.page, ['alice']);
  check(true, 'joining a granted channel again enables publishing');


  relay.held = true;
  await relay.close();
  await stopGateway(gateway);
}

async function cleanup() {
  for (const b of browsers.splice(0)) await b.close().catch(() => {});
  for (const g of gateways) g.kill('SIGKILL');
  for (const d of tempDirs) fs.rmSync(d, { recursive: true, force: true });
}

const watchdog = setTimeout(() => {
  console.error(`FAIL: the test did not finish within ${TOTAL_TIMEOUT_MS / 1000} s`);
  for (const g of gateways) g.kill('SIGKILL');
  process.exit(1);
}, TOTAL_TIMEOUT_MS);

run().then(async () => {
  await cleanup();
  clearTimeout(watchdog);
  console.log(`PASS: ${checks} checks`);
  process.exit(0);
}, async (e) => {
  console.error('FAIL: ' + (e && e.stack || e));
  await cleanup();
  clearTimeout(watchdog);
  process.exit(1);
});
