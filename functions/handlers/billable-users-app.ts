/**
 * The live count of billable users: how many users the current billing period has reached so far, counted
 * from the ledger (the period's shard partitions as Queries, never a Scan). An hourly schedule runs it and
 * the count becomes the `BillableUsersThisPeriod` gauge; the entry (billable-users.ts) composes it.
 */
import { periodOf } from '../domain/billing-period';
import { type PeriodRecordsPort, isExpired } from '../domain/report';

/** What one run counted. */
export interface BillableUsersResult {
  readonly period: string;
  readonly billableUsers: number;
  /** Items past their TTL that DynamoDB had not deleted yet: not counted. */
  readonly expiredIgnored: number;
}

/** Dependencies of {@link createBillableUsersHandler}. */
export interface BillableUsersDeps {
  readonly records: PeriodRecordsPort;
  readonly billingAnchorDay: number;
  readonly now: () => number;
  /** Where the count goes: the `BillableUsersThisPeriod` gauge. */
  readonly emit: (billableUsers: number) => void;
  readonly log?: (message: string, fields: Readonly<Record<string, unknown>>) => void;
}

/**
 * Builds the counting run. The period comes from the clock, not the scheduled event's time: a late retry
 * across a period boundary reports the period that is current when the gauge is stamped.
 */
export function createBillableUsersHandler(deps: BillableUsersDeps): () => Promise<BillableUsersResult> {
  return async () => {
    const now = deps.now();
    const period = periodOf(new Date(now), deps.billingAnchorDay);
    let billableUsers = 0;
    let expiredIgnored = 0;
    // One ledger item per (period, user): users are counted by item, with no set of user ids in memory.
    for await (const record of deps.records.records(period.id)) {
      if (record.period !== period.id) continue;
      if (isExpired(record, now / 1000)) expiredIgnored++;
      else billableUsers++;
    }
    deps.emit(billableUsers);
    const result = { period: period.id, billableUsers, expiredIgnored };
    deps.log?.('billable users this period', { ...result });
    return result;
  };
}
