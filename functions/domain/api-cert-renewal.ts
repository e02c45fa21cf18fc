/**
 * When the Identity Plus API certificate is renewed, and what a renewal run reports. Pure: the certificate's
 * validity and the clock come in as values.
 *
 * Identity Plus's own tools renew their agent certificates at 3/4 of the lifetime; plusgate does the same by
 * default (`apiCertRenewAtFraction`), checking daily, so a failing renewal has a quarter of the lifetime
 * (about three months for a one-year certificate) of daily retries and alarms before anything expires.
 */

const DAY_MS = 86_400_000;

/** The validity window of a certificate. */
export interface Validity {
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** What a renewal run decided before calling anyone. */
export interface RenewalPlan {
  /** True when the certificate should be renewed now. */
  readonly renew: boolean;
  /** When the certificate becomes due (`notBefore + fraction × lifetime`). */
  readonly dueAt: Date;
  /** Whole days until the certificate expires (negative once it has). */
  readonly daysLeft: number;
  /** Why, in one sentence for logs and the CLI. */
  readonly reason: string;
}

/** What a renewal run did: the shape `npm run renew-api-cert -- --json` prints. */
export interface RenewalOutcome {
  readonly renewed: boolean;
  readonly oldSerial: string;
  /** The new certificate's serial (decimal), when renewed. */
  readonly newSerial?: string;
  /** ISO-8601 expiry of the certificate in use after the run (the new one when renewed). */
  readonly notAfter: string;
  readonly reason: string;
}

/** The instant a certificate is due for renewal: after `fraction` of its lifetime. */
export function renewalDueAt(validity: Validity, fraction: number): Date {
  if (!(fraction > 0 && fraction < 1)) throw new RangeError(`fraction must be between 0 and 1, got ${fraction}`);
  const start = validity.notBefore.getTime();
  return new Date(start + Math.floor((validity.notAfter.getTime() - start) * fraction));
}

/** Whole days from `now` until `notAfter` (rounded down; negative after expiry). */
export function daysLeft(validity: Validity, now: Date): number {
  return Math.floor((validity.notAfter.getTime() - now.getTime()) / DAY_MS);
}

/** Decides whether to renew now: once due, or always when forced. */
export function planRenewal(validity: Validity, fraction: number, now: Date, force = false): RenewalPlan {
  const dueAt = renewalDueAt(validity, fraction);
  const left = daysLeft(validity, now);
  const percent = Math.round(fraction * 100);
  if (force) return { renew: true, dueAt, daysLeft: left, reason: `renewal forced (${left} days left)` };
  if (now.getTime() >= dueAt.getTime()) {
    return {
      renew: true,
      dueAt,
      daysLeft: left,
      reason: `${percent}% of the certificate's lifetime has passed (due ${day(dueAt)}, ${left} days left)`,
    };
  }
  return {
    renew: false,
    dueAt,
    daysLeft: left,
    reason: `not due: renewal is due ${day(dueAt)}, at ${percent}% of the lifetime (${left} days left)`,
  };
}

function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Port: where the API certificate secret lives (Secrets Manager in AWS, a file in local mode). */
export interface ApiCertSecretPort {
  /** The secret's JSON value as stored. */
  read(): Promise<unknown>;
  /** Stores a new value as the current version; the previous stays readable as the previous version. */
  write(value: Readonly<Record<string, string>>): Promise<void>;
  /** Where the secret is, for messages (a secret name or a file path; never its value). */
  readonly description: string;
}
