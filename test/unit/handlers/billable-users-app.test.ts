/** The hourly count of the current period's billable users, from the ledger, into the gauge. */
import { RecordReadError } from '../../../functions/domain/errors';
import type { PeriodRecordsPort, UserRecord } from '../../../functions/domain/report';
import { type BillableUsersDeps, createBillableUsersHandler } from '../../../functions/handlers/billable-users-app';

const NOW = Date.parse('2026-11-26T12:00:00Z');

const user = (userId: string, period: string, over: Partial<UserRecord> = {}): UserRecord => ({
  userId,
  period,
  firstSeenAt: `${period}-02T10:00:00.000Z`,
  lastSeenAt: `${period}-05T10:00:00.000Z`,
  authCount: 1,
  devices: ['1'],
  ...over,
});

/** The ledger as a list, answering per period; remembers which periods were read. */
function ledger(items: UserRecord[], failure?: Error): PeriodRecordsPort & { asked: string[] } {
  const asked: string[] = [];
  async function* read(periodId: string): AsyncGenerator<UserRecord> {
    asked.push(periodId);
    if (failure) throw failure;
    yield* items.filter((i) => i.period === periodId);
  }
  return { asked, records: read, recordsByUser: read };
}

function run(records: PeriodRecordsPort, over: Partial<BillableUsersDeps> = {}) {
  const emitted: number[] = [];
  const logged: Array<Readonly<Record<string, unknown>>> = [];
  const handler = createBillableUsersHandler({
    records,
    billingAnchorDay: 1,
    now: () => NOW,
    emit: (n) => emitted.push(n),
    log: (_message, fields) => logged.push(fields),
    ...over,
  });
  return { handler, emitted, logged };
}

describe('billable users this period', () => {
  it("counts the current period's users, not other periods', and emits the count as the gauge", async () => {
    const records = ledger([user('org:a', '2026-11'), user('org:b', '2026-11'), user('org:c', '2026-10')]);
    const { handler, emitted, logged } = run(records);
    expect(await handler()).toEqual({ period: '2026-11', billableUsers: 2, expiredIgnored: 0 });
    expect(records.asked).toEqual(['2026-11']);
    expect(emitted).toEqual([2]);
    expect(logged).toEqual([{ period: '2026-11', billableUsers: 2, expiredIgnored: 0 }]);
  });

  it('follows the billing anchor day', async () => {
    const records = ledger([user('org:a', '2026-10'), user('org:b', '2026-11')]);
    const { handler, emitted } = run(records, { billingAnchorDay: 28 }); // 26 Nov is in the period from 28 Oct
    expect(await handler()).toMatchObject({ period: '2026-10', billableUsers: 1 });
    expect(emitted).toEqual([1]);
  });

  it('leaves out items whose TTL has passed (DynamoDB deletes them lazily)', async () => {
    const expired = user('org:old', '2026-11', { expiresAt: NOW / 1000 - 1 });
    const { handler, emitted } = run(ledger([user('org:a', '2026-11'), expired]));
    expect(await handler()).toEqual({ period: '2026-11', billableUsers: 1, expiredIgnored: 1 });
    expect(emitted).toEqual([1]);
  });

  it('emits 0 for a period nobody has signed in to yet', async () => {
    const { handler, emitted } = run(ledger([]));
    expect(await handler()).toMatchObject({ billableUsers: 0 });
    expect(emitted).toEqual([0]);
  });

  it('emits nothing when the ledger cannot be read, and fails the run', async () => {
    const failure = new RecordReadError('could not read billing period 2026-11 (shard 3): ThrottlingException');
    const { handler, emitted } = run(ledger([user('org:a', '2026-11')], failure));
    await expect(handler()).rejects.toBe(failure);
    expect(emitted).toEqual([]);
  });
});
