/**
 * In-memory cache of decisions per certificate serial, one per Lambda container.
 * - An **allow** younger than `ttlMs` answers without asking Identity Plus, so a revocation is seen within
 *   `ttlMs`. It is kept up to `staleMs` only to serve the opt-in stale-if-error grace.
 * - A **deny** or **validate** younger than `negativeTtlMs` answers too, so one certificate looping `/signin`
 *   does not become one Identity Plus inquiry per request. It never serves the stale grace, and it replaces
 *   an allow (a revoked certificate gets no grace).
 * - `error` answers are never cached (the caller does not remember them).
 */
import type { Decision } from './decision';

interface Entry {
  readonly decision: Decision;
  readonly storedAt: number;
}

export interface DecisionCacheOptions {
  /** How long an allow answers without asking Identity Plus (`decisionCacheSeconds`). 0 disables. */
  readonly ttlMs: number;
  /** How long after an allow it may be reused when Identity Plus cannot answer (`staleIfErrorSeconds`). 0 = fail closed. */
  readonly staleMs: number;
  /** How long a deny or validate answers without asking Identity Plus (`negativeCacheSeconds`). @default 0 (off) */
  readonly negativeTtlMs?: number;
  /** Most entries kept; the least recently stored go first. */
  readonly maxEntries?: number;
}

export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #negativeTtlMs: number;
  readonly #maxEntries: number;

  constructor(options: DecisionCacheOptions) {
    this.#ttlMs = Math.max(0, options.ttlMs);
    this.#staleMs = Math.max(0, options.staleMs);
    this.#negativeTtlMs = Math.max(0, options.negativeTtlMs ?? 0);
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** An allow stored less than `ttlMs` ago, or a deny or validate stored less than `negativeTtlMs` ago. */
  fresh(serial: string, now: number): Decision | undefined {
    const entry = this.#entries.get(serial);
    if (!entry) return undefined;
    const ttl = entry.decision.decision === 'allow' ? this.#ttlMs : this.#negativeTtlMs;
    return now - entry.storedAt < ttl ? entry.decision : undefined;
  }

  /** An allow stored less than `staleMs` ago, for the stale-if-error grace. */
  stale(serial: string, now: number): Decision | undefined {
    const entry = this.#entries.get(serial);
    return entry && entry.decision.decision === 'allow' && now - entry.storedAt < this.#staleMs
      ? entry.decision
      : undefined;
  }

  /** Remembers an allow, deny or validate (each while its setting keeps it); anything else forgets the serial. */
  remember(serial: string, decision: Decision, now: number): void {
    this.#entries.delete(serial);
    if (!this.#keeps(decision)) return;
    this.#entries.set(serial, { decision, storedAt: now });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  /** Forgets what is known about `serial` (its owner was bound or unbound: the next request asks again). */
  forget(serial: string): void {
    this.#entries.delete(serial);
  }

  /** Forgets every certificate whose decision names the user `userId` (an unbinding knows no serial). */
  forgetUser(userId: string): void {
    for (const [serial, entry] of this.#entries) {
      if (entry.decision.user?.id === userId) this.#entries.delete(serial);
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  #keeps(decision: Decision): boolean {
    switch (decision.decision) {
      case 'allow':
        return this.#ttlMs > 0 || this.#staleMs > 0;
      case 'deny':
      case 'validate':
        return this.#negativeTtlMs > 0;
      case 'error':
        return false;
    }
  }
}
