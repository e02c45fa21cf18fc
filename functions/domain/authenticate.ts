/**
 * The authentication use case shared by every entry point (edge pages, /verify, the authorizer): ask
 * Identity Plus about a certificate (or answer from the cache), decide, and record an allowed user in
 * the billing ledger *before* the allow is answered. Outside world behind ports; time comes in as a clock.
 */
import { type BillingPeriod, periodOf } from './billing-period';
import {
  type Decision,
  type DecisionKind,
  type DecisionReason,
  type RolePolicy,
  decide,
  unavailableDecision,
} from './decision';
import type { DecisionCache } from './decision-cache';
import { IdentityPlusError } from './errors';
import type { InquiryAnswer } from './identity-plus';

/** What an inquiry carries besides the serial: the client's IP, and the service it asks on behalf of. */
export interface InquiryOptions {
  readonly ip?: string;
  /** A service our API certificate manages (delegated inquiry); absent = the API certificate's own service. */
  readonly service?: string;
}

/** Port: asks Identity Plus about a certificate serial. Throws IdentityPlusError when it cannot. */
export interface IdentityPlusPort {
  inquire(serial: string, options?: InquiryOptions): Promise<InquiryAnswer>;
}

/** One confirmed authentication, as written to the ledger. */
export interface AuthenticationRecord {
  readonly period: BillingPeriod;
  readonly userId: string;
  readonly name?: string;
  readonly email?: string;
  readonly serial: string;
  readonly roles: readonly string[];
  readonly at: Date;
  /**
   * Whether the role policy let the person in. Identity Plus confirmed the identity either way, so it is
   * billed either way; false only for a `no-role` deny.
   */
  readonly admitted: boolean;
  /** The service Identity Plus was asked on behalf of (`identityPlusService`); absent = the API certificate's own. */
  readonly service?: string;
}

/** What one ledger write did. */
export interface RecordedAuthentication {
  /** The write created the user's item for the period: the user is billed for the first time this period. */
  readonly created: boolean;
}

/** Port: the billing ledger. Throws RecordWriteError when the write fails. */
export interface RecordsPort {
  recordAuthentication(record: AuthenticationRecord): Promise<RecordedAuthentication>;
}

/** What happened, for logs and metrics (no secrets, no certificates). */
export type AuthenticationEvent =
  /** Every answered decision, once (a failed ledger write answers none). */
  | {
      readonly type: 'decision';
      readonly serial: string;
      readonly decision: DecisionKind;
      readonly reason: DecisionReason;
      /** From this container's fresh cache (not the stale grace: that one is `degraded`). */
      readonly cached: boolean;
      readonly degraded: boolean;
    }
  /** The ledger write created the user's item: a new billable user of the period. */
  | { readonly type: 'new-billable-user'; readonly userId: string; readonly period: string }
  /** The ledger write failed; the authentication fails with it. */
  | { readonly type: 'ledger-write-failed'; readonly userId: string; readonly period: string; readonly failure: string }
  | { readonly type: 'degraded'; readonly serial: string; readonly failure: string }
  | { readonly type: 'red-flag'; readonly serial: string; readonly outcome?: string }
  | { readonly type: 'alarm'; readonly serial: string; readonly outcome?: string }
  | { readonly type: 'unavailable'; readonly serial: string; readonly failure: string };

export interface AuthenticationResult extends Decision {
  /** The decision came from this container's cache (fresh, or stale when degraded). */
  readonly cached: boolean;
  /** Allowed under the stale-if-error grace because Identity Plus could not answer. */
  readonly degraded: boolean;
  /** Billing period of this authentication. */
  readonly period: string;
  /** The failure that led to an `identity-plus-unavailable` error, in plain words (no internals). */
  readonly failure?: string;
}

export interface AuthenticatorDeps {
  readonly identityPlus: IdentityPlusPort;
  readonly records: RecordsPort;
  readonly cache: DecisionCache;
  readonly policy: RolePolicy;
  readonly billingAnchorDay: number;
  readonly now: () => number;
  readonly onEvent?: (event: AuthenticationEvent) => void;
  /**
   * The service every inquiry asks on behalf of, recorded with each ledger write. @default - the API
   * certificate's own service (no `service` sent or recorded)
   */
  readonly service?: string;
}

export class Authenticator {
  /** Inquiries under way per serial: concurrent requests for one certificate share one (single flight). */
  readonly #inFlight = new Map<string, Promise<AuthenticationResult>>();

  constructor(private readonly deps: AuthenticatorDeps) {}

  /**
   * Decides on the certificate `serial`. `bypassCache` forces a fresh Identity Plus answer (the
   * validation return). Throws RecordWriteError when an allow could not be recorded: the caller must
   * then fail the request, so no billed user is ever missing from the ledger.
   *
   * Without `bypassCache`, a fresh cached decision answers at once, and requests for a certificate that
   * arrive while its inquiry is under way wait for that inquiry instead of making their own: they share
   * its answer, its ledger write and its failure (the inquiry carries the first request's client IP).
   */
  async authenticate(
    serial: string,
    options: { bypassCache?: boolean; ip?: string } = {},
  ): Promise<AuthenticationResult> {
    const result = await this.#answer(serial, options);
    this.deps.onEvent?.({
      type: 'decision',
      serial,
      decision: result.decision,
      reason: result.reason,
      cached: result.cached && !result.degraded,
      degraded: result.degraded,
    });
    return result;
  }

  #answer(serial: string, options: { bypassCache?: boolean; ip?: string }): Promise<AuthenticationResult> {
    if (options.bypassCache) return this.#ask(serial, options);
    const now = this.deps.now();
    const hit = this.deps.cache.fresh(serial, now);
    if (hit) {
      const period = periodOf(new Date(now), this.deps.billingAnchorDay);
      return Promise.resolve({ ...hit, cached: true, degraded: false, period: period.id });
    }
    const underWay = this.#inFlight.get(serial);
    if (underWay) return underWay;
    const asked = this.#ask(serial, options).finally(() => this.#inFlight.delete(serial));
    this.#inFlight.set(serial, asked);
    return asked;
  }

  /** Asks Identity Plus, decides, records an allow, and remembers the decision. */
  async #ask(serial: string, options: { ip?: string }): Promise<AuthenticationResult> {
    const { identityPlus, cache, now, onEvent, service } = this.deps;
    const started = now();
    const period = periodOf(new Date(started), this.deps.billingAnchorDay);

    let answer: InquiryAnswer;
    try {
      answer = await identityPlus.inquire(serial, {
        ...(options.ip ? { ip: options.ip } : {}),
        ...(service ? { service } : {}),
      });
    } catch (err) {
      if (!(err instanceof IdentityPlusError)) throw err;
      const stale = cache.stale(serial, now());
      if (stale) {
        onEvent?.({ type: 'degraded', serial, failure: err.message });
        return { ...stale, cached: true, degraded: true, period: period.id };
      }
      onEvent?.({ type: 'unavailable', serial, failure: err.message });
      return { ...unavailableDecision(), cached: false, degraded: false, period: period.id, failure: err.message };
    }

    const decision = decide(answer, this.deps.policy, serial);
    if (decision.redFlag) onEvent?.({ type: 'red-flag', serial, outcome: decision.outcome });
    if (decision.alarm) onEvent?.({ type: 'alarm', serial, outcome: decision.outcome });
    if (decision.decision === 'error') {
      // An ER answer (our request or our API certificate, e.g. expired: the classic outage) says nothing
      // about this certificate: Identity Plus could not answer, so the stale grace applies as for a timeout.
      const stale = cache.stale(serial, now());
      if (stale) {
        onEvent?.({ type: 'degraded', serial, failure: `Identity Plus answered ${decision.outcome ?? 'an error'}` });
        return { ...stale, cached: true, degraded: true, period: period.id };
      }
    }

    // Identity Plus bills every identity it confirmed (OK), also one our role policy then turned away
    // (`no-role`): that one is recorded too, as not admitted, so the ledger matches Identity Plus's bill.
    const admitted = decision.decision === 'allow';
    if (decision.user && (admitted || decision.reason === 'no-role')) {
      const userId = decision.user.id;
      let recorded: RecordedAuthentication;
      try {
        recorded = await this.deps.records.recordAuthentication({
          period,
          userId,
          name: decision.user.name,
          email: decision.user.email,
          serial,
          roles: decision.roles,
          at: new Date(started),
          admitted,
          ...(service ? { service } : {}),
        });
      } catch (err) {
        const failure = err instanceof Error ? err.message : String(err);
        onEvent?.({ type: 'ledger-write-failed', userId, period: period.id, failure });
        throw err;
      }
      if (recorded.created) onEvent?.({ type: 'new-billable-user', userId, period: period.id });
    }
    // ER answers say nothing about the certificate: keep a previous allow for the stale grace.
    if (decision.decision !== 'error') cache.remember(serial, decision, now());
    return { ...decision, cached: false, degraded: false, period: period.id };
  }
}
