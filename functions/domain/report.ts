/**
 * The billing-period user report: what Identity Plus should bill for a period, computed from the ledger's
 * one-record-per-(period, user) items. Fed one record at a time ({@link ReportAccumulator}), so a period of
 * any size is reported in bounded memory: counters, one counter per day, and the set of device serials.
 */
import type { BillingPeriod } from './billing-period';
import { serviceIdOf } from './service-id';

/** One ledger item of a period, as the report reads it (see functions/adapters/records-table.ts). */
export interface UserRecord {
  /** `local:<id>`, `org:<ref>` or `serial:<serial>`. */
  readonly userId: string;
  /** Id of the period the item belongs to (`2026-11`). */
  readonly period: string;
  readonly name?: string;
  readonly email?: string;
  /** First authentication in this period, ISO-8601 UTC. */
  readonly firstSeenAt: string;
  /** Last authentication in this period, ISO-8601 UTC. */
  readonly lastSeenAt: string;
  /** Authentications confirmed by Identity Plus in this period. */
  readonly authCount: number;
  /** Decimal serials of the certificates the user authenticated with in this period. */
  readonly devices: readonly string[];
  /** Epoch seconds after which the item is gone (DynamoDB TTL); absent = kept. */
  readonly expiresAt?: number;
  /**
   * Whether the role policy let the user in at least once in the period. False: Identity Plus confirmed the
   * identity (so it is billed) but the role policy denied it every time. Absent = admitted: items written
   * before the ledger recorded denied identities hold only admitted users (see {@link isAdmitted}).
   */
  readonly admitted?: boolean;
  /**
   * The service Identity Plus was asked on behalf of when the item was last written (`identityPlusService`, a
   * delegated inquiry); absent = the API certificate's own service.
   */
  readonly service?: string;
}

/**
 * The `service` filter's spelling for items recorded without a service (asked for the API certificate's own).
 * Never a service id: those start with a letter or digit.
 */
export const WITHOUT_SERVICE = '-';

/**
 * Which items a report counts by the service they were recorded with: a service id (lower case), or
 * {@link WITHOUT_SERVICE}. No filter = every item.
 */
export type ServiceFilter = string;

/** The filter `raw` spells (a service id, lower-cased, or `-`); undefined when it is neither. */
export function serviceFilterOf(raw: string): ServiceFilter | undefined {
  return raw === WITHOUT_SERVICE ? WITHOUT_SERVICE : serviceIdOf(raw);
}

/** Whether `record` passes `filter` (every record passes no filter). */
export function matchesService(record: Pick<UserRecord, 'service'>, filter: ServiceFilter | undefined): boolean {
  if (filter === undefined) return true;
  return filter === WITHOUT_SERVICE ? !record.service : record.service === filter;
}

/** One object a report export wrote. */
export interface StoredObject {
  readonly key: string;
  readonly bytes: number;
  /** 1 for a single PutObject. */
  readonly parts: number;
}

/** Port: where a closed period's export goes (functions/adapters/report-store.ts writes it to S3). */
export interface ReportStorePort {
  put(key: string, body: string, contentType: string): Promise<StoredObject>;
  putStream(key: string, chunks: AsyncIterable<string>, contentType: string): Promise<StoredObject>;
}

/** Port: the ledger's records of one period, streamed (never collected). Throws on a failed read. */
export interface PeriodRecordsPort {
  /** Every record of the period, in no particular order (fastest). */
  records(periodId: string): AsyncIterable<UserRecord>;
  /** Every record of the period, ordered by user id (for a user list that reads the same every time). */
  recordsByUser(periodId: string): AsyncIterable<UserRecord>;
}

/** New users on one UTC day of the period. */
export interface DailyCount {
  /** `YYYY-MM-DD` (UTC). */
  readonly date: string;
  readonly users: number;
}

/** The report of one billing period (the JSON format is exactly this object). */
export interface BillingReport {
  /** Period id, `YYYY-MM` of the month it starts in. */
  readonly period: string;
  /** First instant of the period (inclusive), ISO-8601 UTC. */
  readonly periodStart: string;
  /** First instant after the period (exclusive), ISO-8601 UTC. */
  readonly periodEnd: string;
  /** Length of the period in days (28–31): the proration basis of the cost. */
  readonly periodDays: number;
  /** False while the period is still running: the numbers can still grow. */
  readonly periodComplete: boolean;
  /**
   * Present only when the report was asked for one service: the filter as given (a service id, or `-` for the
   * users recorded without a service), and every number below counts only the items recorded with it.
   */
  readonly service?: ServiceFilter;
  /**
   * Users Identity Plus confirmed at least once in the period: what Identity Plus bills, whether or not the
   * role policy then let them in. The cost is computed from this number.
   */
  readonly uniqueUsers: number;
  /** Of those, the users the role policy let in at least once in the period. */
  readonly admittedUsers: number;
  /** uniqueUsers − admittedUsers: confirmed (so billed) but denied by the role policy every time. */
  readonly notAdmittedUsers: number;
  /** Distinct certificate serials those users authenticated with. */
  readonly uniqueDevices: number;
  /** Authentications confirmed by Identity Plus in the period. */
  readonly authentications: number;
  /** Users by the UTC day of their first authentication in the period; every day present, zeros included. */
  readonly newUsersPerDay: readonly DailyCount[];
  /** uniqueUsers × pricePerUserYear × periodDays / 365, rounded to cents (see {@link estimatedCost}). */
  readonly estimatedCost: number;
  readonly currency: 'USD';
  /** The price the estimate used, per user per year. */
  readonly pricePerUserYear: number;
  /** When the report was computed, ISO-8601 UTC. */
  readonly generatedAt: string;
}

/** Currency of `pricePerUserYear` and of the estimate. */
export const REPORT_CURRENCY = 'USD';

const DAY_MS = 86_400_000;

/** Whole days in a period (periods start and end at UTC midnight, so this is exact). */
export function periodDays(period: BillingPeriod): number {
  return Math.round((period.end.getTime() - period.start.getTime()) / DAY_MS);
}

/**
 * The estimated cost of `users` for `period`, in USD rounded to cents (half up).
 *
 * Proration is by days over a 365-day year: a 31-day period costs 31/365 of the yearly price, February
 * 28/365 (29/365 in a leap year). Twelve calendar periods thus sum to exactly the yearly price, or 366/365
 * of it in a leap year. That is an estimate to check an invoice against, not Identity Plus's own rule.
 * The arithmetic is done in integers (price in millionths of a dollar) so 0.9 × 3 users never rounds the
 * wrong way through binary floating point.
 */
export function estimatedCost(users: number, pricePerUserYear: number, period: BillingPeriod): number {
  if (!Number.isInteger(users) || users < 0) throw new RangeError(`users must be a whole number >= 0, got ${users}`);
  if (!Number.isFinite(pricePerUserYear) || pricePerUserYear < 0)
    throw new RangeError(`pricePerUserYear must be >= 0, got ${pricePerUserYear}`);
  const microPrice = BigInt(Math.round(pricePerUserYear * 1_000_000));
  const numerator = BigInt(users) * microPrice * BigInt(periodDays(period)); // micro-dollars × 365
  const denominator = 365n * 10_000n; // → cents
  const cents = (numerator * 2n + denominator) / (denominator * 2n); // round half up
  return Number(cents) / 100;
}

/** Options of {@link ReportAccumulator}. */
export interface ReportAccumulatorOptions {
  /** USD per user per year. */
  readonly pricePerUserYear: number;
  /** Items with `expiresAt` at or before this instant are ignored (DynamoDB deletes expired items lazily). */
  readonly now: Date;
  /** Count only the items recorded with this service (see {@link ServiceFilter}). @default - every item */
  readonly service?: ServiceFilter;
}

/** Why {@link ReportAccumulator.add} left a record out (or `counted`). */
export type RecordVerdict = 'counted' | 'expired' | 'other-period' | 'other-service';

/**
 * Builds a {@link BillingReport} from a stream of records, one at a time. It keeps no user rows: memory is a
 * few counters, one per day, and the set of device serials — one short string per distinct device (~40
 * bytes of digits plus ~50 bytes of Set overhead), i.e. about 100 MB for a million devices.
 *
 * Each ledger item is one (period, user): the table key makes a user id unique within a period, so users
 * are counted by item, without a set of user ids. Devices are counted through the set because one serial
 * may appear under two user ids (e.g. an anonymous device later bound to a local user).
 */
export class ReportAccumulator {
  readonly #period: BillingPeriod;
  readonly #price: number;
  readonly #nowSeconds: number;
  readonly #service?: ServiceFilter;
  readonly #perDay: number[];
  readonly #devices = new Set<string>();
  #users = 0;
  #admitted = 0;
  #authentications = 0;
  #expired = 0;

  constructor(period: BillingPeriod, options: ReportAccumulatorOptions) {
    this.#period = period;
    this.#price = options.pricePerUserYear;
    this.#nowSeconds = options.now.getTime() / 1000;
    this.#service = options.service;
    this.#perDay = new Array<number>(periodDays(period)).fill(0);
    // Fail now, not after reading a whole period, on a price the estimate cannot use.
    estimatedCost(0, this.#price, period);
  }

  /** Users counted so far. */
  get users(): number {
    return this.#users;
  }

  /** Users counted so far whom the role policy let in at least once. */
  get admitted(): number {
    return this.#admitted;
  }

  /** Expired items left out so far. */
  get expired(): number {
    return this.#expired;
  }

  /** Counts one record, or says why it was left out (an item of another period or service, or expired). */
  add(record: UserRecord): RecordVerdict {
    if (record.period !== this.#period.id) return 'other-period';
    if (!matchesService(record, this.#service)) return 'other-service';
    if (isExpired(record, this.#nowSeconds)) {
      this.#expired++;
      return 'expired';
    }
    this.#users++;
    if (isAdmitted(record)) this.#admitted++;
    this.#authentications += record.authCount;
    for (const serial of record.devices) this.#devices.add(serial);
    // firstSeenAt is written from the authentication that placed the item in this period, so it falls inside
    // it; a malformed value still counts the user (the item is in the ledger) but on no day.
    const day = Math.floor((Date.parse(record.firstSeenAt) - this.#period.start.getTime()) / DAY_MS);
    if (day >= 0 && day < this.#perDay.length) this.#perDay[day] = (this.#perDay[day] ?? 0) + 1;
    return 'counted';
  }

  /**
   * Counts every record of `records` and passes on those it counted: the user list (CSV) and the totals
   * in one pass, so the list holds exactly the users the totals count.
   */
  async *counting(records: AsyncIterable<UserRecord> | Iterable<UserRecord>): AsyncGenerator<UserRecord> {
    for await (const record of records) {
      if (this.add(record) === 'counted') yield record;
    }
  }

  /** The report of what was added so far. */
  result(generatedAt: Date): BillingReport {
    const start = this.#period.start.getTime();
    return {
      period: this.#period.id,
      periodStart: this.#period.start.toISOString(),
      periodEnd: this.#period.end.toISOString(),
      periodDays: this.#perDay.length,
      periodComplete: generatedAt.getTime() >= this.#period.end.getTime(),
      ...(this.#service === undefined ? {} : { service: this.#service }),
      uniqueUsers: this.#users,
      admittedUsers: this.#admitted,
      notAdmittedUsers: this.#users - this.#admitted,
      uniqueDevices: this.#devices.size,
      authentications: this.#authentications,
      newUsersPerDay: this.#perDay.map((users, i) => ({
        date: new Date(start + i * DAY_MS).toISOString().slice(0, 10),
        users,
      })),
      estimatedCost: estimatedCost(this.#users, this.#price, this.#period),
      currency: REPORT_CURRENCY,
      pricePerUserYear: this.#price,
      generatedAt: generatedAt.toISOString(),
    };
  }
}

/** True when the item's TTL has passed (`expiresAt` ≤ now): DynamoDB may still return it, the report must not count it. */
export function isExpired(record: Pick<UserRecord, 'expiresAt'>, nowSeconds: number): boolean {
  return record.expiresAt !== undefined && record.expiresAt <= nowSeconds;
}

/**
 * Whether the record's user was let in during the period: anything but an explicit `false` is admitted
 * (ledger items from before denied identities were recorded have no flag, and held only admitted users).
 */
export function isAdmitted(record: Pick<UserRecord, 'admitted'>): boolean {
  return record.admitted !== false;
}

/** Where a closed period's export lives in the reports bucket: `reports/<period>/report.json` and `users.csv`. */
export function reportExportKeys(periodId: string): { readonly report: string; readonly users: string } {
  return { report: `reports/${periodId}/report.json`, users: `reports/${periodId}/users.csv` };
}
