#!/usr/bin/env node
/**
 * `npm run fetch-truststore -- [--p12 FILE | --cert FILE --key FILE] [--out PATH] [--force]`: downloads the
 * Identity Plus CA chain for `truststorePath` over mutual TLS, checks it and writes it; against local mode
 * without a credential flag. See cli/fetch-truststore.ts.
 */
import type { FetchTruststoreArgs } from '../cli/fetch-truststore';
import { UsageError } from '../cli/usage-error';

async function main(argv: readonly string[]): Promise<number> {
  const cli = await import('../cli/fetch-truststore');
  let args: FetchTruststoreArgs;
  try {
    args = cli.parseFetchTruststoreArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`fetch-truststore: ${err.message} (see --help)\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(`${cli.FETCH_TRUSTSTORE_USAGE}\n`);
    return 0;
  }
  return cli.runFetchTruststore(args, {
    stdout: process.stdout,
    stderr: process.stderr,
    now: () => new Date(),
    env: process.env,
    readPassword: () => cli.readPasswordLine(process.stdin, process.stderr),
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    // One line, no stack; messages name files and fields, never a key or a password.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`fetch-truststore: ${message.replace(/\s+/g, ' ').slice(0, 500)}\n`);
    process.exitCode = 1;
  },
);
