/**
 * Benchmark: plusgate's hot path (a decision-cache hit) against the floor of the same transport, all in
 * one process tree on loopback, the variants interleaved round by round so machine noise hits all alike:
 * - `mtls-floor`: a minimal Node https server with `requestCert` on the same dev PKI, a small 200 JSON;
 * - `edge`: GET /whoami through local mode's gateway (mutual TLS, alice's certificate) → the edge Lambda
 *   handler, on a decision-cache hit; ratio edge / mtls-floor (issue 12's target ≥ 0.15);
 * - `http-floor`: a minimal Node http server answering 200;
 * - `verify`: forward-auth GET /verify on local mode's service API (plain HTTP, `X-Client-Cert` holding the
 *   URL-escaped PEM as nginx sends it), on a cache hit; ratio verify / http-floor (target ≥ 0.25);
 * - `handler`: the edge handler called in-process with a realistic API Gateway event (the one the local
 *   gateway builds), against `twin`: the same middy chain (logger context, metrics, secrets, error mapper)
 *   answering the same JSON without deciding anything; ratio handler / twin (target ≥ 0.5).
 *
 * The HTTP load comes from a worker thread (its own event loop, so on 2 cores the client does not take the
 * servers' CPU): 8 requests in flight over keep-alive agents, the same client certificate throughout. The
 * in-process variants run 8 calls in flight on the main thread; each call parses the event from its JSON
 * text first, as the Lambda runtime does. Targets are printed, never enforced: only a wrong status (or a
 * request that fails) makes the benchmark fail.
 *
 * The handlers log one JSON line per decision (Powertools, INFO, as deployed). Those lines are built and
 * written as in Lambda, but while measuring the bytes go nowhere instead of to the terminal.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { EDGE_ROUTES, SERVICE_ROUTES } from '../functions/config/names';
import { buildProxyEvent } from '../local/api-gateway-event';
import { lambdaContext } from '../local/gateway';
import { type RunningLocalMode, startLocalMode } from '../local/local-mode';

/** Options of {@link benchHotPath}; every count and duration is bounded. */
export interface HotPathBenchOptions {
  /** Measured rounds; each runs every variant once. @default 10 (1–30) */
  readonly rounds?: number;
  /** Time each variant runs in one round. @default 1000 (200–10,000) */
  readonly roundMs?: number;
  /** Requests in flight per variant. @default 8 (1–64) */
  readonly concurrency?: number;
  /** No new round starts after this much wall time (setup excluded). @default 90000 */
  readonly maxMs?: number;
}

type VariantName = 'mtls-floor' | 'edge' | 'http-floor' | 'verify' | 'handler' | 'twin';

/** Requests per second of one variant. */
export interface VariantResult {
  readonly name: VariantName;
  readonly perRound: readonly number[];
  readonly median: number;
  readonly requests: number;
}

/** One ratio, the median of its per-round ratios (each round pairs the two under the same noise). */
export interface RatioResult {
  readonly name: string;
  readonly of: VariantName;
  readonly against: VariantName;
  readonly perRound: readonly number[];
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly target: number;
}

/** What the benchmark measured, plus a compact table and a one-line summary. */
export interface HotPathBenchResult {
  readonly name: 'hot-path';
  readonly rounds: number;
  readonly roundMs: number;
  readonly concurrency: number;
  readonly variants: readonly VariantResult[];
  readonly ratios: readonly RatioResult[];
  /** Identity Plus inquiries during the measured rounds: 0 when every decision was a cache hit. */
  readonly inquiriesWhileMeasuring: number;
  readonly table: string;
  readonly summary: string;
}

const RATIOS = [
  { name: 'edge /whoami ÷ mTLS floor', of: 'edge', against: 'mtls-floor', target: 0.15 },
  { name: 'forward-auth /verify ÷ HTTP floor', of: 'verify', against: 'http-floor', target: 0.25 },
  { name: 'edge handler ÷ its twin', of: 'handler', against: 'twin', target: 0.5 },
] as const;
const VARIANTS: readonly VariantName[] = ['mtls-floor', 'edge', 'http-floor', 'verify', 'handler', 'twin'];
const WARM_UP_MS = 500;
const FLOOR_BODY = JSON.stringify({ ok: true, floor: 'minimal' });

/** Runs the hot-path benchmark; prints its table and returns it with the rates and ratios. */
export async function benchHotPath(opts: HotPathBenchOptions = {}): Promise<HotPathBenchResult> {
  const rounds = bounded(opts.rounds ?? 10, 1, 30);
  const roundMs = bounded(opts.roundMs ?? 1000, 200, 10_000);
  const concurrency = bounded(opts.concurrency ?? 8, 1, 64);
  const maxMs = bounded(opts.maxMs ?? 90_000, 1000, 300_000);

  const dataDir = await mkdtemp(path.join(tmpdir(), 'plusgate-bench-hot-path-'));
  const cleanups: Array<() => Promise<void>> = [async () => rm(dataDir, { recursive: true, force: true })];
  const sink = new StdoutSink();
  try {
    const [gatewayPort, simulatorPort, servicePort, dynamodbPort] = await freePorts(4);
    const local: RunningLocalMode = await startLocalMode({
      dataDir,
      gatewayPort,
      simulatorPort,
      servicePort,
      dynamodbPort,
      // Longer than the run, so every measured decision is a cache hit.
      environment: { PLUSGATE_DECISION_CACHE_SECONDS: '3600' },
    });
    cleanups.push(() => local.stop());
    const pki = local.pki;
    const alice = pki.devices.alice;

    const mtlsFloor = https.createServer(
      {
        cert: pki.server.cert,
        key: pki.server.key,
        ca: pki.caChain,
        requestCert: true,
        rejectUnauthorized: true,
        minVersion: 'TLSv1.2',
      },
      floorListener,
    );
    const httpFloor = http.createServer(floorListener);
    for (const server of [mtlsFloor, httpFloor]) {
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      cleanups.push(() => closeServer(server));
    }

    const worker = new Worker(LOAD_WORKER, { eval: true });
    cleanups.push(async () => void (await worker.terminate()));
    const load = new LoadClient(worker);
    const tlsClient = { cert: alice.cert, key: alice.key, ca: pki.caChain, servername: 'localhost' };
    const whoami = `https://127.0.0.1:${new URL(local.gatewayUrl).port}${EDGE_ROUTES.WHOAMI}`;
    const verifyHeaders = {
      'X-Client-Cert': encodeURIComponent(alice.cert),
      'X-Original-URL': 'https://app.example.com/',
    };
    const targets: Record<Exclude<VariantName, 'handler' | 'twin'>, LoadTarget> = {
      'mtls-floor': { url: `https://127.0.0.1:${portOf(mtlsFloor)}/`, tls: tlsClient, headers: {} },
      edge: { url: whoami, tls: tlsClient, headers: { Host: 'localhost', Accept: 'application/json' } },
      'http-floor': { url: `http://127.0.0.1:${portOf(httpFloor)}/`, headers: {} },
      verify: { url: `${local.serviceUrl}${SERVICE_ROUTES.VERIFY}`, headers: verifyHeaders },
    };

    // The edge handler module local mode loaded (same module instance, so the same decision cache), and its twin.
    const { handler: edgeHandler } = (await import('../functions/handlers/edge')) as unknown as {
      handler: (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;
    };
    const eventJson = JSON.stringify(
      buildProxyEvent({
        method: 'GET',
        path: EDGE_ROUTES.WHOAMI,
        rawQuery: '',
        headers: [
          'Host',
          'localhost',
          'User-Agent',
          'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0',
          'Accept',
          'application/json',
          'Accept-Language',
          'en-US,en;q=0.5',
          'Accept-Encoding',
          'gzip, deflate, br',
        ],
        body: Buffer.alloc(0),
        resource: EDGE_ROUTES.WHOAMI,
        stage: 'local',
        domainName: 'localhost',
        sourceIp: '127.0.0.1',
        clientCert: { pem: alice.cert },
        now: new Date(),
        requestId: 'c6af9ac6-7b61-11e6-9a41-93e8deadbeef',
        forwarded: { proto: 'https', port: 443 },
      }),
    );
    const callEdge = () => edgeHandler(JSON.parse(eventJson), freshContext());

    // Warm the decision cache and check the handler allows alice before timing; from here on, the handlers'
    // log lines are counted and dropped.
    sink.start();
    const first = await callEdge();
    expectStatus('handler', first.statusCode);
    const decided = JSON.parse(first.body) as { decision?: string };
    if (decided.decision !== 'allow') throw new Error(`hot-path: expected alice to be allowed, got ${first.body}`);
    const twinHandler = await buildTwin(JSON.parse(first.body));
    const callTwin = () => twinHandler(JSON.parse(eventJson), freshContext());

    const runners: Record<VariantName, (ms: number) => Promise<Timed>> = {
      'mtls-floor': (ms) => load.run('mtls-floor', targets['mtls-floor'], ms, concurrency),
      edge: (ms) => load.run('edge', targets.edge, ms, concurrency),
      'http-floor': (ms) => load.run('http-floor', targets['http-floor'], ms, concurrency),
      verify: (ms) => load.run('verify', targets.verify, ms, concurrency),
      handler: (ms) => inProcess('handler', callEdge, ms, concurrency),
      twin: (ms) => inProcess('twin', callTwin, ms, concurrency),
    };

    for (const name of VARIANTS) await runners[name](WARM_UP_MS);
    const inquiriesBefore = local.simulator?.stats().inquiries ?? 0;
    const perRound: Record<VariantName, number[]> = {
      'mtls-floor': [],
      edge: [],
      'http-floor': [],
      verify: [],
      handler: [],
      twin: [],
    };
    const counts: Record<VariantName, number> = {
      'mtls-floor': 0,
      edge: 0,
      'http-floor': 0,
      verify: 0,
      handler: 0,
      twin: 0,
    };
    const started = performance.now();
    let done = 0;
    for (let round = 0; round < rounds && (round === 0 || performance.now() - started < maxMs); round++) {
      // Each ratio's two variants run back to back, so one burst of load from elsewhere hits both; the
      // pairs take turns going first, and so do the two variants of a pair.
      for (const name of roundOrder(round)) {
        const timed = await runners[name](roundMs);
        counts[name] += timed.count;
        perRound[name].push((timed.count * 1000) / timed.ms);
      }
      done++;
    }
    const inquiriesWhileMeasuring = (local.simulator?.stats().inquiries ?? 0) - inquiriesBefore;
    const dropped = sink.stop();

    const variants = VARIANTS.map((name) => ({
      name,
      perRound: perRound[name],
      median: median(perRound[name]),
      requests: counts[name],
    }));
    const ratios = RATIOS.map((r) => {
      const each = perRound[r.of].map((rate, i) => rate / (perRound[r.against][i] ?? Number.NaN));
      return {
        ...r,
        perRound: each,
        median: median(each),
        min: Math.min(...each),
        max: Math.max(...each),
      };
    });
    const table = formatTable(variants, ratios, {
      rounds: done,
      roundMs,
      concurrency,
      inquiriesWhileMeasuring,
      droppedLogLines: dropped,
    });
    console.log(table);
    const summary = ratios.map((r) => `${r.of}/${r.against} ×${r.median.toFixed(3)} (target ≥ ${r.target})`).join('  ');
    return {
      name: 'hot-path',
      rounds: done,
      roundMs,
      concurrency,
      variants,
      ratios,
      inquiriesWhileMeasuring,
      table,
      summary,
    };
  } finally {
    sink.stop();
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

/** The order of round `round`: the pairs rotated by one each round, each pair's order flipped every other round. */
function roundOrder(round: number): VariantName[] {
  const order: VariantName[] = [];
  for (let i = 0; i < RATIOS.length; i++) {
    const pair = RATIOS[(round + i) % RATIOS.length] as (typeof RATIOS)[number];
    order.push(...(round % 2 === 0 ? [pair.against, pair.of] : [pair.of, pair.against]));
  }
  return order;
}

function floorListener(_req: http.IncomingMessage, res: http.ServerResponse): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(FLOOR_BODY) });
  res.end(FLOOR_BODY);
}

/**
 * The edge's middy chain exactly as `functions/handlers/edge.ts` builds it, around a handler that decides
 * nothing: it answers the JSON the real handler gave, through the same `jsonResponse`.
 */
async function buildTwin(
  body: unknown,
): Promise<(event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>> {
  const { default: middy } = await import('@middy/core');
  const { injectLambdaContext } = await import('@aws-lambda-powertools/logger/middleware');
  const { runtimeConfig, secretsMiddleware } = await import('../functions/runtime/composition');
  const { metricsMiddleware } = await import('../functions/runtime/metrics');
  const { errorMapper, logger } = await import('../functions/runtime/observability');
  const { jsonResponse } = await import('../functions/http/http-responses');
  const config = runtimeConfig();
  return middy<APIGatewayProxyEvent, APIGatewayProxyResult, Error, Context>()
    .use(injectLambdaContext(logger))
    .use(metricsMiddleware())
    .use(secretsMiddleware(config, { stateKey: true }))
    .use(errorMapper())
    .handler(async () => jsonResponse(200, body));
}

/** A new Lambda context per invocation, as the runtime gives one. */
function freshContext(): Context {
  const now = new Date();
  return lambdaContext(now, now.getTime() + 29_000);
}

/** Calls `call` with `concurrency` calls in flight for `ms`; every answer must be a 200. */
async function inProcess(
  name: VariantName,
  call: () => Promise<APIGatewayProxyResult>,
  ms: number,
  concurrency: number,
): Promise<Timed> {
  const started = performance.now();
  const deadline = started + ms;
  let count = 0;
  const loop = async () => {
    while (performance.now() < deadline) {
      const result = await call();
      expectStatus(name, result.statusCode);
      count++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { count, ms: performance.now() - started };
}

function expectStatus(name: string, status: number): void {
  // Measuring error answers would measure the wrong thing.
  if (status !== 200) throw new Error(`hot-path: ${name} answered ${status}, expected 200`);
}

/** An HTTP target of the load worker. */
interface LoadTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string; readonly servername: string };
}

/** Answers counted (all 200) and the time they took. */
interface Timed {
  readonly count: number;
  readonly ms: number;
}

interface LoadAnswer {
  readonly id: number;
  readonly count?: number;
  readonly ms?: number;
  readonly error?: string;
}

/** Drives the load worker: one run at a time, answered with the number of 200s (or an error). */
class LoadClient {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (timed: Timed) => void; reject: (e: Error) => void }>();

  constructor(private readonly worker: Worker) {
    worker.on('message', (answer: LoadAnswer) => {
      const waiting = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if (!waiting) return;
      if (answer.error !== undefined) waiting.reject(new Error(`hot-path: ${answer.error}`));
      else waiting.resolve({ count: answer.count ?? 0, ms: answer.ms ?? Number.NaN });
    });
    worker.on('error', (err) => this.failAll(err));
    worker.on('exit', () => this.failAll(new Error('hot-path: the load worker exited')));
    worker.unref();
  }

  run(name: VariantName, target: LoadTarget, ms: number, concurrency: number): Promise<Timed> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, name, target, ms, concurrency });
    });
  }

  private failAll(err: Error): void {
    for (const waiting of this.pending.values()) waiting.reject(err);
    this.pending.clear();
  }
}

/**
 * The load generator, plain JavaScript run by a worker thread: per target one keep-alive agent with
 * exactly `concurrency` sockets (kept from round to round, like a client that stays connected), and
 * `concurrency` loops each sending its next request when the previous answer has been read.
 */
const LOAD_WORKER = `
const { parentPort } = require('node:worker_threads');
const http = require('node:http');
const https = require('node:https');
const { performance } = require('node:perf_hooks');
const agents = new Map();
function agentFor(name, target, concurrency) {
  let agent = agents.get(name);
  if (!agent) {
    const options = { keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency };
    agent = target.tls ? new https.Agent({ ...options, ...target.tls }) : new http.Agent(options);
    agents.set(name, agent);
  }
  return agent;
}
function once(client, url, agent, headers) {
  return new Promise((resolve, reject) => {
    const req = client.request(url, { method: 'GET', agent, headers }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}
parentPort.on('message', async ({ id, name, target, ms, concurrency }) => {
  try {
    const client = target.url.startsWith('https:') ? https : http;
    // A fresh agent each run, its connections opened before the clock starts: the servers close idle
    // keep-alive connections between rounds (Node's 5 s keepAliveTimeout), and a reused socket the server
    // just closed would fail with ECONNRESET.
    agents.get(name)?.destroy();
    agents.delete(name);
    const agent = agentFor(name, target, concurrency);
    const check = (status) => {
      if (status !== 200) throw new Error(name + ' answered ' + status + ', expected 200');
    };
    for (const status of await Promise.all(Array.from({ length: concurrency }, () => once(client, target.url, agent, target.headers))))
      check(status);
    const started = performance.now();
    const deadline = started + ms;
    let count = 0;
    const loop = async () => {
      while (performance.now() < deadline) {
        check(await once(client, target.url, agent, target.headers));
        count++;
      }
    };
    await Promise.all(Array.from({ length: concurrency }, loop));
    parentPort.postMessage({ id, count, ms: performance.now() - started });
  } catch (err) {
    parentPort.postMessage({ id, error: name + ': ' + (err && err.message ? err.message : String(err)) });
  }
});
`;

/**
 * While measuring, lines written to stdout (the handlers' JSON log lines) are counted and dropped instead
 * of reaching the terminal; everything else is still built and written exactly as in Lambda.
 */
class StdoutSink {
  private original?: typeof process.stdout.write;
  private lines = 0;

  start(): void {
    if (this.original) return;
    this.original = process.stdout.write;
    this.lines = 0;
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      this.lines++;
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      if (callback) process.nextTick(callback);
      return typeof chunk === 'string' || chunk instanceof Uint8Array;
    }) as typeof process.stdout.write;
  }

  /** Restores stdout; returns how many writes were dropped. */
  stop(): number {
    if (this.original) {
      process.stdout.write = this.original;
      this.original = undefined;
    }
    return this.lines;
  }
}

function formatTable(
  variants: readonly VariantResult[],
  ratios: readonly RatioResult[],
  run: {
    rounds: number;
    roundMs: number;
    concurrency: number;
    inquiriesWhileMeasuring: number;
    droppedLogLines: number;
  },
): string {
  const rate = (n: number) => Math.round(n).toLocaleString('en-US');
  const lines = [
    `hot path: ${run.rounds} rounds × ${run.roundMs} ms per variant, ${run.concurrency} in flight, loopback, keep-alive`,
    '  variant      req/s (median)  rounds (req/s)',
    ...variants.map(
      (v) => `  ${v.name.padEnd(11)}  ${rate(v.median).padStart(14)}  ${v.perRound.map((x) => rate(x)).join(' ')}`,
    ),
    '  ratio                               median  range          target',
    ...ratios.map(
      (r) =>
        `  ${r.name.padEnd(34)}  ${r.median.toFixed(3).padStart(6)}  ${r.min.toFixed(3)}–${r.max.toFixed(3)}  ` +
        `≥ ${r.target} ${r.median >= r.target ? 'met' : 'missed'}`,
    ),
    `  Identity Plus inquiries while measuring: ${run.inquiriesWhileMeasuring} (0 = every decision a cache hit); ` +
      `${run.droppedLogLines.toLocaleString('en-US')} handler log lines dropped`,
  ];
  return lines.join('\n');
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function portOf(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** `count` ports the OS says are free right now (bound and released). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

function bounded(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(max, Math.max(min, Math.floor(value)));
}
