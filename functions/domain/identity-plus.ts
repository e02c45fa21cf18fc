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

/** Intent types: `validate` is documented for our case; the public clients send `discover`. */
export type IntentType = 'validate' | 'discover';

/** The 7-character outcome code (`"OK 0001"`): classify by this, never by the words. */
export function outcomeCode(outcome: string): string {
  return outcome.slice(0, 7);
}
