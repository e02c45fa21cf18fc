/**
 * Lambda entry of `GET /report` on the service (IAM) API. middy chain: logger context → error mapper →
 * the report app. No secrets: the function reads the ledger (dynamodb:Query) and nothing else.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import middy from '@middy/core';
import type { APIGatewayProxyEvent, APIGatewayProxyResult } from 'aws-lambda';
import { RecordsReader } from '../adapters/records-reader';
import { ReportLog, createReportHandler, errorFields, reportErrorResponse } from './report-app';
import { readReportConfig } from './runtime-config';

// Its own logger rather than composition.ts's: importing that module bundles the Identity Plus client
// (undici, ~530 KB) into a function that never calls Identity Plus. Same service name, same JSON logs.
const logger = new Logger({ serviceName: 'plusgate' });

// Read once per container: a missing variable fails the cold start, naming it.
const config = readReportConfig();

const log: ReportLog = {
  served: (fields) => logger.info('report', { ...fields }),
  failure: (message, err) => logger.error(message, { error: errorFields(err) }),
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
  // Last line of defence, as composition.ts's errorMapper: anything that escaped becomes a clean JSON answer.
  .use({
    onError: async (request) => {
      request.response = reportErrorResponse(request.error, log);
    },
  })
  .handler((event) => app(event));
