import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import {
  type AuthenticationEvent,
  type AuthenticationRecord,
  Authenticator,
  type IdentityPlusPort,
} from '../../functions/domain/authenticate';
import { DecisionCache } from '../../functions/domain/decision-cache';
import type { InquiryAnswer } from '../../functions/domain/identity-plus';
import { reportEvent } from '../../functions/runtime/composition';
import { prometheusText, resetLocalMetrics } from '../../functions/runtime/metrics';
import { periodOf } from '../../functions/domain/billing-period';
import { RecordWriteError } from '../../functions/domain/errors';
import { RecordsTable, periodPartitionKey, recordKey, shardOf } from '../../functions/adapters/records-table';
import { type RunningDynalite, ensureRecordsTable, localDynamoClient, startDynalite } from '../../local/dynamodb-local';
import { defined, first } from '../support/only';

const TABLE = 'records-test';
let dynalite: RunningDynalite;
let client: ReturnType<typeof localDynamoClient>;

const saved = { ...process.env };
beforeAll(async () => {
  // The registry counts; Powertools' EMF (stdout) is what Lambda would print and is off here, as in local mode.
  process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  dynalite = await startDynalite({ port: 0 });
  client = localDynamoClient(dynalite.endpoint);
  await ensureRecordsTable(client, TABLE);
});
afterAll(async () => {
  process.env = saved;
  client.destroy();
  await dynalite.stop();
});

const at = new Date('2026-11-26T12:00:00Z');
const record = (over: Partial<AuthenticationRecord> = {}): AuthenticationRecord => ({
  period: periodOf(at),
  userId: 'org:ref-alice',
  name: 'Alice',
  email: 'alice@example.com',
  serial: '111',
  roles: ['member'],
  at,
  admitted: true,
  ...over,
});

async function item(userId: string, periodId = '2026-11', shards = 16) {
  const key = recordKey(periodId, userId, shards);
  const res = await client.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }),
  );
  return res.Item;
}

describe('RecordsTable', () => {
  it('keeps one item per user per period, however often they authenticate and from how many devices', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    const later = new Date('2026-11-27T08:00:00Z');
    await table.recordAuthentication(record());
    await table.recordAuthentication(record({ serial: '222', at: later }));
    await table.recordAuthentication(record({ serial: '222', at: later }));

    const it = await item('org:ref-alice');
    expect(it?.authCount).toEqual({ N: '3' });
    expect(it?.devices?.SS?.sort()).toEqual(['111', '222']);
    expect(it?.firstSeenAt).toEqual({ S: at.toISOString() });
    expect(it?.lastSeenAt).toEqual({ S: later.toISOString() });
    expect(it?.name).toEqual({ S: 'Alice' });
    expect(it?.period).toEqual({ S: '2026-11' });
  });

  it('keeps what it had when a later answer lacks name and email', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    await table.recordAuthentication(record({ userId: 'org:ref-keep' }));
    await table.recordAuthentication(record({ userId: 'org:ref-keep', name: undefined, email: undefined }));
    expect((await item('org:ref-keep'))?.email).toEqual({ S: 'alice@example.com' });
  });

  it('sets expiresAt to the end of the period plus the retention (default 25 months)', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    await table.recordAuthentication(record({ userId: 'org:ref-ttl' }));
    expect((await item('org:ref-ttl'))?.expiresAt).toEqual({ N: String(Date.parse('2029-01-01T00:00:00Z') / 1000) });
  });

  it('counts the same user separately in each period', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    const december = new Date('2026-12-02T00:00:00Z');
    await table.recordAuthentication(record({ userId: 'org:ref-two' }));
    await table.recordAuthentication(record({ userId: 'org:ref-two', period: periodOf(december), at: december }));
    expect((await item('org:ref-two', '2026-11'))?.authCount).toEqual({ N: '1' });
    expect((await item('org:ref-two', '2026-12'))?.authCount).toEqual({ N: '1' });
  });

  it('loses no authentication under concurrent writes', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    await Promise.all(
      Array.from({ length: 25 }, (_, i) =>
        table.recordAuthentication(record({ userId: 'org:ref-race', serial: String(1000 + (i % 5)) })),
      ),
    );
    const it = await item('org:ref-race');
    expect(it?.authCount).toEqual({ N: '25' });
    expect(it?.devices?.SS).toHaveLength(5);
  });

  it('spreads users over the shard partitions of a period, readable with a Query per shard', async () => {
    const shards = 4;
    const table = new RecordsTable({ client, tableName: TABLE, shards });
    const users = Array.from({ length: 40 }, (_, i) => `serial:${9000 + i}`);
    for (const userId of users)
      await table.recordAuthentication(record({ userId, period: periodOf(new Date('2030-01-05Z')) }));
    const counts = await Promise.all(
      Array.from({ length: shards }, async (_, shard) => {
        const res = await client.send(
          new QueryCommand({
            TableName: TABLE,
            KeyConditionExpression: 'pk = :pk',
            ExpressionAttributeValues: { ':pk': { S: periodPartitionKey('2030-01', shard) } },
          }),
        );
        return res.Count ?? 0;
      }),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(40);
    expect(counts.every((c) => c > 0)).toBe(true);
    const someone = first(users, 'user');
    expect(shardOf(someone, shards)).toBe(shardOf(someone, shards));
  });

  it('turns a failed write into a RecordWriteError that names the user, not the vendor internals', async () => {
    const table = new RecordsTable({ client, tableName: 'no-such-table' });
    await expect(table.recordAuthentication(record())).rejects.toThrow(RecordWriteError);
    await expect(table.recordAuthentication(record())).rejects.toThrow(/org:ref-alice \(ResourceNotFoundException\)/);
  });
});

describe('new billable users', () => {
  it('says the write created the item exactly once per user and period, however many writes race', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    const race = (period: ReturnType<typeof periodOf>) =>
      Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          table.recordAuthentication(record({ userId: `org:ref-new-${i % 5}`, serial: String(5000 + i), period })),
        ),
      );
    const november = await race(periodOf(at));
    expect(november.filter((r) => r.created)).toHaveLength(5);
    const again = await race(periodOf(at));
    expect(again.filter((r) => r.created)).toHaveLength(0);
    const december = await race(periodOf(new Date('2026-12-03T00:00:00Z')));
    expect(december.filter((r) => r.created)).toHaveLength(5);
    expect((await item('org:ref-new-0'))?.authCount).toEqual({ N: '8' });
  });

  it('counts NewBillableUsers once per user per period under concurrent sign-ins from two containers', async () => {
    resetLocalMetrics();
    const users = 5;
    // Identity Plus clears 20 devices belonging to 5 people (4 devices each).
    const identityPlus: IdentityPlusPort = {
      inquire: async (serial): Promise<InquiryAnswer> => ({
        kind: 'profile',
        profile: {
          outcome: 'OK 0001 Subject anonymous certificate valid',
          serviceRoles: ['member'],
          organizationalReference: `ref-concurrent-${Number(serial) % users}`,
          customFields: {},
        },
      }),
    };
    let now = Date.parse('2027-03-10T09:00:00Z');
    const events: AuthenticationEvent[] = [];
    // Two containers: each its own cache, the same table.
    const containers = [0, 1].map(
      () =>
        new Authenticator({
          identityPlus,
          records: new RecordsTable({ client, tableName: TABLE }),
          cache: new DecisionCache({ ttlMs: 60_000, staleMs: 0 }),
          policy: { allowedRoles: [] },
          billingAnchorDay: 1,
          now: () => now,
          onEvent: (event) => {
            events.push(event);
            reportEvent(event);
          },
        }),
    );
    const signIns = () =>
      Promise.all(
        Array.from({ length: 20 }, (_, i) => defined(containers[i % 2], 'container').authenticate(String(7000 + i))),
      );
    const newUsers = () => Number(/^plusgate_new_billable_users_total (\d+)$/m.exec(prometheusText())?.[1]);

    const march = await signIns();
    expect(march.every((r) => r.decision === 'allow' && r.period === '2027-03')).toBe(true);
    expect(newUsers()).toBe(users);
    expect(new Set(events.flatMap((e) => (e.type === 'new-billable-user' ? [e.userId] : []))).size).toBe(users);

    now += 3600_000; // past the decision cache: Identity Plus confirms again, the ledger is written again
    await signIns();
    expect(newUsers()).toBe(users);

    now = Date.parse('2027-04-01T00:00:05Z'); // a new period
    await signIns();
    expect(newUsers()).toBe(2 * users);
    expect(prometheusText()).toMatch(/^plusgate_decisions_total\{decision="allow",reason="cleared"\} 60$/m);
  });
});

describe('RecordsTable: admitted (against dynalite)', () => {
  it('stores admitted false for a confirmed identity the role policy turned away, and true once it is let in', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    const userId = 'org:ref-admitted-later';
    await table.recordAuthentication(record({ userId, admitted: false, roles: ['guest'] }));
    expect((await item(userId))?.admitted).toEqual({ BOOL: false });
    await table.recordAuthentication(record({ userId, admitted: true }));
    expect((await item(userId))?.admitted).toEqual({ BOOL: true });
    // Admitted once in the period stays admitted; every confirmation still counts.
    await table.recordAuthentication(record({ userId, admitted: false, roles: ['guest'] }));
    expect(await item(userId)).toMatchObject({ admitted: { BOOL: true }, authCount: { N: '3' } });
  });
});

describe('RecordsTable: service (against dynalite)', () => {
  it('stores the service Identity Plus was asked on behalf of, and no service attribute when asked for its own', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    await table.recordAuthentication(record({ userId: 'org:ref-delegated', service: 'billing.example.com' }));
    expect((await item('org:ref-delegated'))?.service).toEqual({ S: 'billing.example.com' });
    await table.recordAuthentication(record({ userId: 'org:ref-own' }));
    const own = await item('org:ref-own');
    expect(own).toBeDefined();
    expect(own).not.toHaveProperty('service');
  });

  it('keeps the last service written; a write without one leaves it (SET only when set)', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    const userId = 'org:ref-moved';
    await table.recordAuthentication(record({ userId, service: 'billing.example.com' }));
    await table.recordAuthentication(record({ userId, service: 'shop.example.com' }));
    expect((await item(userId))?.service).toEqual({ S: 'shop.example.com' });
    await table.recordAuthentication(record({ userId }));
    expect(await item(userId)).toMatchObject({ service: { S: 'shop.example.com' }, authCount: { N: '3' } });
  });

  it('records the service the Authenticator asked on behalf of, the one its inquiries carried', async () => {
    const asked: Array<{ ip?: string; service?: string } | undefined> = [];
    const identityPlus: IdentityPlusPort = {
      inquire: async (_serial, options): Promise<InquiryAnswer> => {
        asked.push(options);
        return {
          kind: 'profile',
          profile: {
            outcome: 'OK 0001 Subject anonymous certificate valid',
            serviceRoles: ['member'],
            organizationalReference: 'ref-delegated-auth',
            customFields: {},
          },
        };
      },
    };
    const authenticator = new Authenticator({
      identityPlus,
      records: new RecordsTable({ client, tableName: TABLE }),
      cache: new DecisionCache({ ttlMs: 60_000, staleMs: 0 }),
      policy: { allowedRoles: ['member'] },
      billingAnchorDay: 1,
      now: () => at.getTime(),
      service: 'billing.example.com',
    });
    expect(await authenticator.authenticate('8101', { ip: '192.0.2.8' })).toMatchObject({ decision: 'allow' });
    expect(asked).toEqual([{ ip: '192.0.2.8', service: 'billing.example.com' }]);
    expect((await item('org:ref-delegated-auth'))?.service).toEqual({ S: 'billing.example.com' });
  });
});

describe('RecordsTable.claimState (single-use state tokens, against dynalite)', () => {
  it('lets exactly one of many concurrent claims of a token id win, across separate tables (containers)', async () => {
    const containers = Array.from({ length: 4 }, () => new RecordsTable({ client, tableName: TABLE }));
    const expiresAt = Date.parse('2026-11-26T12:10:00.500Z');
    const claims = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        defined(containers[i % 4], 'a container').claimState('tok-concurrent-1', expiresAt),
      ),
    );
    expect(claims.filter(Boolean)).toHaveLength(1);
    expect(await defined(containers[0], 'a container').claimState('tok-concurrent-1', expiresAt)).toBe(false);

    const item = await client.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'STATE#tok-concurrent-1' }, sk: { S: 'USED' } } }),
    );
    // Expires with the token, rounded up to DynamoDB TTL's whole seconds; no other attribute is kept.
    expect(item.Item).toEqual({
      pk: { S: 'STATE#tok-concurrent-1' },
      sk: { S: 'USED' },
      expiresAt: { N: String(Math.ceil(expiresAt / 1000)) },
    });
  });

  it('keeps token ids apart', async () => {
    const table = new RecordsTable({ client, tableName: TABLE });
    expect(await table.claimState('tok-a', Date.now() + 60_000)).toBe(true);
    expect(await table.claimState('tok-b', Date.now() + 60_000)).toBe(true);
  });

  it('turns an unreachable table into a RecordWriteError (503), never a "used" answer', async () => {
    const table = new RecordsTable({ client, tableName: 'no-such-table' });
    await expect(table.claimState('tok-c', Date.now() + 60_000)).rejects.toThrow(RecordWriteError);
  });
});
