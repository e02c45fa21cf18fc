/**
 * Identity Plus service ids as plusgate takes them: the `service` of a delegated `Identity-Inquiry` (one API
 * certificate asking on behalf of a service it manages), the ledger's `service` attribute and the report's
 * filter. A DNS name, compared in lower case.
 */

const LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const SERVICE_ID = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*$`);

/** What a service id looks like, for messages. */
export const SERVICE_ID_EXPECTED =
  'an Identity Plus service id: a DNS name such as "billing.example.com" (1-253 letters, digits, dots and hyphens; labels of 1-63 characters that start and end with a letter or digit)';

/**
 * The service id `raw` names, lower-cased; undefined when it is not one. Only ASCII letters, digits, `.`
 * and `-` are looked at (before lower-casing: `\u212A` would otherwise become a `k`).
 */
export function serviceIdOf(raw: string): string | undefined {
  if (!/^[A-Za-z0-9.-]{1,253}$/.test(raw)) return undefined;
  const id = raw.toLowerCase();
  return SERVICE_ID.test(id) ? id : undefined;
}
