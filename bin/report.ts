#!/usr/bin/env node
/**
 * `npm run report -- --period 2026-11 --format table|json|csv|html [--out FILE]`: the billing-period user
 * report from local mode's DynamoDB, or from AWS with `--table NAME --region R`. See cli/report-cli.ts.
 */

import type { ReportCliArgs } from '../cli/report-cli';
import { UsageError } from '../cli/usage-error';

// Runs on Node 20 by design; the AWS SDK's notice about its future Node 22 floor is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: readonly string[]): Promise<number> {
  const cli = await import('../cli/report-cli');
  let args: ReportCliArgs;
  try {
    args = cli.parseReportArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`report: ${err.message}\n\n${cli.REPORT_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${cli.REPORT_USAGE}\n`);
    return 0;
  }
  // `npm run report | head`: a closed pipe ends the report quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  return cli.runReport(args, { stdout: process.stdout, stderr: process.stderr, now: Date.now });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`report: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
