/**
 * The ports of the fuzzed handlers: an Identity Plus double answering whatever fast-check picked (every
 * outcome of docs/identityplus-api.md, garbage, or an IdentityPlusError), intents and a ledger that record
 * what they were asked, and a model of what the decision table (docs/design.md) allows each answer to be.
 * Built on test/support/handler-doubles.ts.
 */
import fc from 'fast-check';
import type { AuthenticationRecord } from '../../functions/domain/authenticate';
import type { DecisionKind } from '../../functions/domain/decision';
import { IdentityPlusError, type IdentityPlusFailureKind } from '../../functions/domain/errors';
import type { IdentityProfile, InquiryAnswer, IntentReference } from '../../functions/domain/identity-plus';
import { INTERNAL_MARKER, anyText, tainted } from './fuzz-inputs';
import { FakeIdentityPlus, FakeIntents, MemoryUsedStates } from './handler-doubles';

// ---------------------------------------------------------------------------------- Identity Plus

/** What the Identity Plus double does when asked next: answer, or fail the way the client would. */
export type ScriptedAnswer =
  | { readonly answer: InquiryAnswer }
  | { readonly fails: IdentityPlusFailureKind; readonly message: string };

const pad = (n: number) => String(n).padStart(4, '0');

const OK_OUTCOMES = [
  'OK 0001 Subject anonymous certificate valid',
  'OK 0002 Subject anonymous certificate valid and user uid associated',
] as const;
const PB_OUTCOMES = [
  'PB 0000 No certificate',
  'PB 0001 No client certificate presented',
  'PB 0002 Expired Identity Plus anonymous certificate',
  'PB 0003 Identity Plus anonymous certificate needs validation',
  'PB 0004 Revoked Identity Plus anonymous certificate',
  'PB 0005 Intruder Certificate',
  'PB 0006 Unknown Identity Plus anonymous certificate',
  'PB 0007 Cryptographic failure',
  'PB 0008 Authorization expired',
] as const;
const ER_OUTCOMES = fc
  .oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 1100, max: 1106 }))
  .map((n) => `ER ${pad(n)} Error <x-fuzz>`);
const ODD_OUTCOMES = fc.oneof(
  fc.constantFrom(
    '',
    'OK',
    'OK 0000 Acknowledged',
    'OK 0003 Something new',
    'OK 0100 Local user bound',
    'ok 0001 lower case',
    ' OK 0001 leading space',
    'OK 00011 one digit too many',
    'OK 0001',
    'PB 0009 Not documented',
    'PB 0003',
    'ER 0013 Not documented',
    'ER 1099 Not documented',
    'ER 1107 Not documented',
    'ER 9999',
    'XX 0001 Unknown class',
  ),
  tainted(),
);

/** Every outcome of docs/identityplus-api.md, the codes around them, and garbage; weighted by `ok`, `pb`. */
function outcome(weights: { ok: number; pb: number; er: number; odd: number }): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: weights.ok, arbitrary: fc.constantFrom(...OK_OUTCOMES) },
    { weight: weights.pb, arbitrary: fc.constantFrom(...PB_OUTCOMES) },
    { weight: weights.er, arbitrary: ER_OUTCOMES },
    { weight: weights.odd, arbitrary: ODD_OUTCOMES },
  );
}

const someText = fc.option(
  fc.oneof(
    tainted(),
    fc.constantFrom(
      '',
      '   ',
      'Alice Archer',
      "O'Brien",
      'alice@example.com',
      '=cmd|x',
      'bob\u{1F600}',
      '\ud800',
      'x'.repeat(3000),
    ),
  ),
  { nil: undefined },
);

const role = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'member',
      'admin',
      ' admin ',
      'ADMIN',
      'Ops',
      'org. administrator',
      '',
      'a,b',
      'team \u{1F680}',
    ),
  },
  { weight: 1, arbitrary: tainted() },
);

const customFields = fc.constantFrom<Record<string, unknown>>(
  {},
  { department: 'x-fuzz' },
  JSON.parse('{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}'),
);

/** An `Identity-Profile`: any outcome, roles, names and references, markup in all of them. */
export const profile: fc.Arbitrary<IdentityProfile> = fc.record(
  {
    outcome: outcome({ ok: 8, pb: 2, er: 1, odd: 1 }),
    serviceRoles: fc.array(role, { maxLength: 4 }),
    organizationalReference: someText,
    organizationalName: someText,
    organizationalEmail: someText,
    localUserId: someText,
    localUserName: someText,
    trustScore: fc.option(fc.double(), { nil: undefined }),
    customFields,
  },
  { requiredKeys: ['outcome', 'serviceRoles', 'customFields'] },
);

const FAILURE_KINDS: readonly IdentityPlusFailureKind[] = [
  'timeout',
  'connection',
  'tls',
  'http-status',
  'invalid-response',
  'unknown-envelope',
  'rejected',
];

/** What Identity Plus does: a profile, a `Simple-Response`, or no usable answer. */
export const scriptedAnswer: fc.Arbitrary<ScriptedAnswer> = fc.oneof(
  { weight: 5, arbitrary: profile.map((p) => ({ answer: { kind: 'profile' as const, profile: p } })) },
  {
    weight: 4,
    arbitrary: fc
      .record({ outcome: outcome({ ok: 1, pb: 6, er: 2, odd: 1 }), message: fc.option(anyText(), { nil: undefined }) })
      .map(({ outcome: o, message }) => ({ answer: { kind: 'problem' as const, outcome: o, message } })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ fails: fc.constantFrom(...FAILURE_KINDS), message: tainted() })
      .map(({ fails, message }) => ({ fails, message: `${INTERNAL_MARKER} ${message}` })),
  },
);

/** Answers of a validation round trip: mostly "needs validation", then cleared; anything now and then. */
export const roundTripAnswer: fc.Arbitrary<ScriptedAnswer> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc
      .constantFrom(...PB_OUTCOMES.slice(2, 4))
      .map((o) => ({ answer: { kind: 'problem' as const, outcome: o } })),
  },
  {
    weight: 3,
    arbitrary: fc
      .tuple(profile, fc.constantFrom(...OK_OUTCOMES))
      .map(([p, o]) => ({ answer: { kind: 'profile' as const, profile: { ...p, outcome: o } } })),
  },
  { weight: 2, arbitrary: scriptedAnswer },
);

/** The failure of an intent: Identity Plus refused it or could not be reached. */
export const intentFailure: fc.Arbitrary<ScriptedAnswer | null> = fc.oneof(
  { weight: 8, arbitrary: fc.constant(null) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom(...FAILURE_KINDS)
      .map((fails) => ({ fails, message: `${INTERNAL_MARKER} intent refused` }) as const),
  },
);

/** The IdentityPlusError a scripted failure throws. */
export function failureOf(scripted: {
  readonly fails: IdentityPlusFailureKind;
  readonly message: string;
}): IdentityPlusError {
  return new IdentityPlusError(scripted.fails, scripted.message, {
    ...(scripted.fails === 'http-status' ? { statusCode: 502 } : {}),
    ...(scripted.fails === 'rejected' ? { outcome: `ER 1104 ${INTERNAL_MARKER} over the plan` } : {}),
  });
}

/** Identity Plus answering what the current step scripted; remembers who was asked what. */
export class ScriptedIdentityPlus extends FakeIdentityPlus {
  next: ScriptedAnswer = { fails: 'timeout', message: INTERNAL_MARKER };
  readonly asked: Array<{ readonly serial: string; readonly scripted: ScriptedAnswer }> = [];

  /** Event-loop turns to wait before answering, so concurrent requests interleave. */
  ticks = 0;

  override async inquire(serial: string): Promise<InquiryAnswer> {
    const scripted = this.next;
    this.asked.push({ serial, scripted });
    for (let i = 0; i < this.ticks; i++) await new Promise((resolve) => setImmediate(resolve));
    this.answers.set(serial, 'answer' in scripted ? scripted.answer : failureOf(scripted));
    return super.inquire(serial);
  }
}

/** Intents (sign-on URL of {@link FakeIntents}) that count every attempt, failed ones included. */
export class CountingIntents extends FakeIntents {
  attempts = 0;
  /** Every sign-on URL handed out: the only places off plusgate's origins a redirect may go. */
  readonly signonUrls = new Set<string>();

  override async createIntent(...args: Parameters<FakeIntents['createIntent']>): Promise<IntentReference> {
    this.attempts++;
    const intent = await super.createIntent(...args);
    this.signonUrls.add(intent.signonUrl);
    return intent;
  }
}

/** The used-state store of {@link MemoryUsedStates}, counting claims and failed claims. */
export class CountingUsedStates extends MemoryUsedStates {
  attempts = 0;
  failures = 0;

  override async claimState(id: string, expiresAt: number): Promise<boolean> {
    this.attempts++;
    if (this.fail) this.failures++;
    return super.claimState(id, expiresAt);
  }
}

// ------------------------------------------------------------------------------------------ model

/**
 * The decision docs/design.md's table gives an answer, written from the table (not from `decide()`), so a
 * disagreement shows: OK 0001/0002 in a profile with a role (when roles are required; names compared
 * trimmed and case-insensitively) → allow; PB 0002/0003 → validate; PB 0000/0001/0004–0008 → deny;
 * anything else, and no answer, → error.
 */
export function expectedDecision(scripted: ScriptedAnswer, allowedRoles: readonly string[]): DecisionKind {
  if (!('answer' in scripted)) return 'error';
  const answer = scripted.answer;
  const code = (answer.kind === 'profile' ? answer.profile.outcome : answer.outcome).slice(0, 7);
  if (code === 'OK 0001' || code === 'OK 0002') {
    if (answer.kind !== 'profile') return 'error';
    const name = (role: string) => role.trim().toLowerCase();
    const held = answer.profile.serviceRoles.map(name);
    return allowedRoles.length === 0 || allowedRoles.some((r) => held.includes(name(r))) ? 'allow' : 'deny';
  }
  if (code === 'PB 0002' || code === 'PB 0003') return 'validate';
  if (/^PB 000[0145678]$/.test(code)) return 'deny';
  return 'error';
}

/** True when Identity Plus confirmed the identity: OK 0001/0002 in an `Identity-Profile`. */
export function confirmedIdentity(scripted: ScriptedAnswer): boolean {
  if (!('answer' in scripted) || scripted.answer.kind !== 'profile') return false;
  const code = scripted.answer.profile.outcome.slice(0, 7);
  return code === 'OK 0001' || code === 'OK 0002';
}

/** What one request did, seen through the doubles. */
export interface StepObservation {
  readonly now: number;
  /** Identity Plus inquiries made while answering it. */
  readonly asked: ReadonlyArray<{ readonly serial: string; readonly scripted: ScriptedAnswer }>;
  /** Ledger writes made while answering it. */
  readonly written: readonly AuthenticationRecord[];
  readonly ledgerFailing: boolean;
  /** Another port failed while answering it: an intent, or claiming a used state (the ledger table). */
  readonly portFailed: boolean;
  readonly status: number;
  /** The answer lets the caller in (see `answeredAllow`). */
  readonly allowed: boolean;
  /** The serial the request is about, when the test knows it for certain. */
  readonly subjectSerial?: string;
}

/** The settings of the fuzzed deployment that decide what an answer may be. */
export interface ModelSettings {
  readonly allowedRoles: readonly string[];
  /** `decisionCacheSeconds` in ms. */
  readonly ttlMs: number;
  /** `staleIfErrorSeconds` in ms. */
  readonly staleMs: number;
}

/**
 * The rules every request must keep, over a sequence of requests to one handler: the ledger is written
 * for every identity Identity Plus has just confirmed (an allow, admitted, before it is answered; a `no-role`
 * deny, not admitted, not let in) and for nothing else; a 503 has a documented
 * cause; an allow without a fresh confirmation comes only from the cache (within `decisionCacheSeconds`) or
 * the stale grace (an error answer within `staleIfErrorSeconds` of a confirmed allow), never after a deny
 * or validate. Holds whether or not denies and validates are cached too (they never let anyone in).
 */
export class AuthenticationModel {
  /** When Identity Plus last confirmed (and the ledger recorded) an allow per serial, until a deny or validate. */
  readonly #confirmed = new Map<string, number>();

  constructor(private readonly settings: ModelSettings) {}

  /** The rules this step broke (none: empty); then remembers what it confirmed or revoked. */
  observe(step: StepObservation): string[] {
    const broken: string[] = [];
    const { asked, written } = step;
    const inquiry = asked.length === 1 ? asked[0] : undefined;
    const expected = inquiry ? expectedDecision(inquiry.scripted, this.settings.allowedRoles) : undefined;
    const age = (serial: string) => {
      const at = this.#confirmed.get(serial);
      return at === undefined ? Number.POSITIVE_INFINITY : step.now - at;
    };

    if (asked.length > 1) broken.push(`asked Identity Plus ${asked.length} times for one request`);
    if (written.length > 1) broken.push(`wrote ${written.length} ledger records for one request`);
    // Identity Plus confirmed the identity (OK in a profile): an allow, or a `no-role` deny; both are recorded
    // (Identity Plus bills both), the deny as not admitted, and only the allow lets the caller in.
    const confirmed = inquiry !== undefined && confirmedIdentity(inquiry.scripted);
    const write = written[0];
    if (write) {
      if (!confirmed)
        broken.push(`wrote the ledger although Identity Plus confirmed nothing (it decided ${expected ?? 'nothing'})`);
      if (expected === 'allow' && !step.allowed) broken.push('recorded an allow but did not answer one');
      if (expected !== 'allow' && step.allowed) broken.push('recorded a non-allow and let the caller in');
      if (write.admitted !== (expected === 'allow'))
        broken.push(`recorded admitted: ${String(write.admitted)} for a decision ${expected ?? 'none'}`);
      if (inquiry && write.serial !== inquiry.serial)
        broken.push(`recorded serial ${write.serial}, but asked Identity Plus about ${inquiry.serial}`);
    }
    if (confirmed && !step.ledgerFailing && written.length !== 1)
      broken.push(`Identity Plus confirmed the identity (${expected}), but it was not recorded`);
    if (confirmed && step.ledgerFailing && step.status !== 503)
      broken.push(`the ledger write failed, but the answer was ${step.status}, not 503`);
    if (inquiry && step.subjectSerial !== undefined && inquiry.serial !== step.subjectSerial)
      broken.push(`asked Identity Plus about ${inquiry.serial}, not the request's certificate ${step.subjectSerial}`);
    if (expected === 'allow' && !step.ledgerFailing && !step.allowed)
      broken.push('Identity Plus confirmed an allow, but it was not answered as one');
    if (step.ledgerFailing && written.length === 0 && confirmed && step.allowed)
      broken.push('let the caller in although the ledger write failed');

    if (step.allowed && !inquiry) {
      const fresh =
        step.subjectSerial !== undefined
          ? age(step.subjectSerial) < this.settings.ttlMs
          : [...this.#confirmed.keys()].some((serial) => age(serial) < this.settings.ttlMs);
      if (!fresh)
        broken.push('allowed without asking Identity Plus, with no confirmed allow younger than the cache TTL');
    }
    if (step.allowed && inquiry && expected !== 'allow') {
      if (expected !== 'error') broken.push(`allowed although Identity Plus just decided ${expected}`);
      else if (!(age(inquiry.serial) < this.settings.staleMs))
        broken.push('allowed on an Identity Plus failure without a confirmed allow inside the stale-if-error window');
    }
    if (step.status === 503) {
      const cause = (inquiry && expected === 'error') || (confirmed && step.ledgerFailing) || step.portFailed;
      if (!cause) broken.push('answered 503 without a documented cause (Identity Plus, the ledger table, an intent)');
    }

    if (inquiry && expected === 'allow' && write) this.#confirmed.set(inquiry.serial, step.now);
    if (inquiry && (expected === 'deny' || expected === 'validate')) this.#confirmed.delete(inquiry.serial);
    return broken;
  }
}
