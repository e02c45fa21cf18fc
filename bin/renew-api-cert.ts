#!/usr/bin/env node
/**
 * `npm run renew-api-cert -- [--force] [--json]`: renews the Identity Plus API certificate now, in local
 * mode (default) or in AWS (`--secret-name NAME --region R`). See cli/renew-api-cert.ts.
 */
import type { RenewCliArgs } from '../cli/renew-api-cert';
import { UsageError } from '../cli/usage-error';

// Runs on Node 20 by design; the AWS SDK's notice about its future Node 22 floor is noise here.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

async function main(argv: readonly string[]): Promise<number> {
  const cli = await import('../cli/renew-api-cert');
  let args: RenewCliArgs;
  try {
    args = cli.parseRenewArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`renew-api-cert: ${err.message}\n\n${cli.RENEW_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${cli.RENEW_USAGE}\n`);
    return 0;
  }
  return cli.runRenewal(args, { stdout: process.stdout, stderr: process.stderr, now: () => new Date() });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`renew-api-cert: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
