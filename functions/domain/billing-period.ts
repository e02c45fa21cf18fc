/**
 * Billing periods: Identity Plus bills per authenticated user per period. A period is a calendar month
 * in UTC, or, with `anchorDay` d (1–28), runs from day d of one month to day d of the next. Its id is the
 * year-month it starts in (`2026-11`).
 */
import { InvalidInputError } from './errors';

export interface BillingPeriod {
  /** `YYYY-MM` of the month the period starts in. */
  readonly id: string;
  /** First instant of the period (inclusive), UTC. */
  readonly start: Date;
  /** First instant after the period (exclusive), UTC. */
  readonly end: Date;
}

const PERIOD_ID = /^(\d{4})-(\d{2})$/;

/** Validates a billing anchor day (1–28, so every month has it). */
export function checkAnchorDay(anchorDay: number): number {
  if (!Number.isInteger(anchorDay) || anchorDay < 1 || anchorDay > 28) {
    throw new InvalidInputError(`billingAnchorDay must be a whole number from 1 to 28, got ${String(anchorDay)}`, {
      field: 'billingAnchorDay',
    });
  }
  return anchorDay;
}

/** The period an instant falls in. */
export function periodOf(at: Date, anchorDay = 1): BillingPeriod {
  checkAnchorDay(anchorDay);
  let year = at.getUTCFullYear();
  let month = at.getUTCMonth();
  if (at.getTime() < Date.UTC(year, month, anchorDay)) {
    month -= 1;
    if (month < 0) {
      month = 11;
      year -= 1;
    }
  }
  return periodStarting(year, month, anchorDay);
}

/** The period with id `YYYY-MM`; throws InvalidInputError naming the bad value. */
export function periodById(id: unknown, anchorDay = 1): BillingPeriod {
  const match = typeof id === 'string' ? PERIOD_ID.exec(id) : null;
  const month = match ? Number(match[2]) : 0;
  if (!match || month < 1 || month > 12) {
    throw new InvalidInputError(`period must look like YYYY-MM (e.g. 2026-11), got "${String(id).slice(0, 20)}"`, {
      field: 'period',
    });
  }
  return periodStarting(Number(match[1]), month - 1, checkAnchorDay(anchorDay));
}

/** The period right before `period`. */
export function previousPeriod(period: BillingPeriod, anchorDay = 1): BillingPeriod {
  return periodOf(new Date(period.start.getTime() - 1), anchorDay);
}

/** `at` plus `months` calendar months (day clamped to the target month's length). */
export function addMonths(at: Date, months: number): Date {
  const target = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + months, 1));
  const lastDay = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(at.getUTCDate(), lastDay));
  target.setUTCHours(at.getUTCHours(), at.getUTCMinutes(), at.getUTCSeconds(), at.getUTCMilliseconds());
  return target;
}

function periodStarting(year: number, month: number, anchorDay: number): BillingPeriod {
  const start = utcDate(year, month, anchorDay);
  const end = utcDate(year, month + 1, anchorDay);
  const id = `${String(start.getUTCFullYear()).padStart(4, '0')}-${String(start.getUTCMonth() + 1).padStart(2, '0')}`;
  return { id, start, end };
}

/**
 * Date.UTC(year, month, day) for any year: Date.UTC reads years 0–99 as 1900–1999. Month overflow is
 * normalised in year 2000, then the year is moved; days here are at most 28, so moving never shifts them.
 */
function utcDate(year: number, month: number, day: number): Date {
  const date = new Date(Date.UTC(2000, month, day));
  date.setUTCFullYear(year + (date.getUTCFullYear() - 2000));
  return date;
}
