// TypeScript declarations of the Switchboard browser client (switchboard.js + switchboard.wasm).
// Loaded with <script src="switchboard.js">, the API is the global `Switchboard`; under CommonJS
// bundlers it is the module's export.

export type ConnectionState = 'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** Error codes follow docs/protocol.md: 408 timeout, 499 cancelled (closed), 503 not connected,
 *  400..500 from the gateway or a request handler's reply status. */
export interface SwitchboardError extends Error {
  name: 'SwitchboardError';
  code: number;
  /** For request(): the error reply payload {message, status, trace}. */
  details?: unknown;
}

export interface BackoffOptions {
  /** First reconnect delay in ms (default 250). */
  initial?: number;
  /** Largest reconnect delay in ms (default 10000). */
  max?: number;
}

/** Levels of the session's log lines (docs/client.md). */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface ConnectOptions {
  /** A connection token (JWT) sent in the connect frame. */
  token?: string;
  /** Called before every (re)connect; return the token or a promise of it. Wins over `token`. */
  tokenProvider?: () => string | Promise<string>;
  /** Client name sent in the connect frame. */
  name?: string;
  /**
   * 'binary' offers the binary encoding (subprotocol switchboard.v1.binary, docs/protocol.md):
   * fewer bytes per frame, same API and events. The client stays on JSON when the server does
   * not agree. Default 'json'.
   */
  encoding?: 'json' | 'binary';
  /** Publish acknowledgement deadline in ms (default 5000). */
  ackTimeout?: number;
  /** Request reply deadline in ms (default 10000). */
  replyTimeout?: number;
  /** WebSocket open + welcome deadline in ms (default 10000). */
  connectTimeout?: number;
  /**
   * publish / request / ping made while connecting or reconnecting wait for the connection,
   * bounded by their own timeout (default false). true: they reject at once with 503.
   */
  failFast?: boolean;
  /** Calls waiting for the connection at most; more reject with 503 (default 1000). */
  waitQueueLimit?: number;
  /** Console lines at or above this level (default 'warning'); ignored when `logger` is set. */
  logLevel?: LogLevel | 'off';
  /** Receives every line of the session's log instead of the console. */
  logger?: (level: LogLevel, message: string) => void;
  backoff?: BackoffOptions;
  /** Where switchboard.wasm lives (default: next to switchboard.js). */
  wasmUrl?: string;
}

export interface SubscribeOptions {
  /** Per-channel credential for private and presence channels. */
  auth?: string;
  /** Presence: who joins, e.g. {user_id: 'ada', user_info: {name: 'Ada'}}. */
  channelData?: { user_id?: string; user_info?: unknown } | string;
  /** Resubscribe after a reconnect from the last offset seen (default true). */
  recover?: boolean;
  /** Deliver the channel's newest publication right after the subscribe (message.latest true),
   *  so a live value shows at once (default false; the channel must keep history). */
  latest?: boolean;
}

export interface Message<T = unknown> {
  channel: string;
  event: string;
  /** The published JSON value, or the bytes of a binary broadcast. */
  data: T;
  /** Position in the channel's stream (0 for unstored messages). */
  offset: number;
  /** Server wall clock at publish, ms since the Unix epoch. */
  ts: number;
  /** Publishing session id; null for server publishes. */
  sender: string | null;
  /** The channel's newest publication sent for subscribe(..., {latest: true}), not a live one. */
  latest: boolean;
  binary: boolean;
  /** Set when the publisher asked for a reply (publish with wantReply); null otherwise. */
  replyTo: string | null;
  /** Present when replyTo is set: answers the publisher, like client.reply(this, payload). */
  reply?: (payload: unknown) => Promise<void>;
}

/** What publish(..., {wantReply: true}) resolves with: the first subscriber's reply. */
export interface PublishReply<T = unknown> {
  payload: T;
  /** The replying session's id. */
  from: string;
  /** The publication's offset (0 when the reply overtook the ack or the channel keeps no history). */
  offset: number;
}

/** What waitFor() resolves with. `data` is null for lifecycle keys without one. */
export interface WaitedEvent<T = unknown> {
  /** 'channel.event', or the lifecycle key ('session.started', 'error', 'close'). */
  key: string;
  channel: string;
  event: string;
  data: T;
  offset: number;
  ts: number;
  sender: string;
  replyTo: string | null;
  reply?: (payload: unknown) => Promise<void>;
}

export interface Member {
  id: string;
  info: unknown;
}

export interface SubscriptionState {
  subscribed: boolean;
  /** The last (re)subscribe delivered every publication missed while away. */
  recovered: boolean;
  error: SwitchboardError | null;
}

export interface PublishOptions {
  /** Do not deliver this publication back to the publishing session. */
  skipSelf?: boolean;
  /** Subscribers whose connection negotiated permessage-deflate (browsers offer it) get it
   *  compressed: worth it for large messages or many subscribers (docs/benchmarks.md). */
  compress?: boolean;
  /** Ask subscribers for a reply: the Promise resolves with the first one (PublishReply). */
  wantReply?: boolean;
  /** With wantReply: ms to wait for ack and reply together (default ConnectOptions.replyTimeout). */
  timeout?: number;
  /** Without wantReply: the publish's idempotency key (1 to 64 printable ASCII characters, no
   *  space; default a random one). A publish whose ack was lost with the connection is sent
   *  again once after the reconnect with it, and the gateway does not deliver it twice. */
  idempotencyKey?: string;
}

export interface RequestOptions {
  /** Reply deadline in ms (default: ConnectOptions.replyTimeout). */
  timeout?: number;
}

export interface PingOptions {
  /** Pong deadline in ms (default 5000). */
  timeout?: number;
}

export interface Channel {
  readonly client: Client;
  readonly name: string;
  readonly subscribed: boolean;
  readonly recovered: boolean;
  readonly error: SwitchboardError | null;
  /** Presence roster, kept current. */
  readonly members: Member[];
  /** Highest offset received. */
  readonly lastOffset: number;
  /** Data of the newest message received (undefined before the first). */
  readonly latest: unknown;
  /** The newest message received, or null. */
  readonly latestMessage: Message | null;

  /** Messages of one event, or of every published event with '*' (presence frames excluded;
   *  they also arrive under their wire names such as 'presence:member_added'). */
  on<T = unknown>(event: string, listener: (data: T, message: Message<T>) => void): this;
  on(event: 'presence:join' | 'presence:leave', listener: (member: Member) => void): this;
  on(event: 'presence:roster', listener: (members: Member[]) => void): this;
  on(event: 'subscription:state', listener: (state: SubscriptionState) => void): this;
  /** Removes one listener, every listener of `event`, or every listener. */
  off(event?: string, listener?: (...args: any[]) => void): this;
  publish<T = unknown>(event: string, data: unknown, options: PublishOptions & { wantReply: true }): Promise<PublishReply<T>>;
  publish(event: string, data: unknown, options?: PublishOptions): Promise<{ offset: number }>;
  unsubscribe(): void;
  member(id: string): Member | null;
}

export interface Client {
  /** The endpoint in use: the URL of the open connection or attempt, or of the next attempt
   *  while reconnecting (failover moves it; event 'url'). */
  readonly url: string;
  /** Every endpoint, in the order failover tries them. */
  readonly urls: string[];
  readonly state: ConnectionState;
  /** Why the last connection ended, when it was an error. */
  readonly error: SwitchboardError | null;
  readonly sessionId?: string;
  readonly userId?: string;
  /** Resolves once the WebAssembly module is loaded and the first connect started; rejects
   *  (code 503, state 'closed') when switchboard.wasm cannot be fetched or compiled. */
  readonly ready: Promise<Client>;
  readonly channels: { readonly [name: string]: Channel };
  /** The last round trip to the gateway in ms (fractional, performance.now() resolution), from
   *  ping() or the heartbeat; null before the first. Kept across reconnects. */
  readonly roundTripTime: number | null;
  /** 'binary' while the connection uses the binary encoding (options.encoding), else 'json'. */
  readonly wireEncoding: 'json' | 'binary';
  /** Bytes of WebSocket messages received so far (payloads, without frame headers). */
  readonly bytesReceived: number;

  on(event: 'state', listener: (state: ConnectionState, error: SwitchboardError | null) => void): this;
  /** Failover moved to another endpoint (the new `url`). */
  on(event: 'url', listener: (url: string) => void): this;
  /** The server subscribed this client to a channel (the Channel is then the client's own). */
  on(event: 'server-subscribed', listener: (channel: Channel) => void): this;
  /** The server ended the subscription to `name`; its Channel is no longer in `channels`. */
  on(event: 'server-unsubscribed', listener: (name: string) => void): this;
  on(event: ConnectionState, listener: (error: SwitchboardError | null) => void): this;
  on(event: 'message', listener: (message: Message) => void): this;
  on(event: 'error', listener: (error: unknown) => void): this;
  off(event?: string, listener?: (...args: any[]) => void): this;

  /** Subscribes now, or once connected; resubscribes (and recovers) after every reconnect.
   *  Returns the same Channel for a name already subscribed. */
  subscribe(channel: string, options?: SubscribeOptions): Channel;
  unsubscribe(channel: string): void;
  channel(name: string): Channel | null;
  /** With wantReply: resolves with the first subscriber's reply; rejects with 408 when none
   *  comes in time, 429 when too many publications wait for a reply, 499 when closed. */
  publish<T = unknown>(channel: string, event: string, data: unknown,
                       options: PublishOptions & { wantReply: true }): Promise<PublishReply<T>>;
  /** Resolves with the stored offset once the gateway acknowledges; rejects on error or timeout. */
  publish(channel: string, event: string, data: unknown, options?: PublishOptions): Promise<{ offset: number }>;
  /** Answers a message that carried replyTo (or the token itself); resolves once the gateway
   *  handed it on; rejects with 400 (no token), 408, 503 or 499. */
  reply(message: Message | WaitedEvent | string, payload: unknown): Promise<void>;
  /** The next event matching `pattern` ('channel.event' with '*' / '**', or 'session.started',
   *  'error', 'close'); rejects with 408 after timeoutMs (default replyTimeout), 400 for an
   *  invalid pattern, 499 when closed. */
  waitFor<T = unknown>(pattern: string, timeoutMs?: number): Promise<WaitedEvent<T>>;
  /** Calls a server request handler; resolves with its reply payload, rejects on timeout or an
   *  error reply. */
  request<T = unknown>(topic: string, payload: unknown, options?: RequestOptions): Promise<T>;
  /** Measures a round trip to the gateway; resolves with it in fractional ms. Rejects with code
   *  408 (no pong in time), 503 (not connected) or 499 (closed), like request(). */
  ping(options?: PingOptions): Promise<number>;
  /** Closes for good (no reconnect); pending publishes and requests reject with code 499. */
  close(): void;
  pendingOperations(): number;
}

export interface SwitchboardStatic {
  /** Connects to `url` (default: ws(s)://<page host>/ws) and reconnects with backoff until close().
   *  An array of URLs (nodes of one service) fails over: a failed or lost connection moves to
   *  the next URL, round robin, and recovers there. */
  connect(url?: string | string[], options?: ConnectOptions): Client;
  /** Loads and compiles switchboard.wasm ahead of connect. */
  load(options?: Pick<ConnectOptions, 'wasmUrl'>): Promise<void>;
  readonly states: ConnectionState[];
}

declare const Switchboard: SwitchboardStatic;
export default Switchboard;

declare global {
  interface Window {
    Switchboard: SwitchboardStatic;
  }
}
