/**
 * What plusgate makes of Identity Plus's answers to the identity operations (binding a local user,
 * unbinding, reporting an intruder, withdrawing a report): an OK answer is the result; every other
 * outcome becomes an {@link IdentityPlusRefusalError} with the HTTP status and words the caller needs.
 * Outcome codes: docs/identityplus-api.md ("Outcome codes"; the Java client's `Outcome` enum).
 */
import { IdentityPlusRefusalError } from './errors';
import {
  type BindAnswer,
  type InquiryAnswer,
  type IntrusionAnswer,
  type IntrusionReport,
  type OutcomeAnswer,
  outcomeCode,
} from './identity-plus';
import { terminalSafe } from './report-formats';

/** Port: the Identity Plus identity operations (the client in functions/adapters/identity-plus-client.ts). */
export interface IdentityOperationsPort {
  /** The inquiry, to learn who a certificate is after an unbinding (the ledger's move). */
  inquire(serial: string, options?: { service?: string }): Promise<InquiryAnswer>;
  bind(serial: string, localUserId: string): Promise<BindAnswer>;
  unbind(localUserId: string): Promise<OutcomeAnswer>;
  reportIntrusion(report: IntrusionReport): Promise<IntrusionAnswer>;
  withdrawIntrusion(reference: string): Promise<OutcomeAnswer>;
}

/**
 * Port: moves a person's ledger item of a period to another user key when a binding changes the key
 * (functions/adapters/records-move.ts). `target` is the new key, or works it out from the old item's devices.
 */
export interface LedgerMovesPort {
  move(
    periodId: string,
    from: string,
    target: string | ((old: { readonly devices: readonly string[] }) => Promise<string | undefined>),
  ): Promise<{ readonly moved: boolean }>;
}

/** The operations, as named in messages. */
export type IdentityOperation = 'bind' | 'unbind' | 'report-intrusion' | 'withdraw-intrusion';

const WHAT: Readonly<Record<IdentityOperation, string>> = {
  bind: 'bind the local user',
  unbind: 'unbind the local user',
  'report-intrusion': 'take the intrusion report',
  'withdraw-intrusion': 'withdraw the intrusion report',
};

/** Codes whose meaning depends on the operation, then codes that mean the same for all of them. */
const BY_OPERATION: Readonly<Record<IdentityOperation, Readonly<Record<string, readonly [number, string]>>>> = {
  bind: {
    'ER 0003': [409, 'this identity is already bound to a local user of this service; unbind it first'],
    'ER 0004': [409, 'this local user id is already bound to a different identity'],
  },
  unbind: { 'ER 0005': [404, 'this local user id is not bound to any identity'] },
  'report-intrusion': { 'ER 0007': [409, 'an intrusion was already reported on this certificate'] },
  'withdraw-intrusion': { 'ER 0010': [404, 'Identity Plus knows no intrusion report with this reference'] },
};

const ANY_OPERATION: Readonly<Record<string, readonly [number, string]>> = {
  'PB 0000': [400, 'no certificate was given'],
  'PB 0001': [400, 'no certificate was given'],
  'PB 0002': [409, 'the certificate has expired at Identity Plus; its owner must renew it first'],
  'PB 0003': [409, 'the certificate needs validation at Identity Plus first (its owner signs in once)'],
  'PB 0004': [409, 'the certificate is revoked'],
  'PB 0005': [409, 'the certificate is marked as an intruder'],
  'PB 0006': [404, 'Identity Plus does not know this certificate'],
  'PB 0007': [409, 'Identity Plus reported a crypto failure for this certificate'],
  'PB 0008': [409, 'the certificate authorization has expired'],
  'ER 0006': [422, 'a field is too long for Identity Plus'],
  'ER 0009': [403, 'Identity Plus denied the request to our API certificate'],
};

/**
 * Turns a problem outcome into the error to answer with: the operation's own codes, then the codes every
 * operation shares; ER 0001/0011 (Identity Plus found a field wrong) are 422; ER 1100–1106 (our API
 * certificate) and any other code are 503, since the caller can do nothing about them but wait.
 */
export function refusal(operation: IdentityOperation, outcome: string, message?: string): IdentityPlusRefusalError {
  const code = outcomeCode(outcome);
  const known = BY_OPERATION[operation][code] ?? ANY_OPERATION[code];
  const said = message ? ` (${clip(message)})` : '';
  if (known)
    return new IdentityPlusRefusalError(known[0], `${known[1]}: Identity Plus answered ${code}${said}`, outcome);
  if (code === 'ER 0001' || code === 'ER 0011') {
    return new IdentityPlusRefusalError(422, `Identity Plus found the request invalid: ${code}${said}`, outcome);
  }
  const about = code.startsWith('ER 11') ? ' (a problem with plusgate\u2019s Identity Plus API certificate)' : '';
  return new IdentityPlusRefusalError(
    503,
    `Identity Plus would not ${WHAT[operation]}: ${code}${about}${said}; try again later`,
    outcome,
  );
}

/** Whether an outcome is OK (the operation was done). */
export function isOk(outcome: string): boolean {
  return outcome.startsWith('OK');
}

/** Words from Identity Plus reach callers and logs only short and without control characters. */
function clip(text: string): string {
  const clean = terminalSafe(text).trim();
  return clean.length <= 200 ? clean : `${clean.slice(0, 199)}\u2026`;
}
