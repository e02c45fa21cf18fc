/**
 * Small plain HTML pages: no framework, no scripts, readable with JavaScript off. All text is escaped here.
 */
import { escapeHtml } from '../domain/html';

/** Where a person without a usable certificate can get one. */
export const GET_CERTIFICATE_URL = 'https://identity.plus';

export interface Page {
  readonly title: string;
  readonly paragraphs: readonly string[];
  /** Key/value facts shown as a definition list (e.g. user, device, roles). */
  readonly facts?: ReadonlyArray<readonly [string, string]>;
  readonly links?: ReadonlyArray<{ readonly href: string; readonly text: string }>;
}

export function renderPage(page: Page): string {
  const paragraphs = page.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`).join('\n');
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
${facts}
${links}
</body>
</html>
`;
}
