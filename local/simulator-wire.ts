/**
 * The simulator's wire answers: the `Identity-Profile`, `Simple-Response`, `Intent-Reference` and
 * `Reference-Number` envelopes, with the outcome codes and words of the real service (simulator-outcomes.ts;
 * docs/identityplus-api.md). Pure: no HTTP, no state. Written from the documentation on purpose, not shared
 * with the real client, so the simulator stays an independent oracle for it.
 */
import type { RequestProblem } from './simulator-fields';
import { outcome } from './simulator-outcomes';
import type { ProblemEnvelope } from './simulator-settings';
import { type SimulatedIdentity, boundName } from './simulator-state';

/** Outcome strings the simulator answers with most (the whole table is simulator-outcomes.ts). */
export const SIMULATOR_OUTCOMES = {
  ACKNOWLEDGED: outcome('OK 0000'),
  VALID: outcome('OK 0001'),
  VALID_BOUND: outcome('OK 0002'),
  ASSOCIATED: outcome('OK 0100'),
  DISASSOCIATED: outcome('OK 0101'),
  UNKNOWN: outcome('PB 0006'),
  NO_SUCH_OPERATION: outcome('ER 0002'),
  PARSE_ERROR: outcome('ER 0008'),
  EXPECTING_SERVICE_AGENT: outcome('ER 0012'),
  UNKNOWN_API_CERTIFICATE: outcome('ER 1101'),
} as const;

/** One answer body: a single envelope name and its fields. */
export type WireAnswer = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

/** Which service a profile is for: ours (no `service`) or a managed one asked about on its behalf. */
export interface ProfileView {
  readonly service?: string;
}

const UNKNOWN_CERTIFICATE_MESSAGE = 'The certificate is not known to Identity Plus.';

/** Human words for the problem outcomes an identity can carry; the code is what clients classify by. */
const PROBLEM_MESSAGES: Readonly<Record<string, string>> = {
  'PB 0002': 'The certificate has expired and must be renewed and validated by its owner.',
  'PB 0003': 'The certificate must be validated by its owner before it can be used.',
  'PB 0004': 'The certificate was revoked.',
  'PB 0005': 'The certificate was reported as an intruder.',
  'PB 0006': UNKNOWN_CERTIFICATE_MESSAGE,
};

type FieldReader = (identity: SimulatedIdentity, view: ProfileView) => unknown;

/** Reputation data: always present on the real service; modest defaults for a fresh identity. */
const REPUTATION_FIELDS: ReadonlyArray<readonly [key: string, value: FieldReader]> = [
  ['trust-score', (identity) => identity.trustScore ?? 1],
  ['sites-frequented', (identity) => identity.sitesFrequented ?? 1],
  ['average-identity-age', (identity) => identity.averageIdentityAge ?? 0],
  ['max-identity-age', (identity) => identity.maxIdentityAge ?? 0],
  ['local-trust', (identity) => identity.localTrust ?? 0],
  ['local-intrusions', (identity) => identity.localIntrusions ?? 0],
  ['trust-sponsors', (identity) => [...(identity.trustSponsors ?? [])]],
];

/**
 * The standard `Identity-Profile` fields, in answer order, each with its value for an identity (undefined
 * leaves the key out). The only list of them: custom fields are checked against it too. A local user is
 * bound by our service, so a profile asked for on behalf of a managed service has none.
 */
const PROFILE_FIELDS: ReadonlyArray<readonly [key: string, value: FieldReader]> = [
  ['outcome', profileOutcome],
  [
    'service-roles',
    (identity, view) => [...(view.service === undefined ? identity.roles : rolesIn(identity, view.service))],
  ],
  ['organizational-reference', (identity) => identity.organizationalReference],
  ['organizational-name', (identity) => identity.organizationalName],
  ['organizational-email', (identity) => identity.organizationalEmail],
  ['local-user-id', (identity, view) => (view.service === undefined ? identity.localUserId : undefined)],
  ['local-user-name', (identity, view) => (view.service === undefined ? identity.localUserName : undefined)],
  ...REPUTATION_FIELDS,
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

/** The `Simple-Response` to a request the simulator refuses (ER 0001, ER 0011, ER 0009...). */
export function problemResponse(problem: RequestProblem): WireAnswer {
  return simpleResponse(outcome(problem.code), problem.message);
}

/** The answer forced by an `outcome` fault, whatever the identity. */
export function forcedOutcome(forced: string): WireAnswer {
  return simpleResponse(forced, 'Answer forced by the simulator fault injection.');
}

/**
 * The answer to an `Identity-Inquiry` about a known (or unknown) identity: its profile when its outcome is
 * OK; otherwise the problem outcome in a `Simple-Response`, or in an `Identity-Profile` carrying the outcome
 * and the reputation fields (only the outcome for an unknown serial), as `problemEnvelope` says.
 */
export function inquiryAnswer(
  identity: SimulatedIdentity | undefined,
  problemEnvelope: ProblemEnvelope = 'Simple-Response',
  view: ProfileView = {},
): WireAnswer {
  if (identity && isOkOutcome(identity.outcome)) return { 'Identity-Profile': identityProfile(identity, view) };
  const problem = identity?.outcome ?? SIMULATOR_OUTCOMES.UNKNOWN;
  if (problemEnvelope === 'Identity-Profile') {
    const profile: Record<string, unknown> = { outcome: problem };
    if (identity) for (const [key, read] of REPUTATION_FIELDS) profile[key] = read(identity, view);
    return { 'Identity-Profile': profile };
  }
  return problemOf(identity);
}

/** The `Simple-Response` carrying an identity's problem outcome (PB 0006 for an unknown serial). */
export function problemOf(identity: SimulatedIdentity | undefined): WireAnswer {
  if (!identity) return simpleResponse(SIMULATOR_OUTCOMES.UNKNOWN, UNKNOWN_CERTIFICATE_MESSAGE);
  const message = PROBLEM_MESSAGES[outcomeCode(identity.outcome)] ?? 'The certificate cannot be accepted.';
  return simpleResponse(identity.outcome, message);
}

/** The `Identity-Profile` body of an identity whose outcome is OK, for our service or a managed one. */
export function identityProfile(identity: SimulatedIdentity, view: ProfileView = {}): Record<string, unknown> {
  // Custom fields first so they can never shadow a standard key (validation refuses that anyway).
  const profile: Record<string, unknown> = { ...(identity.customFields ?? {}) };
  for (const [key, read] of PROFILE_FIELDS) {
    const value = read(identity, view);
    if (value !== undefined) profile[key] = value;
  }
  return profile;
}

/** The answer to a bind that succeeded: the profile of the identity now bound, outcome OK 0100. */
export function associatedProfile(identity: SimulatedIdentity): WireAnswer {
  return { 'Identity-Profile': { ...identityProfile(identity), outcome: SIMULATOR_OUTCOMES.ASSOCIATED } };
}

/** The answer to a `PUT Intent` that was accepted. */
export function intentReference(reference: string): WireAnswer {
  return { 'Intent-Reference': { value: reference, outcome: SIMULATOR_OUTCOMES.ACKNOWLEDGED } };
}

/** The answer to an intrusion report that was accepted. */
export function referenceNumber(reference: string): WireAnswer {
  return { 'Reference-Number': { outcome: SIMULATOR_OUTCOMES.ACKNOWLEDGED, value: reference } };
}

function rolesIn(identity: SimulatedIdentity, service: string): readonly string[] {
  return Object.hasOwn(identity.serviceRoles ?? {}, service) ? (identity.serviceRoles?.[service] ?? []) : [];
}

/** OK 0002 when our service bound a local user to the identity, OK 0001 when not or for a managed service. */
function profileOutcome(identity: SimulatedIdentity, view: ProfileView): string {
  const code = outcomeCode(identity.outcome);
  if (code !== 'OK 0001' && code !== 'OK 0002') return identity.outcome;
  if (view.service !== undefined) return SIMULATOR_OUTCOMES.VALID;
  return boundName(identity) !== undefined && code === 'OK 0001' ? SIMULATOR_OUTCOMES.VALID_BOUND : identity.outcome;
}
