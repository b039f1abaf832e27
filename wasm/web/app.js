// The live page: connection state, one channel's messages, its presence roster, a publish box.
// Query parameters preset the form: ?channel=presence-lobby&user=ada&url=ws://host/ws&token=...
(function () {
  'use strict';
  var params = new URLSearchParams(location.search);
  var $ = function (id) { return document.getElementById(id); };
  var client = null;
  var channel = null;

  $('token').value = params.get('token') || '';
  // Presence channels need a token (the gateway prints a development token at start).
  $('channel').value = params.get('channel') || ($('token').value ? 'presence-lobby' : $('channel').value);
  $('user').value = params.get('user') || ('guest-' + Math.random().toString(36).slice(2, 7));

  // User Timing marks (DevTools Performance panel; the browser test reads them).
  function mark(name) {
    if (window.performance && performance.mark && !performance.getEntriesByName(name).length) performance.mark(name);
  }

  function setState(state, error) {
    if (state === 'connected') mark('switchboard-connected');
    $('state').textContent = state + (error ? ' (' + error.message + ')' : '');
    $('state').dataset.state = state;
    $('session').textContent = client && state === 'connected' ? 'session ' + client.sessionId : '';
    if (state === 'connected') measureRoundTrip();
    showRoundTrip();
  }

  // Round trip: measured on every connect and every 10 s, also kept current by the heartbeat.
  function showRoundTrip() {
    var rtt = client ? client.roundTripTime : null;
    $('rtt').textContent = rtt === null ? '' : 'round trip ' + rtt.toFixed(rtt < 10 ? 2 : 1) + ' ms';
    $('rtt').dataset.ms = rtt === null ? '' : String(rtt);
  }
  function measureRoundTrip() {
    if (!client || client.state !== 'connected') return;
    client.ping().then(showRoundTrip, function () { showRoundTrip(); });
  }
  setInterval(function () { measureRoundTrip(); showRoundTrip(); }, 10000);

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
      ul.appendChild(li);
    });
    $('roster-count').textContent = String(members.length);
  }

  function join(name, user) {
    if (channel) client.unsubscribe(channel.name);
    $('messages').textContent = '';
    renderRoster([]);
    channel = client.subscribe(name, {
      channelData: { user_id: user, user_info: { name: user } }
    });
    channel.on('*', function (data, message) { addMessage(message); });
    channel.on('presence:roster', renderRoster);
    channel.on('subscription:state', function (s) {
      $('channel-state').textContent = s.subscribed
        ? 'subscribed to ' + name + (s.recovered ? ' (recovered)' : '')
        : (s.error ? 'not subscribed: ' + s.error.message : 'not subscribed');
      $('channel-state').dataset.subscribed = String(s.subscribed);
    });
  }

  function start() {
    var options = {};
    var token = $('token').value.trim();
    if (token) options.token = token;
    if (client) { client.off(); client.close(); }
    channel = null;
    client = Switchboard.connect(params.get('url') || undefined, options);
    client.on('state', setState);
    client.ready.then(function () { mark('switchboard-ready'); });
    client.token = token;
    join($('channel').value.trim(), $('user').value.trim());
    window.switchboardClient = client; // for the console and automated checks
  }
  start();

  $('join-form').addEventListener('submit', function (e) {
    e.preventDefault();
    if ($('token').value.trim() !== client.token) start(); // a new token needs a new connection
    else join($('channel').value.trim(), $('user').value.trim());
  });
  $('publish-form').addEventListener('submit', function (e) {
    e.preventDefault();
    var text = $('data').value;
    $('publish-status').textContent = 'publishing…';
    channel.publish($('event').value.trim(), { text: text, from: $('user').value })
      .then(function (ack) { $('publish-status').textContent = 'stored at offset ' + ack.offset; $('data').value = ''; },
            function (err) { $('publish-status').textContent = 'failed: ' + err.message + ' (' + err.code + ')'; });
  });
})();
