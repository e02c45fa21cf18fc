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
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { EDGE_ROUTES, SERVICE_ROUTES } from '../functions/config/names';
import { buildProxyEvent } from '../local/api-gateway-event';
import { lambdaContext } from '../local/gateway';
import { type RunningLocalMode, startLocalMode } from '../local/local-mode';
import {
  LoadClient,
  type LoadTarget,
  type Timed,
  bounded,
  closeServer,
  formatTable,
  freePorts,
  measureRounds,
  median,
  pairOrder,
  portOf,
  roundRatios,
} from './load';

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

    const load = new LoadClient('hot-path');
    cleanups.push(() => load.close());
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
    const { done, perRound, counts } = await measureRounds({
      names: VARIANTS,
      rounds,
      roundMs,
      maxMs,
      // Each ratio's two variants run back to back, so one burst of load from elsewhere hits both; the
      // pairs take turns going first, and so do the two variants of a pair.
      order: (round) => pairOrder(RATIOS, round),
      run: (name, ms) => runners[name](ms),
    });
    const inquiriesWhileMeasuring = (local.simulator?.stats().inquiries ?? 0) - inquiriesBefore;
    const dropped = sink.stop();

    const variants = VARIANTS.map((name) => ({
      name,
      perRound: perRound[name],
      median: median(perRound[name]),
      requests: counts[name],
    }));
    const ratios = RATIOS.map((r) => ({ ...r, ...roundRatios(perRound[r.of], perRound[r.against]) }));
    const table = formatTable(
      `hot path: ${done} rounds × ${roundMs} ms per variant, ${concurrency} in flight, loopback, keep-alive`,
      variants,
      ratios,
      [
        `Identity Plus inquiries while measuring: ${inquiriesWhileMeasuring} (0 = every decision a cache hit); ` +
          `${dropped.toLocaleString('en-US')} handler log lines dropped`,
      ],
    );
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
