import fc from 'fast-check';
import { periodById } from '../../../functions/domain/billing-period';
import type { BillingReport, UserRecord } from '../../../functions/domain/report';
import { buildReport } from '../../support/build-report';
import { escapeHtml } from '../../../functions/domain/html';
import {
  CSV_HEADER,
  axisStep,
  csvField,
  csvFileName,
  csvLines,
  csvRow,
  money,
  reportHtml,
  reportJson,
  tableHeader,
  tableRow,
  tableTotals,
  terminalSafe,
} from '../../../functions/domain/report-formats';

const NOW = new Date('2026-12-01T00:30:00Z');
const user = (over: Partial<UserRecord> = {}): UserRecord => ({
  userId: 'org:ref-alice',
  period: '2026-11',
  name: 'Alice Archer',
  email: 'alice@example.com',
  firstSeenAt: '2026-11-03T08:00:00.000Z',
  lastSeenAt: '2026-11-20T08:05:00.000Z',
  authCount: 4,
  devices: ['111', '222'],
  ...over,
});

async function collect(lines: AsyncIterable<string>): Promise<string> {
  let out = '';
  for await (const l of lines) out += l;
  return out;
}

let report: BillingReport;
beforeAll(async () => {
  report = await buildReport(
    periodById('2026-11'),
    [
      user(),
      user({ userId: 'local:erin', devices: ['333'], firstSeenAt: '2026-11-03T23:00:00.000Z' }),
      // Identity Plus confirmed this one (billed) but the role policy denied it.
      user({ userId: 'serial:444', devices: ['444'], firstSeenAt: '2026-11-26T10:00:00.000Z', admitted: false }),
    ],
    { pricePerUserYear: 0.9, now: NOW },
  );
});

describe('CSV', () => {
  it('has the documented header and one CRLF-terminated row per user, devices joined with ;', async () => {
    expect(CSV_HEADER).toBe('userId,name,email,firstSeenAt,lastSeenAt,authCount,devices,admitted,service\r\n');
    expect(csvRow(user())).toBe(
      'org:ref-alice,Alice Archer,alice@example.com,2026-11-03T08:00:00.000Z,2026-11-20T08:05:00.000Z,4,111;222,true,\r\n',
    );
    expect(await collect(csvLines([user(), user({ userId: 'b' })]))).toBe(
      CSV_HEADER + csvRow(user()) + csvRow(user({ userId: 'b' })),
    );
  });

  it('has admitted: true, or false for a user Identity Plus confirmed but the role policy denied', () => {
    expect(CSV_HEADER.trimEnd().split(',').at(-2)).toBe('admitted'); // columns only added after it
    expect(csvRow(user({ admitted: true })).endsWith(',111;222,true,\r\n')).toBe(true);
    expect(csvRow(user({ admitted: false }))).toBe(
      'org:ref-alice,Alice Archer,alice@example.com,2026-11-03T08:00:00.000Z,2026-11-20T08:05:00.000Z,4,111;222,false,\r\n',
    );
    expect(csvRow(user({ admitted: undefined })).endsWith(',true,\r\n')).toBe(true); // an item from before the flag
  });

  it('ends each row with the service the user was recorded for, empty when none (a column added last)', () => {
    // Added after admitted: a reader that takes the first eight columns by position reads what it read before.
    expect(CSV_HEADER.trimEnd().split(',')).toEqual([
      'userId',
      'name',
      'email',
      'firstSeenAt',
      'lastSeenAt',
      'authCount',
      'devices',
      'admitted',
      'service',
    ]);
    expect(csvRow(user({ service: 'billing.example.com' }))).toBe(
      'org:ref-alice,Alice Archer,alice@example.com,2026-11-03T08:00:00.000Z,2026-11-20T08:05:00.000Z,4,111;222,true,billing.example.com\r\n',
    );
    expect(csvRow(user()).split(',').slice(0, 8)).toEqual(
      csvRow(user({ service: 'billing.example.com' }))
        .split(',')
        .slice(0, 8),
    );
  });

  it('quotes fields with commas, quotes and line breaks (RFC 4180), and leaves plain ones bare', () => {
    expect(csvField('Archer, Alice')).toBe('"Archer, Alice"');
    expect(csvField('Alice "Al" Archer')).toBe('"Alice ""Al"" Archer"');
    expect(csvField('two\nlines')).toBe('"two\nlines"');
    expect(csvField('plain text')).toBe('plain text');
    expect(csvField('')).toBe('');
  });

  it.each(['=HYPERLINK("http://evil.example","x")', '+1+1', '-2+3', '@SUM(A1)', '\tTAB', '\rCR'])(
    'neutralises a formula-looking field %j with a leading quote',
    (value) => {
      const field = csvField(value);
      expect(field.startsWith(`"'`)).toBe(true);
      expect(field.slice(1, -1).replace(/""/g, '"')).toBe(`'${value}`);
    },
  );

  it('neutralises a formula in a name, keeping the row intact', () => {
    expect(csvRow(user({ name: '=cmd|" /C calc"!A0', email: undefined }))).toBe(
      `org:ref-alice,"'=cmd|"" /C calc""!A0",,2026-11-03T08:00:00.000Z,2026-11-20T08:05:00.000Z,4,111;222,true,\r\n`,
    );
  });

  it('names the download after the period', () => {
    expect(csvFileName('2026-11')).toBe('plusgate-users-2026-11.csv');
  });
});

/**
 * Formula injection in every separator convention. A spreadsheet may read the file with `,` (RFC 4180),
 * `;` (locales with a decimal comma), tab or `|` as the list separator, honouring the quoting or not, and
 * a reader that ignores the quoting starts a new row at a line break. So every cell any such split can
 * produce must not begin, after spaces and double quotes, with a formula trigger.
 */
describe('CSV formula injection', () => {
  const TRIGGERS = new Set(['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20']);
  const SPLITS = [',', ';', '\t', '|', '\n', '\r'];

  /** The first character a spreadsheet might act on: leading double quotes and whitespace other than tab and CR (themselves triggers) skipped. */
  function firstSignificant(cell: string): string | undefined {
    for (const c of cell) if (c !== '"' && !(/\s/.test(c) && c !== '\t' && c !== '\r')) return c;
    return undefined;
  }

  /** The cells of `text` split on each separator in turn that begin with a trigger, as `[separator, cell]`. */
  function formulaCells(text: string): Array<[string, string]> {
    return SPLITS.flatMap((sep) =>
      text
        .split(sep)
        .filter((cell) => TRIGGERS.has(firstSignificant(cell) ?? ''))
        .map((cell): [string, string] => [sep, cell]),
    );
  }

  /** A strict RFC 4180 reader of one record (CRLF-terminated or not): throws on anything RFC 4180 does not allow. */
  function parseRecord(text: string): string[] {
    const body = text.endsWith('\r\n') ? text.slice(0, -2) : text;
    const fields: string[] = [];
    let i = 0;
    for (;;) {
      if (body[i] === '"') {
        let value = '';
        i++;
        for (;;) {
          const q = body.indexOf('"', i);
          if (q < 0) throw new Error(`unterminated quoted field in ${JSON.stringify(text)}`);
          value += body.slice(i, q);
          if (body[q + 1] === '"') {
            value += '"';
            i = q + 2;
          } else {
            i = q + 1;
            break;
          }
        }
        fields.push(value);
      } else {
        const end = body.indexOf(',', i) < 0 ? body.length : body.indexOf(',', i);
        const value = body.slice(i, end);
        if (/["\r\n]/.test(value)) throw new Error(`bare quote or line break in ${JSON.stringify(text)}`);
        fields.push(value);
        i = end;
      }
      if (i === body.length) return fields;
      if (body[i] !== ',') throw new Error(`text after a closing quote in ${JSON.stringify(text)}`);
      i++;
    }
  }

  /** Everything `csvField` must guarantee for `value`. */
  function expectSafeField(value: string): void {
    const field = csvField(value);
    const [unquoted] = parseRecord(field);
    expect(parseRecord(field)).toHaveLength(1); // valid RFC 4180, one field
    expect(formulaCells(field)).toEqual([]); // the text as written, quotes and all
    expect(formulaCells(unquoted ?? '')).toEqual([]); // the value a quote-aware reader sees
    expect((unquoted ?? '').replace(/'/g, '')).toBe(value.replace(/'/g, '')); // only `'` added: still readable
  }

  const HOSTILE = [
    "Carol;=cmd|' /C calc'!A0",
    '=1+1',
    '@SUM(1)',
    'a|=b',
    'x\t=y',
    '"; =cmd"',
    'Carol,=1+1',
    'a\n=b',
    'a\r\n+b',
    'a;\t=b',
    '\t=y',
    ';;;=1',
    '  =1+1',
    'a;  -1',
    'a; " =1',
    'a|"@x"',
    '\uFF1D1+1',
    'a;\uFF0B1',
    'a|\uFF0D1',
    'a,\uFF20SUM(1)',
    'a;\u3000=1',
    'a;\u00a0@x',
  ];

  it.each(HOSTILE)('leaves no cell of %j starting with a formula, split on , ; tab | or a line break', (value) => {
    expectSafeField(value);
  });

  it('puts the quote right before each trigger that could start a cell, and nowhere else', () => {
    expect(csvField("Carol;=cmd|' /C calc'!A0")).toBe(`"Carol;'=cmd|' /C calc'!A0"`);
    expect(csvField('x\t=y')).toBe(`"x\t'=y"`);
    expect(csvField('"; =cmd"')).toBe(`"""; '=cmd"""`);
    expect(csvField('a;\t=b')).toBe(`"a;'\t'=b"`);
    expect(csvField('\uFF1D1+1')).toBe(`"'\uFF1D1+1"`);
    // Triggers inside a cell, and separators followed by anything else, stay as they are.
    expect(csvField('Anne-Marie Smith-Jones')).toBe('Anne-Marie Smith-Jones');
    expect(csvField('ann@example.com')).toBe('ann@example.com');
    expect(csvField('a=b;c+d|e')).toBe('a=b;c+d|e');
    expect(csvField('111;222')).toBe('111;222');
  });

  it('neutralises hostile names, emails and user ids across the whole row', () => {
    const row = csvRow(
      user({ userId: 'local:a;=1', name: "Carol;=cmd|' /C calc'!A0", email: 'x\t@y', admitted: false, service: '=1' }),
    );
    expect(parseRecord(row)).toHaveLength(9);
    expect(parseRecord(row).at(-2)).toBe('false');
    expect(formulaCells(row)).toEqual([]);
  });

  const nasty = fc.string({
    unit: fc.constantFrom(
      ...['=', '+', '-', '@', '\t', '\r', '\n', ',', ';', '|', ' ', '"', "'", 'a', '1'],
      ...['\uFF1D', '\uFF0B', '\uFF0D', '\uFF20', '\u00a0', '\u3000'],
    ),
    maxLength: 24,
  });

  it('leaves no formula cell for any string, in any separator convention (property)', () => {
    fc.assert(fc.property(nasty, expectSafeField), { numRuns: 3000 });
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 40 }), expectSafeField), { numRuns: 1000 });
  });

  it('leaves no formula cell in a whole row of hostile fields (property)', () => {
    fc.assert(
      fc.property(nasty, nasty, nasty, fc.boolean(), nasty, (userId, name, email, admitted, service) => {
        // The service comes from our own configuration, but a damaged ledger item could hold anything.
        const row = csvRow(user({ userId, name, email, admitted, service }));
        expect(parseRecord(row)).toHaveLength(9);
        expect(parseRecord(row).at(-2)).toBe(String(admitted));
        // The row's CRLF ends the record and is in no value; left on, an empty last cell (no service recorded)
        // would read as a cell of just that CRLF to a reader splitting on `,` alone.
        expect(row.endsWith('\r\n')).toBe(true);
        expect(formulaCells(row.slice(0, -2))).toEqual([]);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('JSON', () => {
  it('is the report object', () => {
    expect(JSON.parse(reportJson(report))).toEqual(report);
  });

  it('carries the billed and admitted counts, the admitted ones right after the billed uniqueUsers', () => {
    const json = JSON.parse(reportJson(report));
    expect(json).toMatchObject({ uniqueUsers: 3, admittedUsers: 2, notAdmittedUsers: 1, estimatedCost: 0.22 });
    expect(Object.keys(json).slice(5, 9)).toEqual([
      'uniqueUsers',
      'admittedUsers',
      'notAdmittedUsers',
      'uniqueDevices',
    ]);
  });
});

describe('a report filtered by service', () => {
  let filtered: BillingReport;
  let without: BillingReport;
  beforeAll(() => {
    const records = [
      user({ service: 'billing.example.com' }),
      user({ userId: 'local:erin', devices: ['333'], service: 'shop.example.com' }),
      user({ userId: 'serial:444', devices: ['444'] }),
    ];
    const options = { pricePerUserYear: 0.9, now: NOW };
    filtered = buildReport(periodById('2026-11'), records, { ...options, service: 'billing.example.com' });
    without = buildReport(periodById('2026-11'), records, { ...options, service: '-' });
  });

  it('says in the JSON which filter applied, right after the period; an unfiltered report has no such key', () => {
    const json = JSON.parse(reportJson(filtered));
    expect(json).toMatchObject({ service: 'billing.example.com', uniqueUsers: 1, uniqueDevices: 2 });
    expect(Object.keys(json).slice(4, 7)).toEqual(['periodComplete', 'service', 'uniqueUsers']);
    expect(JSON.parse(reportJson(without))).toMatchObject({ service: '-', uniqueUsers: 1, uniqueDevices: 1 });
    expect(Object.keys(JSON.parse(reportJson(report)))).not.toContain('service');
  });

  it('says on the HTML page and under the text table which users were counted', () => {
    expect(reportHtml(filtered)).toContain(
      '<p class="sub">Counted: only users recorded for service billing.example.com (service=billing.example.com).</p>',
    );
    expect(reportHtml(without)).toContain(
      '<p class="sub">Counted: only users recorded without a service (service=-: asked for the API certificate&#39;s own).</p>',
    );
    expect(reportHtml(report)).not.toContain('Counted:');
    expect(tableTotals(filtered)).toContain(
      'Service             only users recorded for service billing.example.com (service=billing.example.com)\n',
    );
    expect(tableTotals(report)).not.toContain('Service');
  });
});

describe('HTML page', () => {
  it('is one self-contained page: no scripts, no external assets', () => {
    const html = reportHtml(report);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script|javascript:|\son\w+=/i);
    expect(html).not.toMatch(/\b(src|href)=/i);
    expect(html.replace('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(/https?:\/\//);
    expect(html).not.toMatch(/<link|@import|url\(/i);
  });

  it('shows the totals and the cost explanation', () => {
    const html = reportHtml(report);
    expect(html).toContain('<dt>Billed users (confirmed by Identity Plus)</dt><dd>3</dd>');
    expect(html).toContain('<dt>Admitted users</dt><dd>2</dd>');
    expect(html).toContain('<dt>Not admitted users</dt><dd>1</dd>');
    expect(html).toContain('<dt>Estimated cost</dt><dd>0.22 USD</dd>');
    expect(html).toContain('<dt>Unique devices</dt><dd>4</dd>');
    expect(html).toContain('3 billed users × 0.90 USD/year × 30/365 days');
    expect(html).toContain('1 of the 3 billed users was not admitted');
    expect(html).toContain('2026-11-01 to 2026-11-30 (UTC, 30 days), complete');
  });

  it('groups and escapes the billed and admitted numbers', () => {
    const big = reportHtml({ ...report, uniqueUsers: 1_234_567, admittedUsers: 1_234_000, notAdmittedUsers: 567 });
    expect(big).toContain('<dt>Billed users (confirmed by Identity Plus)</dt><dd>1,234,567</dd>');
    expect(big).toContain('<dt>Admitted users</dt><dd>1,234,000</dd>');
    expect(big).toContain('<dt>Not admitted users</dt><dd>567</dd>');
    // Whatever reaches them, the numbers go into the page as text, never as markup.
    const hostile = { ...report, admittedUsers: '<b>2</b>', notAdmittedUsers: '1&<i>' } as unknown as BillingReport;
    const html = reportHtml(hostile);
    expect(html).toContain('<dt>Admitted users</dt><dd>&#60;b&#62;2&#60;/b&#62;</dd>');
    expect(html).toContain('<dt>Not admitted users</dt><dd>1&#38;&#60;i&#62;</dd>');
    expect(html).not.toMatch(/<b>|<i>/);
  });

  it('draws one bar per day with new users, with axis labels, a title and a description', () => {
    const html = reportHtml(report);
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>'));
    expect(svg).toContain('role="img"');
    expect(svg).toContain('aria-labelledby="chart-title chart-desc"');
    expect(svg).toMatch(/<title id="chart-title">New users per day, period 2026-11<\/title>/);
    expect(svg).toContain('3 new users over 30 days, 2026-11-01 to 2026-11-30; the busiest day was 2026-11-03 with 2.');
    expect(svg.match(/<rect /g)).toHaveLength(2); // 3 Nov (2 users) and 26 Nov (1)
    expect(svg).toContain('<title>2026-11-03: 2 new users</title>');
    expect(svg).toContain('Day of first sign-in in the period (UTC)');
    expect(svg).toContain('>New users</text>');
    expect(svg).toContain('>Nov</text>');
  });

  it("carries every day as a table too (the chart's text alternative, no JS needed)", () => {
    const html = reportHtml(report);
    expect(html).toContain('<details>');
    expect(html.match(/<tr><td>2026-11-\d\d<\/td>/g)).toHaveLength(30);
    expect(html).toContain('<tr><td>2026-11-26</td><td>1</td></tr>');
  });

  it('says so when nobody signed in', async () => {
    const empty = await buildReport(periodById('2026-11'), [], { pricePerUserYear: 0.9, now: NOW });
    const html = reportHtml(empty);
    expect(html).toContain('No new users in the 30 days from 2026-11-01 to 2026-11-30.');
    expect(html).not.toContain('<rect');
  });

  it('escapes text', () => {
    expect(escapeHtml(`<img src=x onerror="alert('1')">&`)).toBe(
      '&#60;img src=x onerror=&#34;alert(&#39;1&#39;)&#34;&#62;&#38;',
    );
  });

  it('picks round axis steps', () => {
    expect([0, 1, 4, 5, 7, 10, 23, 99, 1234].map(axisStep)).toEqual([1, 1, 1, 1, 2, 2, 5, 20, 500]);
  });
});

describe('text table', () => {
  it('has a header, fixed-width rows and the totals', () => {
    expect(tableHeader(periodById('2026-11'))).toContain('period 2026-11 (2026-11-01 to 2026-11-30, UTC)');
    const row = tableRow(user());
    expect(row).toMatch(
      /^org:ref-alice\s+Alice Archer\s+alice@example.com\s+2026-11-03 08:00\s+2026-11-20 08:05\s+4\s+2\s+yes\n$/,
    );
    expect(tableHeader(periodById('2026-11'))).toMatch(/AUTHS\s+DEVICES\s+ADMITTED\n$/);
    expect(tableRow(user({ admitted: false }))).toMatch(/\s+4\s+2\s+no\n$/);
    const totals = tableTotals(report);
    expect(totals).toContain('Billed users        3 (confirmed by Identity Plus)\n');
    expect(totals).toContain('Admitted users      2\n');
    expect(totals).toContain('Not admitted users  1 (confirmed, then denied by the role policy)\n');
    expect(totals).toContain('Estimated cost      0.22 USD (3 billed users × 0.90 USD/year × 30/365 days)\n');
    expect(totals).toContain('New users per day   11-03: 2   11-26: 1\n');
  });

  it('truncates long cells and never lets a name send terminal control codes', () => {
    expect(terminalSafe('evil\x1b]0;owned\x07name\r\n')).toBe('evil?]0;owned?name??');
    const row = tableRow(user({ userId: 'x'.repeat(60), name: '\x1b[31mred' }));
    expect(row).not.toContain('\x1b');
    expect(row).toContain(`${'x'.repeat(33)}…`);
  });

  it('formats money with cents and grouped thousands', () => {
    expect(money(0.2, 'USD')).toBe('0.20 USD');
    expect(money(1234567.5, 'USD')).toBe('1,234,567.50 USD');
  });
});
