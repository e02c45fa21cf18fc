import { DescribeTableCommand, type DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  ensureRecordsTable,
  localDynamoClient,
  RECORDS_TABLE_SCHEMA,
  type RunningDynalite,
  startDynalite,
} from '../../local/dynamodb-local';

const TABLE = 'plusgate-records';
const KEY = { pk: { S: 'PERIOD#2026-11#3' }, sk: { S: 'USER#org:org-ref-alice-0001' } };

async function putAlice(client: DynamoDBClient): Promise<void> {
  await client.send(
    new PutItemCommand({
      TableName: TABLE,
      Item: { ...KEY, userId: { S: 'org:org-ref-alice-0001' }, authCount: { N: '1' } },
    }),
  );
}

async function getAlice(client: DynamoDBClient) {
  return (await client.send(new GetItemCommand({ TableName: TABLE, Key: KEY, ConsistentRead: true }))).Item;
}

describe('dynalite in memory', () => {
  let db: RunningDynalite;
  let client: DynamoDBClient;

  beforeAll(async () => {
    db = await startDynalite({});
    client = localDynamoClient(db.endpoint);
  });
  afterAll(async () => {
    client.destroy();
    await db.stop();
  });

  it('listens on a free loopback port', () => {
    expect(db.port).toBeGreaterThan(0);
    expect(db.endpoint).toBe(`http://127.0.0.1:${db.port}`);
  });

  it('creates the records table once, then finds it, ACTIVE both times', async () => {
    expect(await ensureRecordsTable(client, TABLE)).toBe('created');
    expect(await ensureRecordsTable(client, TABLE)).toBe('existed');
    const { Table } = await client.send(new DescribeTableCommand({ TableName: TABLE }));
    expect(Table?.TableStatus).toBe('ACTIVE');
    expect(Table?.KeySchema).toEqual(RECORDS_TABLE_SCHEMA.KeySchema);
    expect(Table?.BillingModeSummary?.BillingMode ?? 'PAY_PER_REQUEST').toBe('PAY_PER_REQUEST');
  });

  it('copes with two processes ensuring the table at once', async () => {
    const results = await Promise.all([ensureRecordsTable(client, 'racing'), ensureRecordsTable(client, 'racing')]);
    expect(results.sort()).toEqual(['created', 'existed']);
  });

  it('stores and reads an item', async () => {
    await putAlice(client);
    expect(await getAlice(client)).toMatchObject({ userId: { S: 'org:org-ref-alice-0001' }, authCount: { N: '1' } });
  });
});

describe('dynalite on disk', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'plusgate-dynalite-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps records across a restart on the same path', async () => {
    const first = await startDynalite({ path: dir });
    const client1 = localDynamoClient(first.endpoint);
    try {
      expect(await ensureRecordsTable(client1, TABLE)).toBe('created');
      await putAlice(client1);
    } finally {
      client1.destroy();
      await first.stop();
    }

    const second = await startDynalite({ path: dir });
    const client2 = localDynamoClient(second.endpoint);
    try {
      expect(await ensureRecordsTable(client2, TABLE)).toBe('existed');
      expect(await getAlice(client2)).toMatchObject({ userId: { S: 'org:org-ref-alice-0001' } });
    } finally {
      client2.destroy();
      await second.stop();
    }
  });

  it('refuses a second dynalite on a folder that is in use, instead of crashing on its first request', async () => {
    const folder = path.join(dir, 'shared');
    const first = await startDynalite({ path: folder });
    try {
      await expect(startDynalite({ path: folder })).rejects.toThrow(/already open in this process/);
    } finally {
      await first.stop();
    }
    expect(existsSync(`${folder}.lock`)).toBe(false);
  });

  it('takes over a lock left behind by a process that is gone', async () => {
    const folder = path.join(dir, 'stale');
    writeFileSync(`${folder}.lock`, '2147483646');
    const db = await startDynalite({ path: folder });
    expect(readFileSync(`${folder}.lock`, 'utf8')).toBe(String(process.pid));
    await db.stop();
  });

  it('stops idempotently', async () => {
    const db = await startDynalite({});
    await Promise.all([db.stop(), db.stop()]);
  });
});

describe('dynalite behind a Host check (DNS rebinding)', () => {
  /** A raw request as a rebinding web page would send it: signed-looking, any Host. */
  function raw(port: number, host: string | string[] | undefined): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      // Flat [name, value, …]: lets the test send no Host, or two.
      const headers: string[] = [
        'content-type',
        'application/x-amz-json-1.0',
        'x-amz-target',
        'DynamoDB_20120810.ListTables',
        'authorization',
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261130/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
        'x-amz-date',
        '20261130T000000Z',
      ];
      for (const value of host === undefined ? [] : Array.isArray(host) ? host : [host]) headers.push('host', value);
      const req = require('node:http').request(
        { host: '127.0.0.1', port, method: 'POST', path: '/', headers, setHost: false },
        (res: import('node:http').IncomingMessage) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString('utf8');
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
  }

  it('answers 421 to a foreign Host and 400 to none or two, and still serves loopback names', async () => {
    const running = await startDynalite({ port: 0 });
    try {
      for (const host of ['evil.example', `evil.example:${running.port}`, '127.0.0.2', 'localhost.evil.example']) {
        const res = await raw(running.port, host);
        expect({ host, status: res.status }).toEqual({ host, status: 421 });
        expect(res.body).toMatch(/not a loopback name/);
      }
      expect((await raw(running.port, undefined)).status).toBe(400);
      expect((await raw(running.port, ['127.0.0.1', 'evil.example'])).status).toBe(400);
      for (const host of [`127.0.0.1:${running.port}`, `localhost:${running.port}`, 'LOCALHOST']) {
        expect((await raw(running.port, host)).status).toBe(200);
      }
    } finally {
      await running.stop();
    }
  });
});
