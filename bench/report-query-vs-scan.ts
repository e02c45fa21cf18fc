/**
 * Benchmark: the billing report of a period of 100,000 users, read with the sharded parallel Query the
 * report uses (RecordsReader: 16 partitions, one paginated Query each, in parallel) against a Scan
 * baseline (one paginated Scan filtered on the period), in the same run, alternating, with peak memory.
 *
 * dynalite runs in memory in a child process on loopback, so this process's memory is the report's own
 * (dynalite keeps the whole table in memory) and dynalite's CPU is not ours. Both readers feed the same
 * ReportAccumulator and must agree on every number.
 *
 * Caveat for reading the ratio: dynalite is one single-threaded process, so the parallel Queries gain
 * from overlapping requests with our own parsing, not from DynamoDB's partitions serving in parallel as
 * they do in AWS. And a real ledger holds up to 25 periods (retention), all of which a Scan reads and pays
 * for: `otherPeriodUsers` puts users in another period to show that.
 */
import { type AttributeValue, BatchWriteItemCommand, type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PROJECTION, RecordsReader, userRecordOf } from '../functions/adapters/records-reader';
import { periodPartitionKey, shardOf } from '../functions/adapters/records-table';
import { SETTINGS } from '../functions/config/settings';
import { periodById } from '../functions/domain/billing-period';
import { type BillingReport, ReportAccumulator, type UserRecord } from '../functions/domain/report';
import { ensureRecordsTable, localDynamoClient } from '../local/dynamodb-local';

/** Options of {@link benchReportQueryVsScan}; every count is bounded. */
export interface ReportQueryVsScanOptions {
  /** Users in the reported period. @default 100000 (1,000–200,000) */
  readonly users?: number;
  /**
   * Users then loaded into another period of the same table, and both readers timed again: a Scan reads
   * every period in the table, the Queries only the one reported. 0 skips that second phase.
   * @default 100000 (0–200,000)
   */
  readonly otherPeriodUsers?: number;
  /** Timed runs of each reader, alternating. @default 3 (1–10) */
  readonly runs?: number;
}

/** One reader's measurements. */
export interface ReaderResult {
  readonly runsMs: readonly number[];
  readonly bestMs: number;
  readonly medianMs: number;
  /** Highest RSS seen during its runs (sampled every 1,000 items and every 20 ms). */
  readonly peakRssMb: number;
  /** Highest heap use above the heap right before the run (after a GC), garbage included. */
  readonly peakHeapDeltaMb: number;
  /** Most heap kept alive mid-read (measured after a GC, in a separate untimed pass). */
  readonly liveHeapMb?: number;
  readonly requests: number;
}

/** What the benchmark measured, plus a one-line summary. */
export interface ReportQueryVsScanResult {
  readonly name: 'report-query-vs-scan';
  readonly users: number;
  readonly otherPeriodUsers: number;
  readonly loadMs: number;
  readonly query: ReaderResult;
  readonly scan: ReaderResult;
  /** Scan median / Query median with the period alone in the table: > 1 means the Query is faster. */
  readonly ratio: number;
  /** The same after loading `otherPeriodUsers` into another period. */
  readonly withOtherPeriod?: Comparison;
  readonly summary: string;
}

const PERIOD = periodById('2026-11');
const OTHER_PERIOD = '2026-10';
const TABLE = 'plusgate-records';
const NOW = new Date('2026-11-26T12:00:00Z');
const EXPIRES_AT = String(Math.floor(Date.parse('2029-01-01T00:00:00Z') / 1000));
const PRICE = 0.9;
const LOAD_CONCURRENCY = 16;

/** Runs the Query versus Scan benchmark and returns times, memory and the ratio. */
export async function benchReportQueryVsScan(opts: ReportQueryVsScanOptions = {}): Promise<ReportQueryVsScanResult> {
  const users = bounded(opts.users ?? 100_000, 1000, 200_000);
  const otherPeriodUsers = bounded(opts.otherPeriodUsers ?? 100_000, 0, 200_000);
  const runs = bounded(opts.runs ?? 3, 1, 10);
  const gc = exposeGc();

  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const dynalite = await startDynaliteProcess();
  const client = localDynamoClient(dynalite.endpoint);
  try {
    await ensureRecordsTable(client, TABLE);
    let loadMs = await timedLoad(client, PERIOD.id, users);
    const alone = await compare(client, gc, users, runs, 'period alone');
    let withOther: Comparison | undefined;
    if (otherPeriodUsers > 0) {
      loadMs += await timedLoad(client, OTHER_PERIOD, otherPeriodUsers);
      withOther = await compare(
        client,
        gc,
        users,
        runs,
        `+${otherPeriodUsers.toLocaleString('en-US')} in ${OTHER_PERIOD}`,
      );
    }
    const line = (c: Comparison) =>
      `query ${c.query.medianMs.toFixed(0)} ms (best ${c.query.bestMs.toFixed(0)}, ${c.query.requests} req, peak RSS ${c.query.peakRssMb} MB, heap +${c.query.peakHeapDeltaMb} MB, live +${c.query.liveHeapMb} MB) vs ` +
      `scan ${c.scan.medianMs.toFixed(0)} ms (best ${c.scan.bestMs.toFixed(0)}, ${c.scan.requests} req, peak RSS ${c.scan.peakRssMb} MB, heap +${c.scan.peakHeapDeltaMb} MB, live +${c.scan.liveHeapMb} MB): scan/query ${c.ratio.toFixed(2)}x (best ${(c.scan.bestMs / c.query.bestMs).toFixed(2)}x)`;
    const summary =
      `${users.toLocaleString('en-US')} users, median (best) of ${runs}; table with the period alone: ${line(alone)}` +
      (withOther
        ? `; with ${otherPeriodUsers.toLocaleString('en-US')} more users in ${OTHER_PERIOD}: ${line(withOther)}`
        : '') +
      `  [load ${(loadMs / 1000).toFixed(1)} s]`;
    return {
      name: 'report-query-vs-scan',
      users,
      otherPeriodUsers,
      loadMs,
      query: alone.query,
      scan: alone.scan,
      ratio: alone.ratio,
      withOtherPeriod: withOther,
      summary,
    };
  } finally {
    client.destroy();
    await dynalite.stop();
  }
}

/** Both readers over the same table state. */
export interface Comparison {
  readonly query: ReaderResult;
  readonly scan: ReaderResult;
  /** Scan median / Query median: > 1 means the Query is faster. */
  readonly ratio: number;
}

async function timedLoad(client: DynamoDBClient, periodId: string, count: number): Promise<number> {
  const started = performance.now();
  await load(client, periodId, count);
  const ms = performance.now() - started;
  log(
    `loaded ${count.toLocaleString('en-US')} users into ${periodId} with BatchWriteItem in ${(ms / 1000).toFixed(1)} s (${Math.round((count * 1000) / ms)} items/s)`,
  );
  return ms;
}

/** Times both readers `runs` times each, alternating which goes first; both must report the same numbers. */
async function compare(
  client: DynamoDBClient,
  gc: () => void,
  users: number,
  runs: number,
  label: string,
): Promise<Comparison> {
  const timings = { query: [] as Measured[], scan: [] as Measured[] };
  let reference: BillingReport | undefined;
  for (let run = 0; run < runs; run++) {
    // Alternate which goes first, so a warm-up effect or a burst of load elsewhere hits both alike.
    const order: Array<'query' | 'scan'> = run % 2 === 0 ? ['query', 'scan'] : ['scan', 'query'];
    for (const reader of order) {
      const measured = await measure(gc, () => (reader === 'query' ? viaQuery(client) : viaScan(client)));
      check(measured.report, users);
      reference ??= measured.report;
      if (
        measured.report.uniqueDevices !== reference.uniqueDevices ||
        measured.report.authentications !== reference.authentications
      ) {
        throw new Error(`${reader} disagrees with the other reader: ${JSON.stringify(measured.report)}`);
      }
      timings[reader].push(measured);
      log(
        `${label}, run ${run + 1}: ${reader.padEnd(5)} ${measured.ms.toFixed(0).padStart(6)} ms  ${String(measured.requests).padStart(4)} requests  ` +
          `peak RSS ${mb(measured.peakRss)} MB (started at ${mb(measured.startRss)})  heap +${mb(measured.peakHeapDelta)} MB`,
      );
    }
  }
  // Peak heapUsed above counts garbage not yet collected; the memory a reader really holds is what
  // survives a GC mid-read. One untimed pass each, collecting every 10,000 items.
  const live = { query: await liveHeap(gc, viaQuery(client)), scan: await liveHeap(gc, viaScan(client)) };
  log(`${label}: live heap mid-read (after GC): query +${mb(live.query)} MB, scan +${mb(live.scan)} MB`);
  const query = { ...summarize(timings.query), liveHeapMb: mb(live.query) };
  const scan = { ...summarize(timings.scan), liveHeapMb: mb(live.scan) };
  return { query, scan, ratio: scan.medianMs / query.medianMs };
}

/** The most heap a reader keeps alive while reading, measured after a GC every 10,000 items. */
async function liveHeap(gc: () => void, reader: Reader): Promise<number> {
  gc();
  const base = process.memoryUsage().heapUsed;
  const accumulator = new ReportAccumulator(PERIOD, { pricePerUserYear: PRICE, now: NOW });
  let peak = 0;
  let items = 0;
  await reader((record) => {
    accumulator.add(record);
    if (++items % 10_000 === 0) {
      gc();
      peak = Math.max(peak, process.memoryUsage().heapUsed - base);
    }
  });
  return peak;
}

interface Measured {
  readonly ms: number;
  readonly startRss: number;
  readonly peakRss: number;
  readonly peakHeapDelta: number;
  readonly requests: number;
  readonly report: BillingReport;
}

/** A report reader: feeds each record to `onRecord`, resolves with the number of requests it made. */
type Reader = (onRecord: (record: UserRecord) => void) => Promise<number>;

async function measure(gc: () => void, reader: () => Reader): Promise<Measured> {
  gc();
  const baseHeap = process.memoryUsage().heapUsed;
  const startRss = process.memoryUsage.rss();
  let peakRss = startRss;
  let peakHeap = baseHeap;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > peakRss) peakRss = m.rss;
    if (m.heapUsed > peakHeap) peakHeap = m.heapUsed;
  };
  const timer = setInterval(sample, 20);
  const accumulator = new ReportAccumulator(PERIOD, { pricePerUserYear: PRICE, now: NOW });
  let items = 0;
  const started = performance.now();
  try {
    const requests = await reader()((record) => {
      accumulator.add(record);
      if (++items % 1000 === 0) sample();
    });
    const ms = performance.now() - started;
    sample();
    return { ms, startRss, peakRss, peakHeapDelta: peakHeap - baseHeap, requests, report: accumulator.result(NOW) };
  } finally {
    clearInterval(timer);
  }
}

/** The report's own reader: N parallel paginated Queries. */
function viaQuery(client: DynamoDBClient): Reader {
  return async (onRecord) => {
    let requests = 0;
    const counting = new Proxy(client, {
      get(target, prop, receiver) {
        if (prop === 'send') {
          return (...args: Parameters<DynamoDBClient['send']>) => {
            requests++;
            return (target.send as (...a: unknown[]) => unknown).apply(target, args);
          };
        }
        return Reflect.get(target, prop, receiver);
      },
    });
    const reader = new RecordsReader({ client: counting, tableName: TABLE, shards: SETTINGS.shards.default });
    for await (const record of reader.records(PERIOD.id)) onRecord(record);
    return requests;
  };
}

/** The baseline: one paginated Scan of the whole table, filtered on the period (same projection). */
function viaScan(client: DynamoDBClient): Reader {
  return async (onRecord) => {
    let requests = 0;
    let startKey: Record<string, AttributeValue> | undefined;
    const attributes = PROJECTION;
    do {
      const page = await client.send(
        new ScanCommand({
          TableName: TABLE,
          FilterExpression: '#period = :period',
          ProjectionExpression: attributes.map((a) => `#${a}`).join(', '),
          ExpressionAttributeNames: Object.fromEntries(attributes.map((a) => [`#${a}`, a])),
          ExpressionAttributeValues: { ':period': { S: PERIOD.id } },
          ExclusiveStartKey: startKey,
        }),
      );
      requests++;
      for (const item of page.Items ?? []) onRecord(userRecordOf(item, PERIOD.id));
      startKey = page.LastEvaluatedKey;
    } while (startKey);
    return requests;
  };
}

function check(report: BillingReport, users: number): void {
  if (report.uniqueUsers !== users) throw new Error(`expected ${users} users in the report, got ${report.uniqueUsers}`);
}

function summarize(measured: readonly Measured[]): ReaderResult {
  const runsMs = measured.map((m) => m.ms);
  const sorted = [...runsMs].sort((a, b) => a - b);
  const bestMs = sorted[0];
  const medianMs = sorted[Math.floor(sorted.length / 2)];
  const firstRun = measured[0];
  if (bestMs === undefined || medianMs === undefined || firstRun === undefined) throw new Error('no runs to summarize');
  return {
    runsMs,
    bestMs,
    medianMs,
    peakRssMb: mb(Math.max(...measured.map((m) => m.peakRss))),
    peakHeapDeltaMb: mb(Math.max(...measured.map((m) => m.peakHeapDelta))),
    requests: firstRun.requests,
  };
}

/** Writes `count` users of `periodId` in the ledger's item layout: BatchWriteItem of 25, 16 batches in flight. */
async function load(client: DynamoDBClient, periodId: string, count: number): Promise<void> {
  const start = periodById(periodId).start.getTime();
  const item = (i: number): Record<string, AttributeValue> => {
    const userId = i % 2 ? `org:ref-${i}` : `local:user-${i}`;
    const seen = new Date(start + (i % 28) * 86_400_000 + (i % 86_400) * 1000).toISOString();
    return {
      pk: { S: periodPartitionKey(periodId, shardOf(userId, SETTINGS.shards.default)) },
      sk: { S: `USER#${userId}` },
      userId: { S: userId },
      period: { S: periodId },
      name: { S: `User ${i}` },
      email: { S: `user${i}@example.com` },
      firstSeenAt: { S: seen },
      lastSeenAt: { S: seen },
      authCount: { N: String(1 + (i % 9)) },
      devices: { SS: i % 4 ? [String(10_000_000 + i)] : [String(10_000_000 + i), String(20_000_000 + i)] },
      roles: { L: [{ S: 'member' }] },
      expiresAt: { N: EXPIRES_AT },
    };
  };
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const from = next;
      next = Math.min(count, next + 25);
      let requests = Array.from({ length: next - from }, (_, k) => ({ PutRequest: { Item: item(from + k) } }));
      while (requests.length > 0) {
        const res = await client.send(new BatchWriteItemCommand({ RequestItems: { [TABLE]: requests } }));
        requests = (res.UnprocessedItems?.[TABLE] ?? []) as typeof requests;
      }
    }
  };
  await Promise.all(Array.from({ length: LOAD_CONCURRENCY }, worker));
}

/** dynalite, in memory, in a child process of its own on a free loopback port. */
async function startDynaliteProcess(): Promise<{ endpoint: string; stop: () => Promise<void> }> {
  const script = `
    const server = require('dynalite')({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    server.listen(0, '127.0.0.1', () => process.stdout.write(String(server.address().port) + '\\n'));
    process.on('disconnect', () => process.exit(0));`;
  const child: ChildProcess = spawn(process.execPath, ['-e', script], {
    cwd: path.resolve(__dirname, '..'),
    stdio: ['ignore', 'pipe', 'inherit', 'ipc'], // the IPC channel ends the child if we die
  });
  const [line] = (await Promise.race([
    once(child.stdout!, 'data'),
    once(child, 'exit').then(() => {
      throw new Error('dynalite child process exited before listening');
    }),
  ])) as [Buffer];
  const port = Number(String(line).trim());
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: async () => {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** `global.gc`, so each run starts from a collected heap (a no-op when it cannot be had). */
function exposeGc(): () => void {
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    return () => gc();
  } catch {
    return () => undefined;
  }
}

function mb(bytes: number): number {
  return Math.round(bytes / 1024 / 1024);
}

function log(line: string): void {
  process.stdout.write(`  report-query-vs-scan: ${line}\n`);
}

function bounded(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(max, Math.max(min, Math.floor(value)));
}
