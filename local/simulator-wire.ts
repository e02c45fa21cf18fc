/**
 * The simulator's wire answers: the `Identity-Profile`, `Simple-Response` and `Intent-Reference` envelopes,
 * with the same outcome codes and words as the real service (see shared docs identityplus-api.md). Pure:
 * no HTTP, no state. Written from the documentation on purpose, not shared with the real client, so the
 * simulator stays an independent oracle for it.
 */
import type { SimulatedIdentity } from './simulator-state';

/** Outcome strings the simulator answers with (same codes and words as the real service). */
export const SIMULATOR_OUTCOMES = {
  ACKNOWLEDGED: 'OK 0000 Acknowledged',
  VALID: 'OK 0001 Subject anonymous certificate valid',
  VALID_BOUND: 'OK 0002 Subject anonymous certificate valid and user uid associated',
  UNKNOWN: 'PB 0006 Unknown Identity Plus anonymous certificate',
  NO_SUCH_OPERATION: 'ER 0002 No such operation',
  UNKNOWN_API_CERTIFICATE: 'ER 1101 Unknown service agent certificate',
  INVALID_PARAMETER: 'ER 0003 Invalid or missing parameter',
  PARSE_ERROR: 'ER 0008 Parse error',
} as const;

/** One answer body: a single envelope name and its fields. */
export type WireAnswer = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

const UNKNOWN_CERTIFICATE_MESSAGE = 'The certificate is not known to Identity Plus.';

/** Human words for the problem outcomes an identity can carry; the code is what clients classify by. */
const PROBLEM_MESSAGES: Readonly<Record<string, string>> = {
  'PB 0002': 'The certificate has expired and must be renewed and validated by its owner.',
  'PB 0003': 'The certificate must be validated by its owner before it can be used.',
  'PB 0004': 'The certificate was revoked.',
  'PB 0005': 'The certificate was reported as an intruder.',
  'PB 0006': UNKNOWN_CERTIFICATE_MESSAGE,
};

/**
 * The standard `Identity-Profile` fields, in answer order, each with its value for an identity (undefined
 * leaves the key out). The only list of them: custom fields are checked against it too.
 */
const PROFILE_FIELDS: ReadonlyArray<readonly [key: string, value: (identity: SimulatedIdentity) => unknown]> = [
  ['outcome', profileOutcome],
  ['service-roles', (identity) => [...identity.roles]],
  ['organizational-reference', (identity) => identity.organizationalReference],
  ['organizational-name', (identity) => identity.organizationalName],
  ['organizational-email', (identity) => identity.organizationalEmail],
  ['local-user-id', (identity) => identity.localUserId],
  ['local-user-name', (identity) => identity.localUserName],
  // Reputation data is always present on the real service; modest defaults for a fresh identity.
  ['trust-score', (identity) => identity.trustScore ?? 1],
  ['sites-frequented', (identity) => identity.sitesFrequented ?? 1],
  ['average-identity-age', (identity) => identity.averageIdentityAge ?? 0],
  ['max-identity-age', (identity) => identity.maxIdentityAge ?? 0],
  ['local-trust', (identity) => identity.localTrust ?? 0],
  ['local-intrusions', (identity) => identity.localIntrusions ?? 0],
  ['trust-sponsors', (identity) => [...(identity.trustSponsors ?? [])]],
];

/** `Identity-Profile` keys the simulator fills itself; a custom field may not shadow one of them. */
export const PROFILE_KEYS: ReadonlySet<string> = new Set(PROFILE_FIELDS.map(([key]) => key));

/** The 7-character code of an outcome (`"PB 0003 ..."` → `"PB 0003"`): what clients classify by. */
export function outcomeCode(outcome: string): string {
  return outcome.slice(0, 7);
}

/** True for an `OK` outcome. */
export function isOkOutcome(outcome: string): boolean {
  return outcome.startsWith('OK');
}

/** True when the owner can fix the outcome on the sign-on page (PB 0002 expired, PB 0003 needs validation). */
export function needsValidation(outcome: string): boolean {
  const code = outcomeCode(outcome);
  return code === 'PB 0002' || code === 'PB 0003';
}

/** A `Simple-Response` envelope. */
export function simpleResponse(outcome: string, message: string): WireAnswer {
  return { 'Simple-Response': { outcome, message } };
}

/** `ER 0003` for a request field that is missing or malformed. */
export function invalidParameter(message: string): WireAnswer {
  return simpleResponse(SIMULATOR_OUTCOMES.INVALID_PARAMETER, message);
}

/** The answer forced by an `outcome` fault, whatever the identity. */
export function forcedOutcome(outcome: string): WireAnswer {
  return simpleResponse(outcome, 'Answer forced by the simulator fault injection.');
}

/** The answer to an `Identity-Inquiry` about a known (or unknown) identity. */
export function inquiryAnswer(identity: SimulatedIdentity | undefined): WireAnswer {
  if (!identity) return simpleResponse(SIMULATOR_OUTCOMES.UNKNOWN, UNKNOWN_CERTIFICATE_MESSAGE);
  if (!isOkOutcome(identity.outcome)) {
    const message = PROBLEM_MESSAGES[outcomeCode(identity.outcome)] ?? 'The certificate cannot be accepted.';
    return simpleResponse(identity.outcome, message);
  }
  return { 'Identity-Profile': identityProfile(identity) };
}

/** The `Identity-Profile` body of an identity whose outcome is OK. */
export function identityProfile(identity: SimulatedIdentity): Record<string, unknown> {
  // Custom fields first so they can never shadow a standard key (validation refuses that anyway).
  const profile: Record<string, unknown> = { ...(identity.customFields ?? {}) };
  for (const [key, read] of PROFILE_FIELDS) {
    const value = read(identity);
    if (value !== undefined) profile[key] = value;
  }
  return profile;
}

/** The answer to a `PUT Intent` that was accepted. */
export function intentReference(reference: string): WireAnswer {
  return { 'Intent-Reference': { value: reference, outcome: SIMULATOR_OUTCOMES.ACKNOWLEDGED } };
}

function profileOutcome(identity: SimulatedIdentity): string {
  return identity.localUserId && identity.outcome.startsWith('OK 0001')
    ? SIMULATOR_OUTCOMES.VALID_BOUND
    : identity.outcome;
}
