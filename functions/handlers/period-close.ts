/**
 * Lambda entry of period close: an EventBridge schedule invokes it shortly after each billing period ends
 * (the anchor day, 00:30 UTC). It reads the period that just closed from the ledger once and writes
 * `reports/<period>/users.csv` (streamed) and then `reports/<period>/report.json` to the reports bucket.
 *
 * Idempotent: the period comes from the event's scheduled `time`, not the clock, so a retried or replayed
 * event exports the same period to the same keys; the CSV is ordered by user id, so an unchanged ledger
 * gives identical bytes. The bucket is versioned: a rerun adds a version, nothing is lost. `report.json` is
 * written last, so its presence says the export is complete.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { RecordsReader } from '../adapters/records-reader';
import { ReportStore } from '../adapters/report-store';
import { ENV } from '../config/names';
import { ConfigurationError } from '../domain/errors';
import { metricsMiddleware } from '../runtime/metrics';
import { logger, safeError } from '../runtime/observability';
import { readReportConfig } from '../runtime/runtime-config';
import { type PeriodCloseEvent, type PeriodCloseResult, createPeriodCloseHandler } from './period-close-app';

let app: ((event: PeriodCloseEvent) => Promise<PeriodCloseResult>) | undefined;

function compose(env = process.env): (event: PeriodCloseEvent) => Promise<PeriodCloseResult> {
  const config = readReportConfig(env);
  const bucket = env[ENV.REPORTS_BUCKET]?.trim();
  if (!bucket) throw new ConfigurationError(`plusgate configuration: ${ENV.REPORTS_BUCKET} is not set`);
  return createPeriodCloseHandler({
    records: new RecordsReader({ client: new DynamoDBClient({}), tableName: config.tableName, shards: config.shards }),
    store: new ReportStore({ client: new S3Client({}), bucket }),
    billingAnchorDay: config.billingAnchorDay,
    pricePerUserYear: config.pricePerUserYear,
    now: Date.now,
    log: (message, fields) => logger.info(message, { ...fields }),
  });
}

/** EventBridge → export; a failure is logged and rethrown, so Lambda's async retries and the Errors metric see it. */
export const handler = middy<PeriodCloseEvent, PeriodCloseResult>()
  .use(injectLambdaContext(logger))
  .use(metricsMiddleware())
  .handler(async (event) => {
    try {
      app ??= compose();
      return await app(event);
    } catch (err) {
      logger.error('period close failed', { error: safeError(err) });
      throw err;
    }
  });
