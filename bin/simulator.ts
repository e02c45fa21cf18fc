/**
 * The Identity Plus simulator as its own process, for trying the wire API by hand (curl) or pointing a
 * plusgate client at it: `tsx bin/simulator.ts [--data-dir .plusgate] [--port 8444] [--host 127.0.0.1]`.
 */
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { loadOrCreateDevPki } from '../local/dev-pki-files';
import { IdentityPlusSimulator } from '../local/identity-plus-simulator';
import { demoSimulatorSeed } from '../local/simulator-seed';

const USAGE = `usage: tsx bin/simulator.ts [--data-dir <dir>] [--port <port>] [--host <address>] [--verbose]

  --data-dir  where the dev PKI is kept (created on first run)   default .plusgate
  --port      port to listen on, 0 = any free port               default 8444
  --host      address to listen on                              default 127.0.0.1
  --verbose   print one line per request
`;

interface CliOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  readonly verbose: boolean;
}

/** The flags, as node:util parseArgs reads them (throws on a bad one). */
function readFlags(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      'data-dir': { type: 'string', default: '.plusgate' },
      port: { type: 'string', default: '8444' },
      host: { type: 'string', default: '127.0.0.1' },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
}

/** The parsed command line, or a message saying what is wrong with it. */
function parseCommandLine(argv: string[]): CliOptions | { readonly error: string } | 'help' {
  let values: ReturnType<typeof readFlags>['values'];
  try {
    ({ values } = readFlags(argv));
  } catch (err) {
    return { error: err instanceof Error ? err.message : String(err) };
  }
  if (values.help) return 'help';
  const port = Number(values.port);
  if (!/^[0-9]{1,5}$/.test(values.port) || port > 65_535) {
    return { error: `--port must be a number from 0 to 65535, got ${JSON.stringify(values.port)}` };
  }
  if (values['data-dir'] === '' || values.host === '') return { error: '--data-dir and --host must not be empty' };
  return { dataDir: path.resolve(values['data-dir']), port, host: values.host, verbose: values.verbose };
}

async function main(): Promise<void> {
  const parsed = parseCommandLine(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if ('error' in parsed) {
    process.stderr.write(`${parsed.error}\n${USAGE}`);
    process.exitCode = 2;
    return;
  }

  const pki = await loadOrCreateDevPki(parsed.dataDir);
  const simulator = new IdentityPlusSimulator({
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
    apiClients: [pki.api.cert],
    host: parsed.host,
    port: parsed.port,
    seed: demoSimulatorSeed(pki),
    log: parsed.verbose ? (line) => process.stdout.write(`${line}\n`) : undefined,
  });
  try {
    await simulator.start();
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    process.stderr.write(`identity plus simulator: cannot listen on ${parsed.host}:${parsed.port}: ${reason}\n`);
    process.exitCode = 1;
    return;
  }
  process.stdout.write(`identity plus simulator listening on ${simulator.apiUrl}\n`);

  let stopping = false;
  const shutdown = (): void => {
    // A second signal while stopping means "now".
    if (stopping) process.exit(130);
    stopping = true;
    simulator.stop().then(
      () => {
        process.exitCode = 0;
      },
      () => {
        process.exitCode = 1;
      },
    );
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err: unknown) => {
  process.stderr.write(`identity plus simulator: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
