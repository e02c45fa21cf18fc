/**
 * The Identity Plus wire format, pure: the request envelopes we send and strict parsing of the answer
 * envelopes into the domain shapes of functions/domain/identity-plus.ts. No I/O; the client in
 * identity-plus-client.ts sends and receives. Wire API: docs/identityplus-api.md.
 */
import { isIP } from 'node:net';
import { normalizeSerial } from '../domain/certificate';
import { IdentityPlusError, InvalidInputError } from '../domain/errors';
import { type IdentityProfile, type InquiryAnswer, type IntentType, isIntentType } from '../domain/identity-plus';
import { isPlainObject } from '../domain/json';

/** What an `Intent` call answered: a reference, or a `Simple-Response` problem. */
export type IntentAnswer =
  | { readonly kind: 'reference'; readonly reference: string; readonly outcome: string }
  | { readonly kind: 'problem'; readonly outcome: string; readonly message?: string };

const OUTCOME_PATTERN = /^(OK|PB|ER) \d{4}/;

// ---- requests -----------------------------------------------------------------------------------------

/** The `Identity-Inquiry` request body for a serial (decimal or `0x`-hex). */
export function buildInquiryRequest(
  serial: string,
  opts: { service?: string; ip?: string } = {},
): { 'Identity-Inquiry': Record<string, string> } {
  const inquiry: Record<string, string> = { 'serial-number': normalizeSerial(serial) };
  if (opts.service !== undefined) {
    if (typeof opts.service !== 'string' || opts.service.trim() === '' || opts.service.length > 512) {
      throw new InvalidInputError('The service to ask on behalf of must be a non-empty string.', { field: 'service' });
    }
    inquiry.service = opts.service;
  }
  if (opts.ip !== undefined) {
    if (typeof opts.ip !== 'string' || isIP(opts.ip) === 0) {
      throw new InvalidInputError(`The client IP ${JSON.stringify(clip(String(opts.ip), 60))} is not an IP address.`, {
        field: 'ip',
      });
    }
    inquiry['ip-address'] = opts.ip;
  }
  return { 'Identity-Inquiry': inquiry };
}

/** The `Intent` request body; `strict-massl` is always on (the return carries nothing from Identity Plus). */
export function buildIntentRequest(
  type: IntentType,
  returnUrl: string,
): { Intent: { type: IntentType; 'return-url': string; 'strict-massl': true } } {
  if (!isIntentType(type)) {
    throw new InvalidInputError(
      `The intent type ${JSON.stringify(clip(String(type), 40))} is not one Identity Plus documents.`,
      {
        field: 'type',
      },
    );
  }
  if (!isAbsoluteHttpUrl(returnUrl)) {
    throw new InvalidInputError('The return URL must be an absolute http(s) URL of at most 2048 characters.', {
      field: 'returnUrl',
    });
  }
  return { Intent: { type, 'return-url': returnUrl, 'strict-massl': true } };
}

/** The browser URL of an intent: `<signonUrl>/<reference>`. */
export function signonUrlFor(signonUrl: string, reference: string): string {
  return `${signonUrl.replace(/\/$/, '')}/${encodeURIComponent(reference)}`;
}

// ---- answers ------------------------------------------------------------------------------------------

/**
 * Parses an answer body into its single envelope. Unknown top-level keys next to exactly one expected
 * envelope are tolerated (forward compatibility); two expected envelopes at once are ambiguous and refused.
 */
export function parseEnvelope(
  body: string,
  expected: readonly string[],
): { readonly name: string; readonly value: Readonly<Record<string, unknown>> } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new IdentityPlusError('invalid-response', 'Identity Plus answered with a body that is not JSON.');
  }
  if (!isPlainObject(parsed)) {
    throw new IdentityPlusError('invalid-response', 'Identity Plus answered with JSON that is not an object.');
  }
  const keys = Object.keys(parsed);
  const found = keys.filter((key) => expected.includes(key));
  const name = found[0];
  if (name === undefined) {
    const seen =
      keys.length === 0
        ? 'an empty object'
        : `keys ${keys
            .slice(0, 5)
            .map((k) => clip(k, 40))
            .join(', ')}`;
    throw new IdentityPlusError(
      'unknown-envelope',
      `Identity Plus answered with ${seen}; expected one of ${expected.join(', ')}.`,
    );
  }
  if (found.length > 1) {
    throw new IdentityPlusError(
      'invalid-response',
      `Identity Plus answered with more than one envelope (${found.join(', ')}).`,
    );
  }
  const value = parsed[name];
  if (!isPlainObject(value)) {
    throw new IdentityPlusError('invalid-response', `Identity Plus answered with a ${name} that is not a JSON object.`);
  }
  return { name, value };
}

/** Checks an `outcome`: a string of at least 7 characters starting with a code such as `OK 0001`. */
export function checkOutcome(value: unknown, envelope: string): string {
  if (typeof value !== 'string' || value.length < 7 || !OUTCOME_PATTERN.test(value)) {
    const shown =
      value === undefined ? 'no outcome' : `the outcome ${clip(JSON.stringify(value) ?? String(value), 80)}`;
    throw new IdentityPlusError('invalid-response', `Identity Plus answered a ${envelope} with ${shown}.`);
  }
  return value;
}

/** Parses the answer to an `Identity-Inquiry`: an `Identity-Profile` or a `Simple-Response` problem. */
export function parseInquiryAnswer(body: string): InquiryAnswer {
  const envelope = parseEnvelope(body, ['Identity-Profile', 'Simple-Response']);
  if (envelope.name === 'Simple-Response') return parseSimpleResponse(envelope.value);
  return { kind: 'profile', profile: parseIdentityProfile(envelope.value) };
}

/** Parses the answer to an `Intent`: an `Intent-Reference` or a `Simple-Response` problem. */
export function parseIntentAnswer(body: string): IntentAnswer {
  const envelope = parseEnvelope(body, ['Intent-Reference', 'Simple-Response']);
  if (envelope.name === 'Simple-Response') return parseSimpleResponse(envelope.value);
  const outcome = checkOutcome(envelope.value.outcome, 'Intent-Reference');
  const reference = envelope.value.value;
  if (typeof reference !== 'string' || reference.trim() === '' || reference.length > 1024) {
    throw new IdentityPlusError(
      'invalid-response',
      'Identity Plus answered an Intent-Reference without a usable value.',
    );
  }
  return { kind: 'reference', reference, outcome };
}

/** A `Simple-Response` as a problem answer. */
export function parseSimpleResponse(value: Readonly<Record<string, unknown>>): {
  readonly kind: 'problem';
  readonly outcome: string;
  readonly message?: string;
} {
  const outcome = checkOutcome(value.outcome, 'Simple-Response');
  const message = optionalString(value.message);
  return message === undefined ? { kind: 'problem', outcome } : { kind: 'problem', outcome, message };
}

// ---- the Identity-Profile -----------------------------------------------------------------------------

/** The {@link IdentityProfile} properties whose values are of type V. */
type ProfilePropertiesOf<V> = {
  [K in keyof IdentityProfile]-?: NonNullable<IdentityProfile[K]> extends V ? K : never;
}[keyof IdentityProfile];

/** One `Identity-Profile` field: its wire name, the profile property it fills, and how it is read. */
type ProfileField =
  | { readonly wire: string; readonly read: 'outcome'; readonly property: 'outcome' }
  | { readonly wire: string; readonly read: 'text'; readonly property: Exclude<ProfilePropertiesOf<string>, 'outcome'> }
  | { readonly wire: string; readonly read: 'number'; readonly property: ProfilePropertiesOf<number> }
  | { readonly wire: string; readonly read: 'list'; readonly property: ProfilePropertiesOf<readonly string[]> };

/**
 * Every `Identity-Profile` field we know, in the order they are read (the outcome first, so a bad outcome
 * is what a bad profile is refused for). Any other key is kept as a custom field.
 */
const IDENTITY_PROFILE_FIELDS: readonly ProfileField[] = [
  { wire: 'outcome', read: 'outcome', property: 'outcome' },
  { wire: 'service-roles', read: 'list', property: 'serviceRoles' },
  { wire: 'organizational-reference', read: 'text', property: 'organizationalReference' },
  { wire: 'organizational-name', read: 'text', property: 'organizationalName' },
  { wire: 'organizational-email', read: 'text', property: 'organizationalEmail' },
  { wire: 'local-user-id', read: 'text', property: 'localUserId' },
  { wire: 'local-user-name', read: 'text', property: 'localUserName' },
  { wire: 'trust-score', read: 'number', property: 'trustScore' },
  { wire: 'sites-frequented', read: 'number', property: 'sitesFrequented' },
  { wire: 'average-identity-age', read: 'number', property: 'averageIdentityAge' },
  { wire: 'max-identity-age', read: 'number', property: 'maxIdentityAge' },
  { wire: 'local-trust', read: 'number', property: 'localTrust' },
  { wire: 'local-intrusions', read: 'number', property: 'localIntrusions' },
  { wire: 'trust-sponsors', read: 'list', property: 'trustSponsors' },
  { wire: 'user-secret', read: 'text', property: 'userSecret' },
  { wire: 'authorizing-certificate', read: 'text', property: 'authorizingCertificate' },
  { wire: 'your-guarantees', read: 'list', property: 'yourGuarantees' },
  { wire: 'community-guarantees', read: 'list', property: 'communityGuarantees' },
];
const PROFILE_KNOWN_KEYS = new Set<string>(IDENTITY_PROFILE_FIELDS.map((field) => field.wire));

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/**
 * Maps an `Identity-Profile` to {@link IdentityProfile}. Lenient where the public clients disagree
 * (numbers as strings, empty strings for "none", null roles); strict where a wrong guess could grant
 * access (roles that are neither a list nor a string are refused).
 */
export function parseIdentityProfile(value: Readonly<Record<string, unknown>>): IdentityProfile {
  // The outcome is set (checked) first of all fields; no roles and no custom fields unless the answer has some.
  const profile: Mutable<IdentityProfile> = { outcome: '', serviceRoles: [], customFields: {} };
  for (const field of IDENTITY_PROFILE_FIELDS) {
    const sent = value[field.wire];
    switch (field.read) {
      case 'outcome':
        profile[field.property] = checkOutcome(sent, 'Identity-Profile');
        break;
      case 'text': {
        const text = optionalString(sent);
        if (text !== undefined) profile[field.property] = text;
        break;
      }
      case 'number': {
        const number = optionalNumber(sent);
        if (number !== undefined) profile[field.property] = number;
        break;
      }
      case 'list': {
        const list = stringList(sent, field.wire);
        if (list !== undefined) profile[field.property] = list;
        break;
      }
    }
  }
  const custom: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    // defineProperty, so a custom field named "__proto__" stays a field instead of replacing the prototype.
    if (!PROFILE_KNOWN_KEYS.has(key)) {
      Object.defineProperty(custom, key, { value: field, enumerable: true, writable: true, configurable: true });
    }
  }
  profile.customFields = custom;
  return profile;
}

// ---- helpers ------------------------------------------------------------------------------------------

/** Shortens text for a message, marking the cut with an ellipsis. */
export function clip(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function isAbsoluteHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 2048) return false;
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.hostname !== '';
  } catch {
    return false;
  }
}

/** A string field; numbers become strings, and null or "" mean absent (e.g. no local user bound). */
export function optionalString(value: unknown): string | undefined {
  if (typeof value === 'string') return value === '' ? undefined : value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

/** A number field; numeric strings are accepted, anything else means absent. */
function optionalNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && value.trim() !== '') {
    const number = Number(value.trim());
    return Number.isFinite(number) ? number : undefined;
  }
  return undefined;
}

/**
 * A list of strings. null/absent → undefined; a lone string → one entry; numbers → strings; other
 * entries dropped (they can only shrink the list). A list-like field that is none of these is refused.
 */
function stringList(value: unknown, wire: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return value === '' ? [] : [value];
  if (Array.isArray(value)) {
    const list: string[] = [];
    for (const entry of value) {
      if (typeof entry === 'string') list.push(entry);
      else if (typeof entry === 'number' && Number.isFinite(entry)) list.push(String(entry));
    }
    return list;
  }
  throw new IdentityPlusError(
    'invalid-response',
    `Identity Plus answered an Identity-Profile whose ${wire} is not a list.`,
  );
}
