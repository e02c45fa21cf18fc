/**
 * The report end to end through dynalite: 10,000 users written in the ledger's exact item layout (as
 * RecordsTable writes them), read back by the sharded parallel Queries, through `/report` and the CLI.
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  type DynamoDBClient,
  type QueryCommand,
} from '@aws-sdk/client-dynamodb';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { PassThrough } from 'node:stream';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { RecordsReader, compareCodePoints, userRecordOf } from '../../functions/adapters/records-reader';
import { RecordReadError } from '../../functions/domain/errors';
import { RecordsTable, periodPartitionKey, shardOf } from '../../functions/adapters/records-table';
import { periodById } from '../../functions/domain/billing-period';
import type { UserRecord } from '../../functions/domain/report';
import { createReportHandler } from '../../functions/handlers/report-app';
import { buildProxyEvent } from '../../local/api-gateway-event';
import { type RunningDynalite, ensureRecordsTable, localDynamoClient, startDynalite } from '../../local/dynamodb-local';
import { parseReportArgs, runReport } from '../../cli/report-cli';

const TABLE = 'report-test';
const USERS = 10_000;
const SHARDS = 16;
const NOW = Date.parse('2026-11-26T12:00:00Z');
const NOVEMBER = periodById('2026-11');
const LIVE = Math.floor(Date.parse('2029-01-01T00:00:00Z') / 1000); // period end + 25 months
const EXPIRED = Math.floor(NOW / 1000) - 60;

let dynalite: RunningDynalite;
let client: DynamoDBClient;

/** A ledger item exactly as records-table.ts lays it out. */
function ledgerItem(
  periodId: string,
  u: {
    userId: string;
    name?: string;
    email?: string;
    firstSeenAt: string;
    lastSeenAt: string;
    authCount: number;
    devices: string[];
    expiresAt: number;
  },
): Record<string, AttributeValue> {
  return {
    pk: { S: periodPartitionKey(periodId, shardOf(u.userId, SHARDS)) },
    sk: { S: `USER#${u.userId}` },
    userId: { S: u.userId },
    period: { S: periodId },
    ...(u.name ? { name: { S: u.name } } : {}),
    ...(u.email ? { email: { S: u.email } } : {}),
    firstSeenAt: { S: u.firstSeenAt },
    lastSeenAt: { S: u.lastSeenAt },
    authCount: { N: String(u.authCount) },
    devices: { SS: u.devices },
    roles: { L: [{ S: 'member' }] },
    expiresAt: { N: String(u.expiresAt) },
  };
}

/** Writes items 25 at a time (BatchWriteItem's limit), 8 batches in flight, retrying what is left unprocessed. */
async function batchWrite(items: Array<Record<string, AttributeValue>>): Promise<void> {
  const batches: Array<Array<Record<string, AttributeValue>>> = [];
  for (let i = 0; i < items.length; i += 25) batches.push(items.slice(i, i + 25));
  let next = 0;
  const worker = async () => {
    while (next < batches.length) {
      let requests = batches[next++]!.map((Item) => ({ PutRequest: { Item } }));
      while (requests.length > 0) {
        const res = await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: requests } }));
        requests = (res.UnprocessedItems?.[TABLE] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

/** What the generator below puts in November, for the assertions. */
const expected = { authentications: 0, devices: new Set<string>(), perDay: new Array<number>(30).fill(0) };
const userIdOf = (i: number) =>
  i % 3 === 0 ? `local:user-${i}` : i % 3 === 1 ? `org:ref-${i}` : `serial:${900_000_000 + i}`;

beforeAll(async () => {
  dynalite = await startDynalite({ port: 0 });
  client = localDynamoClient(dynalite.endpoint);
  await ensureRecordsTable(client, TABLE);

  const items: Array<Record<string, AttributeValue>> = [];
  for (let i = 0; i < USERS; i++) {
    const day = i % 30;
    const devices = Array.from({ length: 1 + (i % 3) }, (_, d) => String(1_000_000 + i * 3 + d));
    if (i % 100 === 0) devices.push('42'); // one shared serial (e.g. re-bound device): counted once
    const authCount = 1 + (i % 7);
    const firstSeenAt = new Date(NOVEMBER.start.getTime() + day * 86_400_000 + (i % 86_400) * 1000).toISOString();
    items.push(
      ledgerItem('2026-11', {
        userId: userIdOf(i),
        name: i % 2 ? `User ${i}` : undefined,
        email: i % 5 ? `user${i}@example.com` : undefined,
        firstSeenAt,
        lastSeenAt: firstSeenAt,
        authCount,
        devices,
        expiresAt: LIVE,
      }),
    );
    expected.authentications += authCount;
    for (const d of devices) expected.devices.add(d);
    expected.perDay[day]!++;
  }
  // The first 500 of them were active in October too (counted there as well), and 100 November items expired.
  for (let i = 0; i < 500; i++)
    items.push(
      ledgerItem('2026-10', {
        userId: userIdOf(i),
        firstSeenAt: '2026-10-10T10:00:00.000Z',
        lastSeenAt: '2026-10-10T10:00:00.000Z',
        authCount: 1,
        devices: ['7'],
        expiresAt: LIVE,
      }),
    );
  for (let i = 0; i < 100; i++)
    items.push(
      ledgerItem('2026-11', {
        userId: `org:gone-${i}`,
        firstSeenAt: '2026-11-02T10:00:00.000Z',
        lastSeenAt: '2026-11-02T10:00:00.000Z',
        authCount: 9,
        devices: ['8'],
        expiresAt: EXPIRED,
      }),
    );
  await batchWrite(items);
}, 60_000);

afterAll(async () => {
  client.destroy();
  await dynalite.stop();
});

const reader = (over: { pageSize?: number; client?: DynamoDBClient; tableName?: string } = {}) =>
  new RecordsReader({
    client: over.client ?? client,
    tableName: over.tableName ?? TABLE,
    shards: SHARDS,
    pageSize: over.pageSize,
  });

function request(rawQuery: string): APIGatewayProxyEvent {
  return buildProxyEvent({
    method: 'GET',
    path: '/report',
    rawQuery,
    headers: {},
    body: Buffer.alloc(0),
    resource: '/report',
    stage: 'prod',
    domainName: 'svc.example.com',
    sourceIp: '203.0.113.9',
    now: new Date(NOW),
    requestId: 'r',
  });
}

const app = (records = reader()) =>
  createReportHandler({ records, billingAnchorDay: 1, pricePerUserYear: 0.9, now: () => NOW });

describe('the report over 10,000 users in dynalite', () => {
  it('reads the period with one paginated Query per shard, never a Scan', async () => {
    const sent: Array<{ name: string; pk?: string; startKey: boolean }> = [];
    const spy = jest.spyOn(client, 'send');
    try {
      let n = 0;
      for await (const _ of reader({ pageSize: 200 }).records('2026-11')) n++;
      for (const call of spy.mock.calls) {
        const cmd = call[0] as unknown as { constructor: { name: string }; input: QueryCommand['input'] };
        sent.push({
          name: cmd.constructor.name,
          pk: cmd.input.ExpressionAttributeValues?.[':pk']?.S,
          startKey: cmd.input.ExclusiveStartKey !== undefined,
        });
      }
      expect(n).toBe(USERS + 100); // the reader returns expired items too: the report leaves them out
    } finally {
      spy.mockRestore();
    }
    expect(new Set(sent.map((s) => s.name))).toEqual(new Set(['QueryCommand']));
    expect(new Set(sent.map((s) => s.pk))).toEqual(
      new Set(Array.from({ length: SHARDS }, (_, s) => `PERIOD#2026-11#${s}`)),
    );
    expect(sent.filter((s) => s.startKey).length).toBeGreaterThan(SHARDS); // ~630 items per shard over pages of 200
  });

  it('answers the JSON report with the right counts and cost', async () => {
    const started = Date.now();
    const res = await app()(request('period=2026-11'));
    expect(res.statusCode).toBe(200);
    const report = JSON.parse(res.body);
    expect(report).toMatchObject({
      period: '2026-11',
      uniqueUsers: USERS,
      admittedUsers: USERS, // items without the admitted flag (written before it existed) count as admitted
      notAdmittedUsers: 0,
      uniqueDevices: expected.devices.size,
      authentications: expected.authentications,
      estimatedCost: 739.73, // 10,000 × 0.9 × 30/365 = 739.726
      currency: 'USD',
    });
    expect(report.newUsersPerDay.map((d: { users: number }) => d.users)).toEqual(expected.perDay);
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('counts the users active in October in October too', async () => {
    const res = await app()(request('period=2026-10'));
    expect(JSON.parse(res.body)).toMatchObject({ uniqueUsers: 500, uniqueDevices: 1, authentications: 500 });
  });

  it('answers the CSV: one row per billed user, ordered by user id, parseable', async () => {
    const res = await app()(request('period=2026-11&format=csv'));
    expect(res.statusCode).toBe(200);
    const lines = res.body.split('\r\n');
    expect(lines[0]).toBe('userId,name,email,firstSeenAt,lastSeenAt,authCount,devices,admitted,service');
    const rows = lines.slice(1, -1);
    expect(rows).toHaveLength(USERS);
    const ids = rows.map((r) => r.split(',')[0]!);
    expect(new Set(ids).size).toBe(USERS);
    expect(ids).toEqual([...ids].sort()); // ASCII ids: code point order = JS order
    expect(ids.some((id) => id.startsWith('org:gone-'))).toBe(false);
    const row1 = rows.find((r) => r.startsWith('org:ref-1,'))!;
    expect(row1.split(',')).toEqual([
      'org:ref-1',
      'User 1',
      'user1@example.com',
      expect.stringMatching(/^2026-11-02T/),
      expect.any(String),
      '2',
      '1000003;1000004',
      'true', // no admitted attribute in the item: admitted
      '', // no service attribute: recorded without one
    ]);
  });

  it('merges in user order however the pages fall', async () => {
    let previous = '';
    let n = 0;
    for await (const r of reader({ pageSize: 37 }).recordsByUser('2026-11')) {
      expect(`USER#${r.userId}` > `USER#${previous}` || n === 0).toBe(true);
      previous = r.userId;
      n++;
    }
    expect(n).toBe(USERS + 100);
  });

  it('stops the Queries when the consumer stops early', async () => {
    const records: UserRecord[] = [];
    for await (const r of reader({ pageSize: 50 }).records('2026-11')) {
      records.push(r);
      if (records.length === 10) break;
    }
    for await (const r of reader({ pageSize: 50 }).recordsByUser('2026-11')) {
      records.push(r);
      if (records.length === 20) break;
    }
    expect(records).toHaveLength(20);
    await new Promise((resolve) => setTimeout(resolve, 200)); // an unhandled rejection from an aborted page would fail the run here
  });

  it('reads what RecordsTable writes', async () => {
    const table = new RecordsTable({ client, tableName: TABLE, shards: SHARDS });
    const period = periodById('2026-09');
    const at = new Date('2026-09-03T10:00:00Z');
    await table.recordAuthentication({
      period,
      userId: 'org:ref-alice',
      name: 'Alice',
      email: 'alice@example.com',
      serial: '1',
      roles: ['member'],
      at,
      admitted: true,
    });
    await table.recordAuthentication({
      period,
      userId: 'org:ref-alice',
      serial: '2',
      roles: ['member'],
      at: new Date('2026-09-04T10:00:00Z'),
      admitted: true,
    });
    await table.recordAuthentication({ period, userId: 'local:erin', serial: '3', roles: [], at, admitted: true });
    const res = await app()(request('period=2026-09'));
    expect(JSON.parse(res.body)).toMatchObject({ uniqueUsers: 2, uniqueDevices: 3, authentications: 3 });
  });

  it('bills every identity Identity Plus confirmed and counts the admitted ones apart (RecordsTable → /report)', async () => {
    const table = new RecordsTable({ client, tableName: TABLE, shards: SHARDS });
    const period = periodById('2026-08'); // 31 days
    const at = new Date('2026-08-05T10:00:00Z');
    const write = (userId: string, serial: string, admitted: boolean) =>
      table.recordAuthentication({ period, userId, serial, roles: admitted ? ['member'] : ['guest'], at, admitted });
    await write('org:ref-admitted', '1', true);
    await write('org:ref-denied-then-admitted', '2', false);
    await write('org:ref-denied-then-admitted', '2', true);
    await write('org:ref-denied', '3', false); // confirmed by Identity Plus, denied by the role policy
    await write('org:ref-denied', '3', false);

    const json = JSON.parse((await app()(request('period=2026-08'))).body);
    expect(json).toMatchObject({
      uniqueUsers: 3,
      admittedUsers: 2,
      notAdmittedUsers: 1,
      authentications: 5,
      estimatedCost: 0.23, // 3 billed users × 0.9 × 31/365 = 0.229 (the 2 admitted alone would be 0.15)
    });
    const csv = (await app()(request('period=2026-08&format=csv'))).body.split('\r\n');
    expect(csv.slice(1, -1).map((r) => [r.split(',')[0], r.split(',').at(-2)])).toEqual([
      ['org:ref-admitted', 'true'],
      ['org:ref-denied', 'false'],
      ['org:ref-denied-then-admitted', 'true'],
    ]);
  });

  it('counts only the users recorded for a service with ?service= (RecordsTable → RecordsReader → /report)', async () => {
    const table = new RecordsTable({ client, tableName: TABLE, shards: SHARDS });
    const period = periodById('2026-07');
    const at = new Date('2026-07-09T10:00:00Z');
    const write = (userId: string, serial: string, service?: string) =>
      table.recordAuthentication({ period, userId, serial, roles: ['member'], at, admitted: true, service });
    await write('org:ref-billing-1', '1', 'billing.example.com');
    await write('org:ref-billing-2', '2', 'billing.example.com');
    await write('org:ref-billing-2', '3', 'billing.example.com');
    await write('org:ref-shop', '4', 'shop.example.com');
    await write('org:ref-own', '5');

    const json = async (query: string) => JSON.parse((await app()(request(`period=2026-07&${query}`))).body);
    expect(await json('service=billing.example.com')).toMatchObject({
      service: 'billing.example.com',
      uniqueUsers: 2,
      uniqueDevices: 3,
      authentications: 3,
    });
    expect(await json('service=shop.example.com')).toMatchObject({ service: 'shop.example.com', uniqueUsers: 1 });
    expect(await json('service=-')).toMatchObject({ service: '-', uniqueUsers: 1, authentications: 1 });
    expect(await json('service=nobody.example.com')).toMatchObject({ uniqueUsers: 0, estimatedCost: 0 });
    const all = await json('format=json');
    expect(all.uniqueUsers).toBe(4);
    expect(all).not.toHaveProperty('service');

    const csv = (await app()(request('period=2026-07&format=csv&service=billing.example.com'))).body.split('\r\n');
    expect(csv.slice(1, -1).map((r) => [r.split(',')[0], r.split(',').at(-1)])).toEqual([
      ['org:ref-billing-1', 'billing.example.com'],
      ['org:ref-billing-2', 'billing.example.com'],
    ]);
    const bad = await app()(request('period=2026-07&service=billing_example'));
    expect(bad.statusCode).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/^service must be /);
  });

  it('answers 503 when the table cannot be read', async () => {
    const res = await app(reader({ tableName: 'no-such-table' }))(request('period=2026-11'));
    expect(res.statusCode).toBe(503);
    const err = await reader({ tableName: 'no-such-table' })
      .records('2026-11')
      .next()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordReadError);
    expect((err as Error).message).toMatch(
      /^could not read billing period 2026-11 \(shard \d+\): table no-such-table does not exist$/,
    );
  });
});

describe('the report CLI against dynalite', () => {
  const run = async (argv: string[]) => {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (d) => (out += d));
    stderr.on('data', (d) => (err += d));
    const code = await runReport(parseReportArgs(argv, {}), { stdout, stderr, now: () => NOW });
    return { code, out, err };
  };

  it('writes the CSV of 10,000 users to a file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'plusgate-report-'));
    try {
      const file = path.join(dir, 'users.csv');
      const { code, err } = await run([
        '--dynamodb-endpoint',
        dynalite.endpoint,
        '--table',
        TABLE,
        '--period',
        '2026-11',
        '--format',
        'csv',
        '--out',
        file,
      ]);
      expect(code).toBe(0);
      expect(err).toBe(`wrote csv report of period 2026-11 (10000 users) to ${file}\n`);
      expect(readFileSync(file, 'utf8').split('\r\n')).toHaveLength(USERS + 2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('prints the table with the totals', async () => {
    const { code, out } = await run([
      '--dynamodb-endpoint',
      dynalite.endpoint,
      '--table',
      TABLE,
      '--period',
      '2026-10',
    ]);
    expect(code).toBe(0);
    expect(out.split('\n').filter((l) => /^(local|org|serial):/.test(l))).toHaveLength(500);
    expect(out).toContain('Billed users        500 (confirmed by Identity Plus)\n');
    expect(out).toContain('Admitted users      500\n');
    expect(out).toContain('Not admitted users  0 (confirmed, then denied by the role policy)\n');
    expect(out).toContain('Estimated cost      38.22 USD (500 billed users × 0.90 USD/year × 31/365 days)');
  });

  it('with --service counts and lists only the users recorded for that service', async () => {
    const table = new RecordsTable({ client, tableName: TABLE, shards: SHARDS });
    const period = periodById('2026-06');
    const at = new Date('2026-06-03T10:00:00Z');
    await table.recordAuthentication({
      period,
      userId: 'org:ref-cli-billing',
      serial: '61',
      roles: [],
      at,
      admitted: true,
      service: 'billing.example.com',
    });
    await table.recordAuthentication({
      period,
      userId: 'org:ref-cli-own',
      serial: '62',
      roles: [],
      at,
      admitted: true,
    });
    const source = ['--dynamodb-endpoint', dynalite.endpoint, '--table', TABLE, '--period', '2026-06'];
    const billing = await run([...source, '--service', 'billing.example.com']);
    expect(billing.code).toBe(0);
    expect(billing.out).toContain('\norg:ref-cli-billing');
    expect(billing.out).not.toContain('org:ref-cli-own');
    expect(billing.out).toContain('Billed users        1 (confirmed by Identity Plus)\n');
    const own = await run([...source, '--service', '-', '--format', 'json']);
    expect(JSON.parse(own.out)).toMatchObject({ service: '-', uniqueUsers: 1 });
  });

  it('says how to fix it when nothing listens at the endpoint', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const { code, out, err } = await run(['--dynamodb-endpoint', `http://127.0.0.1:${port}`, '--format', 'json']);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toMatch(
      /could not read billing period 2026-11 \(shard \d+\): ECONNREFUSED reading table plusgate-records/,
    );
    expect(err).toContain(`nothing answers at http://127.0.0.1:${port}: start local mode (npm start)`);
  });
});

describe('reading ledger items', () => {
  it('orders user ids as DynamoDB orders sort keys (UTF-8 bytes = code points)', () => {
    const ids = ['USER#b', 'USER#a', 'USER#\u{1F600}', 'USER#\uFF21', 'USER#ab', 'USER#'];
    // UTF-16 order would put the emoji (a surrogate pair) before U+FF21; DynamoDB puts it after.
    expect([...ids].sort(compareCodePoints)).toEqual([
      'USER#',
      'USER#a',
      'USER#ab',
      'USER#b',
      'USER#\uFF21',
      'USER#\u{1F600}',
    ]);
    expect([...ids].sort(compareCodePoints)).toEqual(
      [...ids].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
    );
  });

  it('maps an item, falling back to the key for a missing user id and to 0 for a bad count', () => {
    expect(
      userRecordOf({ sk: { S: 'USER#org:x' }, authCount: { N: 'NaN' }, devices: { SS: ['1'] } }, '2026-11'),
    ).toEqual({
      userId: 'org:x',
      period: '2026-11',
      name: undefined,
      email: undefined,
      firstSeenAt: '',
      lastSeenAt: '',
      authCount: 0,
      devices: ['1'],
      expiresAt: undefined,
      admitted: true, // no flag: written before denied identities were recorded, all admitted
    });
  });

  it('reads the service an item was recorded with; a missing, empty or non-string one reads as none', () => {
    const service = (value?: AttributeValue) =>
      userRecordOf({ sk: { S: 'USER#org:x' }, ...(value ? { service: value } : {}) }, '2026-11').service;
    expect(service({ S: 'billing.example.com' })).toBe('billing.example.com');
    expect(service()).toBeUndefined();
    expect(service({ S: '' })).toBeUndefined();
    expect(service({ SS: ['billing.example.com'] })).toBeUndefined();
    expect(service({ NULL: true })).toBeUndefined();
  });

  it('reads the admitted flag: BOOL false is not admitted; missing, true or another type reads as admitted', () => {
    const admitted = (value?: AttributeValue) =>
      userRecordOf({ sk: { S: 'USER#org:x' }, ...(value ? { admitted: value } : {}) }, '2026-11').admitted;
    expect(admitted({ BOOL: false })).toBe(false);
    expect(admitted({ BOOL: true })).toBe(true);
    expect(admitted()).toBe(true);
    expect(admitted({ S: 'false' })).toBe(true); // a damaged attribute reads as missing, like the others
    expect(admitted({ NULL: true })).toBe(true);
    expect(admitted({ N: '0' })).toBe(true);
  });
});
