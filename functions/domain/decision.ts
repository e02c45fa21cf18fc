/**
 * The decision: one pure function from an Identity Plus answer plus the deployment's role policy to
 * allow | validate | deny | error. Every entry point (edge pages, /verify, the authorizer) uses it, so
 * the same certificate gets the same answer everywhere. Codes and meanings: docs/identityplus-api.md.
 */
import { type IdentityProfile, type InquiryAnswer, outcomeCode } from './identity-plus';

export type DecisionKind = 'allow' | 'validate' | 'deny' | 'error';

/** Machine-readable reason for a decision: stable strings, safe to show and to alert on. */
export type DecisionReason =
  // allow
  | 'cleared' // OK 0001
  | 'cleared-local-user' // OK 0002
  // validate
  | 'certificate-expired' // PB 0002: renew/validate at Identity Plus
  | 'needs-validation' // PB 0003
  // deny
  | 'no-certificate' // PB 0000 / PB 0001
  | 'revoked' // PB 0004
  | 'intruder' // PB 0005
  | 'unknown-certificate' // PB 0006
  | 'crypto-failure' // PB 0007
  | 'authorization-expired' // PB 0008
  | 'no-role' // cleared, but holds none of allowedRoles
  // error (fail closed)
  | 'request-error' // ER 0000–0012: our request was wrong
  | 'api-certificate-problem' // ER 1100–1106: our API certificate / plan
  | 'unexpected-outcome' // any code we do not know
  | 'identity-plus-unavailable'; // no usable answer (timeout, TLS, bad response)

/** The role policy of a deployment. */
export interface RolePolicy {
  /** Roles that grant access; empty = any certificate Identity Plus clears. */
  readonly allowedRoles: readonly string[];
}

/** Who a certificate belongs to, as far as Identity Plus tells us. */
export interface UserIdentity {
  /** Billing user key: `local:<id>`, else `org:<ref>`, else `serial:<decimal>`. */
  readonly id: string;
  readonly name?: string;
  readonly email?: string;
  readonly localUserId?: string;
  readonly organizationalReference?: string;
}

export interface Decision {
  readonly decision: DecisionKind;
  readonly reason: DecisionReason;
  /** The Identity Plus outcome (code and words) the decision came from, when there was one. */
  readonly outcome?: string;
  /** Roles held in our service (empty unless Identity Plus cleared the certificate). */
  readonly roles: readonly string[];
  /** Present when Identity Plus returned a profile. */
  readonly user?: UserIdentity;
  /** PB 0004/0005 are red flags (revoked, intruder): worth a warning log and a metric. */
  readonly redFlag: boolean;
  /** ER 11xx: our own API certificate or plan is broken — page an operator. */
  readonly alarm: boolean;
}

const PROBLEM_CODES: Readonly<Record<string, { decision: DecisionKind; reason: DecisionReason; redFlag?: boolean }>> = {
  'PB 0000': { decision: 'deny', reason: 'no-certificate' },
  'PB 0001': { decision: 'deny', reason: 'no-certificate' },
  'PB 0002': { decision: 'validate', reason: 'certificate-expired' },
  'PB 0003': { decision: 'validate', reason: 'needs-validation' },
  'PB 0004': { decision: 'deny', reason: 'revoked', redFlag: true },
  'PB 0005': { decision: 'deny', reason: 'intruder', redFlag: true },
  'PB 0006': { decision: 'deny', reason: 'unknown-certificate' },
  'PB 0007': { decision: 'deny', reason: 'crypto-failure' },
  'PB 0008': { decision: 'deny', reason: 'authorization-expired' },
};

/** Turns an Identity Plus answer for the certificate `serial` into a decision under `policy`. */
export function decide(answer: InquiryAnswer, policy: RolePolicy, serial: string): Decision {
  const outcome = answer.kind === 'profile' ? answer.profile.outcome : answer.outcome;
  const code = outcomeCode(outcome);
  const user = answer.kind === 'profile' ? userOf(answer.profile, serial) : undefined;
  const base = { outcome, user, redFlag: false, alarm: false };

  if (code === 'OK 0001' || code === 'OK 0002') {
    // Only a profile carries roles and identity; an OK in a Simple-Response is not an answer we know.
    if (answer.kind !== 'profile') return { ...base, decision: 'error', reason: 'unexpected-outcome', roles: [] };
    const roles = answer.profile.serviceRoles;
    if (!satisfiesRolePolicy(roles, policy)) return { ...base, decision: 'deny', reason: 'no-role', roles };
    return { ...base, decision: 'allow', reason: code === 'OK 0002' ? 'cleared-local-user' : 'cleared', roles };
  }
  const problem = PROBLEM_CODES[code];
  if (problem) {
    return {
      ...base,
      decision: problem.decision,
      reason: problem.reason,
      roles: [],
      redFlag: problem.redFlag ?? false,
    };
  }
  const er = /^ER (\d{4})$/.exec(code);
  if (er) {
    const n = Number(er[1]);
    if (n <= 12) return { ...base, decision: 'error', reason: 'request-error', roles: [] };
    if (n >= 1100 && n <= 1106)
      return { ...base, decision: 'error', reason: 'api-certificate-problem', roles: [], alarm: true };
  }
  return { ...base, decision: 'error', reason: 'unexpected-outcome', roles: [] };
}

/** The decision when Identity Plus gave no usable answer at all (timeout, TLS, bad response). */
export function unavailableDecision(): Decision {
  return { decision: 'error', reason: 'identity-plus-unavailable', roles: [], redFlag: false, alarm: false };
}

/** True when `roles` grants access under `policy` (no allowed roles configured = any cleared identity). */
export function satisfiesRolePolicy(roles: readonly string[], policy: RolePolicy): boolean {
  if (policy.allowedRoles.length === 0) return true;
  // Trimmed and case-insensitive, as Identity Plus's own mTLS gateway compares roles.
  const held = new Set(roles.map(roleName));
  return policy.allowedRoles.some((r) => held.has(roleName(r)));
}

function roleName(role: string): string {
  return role.trim().toLowerCase();
}

/**
 * The stable billing key of a person: a bound local user (`local-user-id`, else the `local-user-name` it
 * was bound with), else the organisational reference, else the device.
 */
export function userKey(
  profile: Pick<IdentityProfile, 'localUserId' | 'localUserName' | 'organizationalReference'>,
  serial: string,
): string {
  const local = profile.localUserId?.trim() || profile.localUserName?.trim();
  if (local) return `local:${local}`;
  const org = profile.organizationalReference?.trim();
  if (org) return `org:${org}`;
  return `serial:${serial}`;
}

function userOf(profile: IdentityProfile, serial: string): UserIdentity {
  return {
    id: userKey(profile, serial),
    name: nonEmpty(profile.organizationalName) ?? nonEmpty(profile.localUserName),
    email: nonEmpty(profile.organizationalEmail),
    localUserId: nonEmpty(profile.localUserId) ?? nonEmpty(profile.localUserName),
    organizationalReference: nonEmpty(profile.organizationalReference),
  };
}

function nonEmpty(value: string | undefined): string | undefined {
  const v = value?.trim();
  return v ? v : undefined;
}
