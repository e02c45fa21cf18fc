/**
 * What the simulator's API accepts: the single envelope of a request body and the fields of each request
 * envelope, with the outcome code a bad request is answered with (simulator-fields.ts says how fields are
 * read). Field names and shapes are those the public clients send: the Java client
 * (IdentityPlus/Integration-API-Client-Java @ 77b64b55, src/identity/plus/api/communication/) and the PHP
 * one (IdentityPlus/Integration-WordPress @ 81ab8366, lib/identity_plus/api/Communication.php). Pure.
 */
import {
  FieldProblem,
  type RequestProblem,
  isMissing,
  optionalBoolean,
  optionalChoice,
  optionalCount,
  optionalIp,
  optionalText,
  optionalTextList,
  requiredSerial,
  requiredText,
  requiredUserName,
} from './simulator-fields';
import { INTENT_TYPES, intentTypeOf } from './simulator-settings';
import { isPlainObject } from '../functions/domain/json';

/** A checked request, or the problem to answer. */
export type Checked<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly problem: RequestProblem };

/** The single envelope of a request body. */
export interface RequestEnvelope {
  readonly name: string;
  readonly body: Record<string, unknown>;
}

/** The longest `return-url` an intent may carry (longer is `ER 0006 Return URL is too long`). */
export const MAX_RETURN_URL = 2048;

/**
 * Intrusion severities: the Java client's `Object_Of_Intrusion` (src/identity/plus/api/Object_Of_Intrusion.java,
 * sent with spaces) and the PHP client's `Intrusion_Severity` (lib/identity_plus/api/Intrusion_Severity.php,
 * sent with hyphens), in their normal form with spaces.
 */
export const INTRUSION_SEVERITIES: readonly string[] = [
  'mistake',
  'policy violation',
  'intrusive',
  'fraud',
  'material damage',
  'inappropriate content',
  'false information',
  'harassment',
  'inappropriate',
  'monetary damage',
  'personal damage',
  'social damage',
];

/** The Java client's `Identity_Assurance` (src/identity/plus/api/Identity_Assurance.java), normal form. */
export const IDENTITY_ASSURANCES: readonly string[] = [
  'none',
  'email communication',
  'phone communication',
  'billing and shipping',
  'legal kyc',
  'in person',
];

export interface InquiryRequest {
  readonly serial: string;
  /** The managed service asked on behalf of; undefined = our own service. */
  readonly service?: string;
}

export interface IntentRequest {
  readonly type: string;
  readonly returnUrl: string;
  /** Absent means true: the Java client sends `strict-massl` only when it is false. */
  readonly strictMassl: boolean;
}

export interface BindRequest {
  readonly serial: string;
  readonly localUserName: string;
  readonly localUserAge?: number;
  readonly tokensOfTrust?: number;
  readonly identityAssurance?: string;
}

export interface IntrusionReportRequest {
  readonly serial: string;
  readonly severity: string;
  readonly message?: string;
  readonly intruderIpAddress?: string;
  readonly intrudedUrl?: string;
  readonly intrudingRequestHeaders?: readonly string[];
  readonly additionalInformation?: string;
}

/** The single envelope of a request body, or undefined when it is not one JSON object with one object key. */
export function parseEnvelope(raw: Buffer): RequestEnvelope | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isPlainObject(parsed)) return undefined;
  const entries = Object.entries(parsed);
  const only = entries.length === 1 ? entries[0] : undefined;
  if (only === undefined) return undefined;
  const [name, body] = only;
  if (!isPlainObject(body)) return undefined;
  return { name, body };
}

/** `Identity-Inquiry` {`serial-number`, `service`?, `ip-address`?}; a `service` must be one we manage. */
export function checkInquiry(
  body: Record<string, unknown>,
  managedServices: readonly string[],
): Checked<InquiryRequest> {
  return checked(() => {
    if (isMissing(body['serial-number']) && !isMissing(body['anonymous-id'])) {
      throw new FieldProblem('ER 0011', 'serial-number is missing (anonymous-id is not simulated).');
    }
    const serial = requiredSerial(body, 'serial-number');
    const service = optionalText(body, 'service', 253);
    optionalText(body, 'ip-address', 64);
    if (service !== undefined && !managedServices.includes(service)) {
      throw new FieldProblem('ER 0009', `service ${JSON.stringify(service)} is not a service we manage.`);
    }
    return service === undefined ? { serial } : { serial, service };
  });
}

/**
 * `Intent` {`type`?, `return-url`, `strict-massl`?}: `type` absent is `discover` (the Java client's
 * default; the Python client sends none), one of {@link INTENT_TYPES} not in `acceptedTypes` is ER 0009.
 */
export function checkIntent(body: Record<string, unknown>, acceptedTypes: readonly string[]): Checked<IntentRequest> {
  return checked(() => {
    const rawType = optionalText(body, 'type', 64) ?? 'discover';
    const type = intentTypeOf(rawType);
    if (type === undefined) throw new FieldProblem('ER 0001', `type must be one of: ${INTENT_TYPES.join(', ')}.`);
    if (!acceptedTypes.includes(type)) {
      throw new FieldProblem('ER 0009', `Intents of type ${JSON.stringify(type)} are not accepted here.`);
    }
    const returnUrl = requiredText(body, 'return-url', Number.MAX_SAFE_INTEGER);
    if (returnUrl.length > MAX_RETURN_URL) {
      throw new FieldProblem('ER 0006', `return-url must be at most ${MAX_RETURN_URL} characters.`);
    }
    if (!isAbsoluteHttpsUrl(returnUrl)) {
      throw new FieldProblem('ER 0001', 'return-url must be an absolute https URL without credentials.');
    }
    return { type, returnUrl, strictMassl: optionalBoolean(body, 'strict-massl') ?? true };
  });
}

/** `Local-User-Information` {`serial-number`, `local-user-name`, `local-user-age`?, `tokens-of-trust`?, `identity-assurance`?}. */
export function checkBind(body: Record<string, unknown>): Checked<BindRequest> {
  return checked(() => {
    const request: BindRequest = {
      serial: requiredSerial(body, 'serial-number'),
      localUserName: requiredUserName(body, 'local-user-name'),
      localUserAge: optionalCount(body, 'local-user-age', 1_000_000),
      // At most 10000 tokens of trust per service (Local_User_Information.java).
      tokensOfTrust: optionalCount(body, 'tokens-of-trust', 10_000),
      identityAssurance: optionalChoice(body, 'identity-assurance', IDENTITY_ASSURANCES),
    };
    return withoutUndefined(request);
  });
}

/** `Local-User-Reference` {`local-user-name`}. */
export function checkUnbind(body: Record<string, unknown>): Checked<{ readonly localUserName: string }> {
  return checked(() => ({ localUserName: requiredUserName(body, 'local-user-name') }));
}

/**
 * `Intrusion-Report` {`intruding-certificate-uid` (the serial), `severity`, `message`?, `intruder-ip-address`?,
 * `intruded-url`?, `intruding-request-headers`?, `additional-information`?}.
 */
export function checkIntrusionReport(body: Record<string, unknown>): Checked<IntrusionReportRequest> {
  return checked(() => {
    const serial = requiredSerial(body, 'intruding-certificate-uid');
    const severity = optionalChoice(body, 'severity', INTRUSION_SEVERITIES);
    if (severity === undefined) throw new FieldProblem('ER 0011', 'severity is missing.');
    const request: IntrusionReportRequest = {
      serial,
      severity,
      message: optionalText(body, 'message', 4096),
      intruderIpAddress: optionalIp(body, 'intruder-ip-address'),
      intrudedUrl: optionalText(body, 'intruded-url', 4096),
      intrudingRequestHeaders: optionalTextList(body, 'intruding-request-headers', 256, 8192),
      additionalInformation: optionalText(body, 'additional-information', 16_384),
    };
    return withoutUndefined(request);
  });
}

/** `Intrusion-Reference` {`value`}: the reference a report was answered with. */
export function checkIntrusionReference(body: Record<string, unknown>): Checked<{ readonly value: string }> {
  return checked(() => ({ value: requiredText(body, 'value', 256) }));
}

function checked<T>(read: () => T): Checked<T> {
  try {
    return { ok: true, value: read() };
  } catch (err) {
    if (err instanceof FieldProblem) return { ok: false, problem: { code: err.code, message: err.message } };
    throw err;
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function isAbsoluteHttpsUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && url.hostname !== '' && url.username === '' && url.password === '';
  } catch {
    return false;
  }
}
