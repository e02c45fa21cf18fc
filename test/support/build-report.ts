import type { BillingPeriod } from '../../functions/domain/billing-period';
import {
  type BillingReport,
  ReportAccumulator,
  type ReportAccumulatorOptions,
  type UserRecord,
} from '../../functions/domain/report';

/** The report of `period` from a list of records, through the accumulator as the handlers use it. */
export function buildReport(
  period: BillingPeriod,
  records: readonly UserRecord[],
  options: ReportAccumulatorOptions,
): BillingReport {
  const accumulator = new ReportAccumulator(period, options);
  for (const record of records) accumulator.add(record);
  return accumulator.result(options.now);
}
