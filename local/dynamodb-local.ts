/**
 * DynamoDB for local mode and the integration tests: dynalite (the DynamoDB API in Node on LevelDB, in
 * memory or on disk) plus the records table created the way the CDK stack declares it. dynalite has no
 * TTL API and no transactions (see CONTRIBUTING.md, Pitfalls), so nothing here configures TTL.
 */
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  DescribeTableCommand,
  DynamoDBClient,
  ResourceInUseException,
  ResourceNotFoundException,
} from '@aws-sdk/client-dynamodb';
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promises as fs } from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import dynalite from 'dynalite';
import { headerValues, isLoopbackHost } from './server-lifecycle';

/** Key schema and billing of the records table (the CDK table construct declares the same). */
export const RECORDS_TABLE_SCHEMA = {
  AttributeDefinitions: [
    { AttributeName: 'pk', AttributeType: 'S' },
    { AttributeName: 'sk', AttributeType: 'S' },
  ],
  KeySchema: [
    { AttributeName: 'pk', KeyType: 'HASH' },
    { AttributeName: 'sk', KeyType: 'RANGE' },
  ],
  BillingMode: 'PAY_PER_REQUEST',
} as const satisfies Omit<CreateTableCommandInput, 'TableName'>;

/** A running dynalite. */
export interface RunningDynalite {
  /** `http://host:port`, for the SDK's `endpoint` or `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  readonly port: number;
  /** Closes connections, the server and the database (flushing it to disk when persisted). */
  stop(): Promise<void>;
}

/** Options of {@link startDynalite}. */
export interface StartDynaliteOptions {
  /** Folder to persist the data in (LevelDB); in memory when omitted. */
  readonly path?: string;
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
}

const WAIT_ACTIVE_MS = 60_000;
const POLL_MS = 100;

/** Starts dynalite with tables ACTIVE at once (its default keeps them CREATING for 500 ms). */
export async function startDynalite(options: StartDynaliteOptions = {}): Promise<RunningDynalite> {
  const host = options.host ?? '127.0.0.1';
  const unlock = options.path ? await lockDataDir(options.path) : async () => undefined;
  const server = dynalite({
    ...(options.path ? { path: options.path } : {}),
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0,
  });
  refuseForeignHosts(server);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 0, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlock();
    throw err;
  }
  const port = (server.address() as AddressInfo).port;
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    stop() {
      stopped ??= new Promise<void>((resolve, reject) => {
        // The SDK pools keep-alive sockets; without this, close() waits for them to time out.
        server.closeAllConnections();
        server.close((err?: Error) => (err ? reject(err) : resolve()));
      }).finally(unlock);
      return stopped;
    },
  };
}

/**
 * Puts a Host check in front of dynalite's own request handler: only a loopback name (`localhost`,
 * `127.0.0.1`, `[::1]`, any port) reaches the ledger; anything else is 421, as the local gateway and the
 * Secrets Manager emulator answer it. dynalite checks that a request looks signed, not the signature or
 * the Host, so without this a web page could read and write the ledger through DNS rebinding.
 */
function refuseForeignHosts(server: http.Server): void {
  const handlers = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const hosts = headerValues(req, 'host');
    const host = hosts.length === 1 ? hosts[0] : undefined;
    if (host === undefined || !isLoopbackHost(host)) {
      const body = JSON.stringify({
        __type: 'com.amazon.coral.service#MisdirectedRequestException',
        message:
          hosts.length === 1
            ? 'Misdirected Request: the Host header is not a loopback name (localhost, 127.0.0.1 or [::1]).'
            : 'The request needs exactly one Host header.',
      });
      res.writeHead(hosts.length === 1 ? 421 : 400, {
        'content-type': 'application/x-amz-json-1.0',
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
      return;
    }
    for (const handler of handlers) handler.call(server, req, res);
  });
}

/** Creates the records table when missing and waits until it is ACTIVE. Idempotent, and safe when two processes race. */
export async function ensureRecordsTable(client: DynamoDBClient, tableName: string): Promise<'created' | 'existed'> {
  let outcome: 'created' | 'existed' = 'existed';
  if ((await tableStatus(client, tableName)) === undefined) {
    try {
      await client.send(new CreateTableCommand({ TableName: tableName, ...RECORDS_TABLE_SCHEMA }));
      outcome = 'created';
    } catch (err) {
      if (!(err instanceof ResourceInUseException)) throw err;
    }
  }
  const deadline = Date.now() + WAIT_ACTIVE_MS;
  for (;;) {
    const status = await tableStatus(client, tableName);
    if (status === 'ACTIVE') return outcome;
    if (Date.now() > deadline)
      throw new Error(`table ${tableName} is ${status ?? 'missing'} after ${WAIT_ACTIVE_MS / 1000} s; expected ACTIVE`);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/** An SDK client for a local endpoint: dummy credentials, us-east-1, few retries and short timeouts, so a stopped server fails fast. */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 10_000 },
  });
}

/**
 * Claims a persisted data folder for this process with a pid file beside it. A second dynalite on a
 * folder LevelDB has locked does not fail cleanly: its first request throws inside dynalite and ends
 * the process. This turns that into an error at start that names the folder and the owner.
 */
async function lockDataDir(dataPath: string): Promise<() => Promise<void>> {
  const lockFile = `${path.resolve(dataPath)}.lock`;
  await fs.mkdir(path.dirname(lockFile), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await fs.writeFile(lockFile, String(process.pid), { flag: 'wx' });
      return () => fs.rm(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = Number((await fs.readFile(lockFile, 'utf8').catch(() => '')).trim());
    if (owner === process.pid)
      throw new Error(`DynamoDB data folder ${dataPath} is already open in this process; stop that dynalite first`);
    if (owner > 0 && isRunning(owner)) {
      throw new Error(
        `DynamoDB data folder ${dataPath} is in use by process ${owner} (another local plusgate?); stop it or use another folder`,
      );
    }
    // Left behind by a process that is gone: take it over.
    await fs.rm(lockFile, { force: true });
  }
  throw new Error(`could not lock DynamoDB data folder ${dataPath} (${lockFile} keeps reappearing)`);
}

/** Signal 0 only asks the kernel whether the process exists; nothing is sent. */
function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function tableStatus(client: DynamoDBClient, tableName: string): Promise<string | undefined> {
  try {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    return Table?.TableStatus ?? 'UNKNOWN';
  } catch (err) {
    if (err instanceof ResourceNotFoundException) return undefined;
    throw err;
  }
}
