/**
 * Small plain HTML pages: no framework, no scripts, readable with JavaScript off. All text is escaped here.
 */
import { escapeHtml } from '../domain/html';

/** Where a person without a usable certificate can get one. */
export const GET_CERTIFICATE_URL = 'https://identity.plus';

export interface Page {
  readonly title: string;
  readonly paragraphs: readonly string[];
  /** Steps shown as a numbered list after the paragraphs. */
  readonly steps?: readonly string[];
  /** Key/value facts shown as a definition list (e.g. user, device, roles). */
  readonly facts?: ReadonlyArray<readonly [string, string]>;
  readonly links?: ReadonlyArray<{ readonly href: string; readonly text: string }>;
}

export function renderPage(page: Page): string {
  const paragraphs = page.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n');
  const steps = page.steps?.length
    ? `<ol>\n${page.steps.map((step) => `<li>${escapeHtml(step)}</li>`).join('\n')}\n</ol>\n`
    : '';
  const facts = page.facts?.length
    ? `<dl>\n${page.facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('\n')}\n</dl>`
    : '';
  const links = page.links?.length
    ? `<ul>\n${page.links.map((l) => `<li><a href="${escapeHtml(l.href)}">${escapeHtml(l.text)}</a></li>`).join('\n')}\n</ul>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(page.title)} · plusgate</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.5;color:#222}h1{font-size:1.4rem}dt{font-weight:600}dd{margin:0 0 .5rem 0}</style>
</head>
<body>
<h1>${escapeHtml(page.title)}</h1>
${paragraphs}
${steps}${facts}
${links}
</body>
</html>
`;
}

/** The short answer for a visitor without a certificate (the page's first words, the 401 JSON's message). */
export const NO_CERTIFICATE_MESSAGE =
  'Sign-in here uses an Identity Plus device certificate installed in your browser, and no certificate came from this browser.';

/** What the page for visitors without a certificate shows, and where its links go. */
export interface NoCertificatePageOptions {
  /** Where to get a certificate (the `noCertificateHelpUrl` setting). */
  readonly helpUrl: string;
  /** The operator's words (`noCertificateHelpText`), replacing the explanation; plain text, escaped like all text. */
  readonly helpText?: string;
  /** The same sign-in again (a path on this origin). */
  readonly retryHref: string;
}

/**
 * The landing page for a visitor whose browser sent no certificate (CloudFront's optional mutual TLS): what
 * signs people in here, where to get a certificate, and why a browser that has one may not have offered it.
 */
export function noCertificatePage(options: NoCertificatePageOptions): Page {
  return {
    title: 'Sign in with your device certificate',
    paragraphs: options.helpText
      ? [options.helpText]
      : [
          `${NO_CERTIFICATE_MESSAGE} There is no password to type: the certificate is what identifies you.`,
          'No certificate yet? Get one free from Identity Plus, install it in this browser, then try again.',
        ],
    steps: [
      'Already have a certificate? Restart the browser: browsers remember a "no certificate" choice until they restart.',
      "Make sure it is installed: import your .p12 file into this browser or into your operating system's certificate store.",
      'Try again, and choose the certificate when the browser asks which one to use.',
    ],
    links: [
      { href: options.helpUrl, text: 'Get an Identity Plus certificate' },
      { href: options.retryHref, text: 'Try again' },
    ],
  };
}
