/**
 * `GET /report?period=YYYY-MM&format=json|csv|html[&service=NAME|-]` on the service (IAM) API: the
 * billing-period user report, optionally of the users recorded for one service (or without one). No middleware and no environment here: `report.ts` composes it for Lambda, tests call it with a
 * ledger double or dynalite.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { singleQueryParameter } from '../adapters/api-gateway-request';
import { type BillingPeriod, periodById, periodOf } from '../domain/billing-period';
import { InvalidInputError } from '../domain/errors';
import {
  type PeriodRecordsPort,
  ReportAccumulator,
  type ServiceFilter,
  type UserRecord,
  WITHOUT_SERVICE,
  reportExportKeys,
  serviceFilterOf,
} from '../domain/report';
import { SERVICE_ID_EXPECTED } from '../domain/service-id';
import { csvFileName, csvLines, reportHtml, reportJson } from '../domain/report-formats';
import { SECURITY_HEADERS, errorResponse, jsonResponse } from '../http/http-responses';

/** Formats `/report` serves (the CLI adds `table`). */
export const REPORT_HTTP_FORMATS = ['json', 'csv', 'html'] as const;
/** One of {@link REPORT_HTTP_FORMATS}. */
export type ReportHttpFormat = (typeof REPORT_HTTP_FORMATS)[number];

/**
 * Largest CSV body `/report` answers with. A Lambda proxy response is capped at 6 MB (tighter than API
 * Gateway's 10 MB), and the body travels JSON-escaped inside it; 5 MB leaves room for that and the headers.
 */
export const DEFAULT_MAX_CSV_BYTES = 5_000_000;

/** Where `/report` reports what it served (structured; no user data). */
export interface ReportLog {
  served(fields: Readonly<Record<string, unknown>>): void;
  failure(message: string, err: unknown): void;
}

/** Dependencies of {@link createReportHandler}. */
export interface ReportDeps {
  readonly records: PeriodRecordsPort;
  readonly billingAnchorDay: number;
  readonly pricePerUserYear: number;
  readonly now: () => number;
  /** @default DEFAULT_MAX_CSV_BYTES */
  readonly maxCsvBytes?: number;
  readonly log?: ReportLog;
}

/** Builds the `/report` handler. */
export function createReportHandler(deps: ReportDeps): (event: APIGatewayProxyEvent) => Promise<APIGatewayProxyResult> {
  const maxCsvBytes = deps.maxCsvBytes ?? DEFAULT_MAX_CSV_BYTES;
  return async (event) => {
    const started = Date.now();
    try {
      if (event.httpMethod !== 'GET') {
        return jsonResponse(
          405,
          { message: `${event.httpMethod} is not allowed on /report; use GET` },
          { Allow: 'GET' },
        );
      }
      const { period, format, service } = reportRequest(event, deps);
      const now = new Date(deps.now());
      const accumulator = new ReportAccumulator(period, { pricePerUserYear: deps.pricePerUserYear, now, service });

      let response: APIGatewayProxyResult;
      if (format === 'csv') {
        response = await csvResponse(period, accumulator.counting(deps.records.recordsByUser(period.id)), maxCsvBytes);
      } else {
        for await (const record of deps.records.records(period.id)) accumulator.add(record);
        const report = accumulator.result(now);
        response =
          format === 'html'
            ? {
                statusCode: 200,
                headers: { ...SECURITY_HEADERS, 'Content-Type': 'text/html; charset=utf-8' },
                body: reportHtml(report),
              }
            : {
                statusCode: 200,
                headers: { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8' },
                body: reportJson(report),
              };
      }
      deps.log?.served({
        period: period.id,
        format,
        ...(service === undefined ? {} : { service }),
        status: response.statusCode,
        users: accumulator.users,
        admittedUsers: accumulator.admitted,
        expiredIgnored: accumulator.expired,
        ms: Date.now() - started,
      });
      return response;
    } catch (err) {
      return reportErrorResponse(err, deps.log);
    }
  };
}

/** The period, format and service filter asked for; InvalidInputError (400) naming the bad parameter. */
export function reportRequest(
  event: APIGatewayProxyEvent,
  deps: Pick<ReportDeps, 'billingAnchorDay' | 'now'>,
): { period: BillingPeriod; format: ReportHttpFormat; service?: ServiceFilter } {
  const periodParam = singleQueryParameter(event, 'period');
  const formatParam = singleQueryParameter(event, 'format');
  const serviceParam = singleQueryParameter(event, 'service');
  const period =
    periodParam === undefined
      ? periodOf(new Date(deps.now()), deps.billingAnchorDay)
      : periodById(periodParam, deps.billingAnchorDay);
  const format = formatParam ?? 'json';
  if (!(REPORT_HTTP_FORMATS as readonly string[]).includes(format)) {
    throw new InvalidInputError(
      `format must be one of ${REPORT_HTTP_FORMATS.join(', ')}, got "${format.slice(0, 20)}"`,
      { field: 'format' },
    );
  }
  if (serviceParam === undefined) return { period, format: format as ReportHttpFormat };
  const service = serviceFilterOf(serviceParam);
  if (service === undefined) {
    throw new InvalidInputError(
      `service must be ${SERVICE_ID_EXPECTED}, or "${WITHOUT_SERVICE}" for the users recorded without a service; got ${JSON.stringify(serviceParam.slice(0, 40))}`,
      { field: 'service' },
    );
  }
  return { period, format: format as ReportHttpFormat, service };
}

/** The CSV as the body, measured as it is built; past `maxBytes` it stops reading and answers 413. */
async function csvResponse(
  period: BillingPeriod,
  records: AsyncIterable<UserRecord>,
  maxBytes: number,
): Promise<APIGatewayProxyResult> {
  const chunks: string[] = [];
  let bytes = 0;
  for await (const line of csvLines(records)) {
    // What the line costs inside the Lambda response: UTF-8 after JSON escaping (quotes, CR LF).
    bytes += Buffer.byteLength(JSON.stringify(line)) - 2;
    if (bytes > maxBytes) {
      // Leaving the loop ends the generators, which cancels the Queries still in flight.
      return jsonResponse(413, {
        message:
          `The user list of period ${period.id} is larger than /report can return (${Math.floor(maxBytes / 1_000_000)} MB). ` +
          `Export it with the CLI (npm run report -- --period ${period.id} --format csv --table <table> --region <region> --out users.csv), ` +
          `or, once the period has closed, fetch ${reportExportKeys(period.id).users} from the reports bucket.`,
      });
    }
    chunks.push(line);
  }
  return {
    statusCode: 200,
    headers: {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${csvFileName(period.id)}"`,
    },
    body: chunks.join(''),
  };
}

/** The shared error mapping (http-responses.ts), logging what is a server-side failure. */
export function reportErrorResponse(err: unknown, log?: ReportLog): APIGatewayProxyResult {
  const response = errorResponse(err, true);
  if (response.statusCode >= 500) log?.failure('report failed', err);
  return response;
}
