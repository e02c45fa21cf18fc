/**
 * Lambda entry of the billable-users count: an hourly EventBridge schedule invokes it; it counts the
 * current billing period's users from the ledger (dynamodb:Query only) and emits the
 * `BillableUsersThisPeriod` gauge. middy chain: logger context → metrics flush → the count.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import { RecordsReader } from '../adapters/records-reader';
import { METRIC } from '../config/metrics';
import { emitMetric, metricsMiddleware } from '../runtime/metrics';
import { logger, safeError } from '../runtime/observability';
import { readReportConfig } from '../runtime/runtime-config';
import { type BillableUsersResult, createBillableUsersHandler } from './billable-users-app';

let app: (() => Promise<BillableUsersResult>) | undefined;

function compose(env = process.env): () => Promise<BillableUsersResult> {
  const config = readReportConfig(env);
  return createBillableUsersHandler({
    records: new RecordsReader({ client: new DynamoDBClient({}), tableName: config.tableName, shards: config.shards }),
    billingAnchorDay: config.billingAnchorDay,
    now: Date.now,
    emit: (count) => emitMetric(METRIC.BILLABLE_USERS_THIS_PERIOD, count),
    log: (message, fields) => logger.info(message, { ...fields }),
  });
}

/** EventBridge → count; a failure is logged and rethrown, so the function's Errors metric sees it. */
export const handler = middy<unknown, BillableUsersResult>()
  .use(injectLambdaContext(logger))
  .use(metricsMiddleware())
  .handler(async () => {
    try {
      app ??= compose();
      return await app();
    } catch (err) {
      logger.error('billable users count failed', { error: safeError(err) });
      throw err;
    }
  });
