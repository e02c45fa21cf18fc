/**
 * `npm run report`: the billing-period user report from a terminal, read from local mode's dynalite by
 * default or from the real table in AWS (default credential chain). Argument parsing and the run live here
 * so they can be tested; bin/report.ts is only the entry point.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { once } from 'node:events';
import { type WriteStream, createWriteStream, promises as fs } from 'node:fs';
import { RecordsReader } from '../functions/adapters/records-reader';
import { SETTINGS, type Setting, show } from '../functions/config/settings';
import { type BillingPeriod, checkAnchorDay, periodById, periodOf } from '../functions/domain/billing-period';
import { InvalidInputError, RecordReadError } from '../functions/domain/errors';
import {
  type PeriodRecordsPort,
  ReportAccumulator,
  type ServiceFilter,
  type UserRecord,
  WITHOUT_SERVICE,
  serviceFilterOf,
} from '../functions/domain/report';
import { SERVICE_ID_EXPECTED } from '../functions/domain/service-id';
import {
  csvLines,
  reportHtml,
  reportJson,
  tableHeader,
  tableRow,
  tableTotals,
} from '../functions/domain/report-formats';
import { localDynamoClient } from '../local/dynamodb-local';
import { LOCAL_TABLE_NAME } from '../local/local-mode';
import { UsageError, parseFlags } from './usage-error';

/** Where local mode's dynalite listens by default. */
export const LOCAL_DYNAMODB_ENDPOINT = 'http://127.0.0.1:8000';

/** Formats the CLI writes. */
export const CLI_FORMATS = ['table', 'json', 'csv', 'html'] as const;
/** One of {@link CLI_FORMATS}. */
export type CliFormat = (typeof CLI_FORMATS)[number];

/** The usage text (`--help`, and after a bad flag). */
export const REPORT_USAGE = `usage: npm run report -- [options]
  --period YYYY-MM            billing period (default: the current one)
  --format table|json|csv|html
                              table: totals and one line per user (default); csv: one row per user;
                              json: the report; html: a page with the totals and a chart
  --service NAME|-            count only the users recorded for the Identity Plus service NAME (the
                              deployment's identityPlusService), or with - those recorded without one
  --out FILE                  write to FILE instead of standard output
  --dynamodb-endpoint URL     local mode's DynamoDB (default ${LOCAL_DYNAMODB_ENDPOINT})
  --table NAME                table to read (default ${LOCAL_TABLE_NAME}); without --dynamodb-endpoint
                              this reads AWS with the default credential chain
  --region R                  AWS region of --table (default: AWS_REGION)
  --anchor-day N              the deployment's billingAnchorDay, 1-28 (default ${SETTINGS.billingAnchorDay.default})
  --price-per-user-year P     the deployment's pricePerUserYear in USD (default ${SETTINGS.pricePerUserYear.default})
  --shards N                  shards per period (default ${SETTINGS.shards.default})
  -h, --help                  this text

examples:
  npm run report                                   # this period, local mode
  npm run report -- --period 2026-11 --format csv --out users.csv
  npm run report -- --table Plusgate-RecordsTable1234 --region eu-west-1 --format html --out report.html`;

/** The parsed command line. */
export interface ReportCliArgs {
  readonly help: boolean;
  /** Period id, validated; undefined = the current period. */
  readonly period?: string;
  readonly format: CliFormat;
  /** Count only the items recorded with this service (`-`: without one); undefined = every item. */
  readonly service?: ServiceFilter;
  readonly out?: string;
  /** Where to read: a local endpoint (dummy credentials) or AWS. */
  readonly source:
    | { readonly kind: 'local'; readonly endpoint: string; readonly table: string }
    | { readonly kind: 'aws'; readonly table: string; readonly region: string };
  readonly anchorDay: number;
  readonly pricePerUserYear: number;
  readonly shards: number;
}

/** Parses `argv` (without node and the script); throws UsageError naming the bad flag. */
export function parseReportArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = process.env,
): ReportCliArgs {
  const values = parseFlags(argv, FLAGS);
  const help = values.help ?? false;

  const format = values.format ?? 'table';
  if (!(CLI_FORMATS as readonly string[]).includes(format))
    throw new UsageError(`--format must be one of ${CLI_FORMATS.join(', ')}, got "${format}"`);

  const anchorDay = setting('anchor-day', values['anchor-day'], 'billingAnchorDay');
  const shards = setting('shards', values.shards, 'shards');
  const pricePerUserYear = setting('price-per-user-year', values['price-per-user-year'], 'pricePerUserYear');

  if (values.period !== undefined) {
    try {
      periodById(values.period, anchorDay);
    } catch (err) {
      if (err instanceof InvalidInputError) throw new UsageError(`--${err.message}`);
      throw err;
    }
  }
  if (values.out !== undefined && values.out.trim() === '') throw new UsageError('--out needs a file name');
  const service = values.service === undefined ? undefined : serviceFilterOf(values.service);
  if (values.service !== undefined && service === undefined)
    throw new UsageError(
      `--service must be ${SERVICE_ID_EXPECTED}, or ${WITHOUT_SERVICE} for the users recorded without a service; got ${show(values.service)}`,
    );

  const endpoint = values['dynamodb-endpoint'];
  let source: ReportCliArgs['source'];
  if (endpoint !== undefined) {
    if (!/^https?:\/\/[^\s/]+/.test(endpoint))
      throw new UsageError(
        `--dynamodb-endpoint must be an http(s) URL like ${LOCAL_DYNAMODB_ENDPOINT}, got "${endpoint}"`,
      );
    source = { kind: 'local', endpoint, table: values.table ?? LOCAL_TABLE_NAME };
  } else if (values.table !== undefined) {
    const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) throw new UsageError('--table reads AWS: give --region too (or set AWS_REGION)');
    if (!/^[a-z]{2}(-[a-z]+)+-\d+$/.test(region))
      throw new UsageError(`--region must be an AWS region like eu-west-1, got "${region}"`);
    source = { kind: 'aws', table: values.table, region };
  } else {
    if (values.region !== undefined)
      throw new UsageError(
        '--region goes with --table NAME (reading AWS); without --table the report reads local mode',
      );
    source = { kind: 'local', endpoint: LOCAL_DYNAMODB_ENDPOINT, table: LOCAL_TABLE_NAME };
  }
  if (source.table.trim() === '') throw new UsageError('--table needs a table name');

  return {
    help,
    period: values.period,
    format: format as CliFormat,
    service,
    out: values.out,
    source,
    anchorDay,
    pricePerUserYear,
    shards,
  };
}

/** The flags of this CLI (read by parseFlags, cli/usage-error.ts: a bad one is a UsageError). */
const FLAGS = {
  period: { type: 'string' },
  format: { type: 'string' },
  service: { type: 'string' },
  out: { type: 'string' },
  'dynamodb-endpoint': { type: 'string' },
  table: { type: 'string' },
  region: { type: 'string' },
  'anchor-day': { type: 'string' },
  'price-per-user-year': { type: 'string' },
  shards: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/**
 * A flag that gives a deployment setting: the setting's default, checked with the deployment's own parser
 * (functions/config/settings.ts), so the report takes exactly what the deployment does.
 */
function setting(
  flag: string,
  raw: string | undefined,
  name: 'billingAnchorDay' | 'pricePerUserYear' | 'shards',
): number {
  const spec: Setting<number> = SETTINGS[name];
  if (raw === undefined) return spec.default;
  const expected: string[] = [];
  const value = spec.parse(raw, { strict: true, problem: (_value, what) => expected.push(what) });
  if (value === undefined) throw new UsageError(`--${flag} must be ${expected.join('; ')}, got ${show(raw)}`);
  return value;
}

/** The streams and clock a run uses (tests pass their own). */
export interface ReportCliIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { readonly isTTY?: boolean };
  readonly now: () => number;
  /** Records to read instead of building a client from `args.source` (tests). */
  readonly records?: PeriodRecordsPort;
  /** Progress appears after this long. @default 1000 */
  readonly progressAfterMs?: number;
}

/** Runs the report; resolves with the exit code (0 ok, 1 the read or the write failed). */
export async function runReport(args: ReportCliArgs, io: ReportCliIo): Promise<number> {
  const now = new Date(io.now());
  const period: BillingPeriod = args.period
    ? periodById(args.period, checkAnchorDay(args.anchorDay))
    : periodOf(now, args.anchorDay);
  let client: DynamoDBClient | undefined;
  let records = io.records;
  if (!records) {
    client =
      args.source.kind === 'local'
        ? localDynamoClient(args.source.endpoint)
        : new DynamoDBClient({ region: args.source.region, maxAttempts: 5 });
    records = new RecordsReader({ client, tableName: args.source.table, shards: args.shards });
  }
  // Rows streaming to the same terminal are progress enough; a redrawn stderr line would cut through them.
  const rowsOnTerminal =
    !args.out &&
    (args.format === 'table' || args.format === 'csv') &&
    (io.stdout as { isTTY?: boolean }).isTTY === true;
  const progress = new Progress(io.stderr, io.progressAfterMs ?? 1000, io.stderr.isTTY === true && !rowsOnTerminal);
  const file = args.out ? createWriteStream(args.out) : undefined;
  const out: NodeJS.WritableStream = file ?? io.stdout;
  // A file that cannot be written (no such folder, no permission, disk full) fails the run, never the process.
  let outError: Error | undefined;
  out.on('error', (err: Error) => (outError ??= err));
  try {
    if (file) await once(file, 'open');
    const accumulator = new ReportAccumulator(period, {
      pricePerUserYear: args.pricePerUserYear,
      now,
      service: args.service,
    });
    const write = async (text: string) => {
      if (outError) throw outError;
      await writeText(out, text);
    };
    if (args.format === 'csv' || args.format === 'table') {
      // One pass, ordered by user: rows stream out as they are read, the totals follow.
      const users = accumulator.counting(progress.counting(records.recordsByUser(period.id)));
      if (args.format === 'csv') {
        for await (const line of csvLines(users)) await write(line);
      } else {
        await write(tableHeader(period));
        for await (const user of users) await write(tableRow(user));
        progress.done();
        await write(tableTotals(accumulator.result(new Date(io.now()))));
      }
    } else {
      for await (const record of progress.counting(records.records(period.id))) accumulator.add(record);
      progress.done();
      const report = accumulator.result(new Date(io.now()));
      await write(args.format === 'json' ? reportJson(report) : reportHtml(report));
    }
    progress.done();
    if (file) {
      await closeFile(file);
      if (outError) throw outError;
      io.stderr.write(
        `wrote ${args.format} report of period ${period.id} (${accumulator.users} users) to ${args.out}\n`,
      );
    }
    return 0;
  } catch (err) {
    progress.done();
    if (file && args.out) {
      file.destroy();
      await fs.rm(args.out, { force: true }).catch(() => undefined); // no half-written report left behind
    }
    io.stderr.write(`report: ${describeFailure(err, args)}\n`);
    return 1;
  } finally {
    client?.destroy();
  }
}

/** A failure in words for the terminal, with a hint for the common local-mode mistakes. */
export function describeFailure(err: unknown, args: Pick<ReportCliArgs, 'source'>): string {
  const text = (err as { message?: unknown } | undefined)?.message;
  const message = typeof text === 'string' ? text : String(err);
  if (!(err instanceof RecordReadError)) return message;
  if (args.source.kind === 'local' && err.reason === 'ECONNREFUSED') {
    return `${message}\nnothing answers at ${args.source.endpoint}: start local mode (npm start), or pass --dynamodb-endpoint URL for the port it runs on`;
  }
  if (args.source.kind === 'local' && err.reason === 'ResourceNotFoundException') {
    return `${message}\nlocal mode creates ${LOCAL_TABLE_NAME} when it starts; is ${args.source.endpoint} the right endpoint?`;
  }
  return message;
}

async function writeText(out: NodeJS.WritableStream, text: string): Promise<void> {
  if (!out.write(text)) await once(out, 'drain');
}

/** Ends the file and resolves once every byte is written to it (rejects if that fails). */
function closeFile(file: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    file.once('error', reject);
    file.end(() => resolve());
  });
}

/**
 * "read N items" on stderr, redrawn in place, only on a terminal and only once the report has taken
 * longer than `afterMs`: a quick report prints nothing extra, and piped stderr never gets control codes.
 */
class Progress {
  #items = 0;
  #timer: NodeJS.Timeout | undefined;
  #shown = false;

  constructor(
    private readonly stderr: NodeJS.WritableStream,
    afterMs: number,
    enabled: boolean,
  ) {
    if (!enabled) return;
    this.#timer = setTimeout(() => {
      this.#draw();
      this.#timer = setInterval(() => this.#draw(), 200);
      this.#timer.unref();
    }, afterMs);
    this.#timer.unref();
  }

  async *counting(records: AsyncIterable<UserRecord>): AsyncGenerator<UserRecord> {
    for await (const record of records) {
      this.#items++;
      yield record;
    }
  }

  done(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#shown) this.stderr.write('\r\x1b[K');
    this.#shown = false;
  }

  #draw(): void {
    this.#shown = true;
    this.stderr.write(`\r\x1b[Kreading the ledger: ${this.#items.toLocaleString('en-US')} items`);
  }
}
