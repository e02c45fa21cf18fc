/**
 * At most one Identity Plus intent per certificate per interval, per container: a person (or a script)
 * reloading `/signin` with a certificate that needs validation gets the sign-on URL made moments ago instead
 * of a new intent each time, so a loop cannot burn the service's Identity Plus quota.
 *
 * - Within `intervalMs` of an intent for a serial, a request for that serial gets the same intent again.
 *   Concurrent requests share the one being created.
 * - An intent lives about 30 s at Identity Plus (docs/identityplus-api.md). If the interval is longer than
 *   that and the remembered intent has outlived `lifetimeMs`, the request is refused with
 *   TooManyRequestsError (429, `Retry-After` = the rest of the interval) rather than sent to a dead link.
 * - A failed creation is not remembered: the next request tries again.
 * - `intervalMs` 0 turns the limit off.
 *
 * The reused intent returns to the state (destination) of the request that made it.
 */
import { TooManyRequestsError } from './errors';
import type { IntentPort, IntentReference, IntentRequest } from './identity-plus';

/** How long plusgate trusts an intent to be usable: Identity Plus expires them ~30 s after creation. */
export const INTENT_LIFETIME_MS = 25_000;

export interface IntentLimiterOptions {
  /** `intentIntervalSeconds` in ms; 0 = every request creates an intent. */
  readonly intervalMs: number;
  /** @default INTENT_LIFETIME_MS */
  readonly lifetimeMs?: number;
  readonly now: () => number;
  /** Most certificates remembered; the oldest go first. @default 10_000 */
  readonly maxEntries?: number;
}

interface Made {
  /** Settles with the intent; rejected creations are removed before anyone else can join them. */
  readonly intent: Promise<IntentReference>;
  readonly createdAt: number;
}

export class IntentLimiter implements IntentPort {
  readonly #made = new Map<string, Made>();
  readonly #inner: IntentPort;
  readonly #intervalMs: number;
  readonly #lifetimeMs: number;
  readonly #now: () => number;
  readonly #maxEntries: number;

  constructor(inner: IntentPort, options: IntentLimiterOptions) {
    this.#inner = inner;
    this.#intervalMs = Math.max(0, options.intervalMs);
    this.#lifetimeMs = options.lifetimeMs ?? INTENT_LIFETIME_MS;
    this.#now = options.now;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  createIntent(request: IntentRequest): Promise<IntentReference> {
    if (this.#intervalMs === 0) return this.#inner.createIntent(request);
    const now = this.#now();
    const previous = this.#made.get(request.serial);
    if (previous && now - previous.createdAt < this.#intervalMs) {
      if (now - previous.createdAt < this.#lifetimeMs) return previous.intent;
      const waitMs = previous.createdAt + this.#intervalMs - now;
      return Promise.reject(
        new TooManyRequestsError(
          'A validation link was made for this certificate moments ago and has expired; try again shortly.',
          waitMs / 1000,
        ),
      );
    }
    const made: Made = { intent: this.#inner.createIntent(request), createdAt: now };
    this.#made.delete(request.serial);
    this.#made.set(request.serial, made);
    if (this.#made.size > this.#maxEntries) {
      const oldest = this.#made.keys().next().value as string;
      this.#made.delete(oldest);
    }
    made.intent.catch(() => {
      if (this.#made.get(request.serial) === made) this.#made.delete(request.serial);
    });
    return made.intent;
  }
}
