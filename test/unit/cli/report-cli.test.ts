import { PassThrough } from 'node:stream';
import { RecordReadError } from '../../../functions/domain/errors';
import type { PeriodRecordsPort, UserRecord } from '../../../functions/domain/report';
import { LOCAL_TABLE_NAME } from '../../../local/local-mode';
import {
  LOCAL_DYNAMODB_ENDPOINT,
  REPORT_USAGE,
  describeFailure,
  parseReportArgs,
  runReport,
} from '../../../cli/report-cli';
import { UsageError } from '../../../cli/usage-error';

const NO_ENV = {};

describe('report CLI arguments', () => {
  it('defaults to this period as a table, from local mode', () => {
    expect(parseReportArgs([], NO_ENV)).toEqual({
      help: false,
      period: undefined,
      format: 'table',
      out: undefined,
      source: { kind: 'local', endpoint: 'http://127.0.0.1:8000', table: 'plusgate-records' },
      anchorDay: 1,
      pricePerUserYear: 0.9,
      shards: 16,
    });
  });

  it('reads the table local mode creates, where local mode puts dynalite', () => {
    expect(parseReportArgs([], NO_ENV).source).toMatchObject({ table: LOCAL_TABLE_NAME });
    expect(LOCAL_DYNAMODB_ENDPOINT).toBe('http://127.0.0.1:8000');
  });

  it('takes period, format and output file', () => {
    expect(parseReportArgs(['--period', '2026-11', '--format', 'csv', '--out', 'users.csv'], NO_ENV)).toMatchObject({
      period: '2026-11',
      format: 'csv',
      out: 'users.csv',
    });
    expect(parseReportArgs(['--period=2026-02', '--format=html'], NO_ENV)).toMatchObject({
      period: '2026-02',
      format: 'html',
    });
    for (const format of ['table', 'json', 'csv', 'html'])
      expect(parseReportArgs(['--format', format], NO_ENV).format).toBe(format);
  });

  it('reads local mode on another port with --dynamodb-endpoint', () => {
    expect(parseReportArgs(['--dynamodb-endpoint', 'http://127.0.0.1:39000'], NO_ENV).source).toEqual({
      kind: 'local',
      endpoint: 'http://127.0.0.1:39000',
      table: 'plusgate-records',
    });
    expect(
      parseReportArgs(['--dynamodb-endpoint', 'http://localhost:4566', '--table', 'other'], NO_ENV).source,
    ).toEqual({ kind: 'local', endpoint: 'http://localhost:4566', table: 'other' });
  });

  it('reads AWS with --table and --region, or the region from the environment', () => {
    expect(parseReportArgs(['--table', 'Plusgate-Records', '--region', 'eu-west-1'], NO_ENV).source).toEqual({
      kind: 'aws',
      table: 'Plusgate-Records',
      region: 'eu-west-1',
    });
    expect(parseReportArgs(['--table', 'T'], { AWS_REGION: 'us-gov-west-1' }).source).toEqual({
      kind: 'aws',
      table: 'T',
      region: 'us-gov-west-1',
    });
  });

  it("takes the deployment's billing settings", () => {
    expect(
      parseReportArgs(['--anchor-day', '15', '--price-per-user-year', '1.2', '--shards', '32'], NO_ENV),
    ).toMatchObject({ anchorDay: 15, pricePerUserYear: 1.2, shards: 32 });
    expect(parseReportArgs(['--price-per-user-year', '0'], NO_ENV).pricePerUserYear).toBe(0);
  });

  it('asks for help with -h or --help', () => {
    expect(parseReportArgs(['-h'], NO_ENV).help).toBe(true);
    expect(parseReportArgs(['--help'], NO_ENV).help).toBe(true);
    expect(REPORT_USAGE).toMatch(/^usage: npm run report -- \[options\]/);
    for (const flag of [
      '--period',
      '--format',
      '--out',
      '--dynamodb-endpoint',
      '--table',
      '--region',
      '--anchor-day',
      '--price-per-user-year',
      '--shards',
      '--service',
    ])
      expect(REPORT_USAGE).toContain(flag);
  });

  it('takes --service NAME (lower-cased) or --service - for the users recorded without a service', () => {
    expect(parseReportArgs(['--service', 'Billing.Example.com'], NO_ENV).service).toBe('billing.example.com');
    expect(parseReportArgs(['--service', '-'], NO_ENV).service).toBe('-');
    expect(parseReportArgs(['--service=-'], NO_ENV).service).toBe('-');
    expect(parseReportArgs([], NO_ENV).service).toBeUndefined();
  });

  it.each([
    [['--format', 'xml'], /--format must be one of table, json, csv, html, got "xml"/],
    [['--period', '2026-13'], /--period must look like YYYY-MM \(e\.g\. 2026-11\), got "2026-13"/],
    [['--period', '26-11'], /--period must look like YYYY-MM/],
    [['--period'], /argument missing/],
    [['--perod', '2026-11'], /Unknown option '--perod'/],
    [['2026-11'], /Unexpected argument '2026-11'/],
    [['--table', 'T'], /--table reads AWS: give --region too \(or set AWS_REGION\)/],
    [['--table', 'T', '--region', 'Ireland'], /--region must be an AWS region like eu-west-1, got "Ireland"/],
    [['--region', 'eu-west-1'], /--region goes with --table NAME/],
    [['--dynamodb-endpoint', '127.0.0.1:8000'], /--dynamodb-endpoint must be an http\(s\) URL/],
    [['--anchor-day', '29'], /--anchor-day must be a whole number from 1 to 28 .*, got "29"/],
    [['--anchor-day', '1.5'], /--anchor-day must be a whole number/],
    [['--shards', '0'], /--shards must be a whole number from 1 to 1000/],
    [['--price-per-user-year=-1'], /--price-per-user-year must be a number >= 0/],
    [['--price-per-user-year', 'cheap'], /--price-per-user-year must be a number >= 0/],
    [['--out', ''], /--out needs a file name/],
    [
      ['--service', 'a_b'],
      /^--service must be an Identity Plus service id: a DNS name .* or - for the users recorded without a service; got "a_b"$/,
    ],
    [['--service', ''], /^--service must be .*; got ""$/],
    [['--service', 'billing.example.com.'], /^--service must be /],
    [['--service=--'], /^--service must be /],
    [['--service'], /argument missing/],
    [['--help', 'extra'], /Unexpected argument 'extra'/],
  ])('refuses %j with a usage error', (argv, message) => {
    expect(() => parseReportArgs(argv as string[], NO_ENV)).toThrow(UsageError);
    expect(() => parseReportArgs(argv as string[], NO_ENV)).toThrow(message);
  });
});

describe('report CLI run', () => {
  const records: UserRecord[] = [
    {
      userId: 'local:erin-local',
      period: '2026-11',
      firstSeenAt: '2026-11-26T10:00:00.000Z',
      lastSeenAt: '2026-11-26T10:00:00.000Z',
      authCount: 1,
      devices: ['2'],
      admitted: false, // Identity Plus confirmed it, the role policy denied it: billed, not admitted
    },
    {
      userId: 'org:ref-alice',
      period: '2026-11',
      name: 'Alice',
      firstSeenAt: '2026-11-26T09:00:00.000Z',
      lastSeenAt: '2026-11-26T11:00:00.000Z',
      authCount: 3,
      devices: ['1', '3'],
    },
  ];
  const ledger = (items: UserRecord[]): PeriodRecordsPort => ({
    records: async function* () {
      yield* items;
    },
    recordsByUser: async function* () {
      yield* items;
    },
  });
  const io = (over: Partial<Parameters<typeof runReport>[1]> = {}) => {
    const stdout = new PassThrough();
    const stderr = Object.assign(new PassThrough(), { isTTY: false });
    let out = '';
    let err = '';
    stdout.on('data', (d) => (out += d));
    stderr.on('data', (d) => (err += d));
    return {
      streams: { stdout, stderr, now: () => Date.parse('2026-11-26T12:00:00Z'), ...over },
      out: () => out,
      err: () => err,
    };
  };

  it('prints a readable table: header, one line per user, totals', async () => {
    const t = io({ records: ledger(records) });
    expect(await runReport(parseReportArgs([], NO_ENV), t.streams)).toBe(0);
    const text = t.out();
    expect(text).toMatch(/^plusgate billing report, period 2026-11/);
    expect(text).toMatch(/\norg:ref-alice\s+Alice\s+2026-11-26 09:00\s+2026-11-26 11:00\s+3\s+2\s+yes\n/);
    expect(text).toMatch(/\nlocal:erin-local\s+2026-11-26 10:00\s+2026-11-26 10:00\s+1\s+1\s+no\n/);
    expect(text).toContain('Billed users        2 (confirmed by Identity Plus)\n');
    expect(text).toContain('Admitted users      1\n');
    expect(text).toContain('Not admitted users  1 (confirmed, then denied by the role policy)\n');
    expect(text).toContain('Estimated cost      0.15 USD (2 billed users');
    expect(t.err()).toBe('');
  });

  it('prints JSON', async () => {
    const t = io({ records: ledger(records) });
    await runReport(parseReportArgs(['--format', 'json', '--period', '2026-11'], NO_ENV), t.streams);
    expect(JSON.parse(t.out())).toMatchObject({
      period: '2026-11',
      uniqueUsers: 2,
      admittedUsers: 1,
      notAdmittedUsers: 1,
      uniqueDevices: 3,
      authentications: 4,
      estimatedCost: 0.15, // both billed users
    });
  });

  it('writes the admitted column in the CSV and the billed and admitted users in the HTML', async () => {
    const csv = io({ records: ledger(records) });
    await runReport(parseReportArgs(['--format', 'csv', '--period', '2026-11'], NO_ENV), csv.streams);
    const lines = csv.out().split('\r\n');
    expect(lines[0]).toBe('userId,name,email,firstSeenAt,lastSeenAt,authCount,devices,admitted,service');
    expect(lines.slice(1, -1).map((l) => l.split(',').at(-2))).toEqual(['false', 'true']);

    const html = io({ records: ledger(records) });
    await runReport(parseReportArgs(['--format', 'html', '--period', '2026-11'], NO_ENV), html.streams);
    expect(html.out()).toContain('<dt>Billed users (confirmed by Identity Plus)</dt><dd>2</dd>');
    expect(html.out()).toContain('<dt>Admitted users</dt><dd>1</dd>');
  });

  it('with --service counts and lists only the users recorded for it, and says so', async () => {
    const mixed: UserRecord[] = [
      { ...(records[0] as UserRecord), service: 'billing.example.com' },
      records[1] as UserRecord,
      { ...(records[1] as UserRecord), userId: 'org:ref-bob', service: 'shop.example.com' },
    ];
    const json = io({ records: ledger(mixed) });
    await runReport(parseReportArgs(['--format', 'json', '--service', 'billing.example.com'], NO_ENV), json.streams);
    expect(JSON.parse(json.out())).toMatchObject({ service: 'billing.example.com', uniqueUsers: 1, admittedUsers: 0 });

    const csv = io({ records: ledger(mixed) });
    await runReport(parseReportArgs(['--format', 'csv', '--service', '-'], NO_ENV), csv.streams);
    const rows = csv.out().split('\r\n').slice(1, -1);
    expect(rows.map((l) => l.split(',')[0])).toEqual(['org:ref-alice']);
    expect(rows.map((l) => l.split(',').at(-1))).toEqual(['']);

    const table = io({ records: ledger(mixed) });
    await runReport(parseReportArgs(['--service', 'shop.example.com'], NO_ENV), table.streams);
    expect(table.out()).toContain('\norg:ref-bob');
    expect(table.out()).not.toContain('org:ref-alice');
    expect(table.out()).toContain('Service             only users recorded for service shop.example.com');
    expect(table.out()).toContain('Billed users        1 (confirmed by Identity Plus)\n');
  });

  it('shows progress on a terminal only when the report takes longer than the threshold', async () => {
    const slow: PeriodRecordsPort = {
      records: async function* () {
        for (const r of records) {
          await new Promise((resolve) => setTimeout(resolve, 60));
          yield r;
        }
      },
      recordsByUser: async function* () {},
    };
    const tty = io({ records: slow, progressAfterMs: 20 });
    (tty.streams.stderr as { isTTY: boolean }).isTTY = true;
    await runReport(parseReportArgs(['--format', 'json'], NO_ENV), tty.streams);
    expect(tty.err()).toContain('reading the ledger: 0 items');
    expect(tty.err().endsWith('\r\x1b[K')).toBe(true); // the line is cleared at the end

    const fast = io({ records: ledger(records), progressAfterMs: 1000 });
    (fast.streams.stderr as { isTTY: boolean }).isTTY = true;
    await runReport(parseReportArgs(['--format', 'json'], NO_ENV), fast.streams);
    expect(fast.err()).toBe('');

    const piped = io({ records: slow, progressAfterMs: 20 });
    await runReport(parseReportArgs(['--format', 'json'], NO_ENV), piped.streams);
    expect(piped.err()).toBe('');
  });

  it('exits 1 with the reason when the ledger cannot be read, with a hint for local mode', async () => {
    const failing: PeriodRecordsPort = {
      // biome-ignore lint/correctness/useYield: a ledger that fails before its first record
      records: async function* () {
        throw new RecordReadError(
          'could not read billing period 2026-11 (shard 0): Error reading table plusgate-records',
          {
            reason: 'ECONNREFUSED',
          },
        );
      },
      recordsByUser: async function* () {},
    };
    const t = io({ records: failing });
    expect(await runReport(parseReportArgs(['--format', 'json'], NO_ENV), t.streams)).toBe(1);
    expect(t.err()).toContain('report: could not read billing period 2026-11');
    expect(t.err()).toContain(
      'nothing answers at http://127.0.0.1:8000: start local mode (npm start), or pass --dynamodb-endpoint URL',
    );
    expect(t.out()).toBe('');
  });

  it('exits 1, not crashes, when the output file cannot be written', async () => {
    const t = io({ records: ledger(records) });
    expect(
      await runReport(
        parseReportArgs(['--format', 'csv', '--out', '/nonexistent-folder/users.csv'], NO_ENV),
        t.streams,
      ),
    ).toBe(1);
    expect(t.err()).toMatch(/^report: ENOENT: no such file or directory, open '\/nonexistent-folder\/users.csv'/);
  });

  it('describes a missing table', () => {
    const err = new RecordReadError(
      'could not read billing period 2026-11 (shard 0): table plusgate-records does not exist',
      {
        reason: 'ResourceNotFoundException',
      },
    );
    expect(describeFailure(err, { source: { kind: 'local', endpoint: 'http://127.0.0.1:1', table: 't' } })).toMatch(
      /local mode creates plusgate-records when it starts/,
    );
    expect(describeFailure(err, { source: { kind: 'aws', table: 't', region: 'eu-west-1' } })).toBe(err.message);
  });
});
