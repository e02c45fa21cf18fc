import {
  type AuthenticationEvent,
  type AuthenticationRecord,
  Authenticator,
  type RecordedAuthentication,
  type IdentityPlusPort,
  type InquiryOptions,
  type RecordsPort,
} from '../../../functions/domain/authenticate';
import { DecisionCache } from '../../../functions/domain/decision-cache';
import { IdentityPlusError, RecordWriteError } from '../../../functions/domain/errors';
import type { InquiryAnswer } from '../../../functions/domain/identity-plus';

const SERIAL = '476701752658536845';
const cleared: InquiryAnswer = {
  kind: 'profile',
  profile: {
    outcome: 'OK 0001 Subject anonymous certificate valid',
    serviceRoles: ['member'],
    organizationalReference: 'ref-a',
    organizationalName: 'Alice',
    customFields: {},
  },
};
const revoked: InquiryAnswer = { kind: 'problem', outcome: 'PB 0004 Revoked Identity Plus anonymous certificate' };

/** A scripted Identity Plus: each call takes the next answer (or error). */
class ScriptedIdentityPlus implements IdentityPlusPort {
  calls = 0;
  /** The options of each inquiry, in order. */
  readonly asked: InquiryOptions[] = [];
  constructor(private readonly script: Array<InquiryAnswer | Error>) {}
  async inquire(_serial: string, options: InquiryOptions = {}): Promise<InquiryAnswer> {
    this.asked.push(options);
    const next = this.script[Math.min(this.calls++, this.script.length - 1)];
    if (next === undefined) throw new Error('ScriptedIdentityPlus was given an empty script');
    if (next instanceof Error) throw next;
    return next;
  }
}

/** The ledger in memory: an item per (period, user), created by the first write, as DynamoDB's UpdateItem does. */
class MemoryRecords implements RecordsPort {
  records: AuthenticationRecord[] = [];
  failNext = false;
  async recordAuthentication(record: AuthenticationRecord): Promise<RecordedAuthentication> {
    if (this.failNext) throw new RecordWriteError('table unavailable');
    const created = !this.records.some((r) => r.userId === record.userId && r.period.id === record.period.id);
    this.records.push(record);
    return { created };
  }
}

/** The events other than the per-decision ones (which every test would otherwise list). */
const notable = (events: AuthenticationEvent[]) => events.filter((e) => e.type !== 'decision').map((e) => e.type);
const decisions = (events: AuthenticationEvent[]) => events.filter((e) => e.type === 'decision');

function setup(
  script: Array<InquiryAnswer | Error>,
  options: { ttlMs?: number; staleMs?: number; negativeTtlMs?: number; service?: string } = {},
) {
  let now = Date.UTC(2026, 10, 26, 12);
  const identityPlus = new ScriptedIdentityPlus(script);
  const records = new MemoryRecords();
  const events: AuthenticationEvent[] = [];
  const auth = new Authenticator({
    identityPlus,
    records,
    cache: new DecisionCache({
      ttlMs: options.ttlMs ?? 60_000,
      staleMs: options.staleMs ?? 0,
      negativeTtlMs: options.negativeTtlMs ?? 0,
    }),
    policy: { allowedRoles: ['member'] },
    billingAnchorDay: 1,
    now: () => now,
    onEvent: (e) => events.push(e),
    service: options.service,
  });
  return { auth, identityPlus, records, events, advance: (ms: number) => (now += ms) };
}

const down = new IdentityPlusError('timeout', 'Identity Plus did not answer within 3000 ms');

describe('Authenticator', () => {
  it('asks on behalf of the configured service and records it with the authentication', async () => {
    const { auth, identityPlus, records } = setup([cleared, { ...cleared }], { service: 'billing.example.com' });
    await auth.authenticate(SERIAL, { ip: '192.0.2.1' });
    await auth.authenticate(SERIAL, { bypassCache: true });
    expect(identityPlus.asked).toEqual([
      { ip: '192.0.2.1', service: 'billing.example.com' },
      { service: 'billing.example.com' },
    ]);
    expect(records.records.map((r) => r.service)).toEqual(['billing.example.com', 'billing.example.com']);
  });

  it("without a configured service asks and records none (the API certificate's own service)", async () => {
    const { auth, identityPlus, records } = setup([cleared]);
    await auth.authenticate(SERIAL, { ip: '192.0.2.1' });
    expect(identityPlus.asked).toEqual([{ ip: '192.0.2.1' }]);
    expect(records.records).toHaveLength(1);
    expect(records.records[0]).not.toHaveProperty('service');
  });

  it('records an allowed user before answering, in the current billing period', async () => {
    const { auth, records } = setup([cleared]);
    const result = await auth.authenticate(SERIAL);
    expect(result).toMatchObject({ decision: 'allow', cached: false, degraded: false, period: '2026-11' });
    expect(records.records).toHaveLength(1);
    expect(records.records[0]).toMatchObject({ userId: 'org:ref-a', name: 'Alice', serial: SERIAL, roles: ['member'] });
    expect(records.records[0]!.period.id).toBe('2026-11');
  });

  it('answers a repeat from the cache without asking Identity Plus or writing a record', async () => {
    const { auth, identityPlus, records, advance } = setup([cleared]);
    await auth.authenticate(SERIAL);
    advance(59_000);
    expect(await auth.authenticate(SERIAL)).toMatchObject({ decision: 'allow', cached: true });
    expect(identityPlus.calls).toBe(1);
    expect(records.records).toHaveLength(1);
  });

  it('asks again once the cache time has passed, so a revocation is seen', async () => {
    const { auth, advance } = setup([cleared, revoked]);
    await auth.authenticate(SERIAL);
    advance(60_000);
    expect(await auth.authenticate(SERIAL)).toMatchObject({ decision: 'deny', reason: 'revoked', cached: false });
  });

  it('bypasses the cache when asked (the validation return)', async () => {
    const { auth, identityPlus } = setup([cleared]);
    await auth.authenticate(SERIAL);
    await auth.authenticate(SERIAL, { bypassCache: true });
    expect(identityPlus.calls).toBe(2);
  });

  it('never caches problem answers when the negative cache is off', async () => {
    const { auth, identityPlus } = setup([{ kind: 'problem', outcome: 'PB 0003 needs validation' }]);
    await auth.authenticate(SERIAL);
    await auth.authenticate(SERIAL);
    expect(identityPlus.calls).toBe(2);
  });

  it('fails the authentication when the record cannot be written, and caches nothing', async () => {
    const { auth, records, identityPlus } = setup([cleared]);
    records.failNext = true;
    await expect(auth.authenticate(SERIAL)).rejects.toBeInstanceOf(RecordWriteError);
    records.failNext = false;
    await auth.authenticate(SERIAL);
    expect(identityPlus.calls).toBe(2);
  });

  it('fails closed when Identity Plus cannot answer and no grace is configured', async () => {
    const { auth, events, advance } = setup([cleared, down], { ttlMs: 1000 });
    await auth.authenticate(SERIAL);
    advance(5000);
    expect(await auth.authenticate(SERIAL)).toMatchObject({
      decision: 'error',
      reason: 'identity-plus-unavailable',
      failure: down.message,
    });
    expect(notable(events)).toEqual(['new-billable-user', 'unavailable']);
  });

  it('allows a certificate allowed within the stale-if-error window, marked degraded and reported', async () => {
    const { auth, events, records, advance } = setup([cleared, down], { ttlMs: 1000, staleMs: 300_000 });
    await auth.authenticate(SERIAL);
    advance(120_000);
    expect(await auth.authenticate(SERIAL)).toMatchObject({ decision: 'allow', degraded: true, cached: true });
    expect(events.filter((e) => e.type === 'degraded')).toEqual([
      { type: 'degraded', serial: SERIAL, failure: down.message },
    ]);
    expect(decisions(events).at(-1)).toMatchObject({ decision: 'allow', cached: false, degraded: true });
    expect(records.records).toHaveLength(1);
  });

  it('gives the same grace when Identity Plus answers an ER code (e.g. our API certificate expired)', async () => {
    const er: InquiryAnswer = { kind: 'problem', outcome: 'ER 1102 Expired service agent certificate' };
    const { auth, events, advance } = setup([cleared, er], { ttlMs: 1000, staleMs: 300_000 });
    await auth.authenticate(SERIAL);
    advance(5000);
    expect(await auth.authenticate(SERIAL)).toMatchObject({ decision: 'allow', degraded: true });
    expect(notable(events)).toEqual(['new-billable-user', 'alarm', 'degraded']);
  });

  it('fails closed on an ER code without a recent allow', async () => {
    const { auth } = setup([{ kind: 'problem', outcome: 'ER 1102 Expired' }], { staleMs: 300_000 });
    expect(await auth.authenticate(SERIAL)).toMatchObject({ decision: 'error', reason: 'api-certificate-problem' });
  });

  it('gives no grace past the window', async () => {
    const { auth, advance } = setup([cleared, down], { ttlMs: 1000, staleMs: 300_000 });
    await auth.authenticate(SERIAL);
    advance(300_000);
    expect((await auth.authenticate(SERIAL)).decision).toBe('error');
  });

  it('gives no grace to a certificate never allowed before', async () => {
    const { auth } = setup([down], { staleMs: 300_000 });
    expect((await auth.authenticate(SERIAL)).decision).toBe('error');
  });

  it('gives no grace to a certificate denied since it was allowed', async () => {
    const { auth, advance } = setup([cleared, revoked, down], { ttlMs: 1000, staleMs: 300_000 });
    await auth.authenticate(SERIAL);
    advance(2000);
    await auth.authenticate(SERIAL);
    advance(2000);
    expect((await auth.authenticate(SERIAL)).decision).toBe('error');
  });

  it('reports red flags and alarms', async () => {
    const { auth, events } = setup([revoked, { kind: 'problem', outcome: 'ER 1103 API certificate revoked' }]);
    await auth.authenticate(SERIAL);
    await auth.authenticate(SERIAL);
    expect(notable(events)).toEqual(['red-flag', 'alarm']);
  });

  it('reports every answered decision once, by decision and reason, and whether the fresh cache answered it', async () => {
    const { auth, events, advance } = setup([cleared, revoked]);
    await auth.authenticate(SERIAL);
    advance(1000);
    await auth.authenticate(SERIAL);
    advance(60_000);
    await auth.authenticate(SERIAL);
    expect(decisions(events)).toEqual([
      { type: 'decision', serial: SERIAL, decision: 'allow', reason: 'cleared', cached: false, degraded: false },
      { type: 'decision', serial: SERIAL, decision: 'allow', reason: 'cleared', cached: true, degraded: false },
      { type: 'decision', serial: SERIAL, decision: 'deny', reason: 'revoked', cached: false, degraded: false },
    ]);
    expect(notable(events)).toEqual(['new-billable-user', 'red-flag']); // the cache hit wrote nothing
  });

  it('reports an error decision when Identity Plus cannot answer', async () => {
    const { auth, events } = setup([down]);
    await auth.authenticate(SERIAL);
    expect(decisions(events)).toEqual([
      {
        type: 'decision',
        serial: SERIAL,
        decision: 'error',
        reason: 'identity-plus-unavailable',
        cached: false,
        degraded: false,
      },
    ]);
  });

  it('reports a new billable user only when the ledger write created the item: once per user per period', async () => {
    const { auth, events, advance } = setup([cleared], { ttlMs: 0 });
    await auth.authenticate(SERIAL);
    advance(1000);
    await auth.authenticate(SERIAL, { bypassCache: true });
    await auth.authenticate('999', { bypassCache: true }); // another device of the same user
    expect(events.filter((e) => e.type === 'new-billable-user')).toEqual([
      { type: 'new-billable-user', userId: 'org:ref-a', period: '2026-11' },
    ]);
    advance(5 * 24 * 3600_000); // into December
    await auth.authenticate(SERIAL, { bypassCache: true });
    expect(events.filter((e) => e.type === 'new-billable-user')).toEqual([
      { type: 'new-billable-user', userId: 'org:ref-a', period: '2026-11' },
      { type: 'new-billable-user', userId: 'org:ref-a', period: '2026-12' },
    ]);
  });

  it('reports a failed ledger write, answers no decision, and still fails the authentication', async () => {
    const { auth, records, events } = setup([cleared]);
    records.failNext = true;
    await expect(auth.authenticate(SERIAL)).rejects.toBeInstanceOf(RecordWriteError);
    expect(events).toEqual([
      { type: 'ledger-write-failed', userId: 'org:ref-a', period: '2026-11', failure: 'table unavailable' },
    ]);
  });

  it('reports no new billable user for a decision that is not an allow', async () => {
    const { auth, events } = setup([revoked, { kind: 'problem', outcome: 'PB 0003 needs validation' }]);
    await auth.authenticate(SERIAL);
    await auth.authenticate(SERIAL);
    expect(notable(events)).toEqual(['red-flag']);
  });

  it('lets unexpected (programming) errors through instead of hiding them as unavailability', async () => {
    const { auth } = setup([new TypeError('bug')]);
    await expect(auth.authenticate(SERIAL)).rejects.toThrow(TypeError);
  });
});

const needsValidation: InquiryAnswer = { kind: 'problem', outcome: 'PB 0003 needs validation' };

describe('Authenticator: confirmed but not admitted (billing reconciles with Identity Plus)', () => {
  const guest: InquiryAnswer = {
    kind: 'profile',
    profile: { ...cleared.profile, serviceRoles: ['guest'] } as typeof cleared.profile,
  } as InquiryAnswer;

  it('records an identity Identity Plus confirmed but the role policy denied, as not admitted, and counts it billed', async () => {
    const { auth, records, events } = setup([guest]);
    const result = await auth.authenticate(SERIAL);
    expect(result).toMatchObject({ decision: 'deny', reason: 'no-role' });
    expect(records.records).toEqual([
      expect.objectContaining({ userId: 'org:ref-a', admitted: false, roles: ['guest'] }),
    ]);
    expect(notable(events)).toEqual(['new-billable-user']);
  });

  it('records an allow as admitted', async () => {
    const { auth, records } = setup([cleared]);
    await auth.authenticate(SERIAL);
    expect(records.records).toEqual([expect.objectContaining({ admitted: true })]);
  });

  it('writes nothing for a deny Identity Plus did not confirm (a problem answer)', async () => {
    const { auth, records } = setup([revoked]);
    await auth.authenticate(SERIAL);
    expect(records.records).toEqual([]);
  });

  it('writes a no-role deny once per negative-cache window, not once per request', async () => {
    const { auth, records, advance } = setup([guest], { negativeTtlMs: 15_000 });
    for (let i = 0; i < 5; i++) await auth.authenticate(SERIAL);
    expect(records.records).toHaveLength(1);
    advance(15_000);
    await auth.authenticate(SERIAL);
    expect(records.records).toHaveLength(2);
  });

  it('fails a no-role deny whose ledger write failed (503), as for an allow: the bill must match', async () => {
    const { auth, records } = setup([guest]);
    records.failNext = true;
    await expect(auth.authenticate(SERIAL)).rejects.toThrow(RecordWriteError);
  });
});

describe('Authenticator: negative cache (negativeCacheSeconds)', () => {
  it.each([
    ['deny', revoked],
    ['validate', needsValidation],
  ])('answers a repeated %s from the cache within the window, then asks again', async (decision, answer) => {
    const { auth, identityPlus, events, advance } = setup([answer], { negativeTtlMs: 15_000 });
    expect((await auth.authenticate(SERIAL)).decision).toBe(decision);
    advance(14_999);
    const again = await auth.authenticate(SERIAL);
    expect(again).toMatchObject({ decision, cached: true });
    expect(identityPlus.calls).toBe(1);
    advance(1);
    await auth.authenticate(SERIAL);
    expect(identityPlus.calls).toBe(2);
    // A red flag is reported for each answer Identity Plus gave, not for each cached repeat.
    expect(notable(events).filter((e) => e === 'red-flag')).toHaveLength(decision === 'deny' ? 2 : 0);
  });

  it('still asks fresh on the validation return (bypassCache)', async () => {
    const { auth, identityPlus } = setup([needsValidation, cleared], { negativeTtlMs: 15_000 });
    await auth.authenticate(SERIAL);
    expect((await auth.authenticate(SERIAL, { bypassCache: true })).decision).toBe('allow');
    expect(identityPlus.calls).toBe(2);
  });

  it('never caches an error, and a cached deny gives no stale grace', async () => {
    const { auth, identityPlus, advance } = setup([cleared, revoked, down], {
      ttlMs: 1_000,
      staleMs: 600_000,
      negativeTtlMs: 15_000,
    });
    await auth.authenticate(SERIAL);
    advance(1_000);
    expect((await auth.authenticate(SERIAL)).decision).toBe('deny');
    advance(15_000);
    // The deny replaced the allow: Identity Plus is down and the certificate gets no grace.
    expect(await auth.authenticate(SERIAL)).toMatchObject({ decision: 'error', degraded: false });
    expect(await auth.authenticate(SERIAL)).toMatchObject({ decision: 'error' });
    expect(identityPlus.calls).toBe(4);
  });
});

/** Identity Plus that answers only when released: lets a test hold many requests inside one inquiry. */
class GatedIdentityPlus implements IdentityPlusPort {
  calls = 0;
  #release: (answer: InquiryAnswer | Error) => void = () => undefined;
  readonly #answer = new Promise<InquiryAnswer | Error>((resolve) => {
    this.#release = resolve;
  });
  release(answer: InquiryAnswer | Error): void {
    this.#release(answer);
  }
  async inquire(): Promise<InquiryAnswer> {
    this.calls++;
    const answer = await this.#answer;
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

function gatedSetup(negativeTtlMs = 0) {
  const identityPlus = new GatedIdentityPlus();
  const records = new MemoryRecords();
  const events: AuthenticationEvent[] = [];
  const auth = new Authenticator({
    identityPlus,
    records,
    cache: new DecisionCache({ ttlMs: 60_000, staleMs: 0, negativeTtlMs }),
    policy: { allowedRoles: ['member'] },
    billingAnchorDay: 1,
    now: () => Date.UTC(2026, 10, 26, 12),
    onEvent: (e) => events.push(e),
  });
  return { auth, identityPlus, records, events };
}

describe('Authenticator: single flight', () => {
  it('makes one inquiry and one ledger write for 32 concurrent requests, and answers each of them', async () => {
    const { auth, identityPlus, records, events } = gatedSetup();
    const answers = Array.from({ length: 32 }, () => auth.authenticate(SERIAL, { ip: '192.0.2.1' }));
    identityPlus.release(cleared);
    const results = await Promise.all(answers);
    expect(results.every((r) => r.decision === 'allow')).toBe(true);
    expect(identityPlus.calls).toBe(1);
    expect(records.records).toHaveLength(1);
    expect(decisions(events)).toHaveLength(32);
    expect(notable(events)).toEqual(['new-billable-user']);
  });

  it('shares a failure too: every waiter gets it, nothing is cached, and the next request asks again', async () => {
    const { auth, identityPlus, records } = gatedSetup();
    const answers = Array.from({ length: 5 }, () => auth.authenticate(SERIAL));
    records.failNext = true;
    identityPlus.release(cleared);
    const settled = await Promise.allSettled(answers);
    expect(settled.every((s) => s.status === 'rejected' && s.reason instanceof RecordWriteError)).toBe(true);
    expect(identityPlus.calls).toBe(1);
    records.failNext = false;
    await auth.authenticate(SERIAL);
    expect(identityPlus.calls).toBe(2);
  });

  it('keeps certificates apart, and lets the validation return ask on its own', async () => {
    const { auth, identityPlus } = gatedSetup();
    const a = auth.authenticate(SERIAL);
    const b = auth.authenticate('12345');
    const fresh = auth.authenticate(SERIAL, { bypassCache: true });
    identityPlus.release(cleared);
    await Promise.all([a, b, fresh]);
    expect(identityPlus.calls).toBe(3);
  });
});

describe('DecisionCache', () => {
  const allow = { decision: 'allow', reason: 'cleared', roles: [], redFlag: false, alarm: false } as const;
  const deny = { decision: 'deny', reason: 'revoked', roles: [], redFlag: true, alarm: false } as const;
  const validate = {
    decision: 'validate',
    reason: 'needs-validation',
    roles: [],
    redFlag: false,
    alarm: false,
  } as const;
  const error = { decision: 'error', reason: 'request-error', roles: [], redFlag: false, alarm: false } as const;

  it('keeps deny and validate for negativeTtlMs, allow for ttlMs, and never an error', () => {
    const cache = new DecisionCache({ ttlMs: 60_000, staleMs: 0, negativeTtlMs: 15_000 });
    cache.remember('a', allow, 0);
    cache.remember('d', deny, 0);
    cache.remember('v', validate, 0);
    cache.remember('e', error, 0);
    expect(cache.fresh('d', 14_999)).toBe(deny);
    expect(cache.fresh('v', 14_999)).toBe(validate);
    expect(cache.fresh('d', 15_000)).toBeUndefined();
    expect(cache.fresh('a', 59_999)).toBe(allow);
    expect(cache.fresh('e', 0)).toBeUndefined();
    expect(cache.size).toBe(3);
  });

  it('serves the stale grace from allows only', () => {
    const cache = new DecisionCache({ ttlMs: 1_000, staleMs: 600_000, negativeTtlMs: 15_000 });
    cache.remember('d', deny, 0);
    expect(cache.stale('d', 1)).toBeUndefined();
    cache.remember('a', allow, 0);
    expect(cache.stale('a', 500_000)).toBe(allow);
    cache.remember('a', deny, 1);
    expect(cache.stale('a', 2)).toBeUndefined();
  });

  it('keeps no deny or validate with negativeTtlMs 0 (the default)', () => {
    const cache = new DecisionCache({ ttlMs: 60_000, staleMs: 0 });
    cache.remember('d', deny, 0);
    expect(cache.fresh('d', 0)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keeps at most maxEntries, dropping the oldest', async () => {
    const cache = new DecisionCache({ ttlMs: 1000, staleMs: 0, maxEntries: 2 });
    cache.remember('1', allow, 0);
    cache.remember('2', allow, 0);
    cache.remember('3', allow, 0);
    expect(cache.size).toBe(2);
    expect(cache.fresh('1', 1)).toBeUndefined();
    expect(cache.fresh('3', 1)).toBeDefined();
  });
});
