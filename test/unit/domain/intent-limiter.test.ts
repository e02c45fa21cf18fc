import { TooManyRequestsError } from '../../../functions/domain/errors';
import type { IntentPort, IntentReference, IntentRequest } from '../../../functions/domain/identity-plus';
import { IntentLimiter } from '../../../functions/domain/intent-limiter';

/** Intents numbered in the order made; `fail` makes the next ones fail; `hold` keeps them pending until released. */
class CountingIntents implements IntentPort {
  made: IntentRequest[] = [];
  fail = false;
  async createIntent(request: IntentRequest): Promise<IntentReference> {
    if (this.fail) throw new Error('refused');
    this.made.push(request);
    const reference = `ref${this.made.length}`;
    return { reference, outcome: 'OK 0000 Acknowledged', signonUrl: `https://signon.identity.plus/${reference}` };
  }
}

function setup(intervalMs = 10_000) {
  let now = 1_000_000;
  const inner = new CountingIntents();
  const limiter = new IntentLimiter(inner, { intervalMs, now: () => now });
  const ask = (serial = '1', returnUrl = 'https://auth.example.com/return?state=a') =>
    limiter.createIntent({ serial, returnUrl });
  return { limiter, inner, ask, advance: (ms: number) => (now += ms) };
}

describe('IntentLimiter', () => {
  it('gives a repeat within the interval the same sign-on URL, and a new intent after it', async () => {
    const { inner, ask, advance } = setup();
    const first = await ask();
    advance(9_999);
    expect(await ask('1', 'https://auth.example.com/return?state=b')).toEqual(first);
    expect(inner.made).toHaveLength(1);
    advance(1);
    expect((await ask()).reference).toBe('ref2');
  });

  it('lets concurrent requests share the intent being made', async () => {
    const { inner, ask } = setup();
    const all = await Promise.all(Array.from({ length: 20 }, () => ask()));
    expect(new Set(all.map((i) => i.signonUrl)).size).toBe(1);
    expect(inner.made).toHaveLength(1);
  });

  it('keeps certificates apart', async () => {
    const { inner, ask } = setup();
    await ask('1');
    await ask('2');
    expect(inner.made.map((r) => r.serial)).toEqual(['1', '2']);
  });

  it('does not remember a failed intent: the next request tries again', async () => {
    const { inner, ask } = setup();
    inner.fail = true;
    await expect(ask()).rejects.toThrow('refused');
    inner.fail = false;
    expect((await ask()).reference).toBe('ref1');
  });

  it('refuses with 429 and the rest of the interval once the remembered intent has expired at Identity Plus', async () => {
    const { ask, advance } = setup(60_000);
    await ask();
    advance(25_000);
    const refused = await ask().catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(TooManyRequestsError);
    expect((refused as TooManyRequestsError).retryAfterSeconds).toBe(35);
    expect((refused as Error).message).toMatch(/moments ago/);
    advance(35_000);
    expect((await ask()).reference).toBe('ref2');
  });

  it('makes an intent for every request when the interval is 0', async () => {
    const { inner, ask } = setup(0);
    await ask();
    await ask();
    expect(inner.made).toHaveLength(2);
  });

  it('remembers at most maxEntries certificates, forgetting the oldest', async () => {
    const inner = new CountingIntents();
    const limiter = new IntentLimiter(inner, { intervalMs: 10_000, now: () => 0, maxEntries: 2 });
    for (const serial of ['1', '2', '3', '1']) await limiter.createIntent({ serial, returnUrl: 'https://a.example/r' });
    expect(inner.made.map((r) => r.serial)).toEqual(['1', '2', '3', '1']);
  });
});
