/**
 * The Identity Plus answers plusgate works with, in our own shapes (camelCase). The adapter turns the
 * wire envelopes (`Identity-Profile`, `Simple-Response`, `Intent-Reference`) into these; see
 * docs/identityplus-api.md.
 */

/** `Identity-Profile`: Identity Plus knows the certificate. `outcome` tells whether it is cleared. */
export interface IdentityProfile {
  /** Full outcome string, e.g. "OK 0001 Subject anonymous certificate valid". */
  readonly outcome: string;
  /** Roles the identity holds in our service (`service-roles`); empty = valid but no role. */
  readonly serviceRoles: readonly string[];
  readonly organizationalReference?: string;
  readonly organizationalName?: string;
  readonly organizationalEmail?: string;
  /** The local user id our service bound to this identity (`local-user-id`), if any. */
  readonly localUserId?: string;
  readonly localUserName?: string;
  readonly trustScore?: number;
  readonly sitesFrequented?: number;
  readonly averageIdentityAge?: number;
  readonly maxIdentityAge?: number;
  readonly localTrust?: number;
  readonly localIntrusions?: number;
  readonly trustSponsors?: readonly string[];
  /** `user-secret`: a secret our service stored with the identity (Java client's `User_Secret`). */
  readonly userSecret?: string;
  /** `authorizing-certificate`: serial of the certificate that authorised this one, as sent. */
  readonly authorizingCertificate?: string;
  /** `your-guarantees`: trust tokens our service gave this identity. */
  readonly yourGuarantees?: readonly string[];
  /** `community-guarantees`: trust tokens other services gave it. */
  readonly communityGuarantees?: readonly string[];
  /** Keys we do not know: organisation custom fields, kept as sent. */
  readonly customFields: Readonly<Record<string, unknown>>;
}

/** The answer to an `Identity-Inquiry`: a profile, or a `Simple-Response` problem (PB/ER codes). */
export type InquiryAnswer =
  | { readonly kind: 'profile'; readonly profile: IdentityProfile }
  | { readonly kind: 'problem'; readonly outcome: string; readonly message?: string };

/** An intent created for the validation redirect (Case 2). Expires about 30 s after creation. */
export interface IntentReference {
  readonly reference: string;
  readonly outcome: string;
  /** Where to send the browser: `<sign-on URL>/<reference>`. */
  readonly signonUrl: string;
}

/** What an intent is asked for: where Identity Plus sends the browser back, for which certificate. */
export interface IntentRequest {
  readonly returnUrl: string;
  /**
   * Decimal serial of the certificate the intent is made for. Not sent to Identity Plus: plusgate limits
   * intents per certificate with it (functions/domain/intent-limiter.ts).
   */
  readonly serial: string;
}

/** Port: creates a validation intent at Identity Plus (expires in ~30 s: create right before redirecting). */
export interface IntentPort {
  createIntent(request: IntentRequest): Promise<IntentReference>;
}

/**
 * The intent types Identity Plus documents (Java client `Intent_Type`). Every public client that creates a
 * sign-in intent sends `discover`; plusgate's default. `assume-ownership` is sent as written (the PHP client's
 * spelling; the Java client writes `assume ownership`).
 */
export const INTENT_TYPES = ['discover', 'validate', 'request', 'bind', 'assume-ownership', 'befriend'] as const;
export type IntentType = (typeof INTENT_TYPES)[number];

/** Whether `value` is one of {@link INTENT_TYPES}. */
export function isIntentType(value: unknown): value is IntentType {
  return typeof value === 'string' && (INTENT_TYPES as readonly string[]).includes(value);
}

/**
 * How bad an intrusion was: the Java client's `Object_Of_Intrusion` names (sent with spaces) and the PHP
 * client's `Intrusion_Severity` values. plusgate sends what the caller chose, normalised to spaces.
 */
export const INTRUSION_SEVERITIES = [
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
] as const;
export type IntrusionSeverity = (typeof INTRUSION_SEVERITIES)[number];

/** What binding a local user answered: the profile Identity Plus now holds (OK 0100), or a problem. */
export type BindAnswer = InquiryAnswer;

/** An outcome-only answer (unbinding, withdrawing an intrusion report): OK or a problem code. */
export interface OutcomeAnswer {
  readonly outcome: string;
  readonly message?: string;
}

/** What reporting an intrusion answered: a reference to withdraw it with, or a problem. */
export type IntrusionAnswer =
  | { readonly kind: 'reference'; readonly reference: string; readonly outcome: string }
  | { readonly kind: 'problem'; readonly outcome: string; readonly message?: string };

/** An intrusion report: who (the certificate), how bad, what happened. */
export interface IntrusionReport {
  /** Decimal serial of the offending certificate. */
  readonly serial: string;
  readonly severity: IntrusionSeverity;
  /** Delivered to the owner of the certificate. */
  readonly message: string;
  readonly ip?: string;
  readonly url?: string;
}

/** The 7-character outcome code (`"OK 0001"`): classify by this, never by the words. */
export function outcomeCode(outcome: string): string {
  return outcome.slice(0, 7);
}
