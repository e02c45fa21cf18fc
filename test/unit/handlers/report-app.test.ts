import type { APIGatewayProxyEvent } from 'aws-lambda';
import { RecordReadError } from '../../../functions/domain/errors';
import type { PeriodRecordsPort, UserRecord } from '../../../functions/domain/report';
import { createReportHandler, type ReportDeps } from '../../../functions/handlers/report-app';
import { buildProxyEvent } from '../../../local/api-gateway-event';

const NOW = Date.parse('2026-11-26T12:00:00Z');

const user = (userId: string, period = '2026-11', over: Partial<UserRecord> = {}): UserRecord => ({
  userId,
  period,
  name: `Name of ${userId}`,
  email: `${userId.replace(/\W/g, '')}@example.com`,
  firstSeenAt: `${period}-02T10:00:00.000Z`,
  lastSeenAt: `${period}-05T10:00:00.000Z`,
  authCount: 2,
  devices: [`${userId.length}1`, `${userId.length}2`], // org:a and org:b share theirs
  ...over,
});

/** The ledger as a list; counts how many records were pulled, and can fail. */
class FakeLedger implements PeriodRecordsPort {
  pulled = 0;
  asked: string[] = [];
  constructor(
    private readonly items: UserRecord[],
    private readonly failure?: Error,
  ) {}
  async *records(periodId: string): AsyncGenerator<UserRecord> {
    yield* this.#read(periodId);
  }
  async *recordsByUser(periodId: string): AsyncGenerator<UserRecord> {
    yield* this.#read(periodId);
  }
  async *#read(periodId: string): AsyncGenerator<UserRecord> {
    this.asked.push(periodId);
    if (this.failure) throw this.failure;
    for (const item of this.items.filter((i) => i.period === periodId)) {
      this.pulled++;
      yield item;
    }
  }
}

function request(rawQuery: string, method = 'GET'): APIGatewayProxyEvent {
  return buildProxyEvent({
    method,
    path: '/report',
    rawQuery,
    headers: {},
    body: Buffer.alloc(0),
    resource: '/report',
    stage: 'prod',
    domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
    sourceIp: '203.0.113.9',
    now: new Date(NOW),
    requestId: 'req-1',
  });
}

function handler(ledger: PeriodRecordsPort, over: Partial<ReportDeps> = {}) {
  return createReportHandler({ records: ledger, billingAnchorDay: 1, pricePerUserYear: 0.9, now: () => NOW, ...over });
}

const ledger = () =>
  new FakeLedger([
    user('org:a'),
    user('org:b'),
    user('local:c', '2026-11', { admitted: false }), // Identity Plus confirmed it; the role policy denied it
    user('org:a', '2026-10'),
    user('org:x', '2026-11', { expiresAt: 1 }),
  ]);

describe('GET /report', () => {
  it('answers the current period as JSON by default', async () => {
    const l = ledger();
    const res = await handler(l)(request(''));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['Content-Type']).toBe('application/json; charset=utf-8');
    expect(l.asked).toEqual(['2026-11']);
    expect(JSON.parse(res.body)).toMatchObject({
      period: '2026-11',
      uniqueUsers: 3,
      admittedUsers: 2,
      notAdmittedUsers: 1,
      uniqueDevices: 4,
      authentications: 6,
      estimatedCost: 0.22, // all 3 billed users
      currency: 'USD',
    });
  });

  it('takes the current period from the billing anchor day', async () => {
    const l = ledger();
    await handler(l, { billingAnchorDay: 28 })(request(''));
    expect(l.asked).toEqual(['2026-10']); // 26 Nov is in the period that began 28 Oct
  });

  it('answers the period asked for', async () => {
    const res = await handler(ledger())(request('period=2026-10&format=json'));
    expect(JSON.parse(res.body)).toMatchObject({ period: '2026-10', uniqueUsers: 1, periodComplete: true });
  });

  it('answers CSV as a download named after the period, one row per counted user', async () => {
    const res = await handler(ledger())(request('period=2026-11&format=csv'));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': 'attachment; filename="plusgate-users-2026-11.csv"',
    });
    const lines = res.body.split('\r\n');
    expect(lines[0]).toBe('userId,name,email,firstSeenAt,lastSeenAt,authCount,devices,admitted,service');
    expect(lines.slice(1, -1).map((l) => l.split(',')[0])).toEqual(['org:a', 'org:b', 'local:c']); // the expired org:x is not billed
    expect(lines.slice(1, -1).map((l) => l.split(',').at(-2))).toEqual(['true', 'true', 'false']);
    expect(lines.slice(1, -1).map((l) => l.split(',').at(-1))).toEqual(['', '', '']); // recorded without a service
    expect(lines.at(-1)).toBe('');
  });

  it('answers an HTML page with the security headers', async () => {
    const res = await handler(ledger())(request('format=html'));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'Content-Type': 'text/html; charset=utf-8',
      'X-Content-Type-Options': 'nosniff',
    });
    expect(res.headers?.['Content-Security-Policy']).toContain("default-src 'none'");
    expect(res.body).toContain('<svg');
    expect(res.body).toContain('<dt>Billed users (confirmed by Identity Plus)</dt><dd>3</dd>');
    expect(res.body).toContain('<dt>Admitted users</dt><dd>2</dd>');
    expect(res.body).toContain('<dt>Not admitted users</dt><dd>1</dd>');
  });

  it.each([
    ['period=2026-13', /period must look like YYYY-MM/],
    ['period=november', /period must look like YYYY-MM \(e\.g\. 2026-11\), got "november"/],
    ['period=', /period must look like YYYY-MM/],
    ['format=xml', /format must be one of json, csv, html, got "xml"/],
    ['format=CSV', /format must be one of json, csv, html, got "CSV"/],
    ['format=table', /format must be one of json, csv, html/],
    ['period=2026-11&period=2026-10', /period is given 2 times; give it once/],
    ['format=json&format=csv', /format is given 2 times/],
    [
      'service=',
      /^service must be an Identity Plus service id: a DNS name .* or "-" for the users recorded without a service; got ""$/,
    ],
    ['service=a_b', /^service must be .*; got "a_b"$/],
    ['service=--', /^service must be .*; got "--"$/],
    ['service=billing.example.com.', /^service must be .*; got "billing.example.com."$/],
    ['service=%3Cscript%3E', /^service must be .*; got "<script>"$/],
    ['service=a%0Ab', /^service must be .*; got "a\\nb"$/],
    [`service=${'a'.repeat(300)}`, /^service must be .*; got "a{40}"$/],
    ['service=a&service=-', /service is given 2 times; give it once/],
  ])('refuses %j with 400 and a message', async (query, message) => {
    const l = ledger();
    const res = await handler(l)(request(query));
    expect(res.statusCode).toBe(400);
    expect(res.headers?.['Content-Type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(res.body).message).toMatch(message);
    expect(l.asked).toEqual([]); // nothing read for a bad request
  });

  describe("?service= (a delegated inquiry's service, as the ledger recorded it)", () => {
    const mixed = () =>
      new FakeLedger([
        user('org:a', '2026-11', { service: 'billing.example.com' }),
        user('org:b', '2026-11', { service: 'shop.example.com' }),
        user('local:c', '2026-11', { admitted: false, service: 'billing.example.com' }),
        user('org:d'),
        user('org:x', '2026-11', { expiresAt: 1, service: 'billing.example.com' }),
        user('org:a', '2026-10', { service: 'billing.example.com' }),
      ]);

    it('counts only the users recorded for that service, and says so in the JSON', async () => {
      const res = await handler(mixed())(request('service=billing.example.com'));
      expect(res.statusCode).toBe(200);
      const report = JSON.parse(res.body);
      expect(report).toMatchObject({
        period: '2026-11',
        service: 'billing.example.com',
        uniqueUsers: 2,
        admittedUsers: 1,
        notAdmittedUsers: 1,
        authentications: 4,
        estimatedCost: 0.15, // 2 × 0.9 × 30/365
      });
    });

    it('reads the name case-insensitively, as service ids are, and answers it lower-cased', async () => {
      const report = JSON.parse((await handler(mixed())(request('service=Billing.Example.COM'))).body);
      expect(report).toMatchObject({ service: 'billing.example.com', uniqueUsers: 2 });
    });

    it('with - counts only the users recorded without a service', async () => {
      const report = JSON.parse((await handler(mixed())(request('service=-'))).body);
      expect(report).toMatchObject({ service: '-', uniqueUsers: 1, authentications: 2 });
    });

    it('lists only those users in the CSV, each with its service in the last column', async () => {
      const res = await handler(mixed())(request('service=billing.example.com&format=csv'));
      const rows = res.body.split('\r\n').slice(1, -1);
      expect(rows.map((l) => l.split(',')[0])).toEqual(['org:a', 'local:c']);
      expect(rows.map((l) => l.split(',').at(-1))).toEqual(['billing.example.com', 'billing.example.com']);
    });

    it('says on the HTML page which users it counted', async () => {
      const res = await handler(mixed())(request('service=shop.example.com&format=html'));
      expect(res.body).toContain('Counted: only users recorded for service shop.example.com');
      expect(res.body).toContain('<dt>Billed users (confirmed by Identity Plus)</dt><dd>1</dd>');
    });

    it('changes nothing without the parameter: every user, no service key', async () => {
      const report = JSON.parse((await handler(mixed())(request(''))).body);
      expect(report.uniqueUsers).toBe(4);
      expect(Object.keys(report)).not.toContain('service');
      const html = (await handler(mixed())(request('format=html'))).body;
      expect(html).not.toContain('Counted:');
    });

    it('logs the filter it applied', async () => {
      const served: Array<Record<string, unknown>> = [];
      await handler(mixed(), { log: { served: (f) => served.push({ ...f }), failure: () => undefined } })(
        request('service=-'),
      );
      expect(served).toEqual([expect.objectContaining({ service: '-', users: 1 })]);
    });
  });

  it('answers 405 to anything but GET', async () => {
    const res = await handler(ledger())(request('', 'POST'));
    expect(res.statusCode).toBe(405);
    expect(res.headers?.Allow).toBe('GET');
  });

  it('answers 413 for a CSV over the size limit, pointing to the CLI and the export, and stops reading early', async () => {
    const many = new FakeLedger(Array.from({ length: 5000 }, (_, i) => user(`org:user-${String(i).padStart(5, '0')}`)));
    const res = await handler(many, { maxCsvBytes: 20_000 })(request('period=2026-11&format=csv'));
    expect(res.statusCode).toBe(413);
    const { message } = JSON.parse(res.body);
    expect(message).toMatch(/npm run report -- --period 2026-11 --format csv/);
    expect(message).toMatch(/reports\/2026-11\/users\.csv/);
    expect(many.pulled).toBeLessThan(300);
  });

  it('counts the CSV size as it travels in the Lambda response (JSON-escaped UTF-8)', async () => {
    // 40 rows of ~100 bytes with quotes and non-ASCII: fits 5 KB as text, not once escaped.
    const quoted = new FakeLedger(
      Array.from({ length: 40 }, (_, i) => user(`org:${i}`, '2026-11', { name: '"Zoë" "Ärger" "Ĳssel"' })),
    );
    const plainSize = (await handler(quoted, { maxCsvBytes: 1e9 })(request('format=csv'))).body.length;
    expect(plainSize).toBeLessThan(6500);
    const res = await handler(quoted, { maxCsvBytes: plainSize + 10 })(request('format=csv'));
    expect(res.statusCode).toBe(413);
  });

  it('answers 503 with Retry-After when the ledger cannot be read, without internals', async () => {
    const failing = new FakeLedger(
      [],
      new RecordReadError(
        'could not read billing period 2026-11 (shard 3): ProvisionedThroughputExceededException reading table t',
      ),
    );
    const failures: string[] = [];
    const res = await handler(failing, { log: { served: () => undefined, failure: (m) => failures.push(m) } })(
      request('format=html'),
    );
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBe('30');
    expect(res.body).not.toMatch(/shard|Throughput|table/);
    expect(failures).toEqual(['report failed']);
  });

  it('answers a generic 500 for anything unexpected', async () => {
    const res = await handler(new FakeLedger([], new TypeError('secret internals')))(request(''));
    expect(res.statusCode).toBe(500);
    expect(res.body).not.toContain('secret internals');
  });

  it('logs what it served, without user data', async () => {
    const served: Array<Record<string, unknown>> = [];
    await handler(ledger(), { log: { served: (f) => served.push({ ...f }), failure: () => undefined } })(
      request('format=csv'),
    );
    expect(served).toEqual([
      expect.objectContaining({
        period: '2026-11',
        format: 'csv',
        status: 200,
        users: 3,
        admittedUsers: 2,
        expiredIgnored: 1,
      }),
    ]);
    expect(JSON.stringify(served)).not.toContain('org:a');
  });
});
