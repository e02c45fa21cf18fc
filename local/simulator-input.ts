/**
 * Checks what reaches the simulator's admin API: identity and fault bodies (and the same shapes from seeds,
 * setIdentity and setFault), and the serial forms the simulator takes. API request envelopes are checked in
 * simulator-requests.ts. Pure: each check answers a value or a message for the caller to send; nothing here
 * knows HTTP.
 */
import { PROFILE_KEYS } from './simulator-wire';
import type { SimulatedIdentity, SimulatorFault } from './simulator-state';
import { RENEWAL_FAULTS, type RenewalFault } from './simulator-self-authority';
import { normalizeSerial } from '../functions/domain/certificate';
import { isPlainObject } from '../functions/domain/json';

/** A checked value, or the message that says what is wrong with it. */
export type Validated<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly message: string };

const OUTCOME_FORMAT = /^(OK|PB|ER) [0-9]{4}( [^\r\n]{1,200})?$/;
// Serials are at most 20 octets (RFC 5280): 40 hex digits, 49 decimal digits. A little slack, no more.
const DECIMAL_SERIAL = /^[0-9]{1,50}$/;
const HEX_SERIAL = /^0[xX][0-9a-fA-F]{1,42}$/;
/** Longest latency a fault may ask for. */
export const MAX_LATENCY_MS = 60_000;

const IDENTITY_STRING_FIELDS = [
  'organizationalReference',
  'organizationalName',
  'organizationalEmail',
  'localUserId',
  'localUserName',
] as const;
const IDENTITY_NUMBER_FIELDS = [
  'trustScore',
  'sitesFrequented',
  'averageIdentityAge',
  'maxIdentityAge',
  'localTrust',
  'localIntrusions',
] as const;
const IDENTITY_KEYS = new Set<string>([
  'outcome',
  'roles',
  'serviceRoles',
  'trustSponsors',
  'customFields',
  ...IDENTITY_STRING_FIELDS,
  ...IDENTITY_NUMBER_FIELDS,
]);
const FAULT_KEYS = ['mode', 'latencyMs', 'outcome', 'renewal'];
/** Every fault mode, in the order messages list them; a Record, so a mode added to the type cannot be missed. */
const FAULT_MODES: Readonly<Record<SimulatorFault['mode'], true>> = {
  none: true,
  latency: true,
  http500: true,
  drop: true,
  garbage: true,
  outcome: true,
  renewal: true,
};

// ---- serials ------------------------------------------------------------------------------------------

/**
 * Decimal string of a serial in a form the Identity Plus wire takes (decimal or `0x`-hex); undefined
 * otherwise. The simulator decides which forms it accepts; the arithmetic is the domain's.
 */
export function wireSerial(input: string): string | undefined {
  const trimmed = input.trim();
  if (!DECIMAL_SERIAL.test(trimmed) && !HEX_SERIAL.test(trimmed)) return undefined;
  try {
    return normalizeSerial(trimmed);
  } catch {
    return undefined; // zero, or longer than a certificate serial can be
  }
}

/** {@link wireSerial} for programmatic callers: throws on a malformed serial. */
export function requireSerial(input: string): string {
  const serial = typeof input === 'string' ? wireSerial(input) : undefined;
  if (serial === undefined) throw new Error(`invalid serial ${JSON.stringify(input)}: decimal or 0x-hex expected`);
  return serial;
}

// ---- identities and faults ----------------------------------------------------------------------------

/** Checks an identity from the admin API, a seed or setIdentity; the result is a fresh copy. */
export function parseIdentity(input: unknown): Validated<SimulatedIdentity> {
  if (!isPlainObject(input)) return fail('The identity must be a JSON object.');
  const unknownKey = Object.keys(input).find((key) => !IDENTITY_KEYS.has(key));
  if (unknownKey !== undefined) {
    return fail(`Unknown field ${JSON.stringify(unknownKey)}; expected: ${[...IDENTITY_KEYS].join(', ')}.`);
  }
  const { outcome, roles, serviceRoles, trustSponsors, customFields } = input;
  if (typeof outcome !== 'string' || !OUTCOME_FORMAT.test(outcome)) {
    return fail('outcome must be a code and words, e.g. "OK 0001 Subject anonymous certificate valid".');
  }
  if (roles !== undefined && !isStringArray(roles)) return fail('roles must be an array of strings.');
  const identity: Record<string, unknown> = { outcome, roles: [...(roles ?? [])] };
  for (const field of IDENTITY_STRING_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    if (typeof value !== 'string') return fail(`${field} must be a string.`);
    identity[field] = value;
  }
  for (const field of IDENTITY_NUMBER_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) return fail(`${field} must be a number.`);
    identity[field] = value;
  }
  if (serviceRoles !== undefined) {
    const services = isPlainObject(serviceRoles) ? Object.entries(serviceRoles) : undefined;
    if (!services?.every(([service, list]) => service !== '' && isStringArray(list))) {
      return fail('serviceRoles must map service names to arrays of strings.');
    }
    identity.serviceRoles = structuredClone(serviceRoles);
  }
  if (trustSponsors !== undefined) {
    if (!isStringArray(trustSponsors)) return fail('trustSponsors must be an array of strings.');
    identity.trustSponsors = [...trustSponsors];
  }
  if (customFields !== undefined) {
    if (!isPlainObject(customFields)) return fail('customFields must be a JSON object.');
    const clash = Object.keys(customFields).find((key) => key === '' || PROFILE_KEYS.has(key));
    if (clash !== undefined) {
      return fail(`customFields may not use the key ${JSON.stringify(clash)}: it is empty or a standard field.`);
    }
    identity.customFields = structuredClone(customFields);
  }
  return { ok: true, value: identity as unknown as SimulatedIdentity };
}

/** {@link parseIdentity} for programmatic callers: throws on an invalid identity. */
export function requireIdentity(input: SimulatedIdentity): SimulatedIdentity {
  const checked = parseIdentity(input);
  if (!checked.ok) throw new Error(`invalid identity: ${checked.message}`);
  return checked.value;
}

/** Checks a fault from the admin API or setFault. */
export function parseFault(input: unknown): Validated<SimulatorFault> {
  if (!isPlainObject(input)) return fail('The fault must be a JSON object.');
  const unknownKey = Object.keys(input).find((key) => !FAULT_KEYS.includes(key));
  if (unknownKey !== undefined) {
    return fail(`Unknown field ${JSON.stringify(unknownKey)}; expected ${FAULT_KEYS.join(', ')}.`);
  }
  const { mode, latencyMs, outcome, renewal } = input;
  switch (mode) {
    case 'none':
    case 'http500':
    case 'drop':
    case 'garbage':
      return { ok: true, value: { mode } };
    case 'latency':
      if (
        typeof latencyMs !== 'number' ||
        !Number.isInteger(latencyMs) ||
        latencyMs < 0 ||
        latencyMs > MAX_LATENCY_MS
      ) {
        return fail(`latencyMs must be an integer from 0 to ${MAX_LATENCY_MS}.`);
      }
      return { ok: true, value: { mode, latencyMs } };
    case 'outcome':
      if (typeof outcome !== 'string' || !OUTCOME_FORMAT.test(outcome)) {
        return fail('outcome must be a code and words, e.g. "ER 1103 Revoked API certificate".');
      }
      return { ok: true, value: { mode, outcome } };
    case 'renewal':
      if (typeof renewal !== 'string' || !(RENEWAL_FAULTS as readonly string[]).includes(renewal)) {
        return fail(`renewal must be one of ${RENEWAL_FAULTS.join(', ')}.`);
      }
      return { ok: true, value: { mode, renewal: renewal as RenewalFault } };
    default:
      return fail(`mode must be one of ${Object.keys(FAULT_MODES).join(', ')}.`);
  }
}

// ---- shapes -------------------------------------------------------------------------------------------

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'string');
}

function fail(message: string): { readonly ok: false; readonly message: string } {
  return { ok: false, message };
}
