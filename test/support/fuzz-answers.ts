/**
 * The rules every answer of a plusgate handler keeps, whatever it was asked (docs/design.md, "What each
 * entry point answers" and "Security invariants"): a proxy result with a valid status; no 5xx but a 503
 * with `Retry-After`; no redirect off plusgate's origins, the allowed return origins and the sign-on URLs
 * Identity Plus handed out; no unescaped markup in HTML; JSON that parses; no stack trace or internal
 * message; headers that cannot split a response; no caching except what the caller allows.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { INTERNAL_MARKER, RAW_MARKERS } from './fuzz-inputs';

/** What an answer may point to and keep. */
export interface AnswerRules {
  /** plusgate's own origin (where a relative Location resolves). */
  readonly ownOrigin: string;
  /** The allowed return origins of the deployment. */
  readonly returnOrigins: readonly string[];
  /** Sign-on URLs the intents double handed out. */
  readonly signonUrls: ReadonlySet<string>;
  /** Largest `max-age` this answer may carry; undefined: `no-store` only. */
  readonly maxAgeSeconds?: number;
}

/** A header of the result, by name in any case. */
export function headerOf(res: APIGatewayProxyResult, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(res.headers ?? {})) {
    if (key.toLowerCase() === wanted) return String(value);
  }
  return undefined;
}

/** True when the Location (absolute, or relative to `ownOrigin`) stays on an allowed origin over https. */
export function locationProblem(location: string, rules: AnswerRules): string | undefined {
  if (rules.signonUrls.has(location)) return undefined;
  let url: URL;
  try {
    url = new URL(location, rules.ownOrigin);
  } catch {
    return `Location ${JSON.stringify(location)} is not a URL`;
  }
  if (url.protocol !== 'https:') return `Location ${JSON.stringify(location)} is not https`;
  if (url.username || url.password) return `Location ${JSON.stringify(location)} carries credentials`;
  const allowed = new Set([rules.ownOrigin, ...rules.returnOrigins].map((o) => new URL(o).origin));
  if (!allowed.has(url.origin)) return `Location ${JSON.stringify(location)} leads off the allow-list to ${url.origin}`;
  return undefined;
}

const STACK_FRAME = /(^|\n|\\n)\s*at [^\n]*?(:\d+:\d+\)?|\(native\))/;
const SOURCE_PATH = /(functions|node_modules|local)\/[\w./-]+\.[jt]s\b/;

function decodeEntities(text: string): string {
  return text
    .replace(/&#(\d+);/g, (_, n: string) => String.fromCodePoint(Number(n)))
    .replace(/&#x([0-9a-f]+);/gi, (_, n: string) => String.fromCodePoint(Number.parseInt(n, 16)))
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}

/** The deny page's link to where a certificate can be had (GET_CERTIFICATE_URL). */
function isGetCertificateLink(target: string): boolean {
  try {
    return new URL(target).origin === 'https://identity.plus';
  } catch {
    return false;
  }
}

/** Every rule `res` breaks (none: empty). Also a guard: anything that is not a proxy result breaks the first. */
export function answerProblems(res: unknown, rules: AnswerRules): string[] {
  if (!res || typeof res !== 'object') return [`answered ${String(res)}, not a proxy result`];
  const r = res as APIGatewayProxyResult;
  const broken: string[] = [];
  if (!Number.isInteger(r.statusCode) || r.statusCode < 100 || r.statusCode > 599)
    return [`statusCode ${String(r.statusCode)} is not an HTTP status`];
  if (typeof r.body !== 'string') broken.push(`body is a ${typeof r.body}, not a string`);
  const body = typeof r.body === 'string' ? r.body : '';

  for (const [name, value] of Object.entries(r.headers ?? {})) {
    if (typeof value !== 'string') broken.push(`header ${name} is a ${typeof value}`);
    else if (!/^[\t\x20-\x7e]*$/.test(value)) broken.push(`header ${name} has a control or non-ASCII character`);
  }
  if (r.multiValueHeaders) broken.push('multiValueHeaders set (the handlers answer single values)');

  if (r.statusCode >= 500) {
    if (r.statusCode !== 503) broken.push(`answered ${r.statusCode}: the only 5xx allowed is 503`);
    if (!/^\d+$/.test(headerOf(r, 'Retry-After') ?? '')) broken.push(`answered ${r.statusCode} without Retry-After`);
  }

  const location = headerOf(r, 'Location');
  const redirect = r.statusCode >= 300 && r.statusCode < 400;
  if (redirect && location === undefined) broken.push(`answered ${r.statusCode} without a Location`);
  if (!redirect && location !== undefined) broken.push(`a Location on a ${r.statusCode}`);
  if (location !== undefined) {
    const problem = locationProblem(location, rules);
    if (problem) broken.push(problem);
  }

  if (headerOf(r, 'X-Content-Type-Options') !== 'nosniff') broken.push('no X-Content-Type-Options: nosniff');
  const cacheControl = headerOf(r, 'Cache-Control');
  if (cacheControl !== 'no-store') {
    const maxAge = /^max-age=(\d+)$/.exec(cacheControl ?? '');
    if (!maxAge || rules.maxAgeSeconds === undefined || Number(maxAge[1]) > rules.maxAgeSeconds)
      broken.push(`Cache-Control ${JSON.stringify(cacheControl)} where only no-store may be`);
  }

  const contentType = (headerOf(r, 'Content-Type') ?? '').toLowerCase();
  if (!contentType) broken.push('no Content-Type');
  if (contentType.startsWith('application/json')) {
    try {
      JSON.parse(body);
    } catch {
      broken.push('a JSON answer that does not parse');
    }
  }
  if (contentType.startsWith('text/html')) {
    for (const marker of RAW_MARKERS)
      if (body.includes(marker)) broken.push(`unescaped ${JSON.stringify(marker)} in HTML`);
    if (/<script/i.test(body)) broken.push('a script in HTML');
    for (const [, href] of body.matchAll(/\bhref="([^"]*)"/g)) {
      const target = decodeEntities(href ?? '');
      const local = target.startsWith('/') && !target.startsWith('//') && !target.startsWith('/\\');
      if (!local && !isGetCertificateLink(target) && locationProblem(target, rules))
        broken.push(`a link in HTML to ${JSON.stringify(target)}, off plusgate's origins`);
    }
  }
  if (STACK_FRAME.test(body) || SOURCE_PATH.test(body)) broken.push('a stack trace or source path in the body');
  if (body.includes(INTERNAL_MARKER)) broken.push('an internal failure message reached the body');
  return broken;
}

/** The title of the edge's page for a visitor without a certificate (functions/http/pages.ts). */
export const NO_CERTIFICATE_TITLE = 'Sign in with your device certificate';

/**
 * True for the edge's answer to a visitor without a certificate: the landing page (200 HTML with its title)
 * or 401 JSON `{decision: "deny", reason: "no-certificate", help}`.
 */
export function isNoCertificateAnswer(res: APIGatewayProxyResult): boolean {
  const contentType = (headerOf(res, 'Content-Type') ?? '').toLowerCase();
  if (res.statusCode === 200 && contentType.startsWith('text/html'))
    return typeof res.body === 'string' && res.body.includes(`<h1>${NO_CERTIFICATE_TITLE}</h1>`);
  if (res.statusCode !== 401 || !contentType.startsWith('application/json')) return false;
  try {
    const body = JSON.parse(res.body) as { decision?: unknown; reason?: unknown; help?: unknown } | null;
    return body?.decision === 'deny' && body.reason === 'no-certificate' && typeof body.help === 'string';
  } catch {
    return false;
  }
}

/**
 * True when the answer lets the caller in: a redirect that is not to Identity Plus's sign-on (an edge allow
 * sent on), any 200 page but the page for visitors without a certificate (the signed-in page), or JSON whose
 * decision is allow.
 */
export function answeredAllow(res: APIGatewayProxyResult, signonUrls: ReadonlySet<string>): boolean {
  if (res.statusCode >= 300 && res.statusCode < 400) return !signonUrls.has(headerOf(res, 'Location') ?? '');
  if (res.statusCode !== 200) return false;
  const contentType = (headerOf(res, 'Content-Type') ?? '').toLowerCase();
  if (contentType.startsWith('text/html')) return !isNoCertificateAnswer(res);
  if (!contentType.startsWith('application/json')) return false;
  try {
    return (JSON.parse(res.body) as { decision?: unknown } | null)?.decision === 'allow';
  } catch {
    return false;
  }
}
