// The live page: connection state, one channel's messages, its presence roster, a publish box.
// Query parameters preset the form: ?channel=presence-lobby&user=ada&url=ws://host/ws&token=...
//
// One identity: with a token, the page is the token's user (its `info.name`, else `sub`): the
// Name field shows it read-only, presence lists it and messages carry it. Without a token the
// Name field is the identity: messages carry it and it is the presence info offered on join.
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var $ = function (id) { return document.getElementById(id); };
  var RTT_EVERY_MS = 2000;
  var client = null;
  var channel = null;
  var identity = { id: '', name: '', fromToken: false };
  var rttAt = 0; // Date.now() of the round trip shown, 0: none yet
  var script = $('switchboard-script');
  var wasmUrl = script && script.dataset.wasm;

  $('token').value = params.get('token') || '';
  // Presence channels need a token (the gateway prints a development token at start).
  $('channel').value = params.get('channel') || ($('token').value ? 'presence-lobby' : $('channel').value);
  $('user').value = params.get('user') || ('guest-' + Math.random().toString(36).slice(2, 7));

  // User Timing marks (DevTools Performance panel; the browser test reads them).
  function mark(name) {
    if (window.performance && performance.mark && !performance.getEntriesByName(name).length) performance.mark(name);
  }

  // The claims of a JWT connection token (unverified: only for display), null if not a JWT.
  function tokenClaims(token) {
    try {
      var b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
      var bytes = Uint8Array.from(atob(b64), function (c) { return c.charCodeAt(0); });
      return JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) { return null; }
  }

  function setIdentity(token) {
    var user = $('user');
    if (token) {
      var claims = tokenClaims(token) || {};
      identity = { id: String(claims.sub || ''), fromToken: true,
                   name: String((claims.info && claims.info.name) || claims.sub || 'token user') };
      if (!user.readOnly) user.dataset.typed = user.value;
      user.value = identity.name;
      user.readOnly = true;
      $('identity').textContent = 'you are ' + identity.name + (identity.id && identity.id !== identity.name ? ' (' + identity.id + ')' : '') +
        ', from the token';
    } else {
      if (user.readOnly && user.dataset.typed) user.value = user.dataset.typed;
      user.readOnly = false;
      identity = { id: user.value.trim(), name: user.value.trim(), fromToken: false };
      $('identity').textContent = 'you are ' + identity.name + ' (no token: public channels only)';
    }
    document.body.dataset.identity = identity.name;
  }

  function setState(state, error) {
    if (state === 'connected') mark('switchboard-connected');
    $('state').textContent = state + (error ? ': ' + error.message + ' (' + error.code + ')' : '');
    $('state').dataset.state = state;
    $('session').textContent = client && state === 'connected' ? 'session ' + client.sessionId : '';
    if (state === 'connected') measureRoundTrip();
    showRoundTrip();
  }

  // Round trip: measured on connect and every 2 s while the page is visible; its age is shown.
  function showRoundTrip() {
    var rtt = client ? client.roundTripTime : null;
    $('rtt').textContent = rtt === null ? '' : 'round trip ' + rtt.toFixed(rtt < 10 ? 2 : 1) + ' ms';
    $('rtt').dataset.ms = rtt === null ? '' : String(rtt);
    $('rtt').dataset.at = rtt === null ? '' : String(rttAt);
    var age = rttAt ? Math.max(0, Math.round((Date.now() - rttAt) / 1000)) : null;
    $('rtt-age').textContent = rtt === null || age === null ? '' : (age < 1 ? '· now' : '· ' + age + ' s ago');
  }
  function measureRoundTrip() {
    if (!client || client.state !== 'connected' || document.visibilityState === 'hidden') return;
    var measuring = client;
    measuring.ping({ timeout: RTT_EVERY_MS }).then(function () {
      if (measuring !== client) return;
      rttAt = Date.now();
      showRoundTrip();
    }, function () { showRoundTrip(); });
  }
  setInterval(measureRoundTrip, RTT_EVERY_MS);
  setInterval(showRoundTrip, 1000);
  document.addEventListener('visibilitychange', measureRoundTrip);

  function setChannelState(state, text, error) {
    var el = $('channel-state');
    el.textContent = text;
    el.dataset.state = state;
    el.dataset.subscribed = String(state === 'subscribed');
    el.dataset.code = error ? String(error.code) : '';
    // Publishing needs a channel the gateway accepted (or one it may still accept).
    $('publish-fields').disabled = state === 'refused';
    if (state === 'refused') $('publish-status').textContent = '';
  }

  function addMessage(message) {
    var li = document.createElement('li');
    li.dataset.event = message.event;
    li.dataset.offset = String(message.offset);
    var meta = document.createElement('span');
    meta.className = 'meta';
    var who = message.data && typeof message.data === 'object' && message.data.from ? message.data.from : (message.sender ? 'client' : 'server');
    meta.textContent = '#' + message.offset + ' ' + message.event + ' · ' + who;
    var text = document.createElement('span');
    text.className = 'text';
    var data = message.data;
    text.textContent = data && typeof data === 'object' && 'text' in data ? String(data.text) : JSON.stringify(data);
    li.appendChild(meta);
    li.appendChild(text);
    $('messages').appendChild(li);
    $('messages').scrollTop = $('messages').scrollHeight;
  }

  function renderRoster(members) {
    var ul = $('roster');
    ul.textContent = '';
    members.forEach(function (m) {
      var li = document.createElement('li');
      li.dataset.id = m.id;
      li.textContent = m.info && m.info.name ? m.info.name : m.id;
      if (identity.fromToken && m.id === identity.id) {
        li.className = 'self';
        li.textContent += ' (you)';
      }
      ul.appendChild(li);
    });
    $('roster-count').textContent = String(members.length);
  }

  function join(name) {
    if (channel) client.unsubscribe(channel.name);
    $('messages').textContent = '';
    renderRoster([]);
    setChannelState('joining', 'joining ' + name + '…');
    // With a token the gateway takes the member from it; without, the Name field is offered.
    channel = client.subscribe(name, identity.fromToken ? {} : {
      channelData: { user_id: identity.id, user_info: { name: identity.name } }
    });
    channel.on('*', function (data, message) { addMessage(message); });
    channel.on('presence:roster', renderRoster);
    channel.on('subscription:state', function (s) {
      if (s.subscribed) setChannelState('subscribed', 'subscribed to ' + name + (s.recovered ? ' (recovered)' : ''));
      else if (s.error) {
        renderRoster([]);
        setChannelState('refused', 'refused ' + name + ': ' + s.error.message + ' (' + s.error.code + ')', s.error);
      } else setChannelState('joining', 'joining ' + name + '…');
    });
  }

  function start() {
    var options = {};
    var token = $('token').value.trim();
    if (token) options.token = token;
    if (wasmUrl) options.wasmUrl = wasmUrl;
    if (client) { client.off(); client.close(); }
    channel = null;
    rttAt = 0;
    setIdentity(token);
    client = Switchboard.connect(params.get('url') || undefined, options);
    client.on('state', setState);
    client.ready.then(function () { mark('switchboard-ready'); });
    client.token = token;
    join($('channel').value.trim());
    window.switchboardClient = client; // for the console and automated checks
  }
  start();

  $('join-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var token = $('token').value.trim();
    if (token !== client.token) return start(); // a new token needs a new connection (and identity)
    if (!token) setIdentity('');
    join($('channel').value.trim());
  });
  $('publish-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if (!channel || $('publish-fields').disabled) return;
    var text = $('data').value;
    $('publish-status').textContent = 'publishing…';
    channel.publish($('event').value.trim(), { text: text, from: identity.name })
      .then(function (ack) { $('publish-status').textContent = 'stored at offset ' + ack.offset; $('data').value = ''; },
            function (err) { $('publish-status').textContent = 'failed: ' + err.message + ' (' + err.code + ')'; });
  });
})();
