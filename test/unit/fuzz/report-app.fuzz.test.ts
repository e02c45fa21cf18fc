/**
 * Fuzzing the report function (createReportHandler) in-process: any method, `period`, `format` and `service`
 * (valid, out of range, hostile), over a ledger of records holding markup, formula triggers and odd values
 * (services included), which may fail part-way. Runs and replay: test/support/fuzz-settings.ts.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import fc from 'fast-check';
import { RecordReadError } from '../../../functions/domain/errors';
import type { PeriodRecordsPort, UserRecord } from '../../../functions/domain/report';
import { createReportHandler } from '../../../functions/handlers/report-app';
import { answerProblems, headerOf } from '../../support/fuzz-answers';
import {
  INTERNAL_MARKER,
  type Mutation,
  OWN_ORIGIN,
  type QueryPart,
  type RequestSpec,
  buildEvent,
  type FuzzPki,
  shortened,
  tainted,
} from '../../support/fuzz-inputs';
import { fuzzParameters, fuzzTimeoutMs } from '../../support/fuzz-settings';
import { testPki } from '../../support/test-pki';

let fp: FuzzPki;
beforeAll(async () => {
  // Report requests carry no certificate: the dev PKI's own stand in for the fuzz certificates (no new keys).
  const pki = await testPki();
  fp = { pki, hostile: pki.devices.alice, oversizedSerial: pki.devices.alice };
});

/** The ledger as a list: every record is served as the asked period's (or another's); may fail after `failAfter`. */
class FuzzLedger implements PeriodRecordsPort {
  readonly asked: string[] = [];
  threw = false;
  constructor(
    readonly items: ReadonlyArray<{
      readonly record: Omit<UserRecord, 'period'>;
      readonly otherPeriod: boolean;
    }>,
    private readonly failAfter: number | null,
  ) {}
  records(periodId: string): AsyncIterable<UserRecord> {
    return this.#read(periodId);
  }
  recordsByUser(periodId: string): AsyncIterable<UserRecord> {
    return this.#read(periodId);
  }
  async *#read(periodId: string): AsyncGenerator<UserRecord> {
    this.asked.push(periodId);
    for (const [i, item] of this.items.entries()) {
      if (i === this.failAfter) break;
      yield { ...item.record, period: item.otherPeriod ? '1999-01' : periodId } as UserRecord;
    }
    if (this.failAfter !== null) {
      this.threw = true;
      throw new RecordReadError(`${INTERNAL_MARKER}: could not read billing period ${periodId} (shard 3)`, {
        reason: 'ThrottlingException',
      });
    }
  }
}

/** Text a spreadsheet would run as a formula, wherever a cell may start. */
const FORMULAS = [
  '=1+1',
  '+1',
  '-1',
  '@SUM(A1)',
  '\t=1',
  '\r=1',
  '=HYPERLINK("https://evil.example")',
  'a;=1',
  'a,=1',
  '"=1"',
];
const cellText = fc.oneof(fc.constantFrom(...FORMULAS), tainted());
const isoOrGarbage = fc.oneof(
  {
    weight: 4,
    arbitrary: fc
      .date({ min: new Date(0), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true })
      .map((d) => d.toISOString()),
  },
  { weight: 1, arbitrary: fc.oneof(fc.constantFrom('', 'not a date', '=1'), tainted()) },
);

const userRecord: fc.Arbitrary<{ record: Omit<UserRecord, 'period'>; otherPeriod: boolean }> = fc.record({
  record: fc
    .record(
      {
        userId: fc.oneof(
          tainted().map((t) => `org:${t}`),
          tainted().map((t) => `local:${t}`),
          fc.bigInt({ min: 1n, max: 2n ** 160n }).map((n) => `serial:${n}`),
          cellText,
        ),
        name: cellText,
        email: cellText,
        firstSeenAt: isoOrGarbage,
        lastSeenAt: isoOrGarbage,
        authCount: fc.oneof(fc.nat(1000), fc.constant(Number.MAX_SAFE_INTEGER)),
        devices: fc.array(fc.oneof(fc.bigInt({ min: 1n, max: 2n ** 160n }).map(String), cellText), { maxLength: 3 }),
        expiresAt: fc.integer({ min: 0, max: 5_000_000_000 }),
        admitted: fc.boolean(),
        // What the ledger recorded: mostly our own services; a damaged item could hold anything.
        service: fc.oneof(
          { weight: 4, arbitrary: fc.constantFrom('billing.example.com', 'shop.example.com') },
          { weight: 1, arbitrary: fc.oneof(cellText, fc.constantFrom('', '-', 'Billing.Example.com')) },
        ),
      },
      { requiredKeys: ['userId', 'firstSeenAt', 'lastSeenAt', 'authCount', 'devices'] },
    )
    .map((r) => r as Omit<UserRecord, 'period'>),
  otherPeriod: fc.oneof({ weight: 8, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
});

const pad = (n: number, width: number) => String(n).padStart(width, '0');
const periodValue = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .tuple(fc.integer({ min: 2020, max: 2030 }), fc.integer({ min: 1, max: 12 }))
      .map(([y, m]) => `${y}-${pad(m, 2)}`),
  },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }))
      .map(([y, m]) => `${pad(y, 4)}-${pad(m, 2)}`),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '0000-01',
      '9999-12',
      '2026-13',
      '2026-00',
      '2026-1',
      '26-11',
      '2026-11 ',
      ' 2026-11',
      '2026-11\n',
      '2026/11',
      '+2026-11',
      '2026-11-01',
      '\uff12\uff10\uff12\uff16-11',
      '',
    ),
  },
  { weight: 1, arbitrary: tainted() },
);
const formatValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('json', 'csv', 'html') },
  { weight: 1, arbitrary: fc.constantFrom('JSON', ' csv', 'html ', 'table', 'xml', '', 'csv\u0000') },
  { weight: 1, arbitrary: tainted() },
);

/** A service filter: services the ledger holds, `-`, unknown ones, and what must be refused. */
const serviceValue = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('billing.example.com', 'shop.example.com', 'BILLING.example.com', '-', 'nobody.example'),
  },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      '--',
      '-billing',
      'a_b',
      ' billing.example.com',
      'billing.example.com.',
      '.example.com',
      'a..b',
      'a'.repeat(64),
      `${'a.'.repeat(126)}ab`,
      '\uff42illing.example.com',
      '\u212Aelvin.example',
      'none\u0000',
      '*',
    ),
  },
  { weight: 1, arbitrary: tainted() },
);

const part = (key: fc.Arbitrary<string>, value: fc.Arbitrary<string>): fc.Arbitrary<QueryPart> =>
  fc.record({
    key,
    value: value.map((text) => ({ text })),
    encoding: fc.constantFrom('component' as const, 'form' as const, 'raw' as const),
    bare: fc.oneof({ weight: 15, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }),
  });

/** Mostly one `period`, one `format` and one `service`; now and then a repeat, a stranger or a swapped value. */
const reportQuery: fc.Arbitrary<QueryPart[]> = fc
  .tuple(
    fc.option(part(fc.constant('period'), periodValue), { nil: undefined, freq: 4 }),
    fc.option(part(fc.constant('format'), formatValue), { nil: undefined, freq: 4 }),
    fc.option(part(fc.constant('service'), serviceValue), { nil: undefined, freq: 2 }),
    fc.oneof(
      { weight: 6, arbitrary: fc.constant([]) },
      {
        weight: 1,
        arbitrary: fc.array(
          part(
            fc.oneof(fc.constantFrom('period', 'format', 'service'), tainted()),
            fc.oneof(periodValue, formatValue, serviceValue),
          ),
          { maxLength: 2 },
        ),
      },
    ),
  )
  .map(([period, format, service, extra]) =>
    [period, format, service, ...extra].filter((p): p is QueryPart => p !== undefined),
  );

const reportRequest: fc.Arbitrary<RequestSpec> = fc.record({
  method: fc.oneof(
    { weight: 12, arbitrary: fc.constant('GET') },
    { weight: 1, arbitrary: fc.constantFrom('POST', 'HEAD', 'DELETE', 'get') },
  ),
  path: fc.constant('/report'),
  resource: fc.constant(null),
  query: reportQuery,
  headers: fc.constant([]),
  body: fc.constant({ kind: 'none' as const }),
  clientCert: fc.constant(null),
  mutation: fc.constantFrom<Mutation>('none', 'none', 'none', 'null-query'),
  followIntent: fc.constant(false),
});

const reportCase = fc.record({
  billingAnchorDay: fc.integer({ min: 1, max: 28 }),
  pricePerUserYear: fc.oneof(fc.constantFrom(0, 0.9, 1e6), fc.double({ min: 0, max: 1000, noNaN: true })),
  now: fc.integer({ min: Date.UTC(2020, 0), max: Date.UTC(2030, 0) }),
  maxCsvBytes: fc.option(fc.integer({ min: 100, max: 20_000 }), { nil: undefined }),
  records: fc.array(userRecord, { maxLength: 12 }),
  failAfter: fc.oneof({ weight: 6, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat(12) }),
  request: reportRequest,
});

/** RFC 4180 cells of a CSV body. */
function csvCells(body: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (quoted) {
      if (c === '"' && body[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"') quoted = true;
    else if (c === ',' || c === '\n') {
      cells.push(cell);
      cell = '';
    } else if (c !== '\r' || body[i + 1] !== '\n') cell += c;
  }
  if (cell) cells.push(cell);
  return cells;
}

/**
 * The service filter `value` spells, by the documented grammar, written here apart from the handler's: `-`,
 * or a DNS name of ASCII letters, digits, dots and hyphens (compared lower-cased); null when it is neither.
 */
function expectedFilter(value: string): string | null {
  if (value === '-') return value;
  const label = '[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?';
  const lower = /^[\x21-\x7e]*$/.test(value) ? value.toLowerCase() : '';
  return lower.length <= 253 && new RegExp(`^${label}(\\.${label})*$`).test(lower) ? lower : null;
}

/** The request's one `service` value (undefined: none given; null: given more than once). */
function serviceParam(event: APIGatewayProxyEvent): string | null | undefined {
  const values = event.multiValueQueryStringParameters?.service;
  if (values && values.length > 1) return null;
  return event.queryStringParameters?.service ?? undefined;
}

/** The ledger items a report with `filter` must count: the asked period's, unexpired, recorded with the service. */
function expectedUsers(ledger: FuzzLedger, filter: string | undefined, nowMs: number): number {
  return ledger.items.filter(
    ({ record, otherPeriod }) =>
      !otherPeriod &&
      (record.expiresAt === undefined || record.expiresAt > nowMs / 1000) &&
      (filter === undefined ||
        (filter === '-' ? record.service === undefined || record.service === '' : record.service === filter)),
  ).length;
}

/**
 * The `service` filter's rules: a 200 only for a valid filter, counting exactly the items recorded with it and
 * saying so (JSON), listing only them (CSV); a refused filter is a 400 naming `service`; nothing read for it.
 */
function serviceRules(res: APIGatewayProxyResult, ledger: FuzzLedger, event: APIGatewayProxyEvent, nowMs: number) {
  const broken: string[] = [];
  const given = serviceParam(event);
  if (given === undefined || given === null || event.httpMethod !== 'GET') return broken;
  const filter = expectedFilter(given);
  if (filter === null) {
    if (res.statusCode === 200) broken.push(`a 200 for service=${JSON.stringify(given.slice(0, 40))}`);
    const message = res.statusCode === 400 ? String(JSON.parse(res.body).message) : '';
    if (res.statusCode === 400 && !/^(service|period|format) /.test(message))
      broken.push(`a 400 that does not name the bad parameter: ${message.slice(0, 80)}`);
    return broken;
  }
  if (res.statusCode !== 200) return broken;
  const contentType = headerOf(res, 'Content-Type') ?? '';
  if (contentType.startsWith('application/json')) {
    const report = JSON.parse(res.body) as { service?: unknown; uniqueUsers?: unknown };
    if (report.service !== filter) broken.push(`service ${String(report.service)} in the report of ${filter}`);
    const expected = expectedUsers(ledger, filter, nowMs);
    if (report.uniqueUsers !== expected) broken.push(`uniqueUsers ${String(report.uniqueUsers)}, not ${expected}`);
  } else if (contentType.startsWith('text/csv')) {
    const rows = res.body.split('\r\n').length - 2; // header, and the empty string after the last CRLF
    const expected = expectedUsers(ledger, filter, nowMs);
    if (!res.body.includes('"') && rows !== expected) broken.push(`${rows} CSV rows, not ${expected}`);
    if (!res.body.split('\r\n')[0]?.endsWith(',admitted,service')) broken.push('a CSV header without service last');
  } else if (!res.body.includes('Counted: only users recorded'))
    broken.push('an HTML page that does not name the filter');
  return broken;
}

/** The report's own rules: documented statuses, formula-safe CSV within the size limit, nothing read for a bad request. */
function reportRules(res: APIGatewayProxyResult, ledger: FuzzLedger, method: string, maxCsvBytes: number): string[] {
  const broken: string[] = [];
  if (res.statusCode === 503 && !ledger.threw) broken.push('answered 503 but the ledger did not fail');
  if (res.statusCode >= 500 && res.statusCode !== 503) broken.push(`answered ${res.statusCode}`);
  if (method !== 'GET' && res.statusCode !== 405) broken.push(`answered ${res.statusCode} to ${method}`);
  if (res.statusCode === 405 && headerOf(res, 'Allow') !== 'GET') broken.push('405 without Allow: GET');
  if (res.statusCode === 400 && ledger.asked.length > 0) broken.push('read the ledger for a request it refused');
  if (res.statusCode !== 200) return broken;
  const contentType = headerOf(res, 'Content-Type') ?? '';
  if (contentType.startsWith('text/csv')) {
    const escapedBytes = Buffer.byteLength(JSON.stringify(res.body)) - 2;
    if (escapedBytes > maxCsvBytes)
      broken.push(`a CSV of ${escapedBytes} bytes (JSON-escaped) over the ${maxCsvBytes} limit`);
    if (!/^attachment; filename="[\w.-]+"$/.test(headerOf(res, 'Content-Disposition') ?? ''))
      broken.push(`Content-Disposition ${headerOf(res, 'Content-Disposition')}`);
    for (const cell of csvCells(res.body))
      if (/^[=+\-@\t\r]/.test(cell)) broken.push(`a CSV cell starting a formula: ${JSON.stringify(cell.slice(0, 40))}`);
  } else if (contentType.startsWith('application/json')) {
    const report = JSON.parse(res.body) as { period?: unknown; uniqueUsers?: unknown; estimatedCost?: unknown };
    if (!/^\d{4}-\d{2}$/.test(String(report.period))) broken.push(`report of period ${String(report.period)}`);
    if (!Number.isInteger(report.uniqueUsers)) broken.push(`uniqueUsers ${String(report.uniqueUsers)}`);
    if (typeof report.estimatedCost !== 'number' || !Number.isFinite(report.estimatedCost) || report.estimatedCost < 0)
      broken.push(`estimatedCost ${String(report.estimatedCost)}`);
  } else if (!contentType.startsWith('text/html')) broken.push(`a 200 of ${contentType}`);
  return broken;
}

describe('report function under fuzzing', () => {
  it(
    'keeps every invariant whatever period, format and method is asked, and whatever the ledger holds or does',
    async () => {
      await fc.assert(
        fc.asyncProperty(reportCase, async (c) => {
          const ledger = new FuzzLedger(c.records, c.failAfter);
          const maxCsvBytes = c.maxCsvBytes ?? 5_000_000;
          const handler = createReportHandler({
            records: ledger,
            billingAnchorDay: c.billingAnchorDay,
            pricePerUserYear: c.pricePerUserYear,
            now: () => c.now,
            maxCsvBytes,
            log: { served: () => undefined, failure: () => undefined },
          });
          const { event } = buildEvent(c.request, { fp, now: c.now });
          let broken: string[];
          let res: unknown;
          try {
            res = await handler(event);
            broken = answerProblems(res, { ownOrigin: OWN_ORIGIN, returnOrigins: [], signonUrls: new Set() });
            if (broken.length === 0)
              broken = reportRules(res as APIGatewayProxyResult, ledger, event.httpMethod, maxCsvBytes);
            if (broken.length === 0) broken = serviceRules(res as APIGatewayProxyResult, ledger, event, c.now);
          } catch (err) {
            broken = [`the handler threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`];
          }
          if (broken.length > 0) {
            throw new Error(
              [
                `broke: ${broken.join('; ')}`,
                `event: ${JSON.stringify(shortened({ httpMethod: event.httpMethod, query: event.multiValueQueryStringParameters }))}`,
                `answer: ${JSON.stringify(res && typeof res === 'object' ? shortened(res, 1500) : res)}`,
              ].join('\n'),
            );
          }
        }),
        fuzzParameters(),
      );
    },
    fuzzTimeoutMs(10),
  );
});
