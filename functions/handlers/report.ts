/**
 * Lambda entry of `GET /report` on the service (IAM) API. middy chain: logger context → metrics flush →
 * error mapper → the report app. No secrets: the function reads the ledger (dynamodb:Query) and nothing else.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { RecordsReader } from '../adapters/records-reader';
import { type ReportLog, createReportHandler, reportErrorResponse } from './report-app';
import { metricsMiddleware } from '../runtime/metrics';
import { logger, safeError } from '../runtime/observability';
import { readReportConfig } from '../runtime/runtime-config';

// Read once per container: a missing variable fails the cold start, naming it.
const config = readReportConfig();

const log: ReportLog = {
  served: (fields) => logger.info('report', { ...fields }),
  failure: (message, err) => logger.error(message, { error: safeError(err) }),
};

const app = createReportHandler({
  records: new RecordsReader({ client: new DynamoDBClient({}), tableName: config.tableName, shards: config.shards }),
  billingAnchorDay: config.billingAnchorDay,
  pricePerUserYear: config.pricePerUserYear,
  now: Date.now,
  log,
});

/** The Lambda handler (API Gateway REST proxy event → response). */
export const handler = middy<APIGatewayProxyEvent, APIGatewayProxyResult>()
  .use(injectLambdaContext(logger))
  .use(metricsMiddleware())
  // Last line of defence: anything that escaped becomes a clean JSON answer.
  .use({
    onError: async (request) => {
      request.response = reportErrorResponse(request.error, log);
    },
  })
  .handler((event) => app(event));
