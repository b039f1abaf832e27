// Compile-only check of wasm/js/switchboard.d.ts (tsc --noEmit --strict): the documented usage
// must type-check, and misuse must not (the @ts-expect-error lines fail the build if accepted).
import Switchboard, { Channel, Client, ConnectionState, Member, Message, SwitchboardError } from './switchboard';

const client: Client = Switchboard.connect('ws://127.0.0.1:8080/ws', {
  tokenProvider: async () => 'token',
  ackTimeout: 2000,
  backoff: { initial: 100, max: 5000 },
});
client.on('state', (state: ConnectionState, error: SwitchboardError | null) => {
  if (error) console.log(state, error.code, error.message);
});
client.on('connected', () => console.log(client.sessionId));

const room: Channel = client.subscribe('presence-room', { channelData: { user_id: 'ada', user_info: { name: 'Ada' } } });
room.on<{ text: string }>('chat', (data, message: Message<{ text: string }>) => console.log(data.text, message.offset));
room.on('presence:join', (member: Member) => console.log(member.id));
room.on('presence:roster', (members: Member[]) => console.log(members.length));
room.on('subscription:state', ({ subscribed, recovered }) => console.log(subscribed, recovered));
room.off('chat');

async function use(c: Client): Promise<number> {
  const { offset } = await c.publish('news', 'headline', { title: 'x' }, { skipSelf: true, compress: true });
  const quote = await c.request<{ price: number }>('orders/quote', { sku: 42 }, { timeout: 3000 });
  const rtt: number = await c.ping({ timeout: 1000 });
  const last: number | null = c.roundTripTime;
  return offset + quote.price + rtt + (last ?? 0);
}
void use(client);

// Replies between clients, and waitFor.
async function ask(c: Client): Promise<string> {
  const answer = await c.publish<{ time: string }>('chat', 'question', { q: 'time?' }, { wantReply: true, timeout: 3000 });
  const from: string = answer.from;
  const started = await c.waitFor('session.started', 5000);
  const next = await c.waitFor<{ text: string }>('chat.*', 5000);
  if (next.replyTo) await c.reply(next, { ok: true });
  return answer.payload.time + from + started.key + next.data.text;
}
room.on('question', (_data, message: Message) => {
  if (message.reply) void message.reply({ answer: 42 });
  else if (message.replyTo === null) console.log('no reply wanted');
});
void ask(client);
void Switchboard.load();
client.close();

// @ts-expect-error: the state is not a free string
const bad: ConnectionState = 'open';
// @ts-expect-error: subscribe needs a channel name
client.subscribe();
// @ts-expect-error: a token must be a string
Switchboard.connect(undefined, { token: 42 });
// @ts-expect-error: roundTripTime may be null before the first measurement
const rttNow: number = client.roundTripTime;
// @ts-expect-error: a plain publish resolves with {offset}, not a reply
void client.publish('a', 'b', 1).then((r) => r.payload);
void bad;
void rttNow;
