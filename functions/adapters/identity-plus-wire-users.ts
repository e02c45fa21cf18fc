/**
 * The wire format of the Identity Plus operations beyond sign-in, pure: binding our service's local user ids
 * to identities (`Local-User-Information`, `Local-User-Reference`) and reporting intruders
 * (`Intrusion-Report`, `Intrusion-Reference`, answered by `Reference-Number`). Shapes from the public Java and
 * PHP clients; see docs/identityplus-api.md, "Binding local users" and "Intrusion reports".
 */
import { isIP } from 'node:net';
import { normalizeSerial } from '../domain/certificate';
import { IdentityPlusError, InvalidInputError } from '../domain/errors';
import {
  INTRUSION_SEVERITIES,
  type IntrusionAnswer,
  type IntrusionReport,
  type OutcomeAnswer,
} from '../domain/identity-plus';
import {
  checkOutcome,
  clip,
  isAbsoluteHttpUrl,
  optionalString,
  parseEnvelope,
  parseSimpleResponse,
} from './identity-plus-wire';

/** Longest local user id plusgate binds (the public clients set none; ours keeps keys and headers small). */
export const MAX_LOCAL_USER_ID = 128;

/**
 * Checks a local user id: 1–128 visible characters, no control characters, unpaired surrogates or `/` (it is a
 * path segment of `DELETE /bindings/{localUserId}`). Identity Plus sees it only as an opaque name.
 */
export function checkLocalUserId(value: unknown, field = 'localUserId'): string {
  if (typeof value !== 'string' || value.trim() === '' || value !== value.trim()) {
    throw new InvalidInputError(`${field} must be a non-empty string without leading or trailing spaces.`, { field });
  }
  if ([...value].length > MAX_LOCAL_USER_ID) {
    throw new InvalidInputError(`${field} is longer than ${MAX_LOCAL_USER_ID} characters.`, { field });
  }
  // An unpaired surrogate (\p{Cs} under /u) could be bound but never named in DELETE /bindings/{localUserId}.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
  if (/[\u0000-\u001f\u007f-\u009f/]|\p{Cs}/u.test(value)) {
    throw new InvalidInputError(`${field} must not contain control characters, unpaired surrogates or "/".`, {
      field,
    });
  }
  return value;
}

/**
 * `PUT Local-User-Information`: binds the owner of the certificate `serial` to our service's own user id
 * (Java client `connect_with_user`, PHP `bind_local_user`). The name goes in `local-user-name`; Identity Plus
 * answers it back as `local-user-name` and `local-user-id`.
 */
export function buildBindRequest(
  serial: string,
  localUserId: string,
): { 'Local-User-Information': Record<string, string> } {
  return {
    'Local-User-Information': {
      'serial-number': normalizeSerial(serial),
      'local-user-name': checkLocalUserId(localUserId),
    },
  };
}

/** `DELETE Local-User-Reference`: unbinds our local user id (Java `disconnect_local_user`, PHP `unbind_local_user`). */
export function buildUnbindRequest(localUserId: string): { 'Local-User-Reference': { 'local-user-name': string } } {
  return { 'Local-User-Reference': { 'local-user-name': checkLocalUserId(localUserId) } };
}

/** Longest intrusion message sent (it is delivered to the certificate's owner). */
export const MAX_INTRUSION_MESSAGE = 2000;

/** `PUT Intrusion-Report` (Java `report_intrusion`, PHP `report_intrustion`). */
export function buildIntrusionReport(report: IntrusionReport): { 'Intrusion-Report': Record<string, string> } {
  if (!(INTRUSION_SEVERITIES as readonly string[]).includes(report.severity)) {
    throw new InvalidInputError(`severity must be one of ${INTRUSION_SEVERITIES.join(', ')}.`, { field: 'severity' });
  }
  if (
    typeof report.message !== 'string' ||
    report.message.trim() === '' ||
    report.message.length > MAX_INTRUSION_MESSAGE
  ) {
    throw new InvalidInputError(`message must be text of 1 to ${MAX_INTRUSION_MESSAGE} characters.`, {
      field: 'message',
    });
  }
  const envelope: Record<string, string> = {
    'intruding-certificate-uid': normalizeSerial(report.serial),
    severity: report.severity,
    message: report.message,
  };
  if (report.ip !== undefined) {
    if (typeof report.ip !== 'string' || isIP(report.ip) === 0)
      throw new InvalidInputError('ip must be an IPv4 or IPv6 address.', { field: 'ip' });
    envelope['intruder-ip-address'] = report.ip;
  }
  if (report.url !== undefined) {
    if (!isAbsoluteHttpUrl(report.url)) {
      throw new InvalidInputError('url must be an absolute http(s) URL of at most 2048 characters.', { field: 'url' });
    }
    envelope['intruded-url'] = report.url;
  }
  return { 'Intrusion-Report': envelope };
}

/** Longest intrusion reference accepted (ours to send back; Identity Plus's are short). */
export const MAX_REFERENCE = 256;
const REFERENCE_PATTERN = /^[\x21-\x2e\x30-\x7e]{1,256}$/;

/** Checks a reference Identity Plus gave us (intrusion reports): 1–256 visible ASCII characters, no `/`. */
export function checkReference(value: unknown, field = 'reference'): string {
  if (typeof value !== 'string' || !REFERENCE_PATTERN.test(value)) {
    throw new InvalidInputError(`${field} must be 1 to ${MAX_REFERENCE} visible ASCII characters without "/".`, {
      field,
    });
  }
  return value;
}

/** `DELETE Intrusion-Reference`: withdraws a report (PHP `revoke_intrusion`). */
export function buildIntrusionWithdrawal(reference: string): { 'Intrusion-Reference': { value: string } } {
  return { 'Intrusion-Reference': { value: checkReference(reference) } };
}

/**
 * Parses an answer that carries only an outcome (unbinding, withdrawing a report): a `Simple-Response`, or an
 * `Identity-Profile` (the Java client reads either after these calls).
 */
export function parseOutcomeAnswer(body: string): OutcomeAnswer {
  const envelope = parseEnvelope(body, ['Simple-Response', 'Identity-Profile']);
  const outcome = checkOutcome(envelope.value.outcome, envelope.name);
  const message = optionalString(envelope.value.message);
  return message === undefined ? { outcome } : { outcome, message };
}

/** Parses the answer to an `Intrusion-Report`: a `Reference-Number`, or a problem in another envelope. */
export function parseIntrusionAnswer(body: string): IntrusionAnswer {
  const envelope = parseEnvelope(body, ['Reference-Number', 'Simple-Response', 'Identity-Profile']);
  if (envelope.name !== 'Reference-Number') {
    const problem = parseSimpleResponse(envelope.value);
    if (problem.outcome.startsWith('OK')) {
      throw new IdentityPlusError(
        'invalid-response',
        `Identity Plus answered an intrusion report with ${clip(problem.outcome, 80)} but no reference.`,
      );
    }
    return problem;
  }
  const outcome = checkOutcome(envelope.value.outcome, 'Reference-Number');
  const reference = envelope.value.value;
  // The same rule as the withdrawal route's: a reference that could not be withdrawn (or put in a Location) is no use.
  if (typeof reference !== 'string' || !REFERENCE_PATTERN.test(reference)) {
    throw new IdentityPlusError(
      'invalid-response',
      'Identity Plus answered a Reference-Number without a usable value.',
    );
  }
  return { kind: 'reference', reference, outcome };
}
