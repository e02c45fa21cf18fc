/**
 * Moving a person's ledger item when a binding changes their key (functions/adapters/records-move.ts),
 * against dynalite: the period bills the person once, under the new key, with every count and device kept;
 * moving back does not count anything twice; nothing is ever deleted.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { RecordsMover } from '../../functions/adapters/records-move';
import { RecordsReader } from '../../functions/adapters/records-reader';
import { RecordsTable, recordKey } from '../../functions/adapters/records-table';
import type { AuthenticationRecord } from '../../functions/domain/authenticate';
import { periodOf } from '../../functions/domain/billing-period';
import { RecordWriteError } from '../../functions/domain/errors';
import type { UserRecord } from '../../functions/domain/report';
import { type RunningDynalite, ensureRecordsTable, localDynamoClient, startDynalite } from '../../local/dynamodb-local';

const TABLE = 'records-move-test';
let dynalite: RunningDynalite;
let client: ReturnType<typeof localDynamoClient>;
let table: RecordsTable;
let mover: RecordsMover;
let reader: RecordsReader;

beforeAll(async () => {
  dynalite = await startDynalite({ port: 0 });
  client = localDynamoClient(dynalite.endpoint);
  await ensureRecordsTable(client, TABLE);
  table = new RecordsTable({ client, tableName: TABLE });
  mover = new RecordsMover({ client, tableName: TABLE, shards: 16 });
  reader = new RecordsReader({ client, tableName: TABLE });
});
afterAll(async () => {
  client.destroy();
  await dynalite.stop();
});

let period = 0;
/** A period of its own per test (2030-01, 2030-02, …), so the tests do not see each other's items. */
function freshPeriod() {
  period++;
  return periodOf(new Date(Date.UTC(2030, period - 1, 15)));
}

function record(
  p: ReturnType<typeof periodOf>,
  userId: string,
  serial: string,
  day: number,
  over: Partial<AuthenticationRecord> = {},
): AuthenticationRecord {
  return {
    period: p,
    userId,
    name: 'Alice',
    serial,
    roles: ['member'],
    at: new Date(p.start.getTime() + day * 86_400_000),
    admitted: true,
    ...over,
  };
}

async function users(periodId: string): Promise<UserRecord[]> {
  const all: UserRecord[] = [];
  for await (const r of reader.records(periodId)) all.push(r);
  return all.sort((a, b) => a.userId.localeCompare(b.userId));
}

async function raw(periodId: string, userId: string) {
  const key = recordKey(periodId, userId, 16);
  const res = await client.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: key.pk }, sk: { S: key.sk } }, ConsistentRead: true }),
  );
  return res.Item;
}

describe('RecordsMover', () => {
  it('binding: the org: item moves to local:, with its counts, devices, dates and name; the period has one user', async () => {
    const p = freshPeriod();
    await table.recordAuthentication(record(p, 'org:ref-a', '111', 1));
    await table.recordAuthentication(record(p, 'org:ref-a', '222', 2));
    await table.recordAuthentication(record(p, 'org:ref-a', '111', 3));

    expect(await mover.move(p.id, 'org:ref-a', 'local:alice')).toEqual({ moved: true, to: 'local:alice' });

    const [only, ...rest] = await users(p.id);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ userId: 'local:alice', authCount: 3, name: 'Alice', admitted: true });
    expect([...(only?.devices ?? [])].sort()).toEqual(['111', '222']);
    expect(only?.firstSeenAt).toBe(new Date(p.start.getTime() + 86_400_000).toISOString());
    // Nothing deleted: the old item stays, marked.
    expect((await raw(p.id, 'org:ref-a'))?.mergedInto).toEqual({ S: 'local:alice' });
    expect((await raw(p.id, 'org:ref-a'))?.authCount).toEqual({ N: '3' });
  });

  it('adds to a target that already has authentications, and keeps its first sight', async () => {
    const p = freshPeriod();
    await table.recordAuthentication(record(p, 'local:alice', '333', 1));
    await table.recordAuthentication(record(p, 'org:ref-a', '111', 2));
    await table.recordAuthentication(record(p, 'org:ref-a', '111', 3));
    await mover.move(p.id, 'org:ref-a', 'local:alice');
    const all = await users(p.id);
    expect(all.map((u) => [u.userId, u.authCount])).toEqual([['local:alice', 3]]);
    expect([...(all[0]?.devices ?? [])].sort()).toEqual(['111', '333']);
  });

  it('unbinding after binding moves back without counting twice', async () => {
    const p = freshPeriod();
    await table.recordAuthentication(record(p, 'org:ref-a', '111', 1));
    await table.recordAuthentication(record(p, 'org:ref-a', '111', 2));
    await mover.move(p.id, 'org:ref-a', 'local:alice');
    await table.recordAuthentication(record(p, 'local:alice', '111', 3));
    expect(
      await mover.move(p.id, 'local:alice', async (old) => (old.devices.includes('111') ? 'org:ref-a' : undefined)),
    ).toEqual({
      moved: true,
      to: 'org:ref-a',
    });
    const all = await users(p.id);
    // Two before the binding, one after: 3, not 5.
    expect(all.map((u) => [u.userId, u.authCount])).toEqual([['org:ref-a', 3]]);
    expect((await raw(p.id, 'org:ref-a'))?.mergedInto).toBeUndefined();
    expect((await raw(p.id, 'local:alice'))?.mergedInto).toEqual({ S: 'org:ref-a' });
  });

  it('keeps a not-admitted person not admitted, and an admitted one admitted', async () => {
    const p = freshPeriod();
    await table.recordAuthentication(record(p, 'org:ref-b', '444', 1, { admitted: false }));
    await mover.move(p.id, 'org:ref-b', 'local:bob');
    expect((await users(p.id)).map((u) => [u.userId, u.admitted])).toEqual([['local:bob', false]]);
  });

  it('moves nothing when there is no item, when it was already moved, or when the target cannot be worked out', async () => {
    const p = freshPeriod();
    expect(await mover.move(p.id, 'org:nobody', 'local:x')).toEqual({ moved: false });
    await table.recordAuthentication(record(p, 'org:ref-c', '555', 1));
    await mover.move(p.id, 'org:ref-c', 'local:c');
    expect(await mover.move(p.id, 'org:ref-c', 'local:other')).toEqual({ moved: false });
    await table.recordAuthentication(record(p, 'org:ref-d', '666', 1));
    expect(await mover.move(p.id, 'org:ref-d', async () => undefined)).toEqual({ moved: false });
    expect(
      await mover.move(p.id, 'org:ref-d', async () => {
        throw new Error('Identity Plus unreachable');
      }),
    ).toEqual({ moved: false });
    const d = await raw(p.id, 'org:ref-d');
    expect(d?.movingTo).toBeUndefined();
    expect(d?.mergedInto).toBeUndefined();
    expect((await users(p.id)).map((u) => u.userId)).toEqual(['local:c', 'org:ref-d']);
  });

  it('fails with a RecordWriteError naming the item when DynamoDB fails, never silently', async () => {
    const broken = new RecordsMover({ client, tableName: 'no-such-table', shards: 16 });
    await expect(broken.move('2030-01', 'org:ref-a', 'local:alice')).rejects.toBeInstanceOf(RecordWriteError);
  });
});
