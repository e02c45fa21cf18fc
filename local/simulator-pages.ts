/**
 * The simulator's sign-on pages: tiny plain HTML, readable with JS off. Kept apart from the server so the
 * wording lives in one place. No page echoes request input back (nothing to escape, nothing to inject).
 */

/** A sign-on answer page: the status to send and its HTML. */
export interface SimulatorPage {
  readonly status: number;
  readonly html: string;
}

function page(status: number, title: string, text: string): SimulatorPage {
  const html =
    '<!doctype html>\n<html lang="en">\n<head><meta charset="utf-8"><title>' +
    title +
    '</title></head>\n<body>\n<h1>' +
    title +
    '</h1>\n<p>' +
    text +
    '</p>\n<p><small>Identity Plus simulator (local development only)</small></p>\n</body>\n</html>\n';
  return { status, html };
}

/** The intent reference was never issued (or the simulator was reset since). */
export const UNKNOWN_INTENT_PAGE = page(
  404,
  'Unknown sign-on request',
  'This sign-on link is not known. Go back to the site you came from and sign in again.',
);

/** The intent is older than its time to live. */
export const EXPIRED_INTENT_PAGE = page(
  410,
  'Sign-on request expired',
  'This sign-on link has expired. Go back to the site you came from and sign in again.',
);

/** The intent was already visited once: intents are single-use. */
export const USED_INTENT_PAGE = page(
  410,
  'Sign-on request already used',
  'This sign-on link was already used. Go back to the site you came from and sign in again.',
);

/** The browser's certificate cannot be validated (unknown, revoked, intruder...). */
export const REFUSED_IDENTITY_PAGE = page(
  403,
  'Certificate not accepted',
  'The certificate this browser presented cannot be validated by Identity Plus.',
);

/** Anything else on the sign-on origin. */
export const NOT_FOUND_PAGE = page(404, 'Not found', 'There is nothing at this address.');
