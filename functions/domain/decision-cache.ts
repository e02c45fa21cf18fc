/**
 * In-memory cache of *allowed* decisions per certificate serial, one per Lambda container. A fresh entry
 * (younger than `ttlMs`) answers without asking Identity Plus, so a revocation is seen within `ttlMs`.
 * An older entry is kept up to `staleMs` only to serve the opt-in stale-if-error grace. Problem answers
 * are never cached; a non-allow answer removes the entry.
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
  /** Most entries kept; the least recently stored go first. */
  readonly maxEntries?: number;
}

export class DecisionCache {
  readonly #entries = new Map<string, Entry>();
  readonly #ttlMs: number;
  readonly #staleMs: number;
  readonly #maxEntries: number;

  constructor(options: DecisionCacheOptions) {
    this.#ttlMs = Math.max(0, options.ttlMs);
    this.#staleMs = Math.max(0, options.staleMs);
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /** An allow stored less than `ttlMs` ago. */
  fresh(serial: string, now: number): Decision | undefined {
    const entry = this.#entries.get(serial);
    return entry && now - entry.storedAt < this.#ttlMs ? entry.decision : undefined;
  }

  /** An allow stored less than `staleMs` ago, for the stale-if-error grace. */
  stale(serial: string, now: number): Decision | undefined {
    const entry = this.#entries.get(serial);
    return entry && now - entry.storedAt < this.#staleMs ? entry.decision : undefined;
  }

  /** Remembers an allow; anything else forgets the serial (a revoked certificate gets no grace). */
  remember(serial: string, decision: Decision, now: number): void {
    this.#entries.delete(serial);
    if (decision.decision !== 'allow' || (this.#ttlMs === 0 && this.#staleMs === 0)) return;
    this.#entries.set(serial, { decision, storedAt: now });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
