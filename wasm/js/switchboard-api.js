// Switchboard browser client: the JavaScript API over the WebAssembly ClientSession.
// Appended to the Emscripten loader (createSwitchboardModule) to form switchboard.js.
// See switchboard.d.ts for the documented surface and docs/browser.md for a walkthrough.
(function (root) {
  'use strict';

  var STATES = ['disconnected', 'connecting', 'connected', 'reconnecting', 'closed'];
  var modulePromise = null;

  function loadModule(options) {
    if (!modulePromise) {
      var settings = {};
      if (options && options.wasmUrl) {
        settings.locateFile = function (path) {
          return /\.wasm$/.test(path) ? options.wasmUrl : path;
        };
      }
      modulePromise = createSwitchboardModule(settings);
      modulePromise.catch(function () { modulePromise = null; }); // a later connect retries
    }
    return modulePromise;
  }

  /** Error raised by publish, request and the state events: `code` follows docs/protocol.md. */
  function SwitchboardError(code, message, details) {
    var e = new Error(message || ('error ' + code));
    e.name = 'SwitchboardError';
    e.code = code;
    if (details !== undefined) e.details = details;
    return e;
  }

  function parseJson(text) {
    try { return JSON.parse(text); } catch (e) { return null; }
  }

  function defaultUrl() {
    if (typeof location === 'undefined') return '';
    return (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws';
  }

  function checkUrl(url) {
    var parsed;
    try { parsed = new URL(url); } catch (e) { throw SwitchboardError(400, 'invalid URL: ' + url); }
    if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:')
      throw SwitchboardError(400, 'the URL must use ws: or wss:, got ' + parsed.protocol);
    return parsed.href;
  }

  // A tiny event emitter: on(name, fn) / off(name, fn?) / emit(name, ...args).
  function Emitter() { this._handlers = Object.create(null); }
  Emitter.prototype.on = function (name, fn) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    (this._handlers[name] || (this._handlers[name] = [])).push(fn);
    return this;
  };
  Emitter.prototype.off = function (name, fn) {
    if (name === undefined) { this._handlers = Object.create(null); return this; }
    var list = this._handlers[name];
    if (!list) return this;
    if (fn === undefined) delete this._handlers[name];
    else this._handlers[name] = list.filter(function (f) { return f !== fn; });
    return this;
  };
  Emitter.prototype.emit = function (name) {
    var list = this._handlers[name];
    if (!list) return 0;
    var args = Array.prototype.slice.call(arguments, 1);
    list.slice().forEach(function (fn) {
      try { fn.apply(null, args); } catch (e) { setTimeout(function () { throw e; }); }
    });
    return list.length;
  };

  /**
   * A subscribed channel. Events:
   *   '<event name>' / '*'            (data, message) for messages; '*' receives every event
   *   'presence:join' / 'presence:leave'  (member) on presence channels, 'presence:roster' (members)
   *   'subscription:state'            ({subscribed, recovered, error})
   */
  function Channel(client, name, options) {
    Emitter.call(this);
    this.client = client;
    this.name = name;
    this.options = options || {};
    this.subscribed = false;
    this.recovered = false;
    this.error = null;
    this.members = [];
    this.lastOffset = 0;
    this.latest = undefined;    // data of the newest message (undefined before the first)
    this.latestMessage = null;  // the newest message itself
  }
  Channel.prototype = Object.create(Emitter.prototype);
  Channel.prototype.constructor = Channel;
  Channel.prototype.publish = function (event, data, options) {
    return this.client.publish(this.name, event, data, options);
  };
  Channel.prototype.unsubscribe = function () { this.client.unsubscribe(this.name); };
  Channel.prototype.member = function (id) {
    for (var i = 0; i < this.members.length; ++i) if (this.members[i].id === id) return this.members[i];
    return null;
  };

  /** The client: one WebSocket session with reconnect, resubscribe and recovery. `url` may be
   *  an array of URLs (nodes of one service): a failed or lost connection moves to the next. */
  function Client(url, options) {
    Emitter.call(this);
    options = options || {};
    this._options = options;
    if (Array.isArray(url)) {
      if (url.length === 0) throw SwitchboardError(400, 'the URL list is empty');
      this.urls = url.map(function (u) { return checkUrl(u); });
    } else {
      this.urls = [checkUrl(url || defaultUrl())];
    }
    this.url = this.urls[0]; // the endpoint in use (changes on failover, event 'url')
    this.options = options;
    this.state = 'disconnected';
    this.error = null;
    this.channels = Object.create(null);
    this._native = null;
    this._queue = [];
    this._nextId = 1;
    this._waiting = Object.create(null);
    this._closed = false;
    this._roundTrip = null;
    var self = this;
    this.ready = loadModule(options).then(function (Module) {
      self._Module = Module;
      if (self._closed) return self;
      self._native = new Module.WebClient(function () { self._sink.apply(self, arguments); }, {
        ackTimeout: options.ackTimeout, replyTimeout: options.replyTimeout,
        connectTimeout: options.connectTimeout, name: options.name, encoding: options.encoding,
        failFast: options.failFast, waitQueueLimit: options.waitQueueLimit,
        backoffInitial: options.backoff && options.backoff.initial,
        backoffMax: options.backoff && options.backoff.max
      });
      if (typeof options.tokenProvider === 'function') self._native.setTokenMode(2, '');
      else if (options.token) self._native.setTokenMode(1, String(options.token));
      if (self.urls.length > 1) self._native.connectUrls(self.urls.join('\n'));
      else self._native.connect(self.url);
      // After connect: calls made while the module loaded wait for the connection like any
      // call made while connecting (or fail at once with failFast).
      var queued = self._queue;
      self._queue = [];
      queued.forEach(function (op) { op(); });
      return self;
    }, function (err) {
      // switchboard.wasm could not be fetched or compiled: nothing can connect.
      self._closed = true;
      self._queue = [];
      self.state = 'closed';
      self.error = SwitchboardError(503, 'cannot load the WebAssembly client: ' + (err && err.message || err));
      self.emit('error', self.error);
      self.emit('state', 'closed', self.error);
      self.emit('closed', self.error);
      var waiting = self._waiting;
      self._waiting = Object.create(null);
      Object.keys(waiting).forEach(function (id) { waiting[id].reject(self.error); });
      throw self.error;
    });
  }
  Client.prototype = Object.create(Emitter.prototype);
  Client.prototype.constructor = Client;

  var LOG_LEVELS = { debug: 0, info: 1, warning: 2, error: 3, off: 4 };
  /** One line of the session's log: to options.logger(level, message), else to the console at
   *  or above options.logLevel ('debug' | 'info' | 'warning' | 'error' | 'off'; default 'warning'). */
  Client.prototype._log = function (level, message) {
    var logger = this._options.logger;
    if (typeof logger === 'function') {
      try { logger(level, message); } catch (err) { /* a failing logger must not break the client */ }
      return;
    }
    var threshold = LOG_LEVELS[this._options.logLevel];
    if (threshold === undefined) threshold = LOG_LEVELS.warning;
    if (LOG_LEVELS[level] < threshold) return;
    var line = '[switchboard] ' + message;
    if (level === 'error') console.error(line);
    else if (level === 'warning') console.warn(line);
    else if (level === 'info') console.info(line);
    else console.debug(line);
  };

  Client.prototype._do = function (op) {
    if (this._native) op(this._native);
    else if (!this._closed) this._queue.push(function () { op(this._native); }.bind(this));
  };

  Client.prototype._sink = function (kind, a, b, c, d, e, f, g, h, i) {
    var ch, w;
    switch (kind) {
    case 'state':
      this.state = a;
      // The last error explains a disconnect; once connected again there is none.
      this.error = b && a !== 'connected' ? SwitchboardError(b, c) : null;
      if (a === 'connected') {
        this.sessionId = this._native.sessionId();
        this.userId = this._native.userId();
      }
      this.emit('state', a, this.error);
      this.emit(a, this.error);
      if (a === 'closed' && this._closed && this._native) {
        // Closed for good: free the WebAssembly object once this call has returned.
        this._readRoundTrip(); // keep the last figure readable
        var native = this._native;
        this._native = null;
        setTimeout(function () { native.delete(); }, 0);
      }
      break;
    case 'token':
      this._askToken(a);
      break;
    case 'log':
      this._log(a, b);
      break;
    case 'server-subscription':
      // The server subscribed this client to `a` (b true; the channel is then the client's own)
      // or ended a subscription (b false).
      if (b) {
        ch = this.channels[a] || (this.channels[a] = new Channel(this, a, {}));
        this.emit('server-subscribed', ch);
      } else if ((ch = this.channels[a])) {
        delete this.channels[a];
        ch.subscribed = false;
        this.emit('server-unsubscribed', a);
        ch.off();
      }
      break;
    case 'message':
      ch = this.channels[a];
      if (!ch) return;
      if (d > ch.lastOffset) ch.lastOffset = d;
      var data = g ? g : parseJson(c);
      var message = { channel: a, event: b, data: data, offset: d, ts: e, sender: f || null, binary: !!g, latest: !!i };
      this._replyable(message, h);
      ch.latest = data;
      ch.latestMessage = message;
      ch.emit(b, data, message);
      if (b.lastIndexOf('presence:', 0) === 0) return; // roster frames: see the 'presence' sink
      ch.emit('*', data, message);
      this.emit('message', message);
      break;
    case 'channel':
      ch = this.channels[a];
      if (!ch) return;
      ch.subscribed = b;
      ch.recovered = c;
      ch.error = d ? SwitchboardError(d, e) : null;
      ch.emit('subscription:state', { subscribed: b, recovered: c, error: ch.error });
      break;
    case 'presence':
      ch = this.channels[a];
      if (!ch) return;
      ch.members = this._native ? parseJson(this._native.members(a)) || [] : [];
      var member = { id: c, info: parseJson(d) };
      if (b === 'member_added') ch.emit('presence:join', member);
      else if (b === 'member_removed') ch.emit('presence:leave', member);
      ch.emit('presence:roster', ch.members.slice());
      break;
    case 'ack':
    case 'reply':
      w = this._waiting[a];
      if (!w) return;
      delete this._waiting[a];
      if (!b) {
        w.resolve(kind === 'ack' ? { offset: d } : parseJson(d));
      } else {
        var details = kind === 'reply' ? parseJson(d) : undefined;
        var msg = details && typeof details === 'object' && details.message ? details.message : c;
        w.reject(SwitchboardError(b, msg, details));
      }
      break;
    case 'answer':
    case 'event':
      w = this._waiting[a];
      if (!w) return;
      delete this._waiting[a];
      if (b) return w.reject(SwitchboardError(b, c));
      var ev = parseJson(d) || {};
      if (kind === 'event') this._replyable(ev, ev.replyTo);
      w.resolve(ev);
      break;
    case 'url':
      if (a === this.url) break; // the list given to connect(): no move
      this.url = a;
      this.emit('url', a);
      break;
    case 'pong':
      w = this._waiting[a];
      if (!w) return;
      delete this._waiting[a];
      if (!b) {
        this._roundTrip = d;
        w.resolve(d);
      } else {
        w.reject(SwitchboardError(b, c));
      }
      break;
    }
  };

  Client.prototype._askToken = function (generation) {
    var self = this;
    var answer = function (token) {
      if (self._native) self._native.deliverToken(generation, token == null ? '' : String(token));
    };
    Promise.resolve()
      .then(function () { return self.options.tokenProvider(); })
      .then(answer, function (err) {
        self.emit('error', err);
        answer(''); // connect anonymously; the gateway decides what that may do
      });
  };

  Client.prototype._wait = function () {
    var id = this._nextId++;
    var self = this;
    var promise = new Promise(function (resolve, reject) {
      self._waiting[id] = { resolve: resolve, reject: reject };
    });
    return { id: id, promise: promise };
  };

  /** Subscribes (now, or once connected); returns the channel, the same object on repeat calls. */
  Client.prototype.subscribe = function (name, options) {
    if (typeof name !== 'string' || !name) throw new TypeError('channel name must be a non-empty string');
    var ch = this.channels[name];
    if (ch) return ch;
    options = options || {};
    ch = this.channels[name] = new Channel(this, name, options);
    var channelData = options.channelData;
    if (channelData !== undefined && typeof channelData !== 'string') channelData = JSON.stringify(channelData);
    this._do(function (native) {
      native.subscribe(name, options.auth || '', channelData || '', options.recover !== false, options.latest === true);
    });
    return ch;
  };

  Client.prototype.unsubscribe = function (name) {
    var ch = this.channels[name];
    if (!ch) return;
    delete this.channels[name];
    ch.subscribed = false;
    this._do(function (native) { native.unsubscribe(name); });
    ch.off();
  };

  Client.prototype.channel = function (name) { return this.channels[name] || null; };

  /** Publishes `data` (any JSON value); resolves with {offset} when the gateway acknowledges.
   *  With {wantReply: true}: resolves with the first subscriber's reply {payload, from, offset}
   *  instead, or rejects with 408 when none comes within options.timeout (default replyTimeout). */
  Client.prototype.publish = function (channel, event, data, options) {
    options = options || {};
    var json = JSON.stringify(data === undefined ? null : data);
    var w = this._wait();
    if (this._closed) return Promise.reject(SwitchboardError(499, 'client closed'));
    this._do(function (native) {
      if (options.wantReply)
        native.publishForReply(channel, event, json, !!options.skipSelf, !!options.compress, options.timeout || 0, w.id);
      else
        native.publish(channel, event, json, !!options.skipSelf, !!options.compress, String(options.idempotencyKey || ''), w.id);
    });
    return w.promise;
  };

  /** A message (or waitFor event) whose publisher wants a reply gets replyTo and reply(payload). */
  Client.prototype._replyable = function (message, replyTo) {
    var self = this;
    message.replyTo = replyTo || null;
    if (replyTo) message.reply = function (payload) { return self.reply(message, payload); };
  };

  /** Answers a message that carried replyTo (or the token itself); resolves when the gateway
   *  has handed the reply on; rejects with 400 (no token), 408, 503 or 499. */
  Client.prototype.reply = function (message, payload) {
    var token = typeof message === 'string' ? message : (message && message.replyTo) || '';
    var json = JSON.stringify(payload === undefined ? null : payload);
    var w = this._wait();
    if (this._closed) return Promise.reject(SwitchboardError(499, 'client closed'));
    this._do(function (native) { native.reply(token, json, w.id); });
    return w.promise.then(function () {});
  };

  /** Resolves with the next event matching `pattern` ('channel.event', '*' and '**' wildcards,
   *  or 'session.started' / 'error' / 'close') as {key, channel, event, data, offset, ts,
   *  sender, replyTo}; rejects with 408 after timeoutMs (default: the replyTimeout option, else
   *  10000), 400 (bad pattern) or 499 (closed). */
  Client.prototype.waitFor = function (pattern, timeoutMs) {
    var w = this._wait();
    if (this._closed) return Promise.reject(SwitchboardError(499, 'client closed'));
    var ms = timeoutMs > 0 ? timeoutMs : (this._options.replyTimeout || 10000);
    this._do(function (native) { native.waitFor(String(pattern), ms, w.id); });
    return w.promise;
  };

  /** Sends a request to a server handler; resolves with its reply payload. Rejects on timeout
   *  (code 408), on an error reply (its status and message), or when closed (499). */
  Client.prototype.request = function (topic, payload, options) {
    options = options || {};
    var json = JSON.stringify(payload === undefined ? null : payload);
    var w = this._wait();
    if (this._closed) return Promise.reject(SwitchboardError(499, 'client closed'));
    this._do(function (native) { native.request(topic, json, options.timeout || 0, w.id); });
    return w.promise;
  };

  /** Closes for good: no reconnect; pending publishes and requests reject with 499. */
  Client.prototype.close = function () {
    if (this._closed) return;
    this._closed = true;
    var native = this._native;
    if (native) native.close();
    else {
      this.state = 'closed';
      this.emit('state', 'closed', null);
      this.emit('closed', null);
    }
    var waiting = this._waiting;
    this._waiting = Object.create(null);
    Object.keys(waiting).forEach(function (id) { waiting[id].reject(SwitchboardError(499, 'client closed')); });
  };

  /** Measures a round trip to the gateway; resolves with it in (fractional) milliseconds. Rejects
   *  like request(): on timeout (408, default 5000 ms), when not connected (503) or closed (499). */
  Client.prototype.ping = function (options) {
    options = options || {};
    var w = this._wait();
    if (this._closed) return Promise.reject(SwitchboardError(499, 'client closed'));
    this._do(function (native) { native.ping(options.timeout || 0, w.id); });
    return w.promise;
  };

  Client.prototype._readRoundTrip = function () {
    if (this._native) {
      var ms = this._native.lastRoundTripMs();
      if (ms >= 0) this._roundTrip = ms;
    }
    return this._roundTrip;
  };

  /** The last round trip in ms, from ping() or the heartbeat; null before the first. */
  Object.defineProperty(Client.prototype, 'roundTripTime', {
    get: function () { return this._readRoundTrip(); },
    enumerable: true
  });

  /** 'binary' while the connection uses the binary encoding, else 'json'. */
  Object.defineProperty(Client.prototype, 'wireEncoding', {
    get: function () { return this._native ? this._native.wireEncoding() : 'json'; },
    enumerable: true
  });

  /** Bytes of WebSocket messages received so far (payloads, without frame headers). */
  Object.defineProperty(Client.prototype, 'bytesReceived', {
    get: function () { return this._native ? this._native.bytesReceived() : 0; },
    enumerable: true
  });

  Client.prototype.pendingOperations = function () {
    return this._native ? this._native.pendingOperations() : this._queue.length;
  };

  var Switchboard = {
    /** connect(url? (string or array of strings: failover), {token | tokenProvider, name, ackTimeout, replyTimeout, connectTimeout, backoff, wasmUrl}) */
    connect: function (url, options) { return new Client(url, options); },
    /** Loads and compiles the WebAssembly module ahead of connect (optional). */
    load: function (options) { return loadModule(options).then(function () {}); },
    states: STATES.slice(),
    Client: Client,
    Channel: Channel,
    SwitchboardError: SwitchboardError
  };

  root.Switchboard = Switchboard;
  if (typeof module === 'object' && module && typeof module.exports === 'object') module.exports = Switchboard;
})(typeof globalThis !== 'undefined' ? globalThis : this);
