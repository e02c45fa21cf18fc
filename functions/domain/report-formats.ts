/**
 * The billing report as JSON, CSV (one row per user), a self-contained HTML page with an SVG chart, and a
 * plain-text table for terminals. Pure: strings in, strings out; the user list is streamed row by row.
 */
import { type BillingReport, type ServiceFilter, type UserRecord, WITHOUT_SERVICE, isAdmitted } from './report';
import { escapeHtml } from './html';

/** The report formats `/report` and the CLI share (`table` is the CLI's only). */
export type ReportFormat = 'json' | 'csv' | 'html' | 'table';

/** JSON: the report object itself, indented for people who open the file (one line per day). */
export function reportJson(report: BillingReport): string {
  const text = JSON.stringify(report, null, 2).replace(
    /\{\n\s+"date": ("[0-9-]+"),\n\s+"users": (\d+)\n\s+\}/g,
    '{ "date": $1, "users": $2 }',
  );
  return `${text}\n`;
}

// ---------------------------------------------------------------------------------------------- CSV

/**
 * CSV columns, in order. New columns go at the end (`admitted`, then `service`, came last), so a consumer that
 * reads the columns by position keeps working.
 */
export const CSV_COLUMNS = [
  'userId',
  'name',
  'email',
  'firstSeenAt',
  'lastSeenAt',
  'authCount',
  'devices',
  'admitted',
  'service',
] as const;

/** RFC 4180 line break. */
const CRLF = '\r\n';

/** The CSV header line (RFC 4180: CRLF line ends; no byte-order mark, the charset travels in Content-Type). */
export const CSV_HEADER = `${CSV_COLUMNS.join(',')}${CRLF}`;

/**
 * Where a spreadsheet may start a cell: at the start of a value, or after any character some reader splits
 * on: `,` (RFC 4180), `;` (the list separator of locales with a decimal comma), tab, `|`, or a line break
 * (a reader that ignores the quoting starts a new row there).
 */
const CELL_BREAKS = new Set([',', ';', '\t', '|', '\r', '\n']);

/**
 * What makes a cell a formula when it comes first: `=`, `+`, `-`, `@`, tab and carriage return (OWASP "CSV
 * injection"), and the full-width `＝` `＋` `－` `＠` some spreadsheets also accept.
 */
const FORMULA_TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);

/**
 * The value with a `'` right before every formula trigger that could start a cell: one that follows the start
 * of the value or a cell break with nothing but whitespace and double quotes in between (spreadsheets may
 * trim the one and strip the other). `Carol;=cmd|x` → `Carol;'=cmd|x`; everything else is kept as it is.
 * One pass, linear in the length. A tab or CR is both a break and a trigger, so `;\t=` gets two quotes.
 */
function neutraliseFormulas(value: string): string {
  let out = '';
  let atCellStart = true; // only whitespace and `"` since the start or the last cell break
  for (const c of value) {
    if (atCellStart && FORMULA_TRIGGERS.has(c)) out += "'";
    out += c;
    if (CELL_BREAKS.has(c)) atCellStart = true;
    else if (c !== '"' && !/\s/.test(c)) atCellStart = false;
  }
  return out;
}

/**
 * One CSV field. Names and emails come from outside, and a cell that starts with a formula trigger runs as
 * a formula when the file is opened in Excel, LibreOffice or Google Sheets, whichever separator they split
 * the line on, so every trigger that could start a cell gets a `'` before it (shown as text, not evaluated;
 * `neutraliseFormulas`). A field so changed, or with a comma, a quote or a line break, is quoted with inner
 * quotes doubled (RFC 4180).
 */
export function csvField(value: string): string {
  const neutralised = neutraliseFormulas(value);
  return neutralised !== value || /[",\r\n]/.test(neutralised) ? `"${neutralised.replace(/"/g, '""')}"` : neutralised;
}

/**
 * One user as a CSV line (devices joined with `;` inside one field; `admitted` is `true` or `false`: false
 * for a user Identity Plus confirmed, so billed, whom the role policy never let in during the period;
 * `service` is empty for a user recorded without one).
 */
export function csvRow(record: UserRecord): string {
  return (
    [
      csvField(record.userId),
      csvField(record.name ?? ''),
      csvField(record.email ?? ''),
      csvField(record.firstSeenAt),
      csvField(record.lastSeenAt),
      String(record.authCount),
      csvField(record.devices.join(';')),
      csvField(String(isAdmitted(record))),
      csvField(record.service ?? ''),
    ].join(',') + CRLF
  );
}

/** The CSV document as a stream of lines (header first), one user at a time. */
export async function* csvLines(records: AsyncIterable<UserRecord> | Iterable<UserRecord>): AsyncGenerator<string> {
  yield CSV_HEADER;
  for await (const record of records) yield csvRow(record);
}

/** Download name of a period's CSV: `plusgate-users-2026-11.csv`. */
export function csvFileName(periodId: string): string {
  return `plusgate-users-${periodId.replace(/[^0-9A-Za-z-]/g, '')}.csv`;
}

// --------------------------------------------------------------------------------------------- HTML

/** 1234567 → "1,234,567" (no locale data: the same on every machine). */
export function groupDigits(n: number): string {
  const [whole = '', fraction] = String(n).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

/** An amount in cents as `1,234.50 USD`. */
export function money(amount: number, currency: string): string {
  const [whole, cents] = amount.toFixed(2).split('.');
  return `${groupDigits(Number(whole))}.${cents} ${currency}`;
}

/** The last day of the period (its end is the exclusive next midnight), `YYYY-MM-DD`. */
function lastDay(report: BillingReport): string {
  return new Date(Date.parse(report.periodEnd) - 1).toISOString().slice(0, 10);
}

/** Which users a report filtered by service counts, in words. */
export function serviceFilterWords(filter: ServiceFilter): string {
  return filter === WITHOUT_SERVICE
    ? `only users recorded without a service (service=${WITHOUT_SERVICE}: asked for the API certificate's own)`
    : `only users recorded for service ${filter} (service=${filter})`;
}

/** How the estimate was reached, in words (from the billed users: admitted or not, Identity Plus confirmed them). */
export function costExplanation(report: BillingReport): string {
  return `${groupDigits(report.uniqueUsers)} billed users × ${report.pricePerUserYear.toFixed(2)} ${report.currency}/year × ${report.periodDays}/365 days`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const CHART = { width: 900, height: 340, left: 76, right: 16, top: 28, bottom: 70 } as const;

/** A round axis step (1, 2 or 5 × 10^k, at least 1) giving at most about five ticks up to `max`. */
export function axisStep(max: number): number {
  const rough = Math.max(1, max / 5);
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= rough) ?? 10 * magnitude;
  return Math.max(1, Math.round(step));
}

/** The inline SVG bar chart of new users per day: axis labels, a title and a description for screen readers. */
export function newUsersChartSvg(report: BillingReport): string {
  const days = report.newUsersPerDay;
  const max = days.reduce((m, d) => Math.max(m, d.users), 0);
  const step = axisStep(max);
  const yMax = Math.max(step, Math.ceil(max / step) * step);
  const plotW = CHART.width - CHART.left - CHART.right;
  const plotH = CHART.height - CHART.top - CHART.bottom;
  const slot = plotW / Math.max(1, days.length);
  const barW = Math.max(1, slot * 0.72);
  const y = (v: number) => CHART.top + plotH - (v / yMax) * plotH;
  const f = (n: number) => String(Math.round(n * 10) / 10);
  // Counts above the bars only when the widest fits its slot (~6 px a character at 10 px); the bars'
  // tooltips and the table below carry the exact numbers either way.
  const showValues = groupDigits(max).length * 6 <= slot - 2;

  const busiest = days.reduce<{ date: string; users: number } | undefined>(
    (b, d) => (d.users > (b?.users ?? 0) ? d : b),
    undefined,
  );
  const newTotal = days.reduce((s, d) => s + d.users, 0);
  const description = busiest
    ? `${groupDigits(newTotal)} new users over ${days.length} days, ${days[0]?.date} to ${days[days.length - 1]?.date}; the busiest day was ${busiest.date} with ${groupDigits(busiest.users)}.`
    : `No new users in the ${days.length} days from ${days[0]?.date} to ${days[days.length - 1]?.date}.`;

  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${CHART.width} ${CHART.height}" role="img" aria-labelledby="chart-title chart-desc" class="chart">`,
    `<title id="chart-title">New users per day, period ${escapeHtml(report.period)}</title>`,
    `<desc id="chart-desc">${escapeHtml(description)}</desc>`,
  );
  // y grid, ticks and labels
  for (let v = 0; v <= yMax; v += step) {
    const ty = f(y(v));
    parts.push(
      `<line x1="${CHART.left}" x2="${CHART.width - CHART.right}" y1="${ty}" y2="${ty}" class="${v === 0 ? 'axis' : 'grid'}"/>`,
      `<text x="${CHART.left - 8}" y="${ty}" class="tick" text-anchor="end" dominant-baseline="middle">${groupDigits(v)}</text>`,
    );
  }
  days.forEach((d, i) => {
    const x = CHART.left + i * slot + (slot - barW) / 2;
    const cx = f(CHART.left + i * slot + slot / 2);
    const label = `${d.date}: ${groupDigits(d.users)} new user${d.users === 1 ? '' : 's'}`;
    if (d.users > 0) {
      parts.push(
        `<rect x="${f(x)}" y="${f(y(d.users))}" width="${f(barW)}" height="${f(y(0) - y(d.users))}" class="bar"><title>${escapeHtml(label)}</title></rect>`,
      );
      if (showValues)
        parts.push(
          `<text x="${cx}" y="${f(y(d.users) - 4)}" class="value" text-anchor="middle">${groupDigits(d.users)}</text>`,
        );
    }
    // Day of month under each bar; the month shows where it starts (the first day and each 1st).
    const day = d.date.slice(8, 10);
    const monthStart = i === 0 || day === '01';
    parts.push(`<text x="${cx}" y="${f(y(0) + 16)}" class="tick" text-anchor="middle">${Number(day)}</text>`);
    if (monthStart) {
      const month = MONTHS[Number(d.date.slice(5, 7)) - 1] ?? '';
      parts.push(`<text x="${cx}" y="${f(y(0) + 30)}" class="tick" text-anchor="middle">${month}</text>`);
    }
  });
  parts.push(
    `<text x="${f(CHART.left + plotW / 2)}" y="${CHART.height - 10}" class="axis-label" text-anchor="middle">Day of first sign-in in the period (UTC)</text>`,
    `<text transform="translate(16 ${f(CHART.top + plotH / 2)}) rotate(-90)" class="axis-label" text-anchor="middle">New users</text>`,
    '</svg>',
  );
  return parts.join('\n');
}

const PAGE_STYLE = `
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1f24;background:#fff}
h1{font-size:1.5rem;margin:0 0 .25rem}
.sub{color:#57606a;margin:0 0 1.5rem}
.totals{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.75rem;margin:0 0 2rem;padding:0}
.totals div{border:1px solid #d0d7de;border-radius:6px;padding:.6rem .8rem}
.totals dt{color:#57606a;font-size:.85rem}
.totals dd{margin:0;font-size:1.4rem;font-weight:600}
.note{color:#57606a;font-size:.9rem}
.chart{width:100%;height:auto}
.chart .bar{fill:#2f6fbd}
.chart .grid{stroke:#e5e8eb;stroke-width:1}
.chart .axis{stroke:#57606a;stroke-width:1}
.chart .tick{font-size:11px;fill:#57606a}
.chart .value{font-size:10px;fill:#1b1f24}
.chart .axis-label{font-size:13px;fill:#1b1f24}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.15rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left}
`;

/**
 * The report as one self-contained HTML page: the totals and an inline SVG bar chart of new users per
 * day, with the same numbers as a table behind a native disclosure (the chart's text alternative). No
 * scripts, no external assets (it passes `default-src 'none'`), every text escaped.
 */
export function reportHtml(report: BillingReport): string {
  const status = report.periodComplete ? 'complete' : 'in progress: the numbers can still grow';
  const totals: Array<[string, string]> = [
    ['Billed users (confirmed by Identity Plus)', groupDigits(report.uniqueUsers)],
    ['Admitted users', groupDigits(report.admittedUsers)],
    ['Not admitted users', groupDigits(report.notAdmittedUsers)],
    ['Estimated cost', money(report.estimatedCost, report.currency)],
    ['Unique devices', groupDigits(report.uniqueDevices)],
    // Sign-ins Identity Plus confirmed; answers from plusgate's short decision cache are not counted.
    ['Confirmed sign-ins', groupDigits(report.authentications)],
  ];
  const rows = report.newUsersPerDay
    .map((d) => `<tr><td>${escapeHtml(d.date)}</td><td>${groupDigits(d.users)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>plusgate billing report ${escapeHtml(report.period)}</title>
<style>${PAGE_STYLE}</style>
</head>
<body>
<main>
<h1>Billing report ${escapeHtml(report.period)}</h1>
<p class="sub">${escapeHtml(report.periodStart.slice(0, 10))} to ${escapeHtml(lastDay(report))} (UTC, ${report.periodDays} days), ${escapeHtml(status)}.</p>
${report.service === undefined ? '' : `<p class="sub">Counted: ${escapeHtml(serviceFilterWords(report.service))}.</p>\n`}<dl class="totals">
${totals.map(([k, v]) => `<div><dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd></div>`).join('\n')}
</dl>
<p class="note">Estimated cost: ${escapeHtml(costExplanation(report))}, rounded to cents. Identity Plus bills each user it confirmed at least once in the period, also one the role policy then denied: ${escapeHtml(notAdmittedNote(report))}.</p>
<h2>New users per day</h2>
<figure>
${newUsersChartSvg(report)}
</figure>
<details>
<summary>New users per day as a table</summary>
<table>
<thead><tr><th scope="col">Day (UTC)</th><th scope="col">New users</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</details>
<p class="note">Generated ${escapeHtml(report.generatedAt)} by plusgate.</p>
</main>
</body>
</html>
`;
}

/** The billed users the role policy never let in, in words. */
function notAdmittedNote(report: BillingReport): string {
  const n = report.notAdmittedUsers;
  return `${groupDigits(n)} of the ${groupDigits(report.uniqueUsers)} billed user${report.uniqueUsers === 1 ? '' : 's'} ${n === 1 ? 'was' : 'were'} not admitted`;
}

// -------------------------------------------------------------------------------------- text table

/** Terminal-safe text: control characters (escape sequences, line breaks) become `?`, so a name cannot drive the terminal. */
export function terminalSafe(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
}

function cell(text: string, width: number): string {
  const safe = terminalSafe(text);
  return safe.length > width ? `${safe.slice(0, width - 1)}…` : safe.padEnd(width);
}

const TABLE_COLUMNS = [
  ['USER', 34],
  ['NAME', 20],
  ['EMAIL', 28],
  ['FIRST SEEN (UTC)', 16],
  ['LAST SEEN (UTC)', 16],
  ['AUTHS', 6],
  ['DEVICES', 7],
  ['ADMITTED', 8],
] as const;

/** First lines of the text table: the period and the column heads (widths are fixed, so rows can stream). */
export function tableHeader(period: { id: string; start: Date; end: Date }): string {
  const last = new Date(period.end.getTime() - 1).toISOString().slice(0, 10);
  const heads = TABLE_COLUMNS.map(([name, width]) => name.padEnd(width))
    .join('  ')
    .trimEnd();
  return `plusgate billing report, period ${period.id} (${period.start.toISOString().slice(0, 10)} to ${last}, UTC)\n\n${heads}\n`;
}

/** One user as a line of the text table. */
export function tableRow(record: UserRecord): string {
  const minute = (iso: string) => iso.slice(0, 16).replace('T', ' ');
  const values = [
    record.userId,
    record.name ?? '',
    record.email ?? '',
    minute(record.firstSeenAt),
    minute(record.lastSeenAt),
  ];
  const text = values.map((v, i) => cell(v, TABLE_COLUMNS[i]?.[1] ?? 0));
  text.push(
    String(record.authCount).padStart(TABLE_COLUMNS[5][1]),
    String(record.devices.length).padStart(TABLE_COLUMNS[6][1]),
    (isAdmitted(record) ? 'yes' : 'no').padEnd(TABLE_COLUMNS[7][1]),
  );
  return `${text.join('  ').trimEnd()}\n`;
}

/** The totals under the text table. */
export function tableTotals(report: BillingReport): string {
  const active = report.newUsersPerDay
    .filter((d) => d.users > 0)
    .map((d) => `${d.date.slice(5)}: ${groupDigits(d.users)}`);
  const perDay: string[] = [];
  for (let i = 0; i < active.length; i += 6) perDay.push(active.slice(i, i + 6).join('   '));
  const line = (k: string, v: string) => `${k.padEnd(20)}${v}\n`;
  return [
    '\n',
    line(
      'Period',
      `${report.period}: ${report.periodStart.slice(0, 10)} to ${lastDay(report)} (${report.periodDays} days, ${report.periodComplete ? 'complete' : 'in progress'})`,
    ),
    ...(report.service === undefined ? [] : [line('Service', terminalSafe(serviceFilterWords(report.service)))]),
    // Billed = every identity Identity Plus confirmed; the role policy let only the admitted ones in.
    line('Billed users', `${groupDigits(report.uniqueUsers)} (confirmed by Identity Plus)`),
    line('Admitted users', groupDigits(report.admittedUsers)),
    line('Not admitted users', `${groupDigits(report.notAdmittedUsers)} (confirmed, then denied by the role policy)`),
    line('Unique devices', groupDigits(report.uniqueDevices)),
    line('Authentications', groupDigits(report.authentications)),
    line('Estimated cost', `${money(report.estimatedCost, report.currency)} (${costExplanation(report)})`),
    line('New users per day', perDay[0] ?? 'none'),
    ...perDay.slice(1).map((l) => line('', l)),
    line('Generated at', report.generatedAt),
  ].join('');
}
