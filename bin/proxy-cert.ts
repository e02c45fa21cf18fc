#!/usr/bin/env node
/**
 * `npm run proxy-cert -- --name NAME [--out DIR] [--days N] [--force]`: a client certificate for a reverse
 * proxy from the operator's proxy CA (made when missing), for plusgate's mutual-TLS forward-auth door.
 * See cli/proxy-cert.ts.
 */
import { PROXY_CERT_USAGE, type ProxyCertArgs, parseProxyCertArgs, runProxyCert } from '../cli/proxy-cert';
import { UsageError } from '../cli/usage-error';

async function main(argv: readonly string[]): Promise<number> {
  let args: ProxyCertArgs;
  try {
    args = parseProxyCertArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`proxy-cert: ${err.message}\n\n${PROXY_CERT_USAGE}\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${PROXY_CERT_USAGE}\n`);
    return 0;
  }
  return runProxyCert(args, { stdout: process.stdout, stderr: process.stderr, now: () => new Date() });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`proxy-cert: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
