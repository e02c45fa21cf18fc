#!/usr/bin/env node
/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy [-c key=value ...]`. Configuration comes from cdk.json
 * "context" and -c flags (see README, "Deploy to AWS").
 */
import { App } from 'aws-cdk-lib';
import { ConfigError } from '../lib/config';
import { addPlusgate } from '../lib/plusgate-app';

const app = new App();
try {
  // With edge cloudfront and no -c region, the stack deploys to the CDK CLI's region (your AWS profile's).
  addPlusgate(app, { defaultRegion: process.env.CDK_DEFAULT_REGION });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  // The problems are the whole message; a stack trace would only bury them.
  console.error(err.message);
  process.exit(1);
}
app.synth();
