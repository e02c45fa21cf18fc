/**
 * Renewing the Identity Plus API certificate, the use case shared by the daily Lambda and
 * `npm run renew-api-cert`: read the secret, decide whether it is due, renew over mutual TLS with the
 * current certificate, check what came back, and only then store it as the new current version. A renewal
 * that fails at any step stores nothing: the old certificate stays in use (it is valid until its own expiry,
 * so functions still holding it keep working) and the failure is counted and logged.
 */
import {
  type OpenedApiCertificate,
  checkRenewedCertificate,
  commonNameOf,
  openApiCertificate,
  validityOf,
} from '../adapters/api-certificate';
import type { ApiCredentials } from '../adapters/identity-plus-credentials';
import { apiCredentialsFromSecret } from '../adapters/secrets';
import type { RenewedCredentials } from '../adapters/self-authority-client';
import { type ApiCertSecretPort, type RenewalOutcome, daysLeft, planRenewal } from '../domain/api-cert-renewal';
import { RenewalError } from '../domain/errors';

/** Dependencies of {@link renewApiCertificate}. */
export interface RenewalDeps {
  readonly secret: ApiCertSecretPort;
  /** Calls the self-authority API with `credentials` (the current certificate). */
  readonly renew: (
    credentials: ApiCredentials,
    args: { device: string; tentative: boolean },
  ) => Promise<RenewedCredentials>;
  /** Share of the lifetime after which the certificate is renewed (apiCertRenewAtFraction). */
  readonly renewAtFraction: number;
  readonly now: () => Date;
  /** Told the days left of the certificate in use after the run (the new one when renewed). */
  readonly onDaysLeft?: (days: number) => void;
  /** Told of a stored renewal, or a failed one (never with key material). */
  readonly onRenewed?: (outcome: RenewalOutcome) => void;
  readonly onFailure?: (error: RenewalError) => void;
}

/**
 * One renewal run. Resolves with what was done (`renewed: false` and the due date when not due); rejects
 * with a RenewalError when a due renewal failed, after reporting it through `onFailure`.
 */
export async function renewApiCertificate(
  deps: RenewalDeps,
  options: { force?: boolean } = {},
): Promise<RenewalOutcome> {
  const now = deps.now();
  let current: OpenedApiCertificate;
  let credentials: ApiCredentials;
  try {
    credentials = apiCredentialsFromSecret(await deps.secret.read());
    current = openApiCertificate(credentials);
  } catch (cause) {
    const error =
      cause instanceof RenewalError
        ? cause
        : new RenewalError(
            'unusable',
            `the current API certificate in ${deps.secret.description} cannot be read: ${(cause as Error).message}`,
            { cause },
          );
    deps.onFailure?.(error);
    throw error;
  }

  const plan = planRenewal(validityOf(current), deps.renewAtFraction, now, options.force ?? false);
  if (!plan.renew) {
    deps.onDaysLeft?.(plan.daysLeft);
    return { renewed: false, oldSerial: current.serial, notAfter: iso(current.leaf.validTo), reason: plan.reason };
  }

  try {
    // Past our own mark the renewal is not left to the server's judgement: tentative false renews now.
    const renewed = await deps.renew(credentials, {
      device: commonNameOf(current.leaf) ?? 'plusgate',
      tentative: false,
    });
    const { next, form } = checkedForm(renewed, current, now);
    try {
      await deps.secret.write(form.secret);
    } catch (cause) {
      throw new RenewalError(
        'store',
        `the renewed certificate could not be stored in ${deps.secret.description}: ${(cause as Error).message}`,
        { cause },
      );
    }
    const outcome: RenewalOutcome = {
      renewed: true,
      oldSerial: current.serial,
      newSerial: next.serial,
      notAfter: iso(next.leaf.validTo),
      reason: plan.reason,
    };
    deps.onDaysLeft?.(daysLeft(validityOf(next), now));
    deps.onRenewed?.(outcome);
    return outcome;
  } catch (cause) {
    deps.onDaysLeft?.(plan.daysLeft);
    const error =
      cause instanceof RenewalError ? cause : new RenewalError('unusable', (cause as Error).message, { cause });
    deps.onFailure?.(error);
    throw error;
  }
}

function iso(x509Date: string): string {
  return new Date(x509Date).toISOString();
}

/**
 * The first form of the renewed certificate that passes the checks: the PEM pair, else the PKCS#12 that
 * came with it (an encrypted key in the pair, say). Throws the PEM pair's failure when neither passes.
 */
function checkedForm(
  renewed: RenewedCredentials,
  current: OpenedApiCertificate,
  now: Date,
): { next: OpenedApiCertificate; form: RenewedCredentials } {
  try {
    return { next: checkRenewedCertificate(renewed.credentials, current, now), form: renewed };
  } catch (err) {
    if (!renewed.fallback) throw err;
    try {
      return { next: checkRenewedCertificate(renewed.fallback.credentials, current, now), form: renewed.fallback };
    } catch {
      throw err;
    }
  }
}
