/**
 * Period close, the use case: export the billing period that just closed from the ledger to the report
 * store. The Lambda entry (period-close.ts) composes it with DynamoDB and S3.
 *
 * Idempotent: the period comes from the event's scheduled `time`, not the clock, so a retried or replayed
 * event exports the same period to the same keys; the CSV is ordered by user id, so an unchanged ledger
 * gives identical bytes. `report.json` is written last, so its presence says the export is complete.
 */
import { type BillingPeriod, periodById, periodOf, previousPeriod } from '../domain/billing-period';
import { InvalidInputError } from '../domain/errors';
import {
  type BillingReport,
  type PeriodRecordsPort,
  ReportAccumulator,
  type ReportStorePort,
  type StoredObject,
  reportExportKeys,
} from '../domain/report';
import { csvLines, reportJson } from '../domain/report-formats';

/** What invokes period close: EventBridge's scheduled event, or `{ "period": "YYYY-MM" }` to export one by hand. */
export interface PeriodCloseEvent {
  /** Scheduled time (ISO-8601) of an EventBridge scheduled event. */
  readonly time?: string;
  /** A period to export by hand (a backfill); it must have ended. */
  readonly period?: string;
}

/** What one run wrote. */
export interface PeriodCloseResult {
  readonly period: string;
  /** Billed users: every identity Identity Plus confirmed in the period. */
  readonly uniqueUsers: number;
  /** Of those, the users the role policy let in at least once. */
  readonly admittedUsers: number;
  /** uniqueUsers − admittedUsers: confirmed, so billed, but denied by the role policy every time. */
  readonly notAdmittedUsers: number;
  readonly estimatedCost: number;
  readonly objects: readonly StoredObject[];
}

/** Dependencies of {@link createPeriodCloseHandler}. */
export interface PeriodCloseDeps {
  readonly records: PeriodRecordsPort;
  readonly store: ReportStorePort;
  readonly billingAnchorDay: number;
  readonly pricePerUserYear: number;
  readonly now: () => number;
  readonly log?: (message: string, fields: Readonly<Record<string, unknown>>) => void;
}

/**
 * The period an invocation exports: the one given, or the one before the period the scheduled time falls
 * in (the rule fires just after a period starts). Refuses a period that has not ended yet.
 */
export function closedPeriodOf(event: PeriodCloseEvent, anchorDay: number, now: number): BillingPeriod {
  let period: BillingPeriod;
  if (event.period !== undefined) {
    period = periodById(event.period, anchorDay);
  } else {
    const at = event.time === undefined ? now : Date.parse(event.time);
    if (!Number.isFinite(at))
      throw new InvalidInputError(`event time must be an ISO-8601 instant, got "${String(event.time).slice(0, 40)}"`, {
        field: 'time',
      });
    period = previousPeriod(periodOf(new Date(at), anchorDay), anchorDay);
  }
  if (period.end.getTime() > now) {
    throw new InvalidInputError(
      `period ${period.id} ends ${period.end.toISOString()}: it can be exported once it has ended`,
      { field: 'period' },
    );
  }
  return period;
}

/** Builds the period-close handler. */
export function createPeriodCloseHandler(
  deps: PeriodCloseDeps,
): (event: PeriodCloseEvent) => Promise<PeriodCloseResult> {
  return async (event) => {
    const now = new Date(deps.now());
    const period = closedPeriodOf(event ?? {}, deps.billingAnchorDay, now.getTime());
    const keys = reportExportKeys(period.id);
    const accumulator = new ReportAccumulator(period, { pricePerUserYear: deps.pricePerUserYear, now });
    // One pass over the ledger: every counted user goes into the CSV and into the totals.
    const users = await deps.store.putStream(
      keys.users,
      csvLines(accumulator.counting(deps.records.recordsByUser(period.id))),
      'text/csv; charset=utf-8',
    );
    const report: BillingReport = accumulator.result(now);
    const summary = await deps.store.put(keys.report, reportJson(report), 'application/json; charset=utf-8');
    const result = {
      period: period.id,
      uniqueUsers: report.uniqueUsers,
      admittedUsers: report.admittedUsers,
      notAdmittedUsers: report.notAdmittedUsers,
      estimatedCost: report.estimatedCost,
      objects: [users, summary],
    };
    deps.log?.('period closed', { ...result, expiredIgnored: accumulator.expired });
    return result;
  };
}
