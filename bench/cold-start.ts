/**
 * Benchmark: the cold start of each Lambda bundle. Bundles every `functions/handlers/<name>.ts` the way
 * PlusgateFunction has CDK do it (esbuild: bundle, cjs, minify, target node22, source map without sources
 * content, `@aws-sdk/*` external), then, in fresh `node --enable-source-maps` processes (as NODE_OPTIONS
 * sets in Lambda), times `require` of the bundle and its first invocation. The auth-path functions (edge,
 * verify, authorizer) get a realistic event for alice's device certificate, and the first invocation does
 * all of it: the secrets fetch from a Secrets Manager emulator, building the Identity Plus client (secure
 * context and agent), a full mutual TLS handshake and one inquiry against the simulator, the ledger write in
 * dynalite, and the answer. The other functions are only required. All on loopback; the local node runs the
 * node22-targeted code. Also times building the Identity Plus secure context with and without a copy of the
 * system roots (the edge is run once more with the extra-CA setting, which copies them, to show the effect).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { build } from 'esbuild';
import { buildSecureContext } from '../functions/adapters/identity-plus-credentials';
import { ENV } from '../functions/config/names';
import { buildProxyEvent } from '../local/api-gateway-event';
import { type DevPki, demoSeed, generateDevPki } from '../local/dev-pki';
import { ensureRecordsTable, localDynamoClient, startDynalite } from '../local/dynamodb-local';
import { IdentityPlusSimulator } from '../local/identity-plus-simulator';
import { FUNCTION_BUNDLING } from '../lib/function-bundling';
import { initialApiCertSecret } from '../local/local-api-cert';
import { SecretsManagerEmulator } from '../local/secrets-manager-emulator';

/** Options of {@link benchColdStart}; every count and duration is bounded. */
export interface ColdStartBenchOptions {
  /** Fresh processes per bundle (the median is reported). @default 5 */
  readonly runs?: number;
  /** No new process is started after this much wall time. @default 100000 */
  readonly maxMs?: number;
}

/** One bundle: its size and, per fresh process, what its cold start took. */
export interface BundleResult {
  readonly name: string;
  readonly bytes: number;
  /** Bytes of the minified output that come from undici. */
  readonly undiciBytes: number;
  /** Median `require` of the bundle, ms. */
  readonly requireMs: number;
  /** Median first invocation, ms; undefined for the functions only required. */
  readonly firstInvocationMs?: number;
  /** Median second invocation (warm, decision cached), ms. */
  readonly secondInvocationMs?: number;
  readonly runs: number;
}

/** What the benchmark measured, plus a one-line summary. */
export interface ColdStartBenchResult {
  readonly name: 'cold-start';
  readonly bundles: readonly BundleResult[];
  /** The edge with the extra-CA setting: its secure context holds a copy of every system root. */
  readonly edgeWithRootsCopy?: BundleResult;
  /** Median build of the Identity Plus secure context, ms, without and with the roots copied into `ca`. */
  readonly secureContext: { readonly defaultRootsMs: number; readonly rootsCopiedMs: number };
  readonly target: { readonly edgeRequirePlusFirstMs: number };
  readonly summary: string;
}

const ROOT = path.resolve(__dirname, '..');
const HANDLERS_DIR = path.join(ROOT, 'functions', 'handlers');
// Under the repository (git-ignored) so the bundles resolve `@aws-sdk/*` from its node_modules, as Lambda
// resolves them from the runtime's.
const OUT_DIR = path.join(ROOT, '.bench', 'cold-start');
const TARGET_EDGE_MS = 200;
const SECURE_CONTEXT_SAMPLES = 20;
const PROCESS_TIMEOUT_MS = 20_000;
const API_CERT_SECRET = 'plusgate/bench/api-cert';
const STATE_KEY_SECRET = 'plusgate/bench/state-key';
const TABLE_NAME = 'plusgate-records';
const PUBLIC_ORIGIN = 'https://auth.example.com';
const RESULT_MARK = '@@cold-start ';

/** The process a bundle is started in: requires it, invokes it twice with the event (if any), reports. */
const CHILD = `'use strict';
const { performance } = require('node:perf_hooks');
const [bundle, eventFile] = process.argv.slice(2);
const started = performance.now();
const mod = require(bundle);
const required = performance.now();
const context = (id) => ({
  functionName: 'plusgate-bench', functionVersion: '$LATEST', memoryLimitInMB: '512', awsRequestId: id,
  invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:plusgate-bench',
  logGroupName: '/aws/lambda/plusgate-bench', logStreamName: 'bench', callbackWaitsForEmptyEventLoop: true,
  getRemainingTimeInMillis: () => 25000, done() {}, fail() {}, succeed() {},
});
(async () => {
  const out = { bootMs: started, requireMs: required - started };
  if (eventFile) {
    const event = JSON.parse(require('node:fs').readFileSync(eventFile, 'utf8'));
    const t0 = performance.now();
    const first = await mod.handler(event, context('cold-1'));
    const t1 = performance.now();
    const second = await mod.handler(event, context('warm-2'));
    const t2 = performance.now();
    Object.assign(out, { firstMs: t1 - t0, secondMs: t2 - t1, first: outcome(first), second: outcome(second) });
  }
  process.stdout.write('\\n${RESULT_MARK}' + JSON.stringify(out) + '\\n');
  process.exit(0); // Lambda would freeze here; pooled sockets must not keep the process up.
})().catch((err) => {
  process.stdout.write('\\n${RESULT_MARK}' + JSON.stringify({ error: String(err && err.stack || err) }) + '\\n');
  process.exit(1);
});
function outcome(result) {
  if (result && typeof result.statusCode === 'number') return 'HTTP ' + result.statusCode;
  const effect = result && result.policyDocument && result.policyDocument.Statement[0].Effect;
  return effect ? 'policy ' + effect : 'unknown';
}
`;

interface ChildResult {
  readonly bootMs: number;
  readonly requireMs: number;
  readonly firstMs?: number;
  readonly secondMs?: number;
  readonly first?: string;
  readonly second?: string;
  readonly error?: string;
}

interface Subject {
  readonly label: string;
  readonly bundle: string;
  readonly eventFile?: string;
  /** What the first and second invocation must answer. */
  readonly expect?: string;
  readonly env: NodeJS.ProcessEnv;
}

/** Bundles, starts the loopback services, runs each bundle in fresh processes and returns the medians. */
export async function benchColdStart(opts: ColdStartBenchOptions = {}): Promise<ColdStartBenchResult> {
  const runs = bounded(opts.runs ?? 5, 1, 50);
  const maxMs = bounded(opts.maxMs ?? 100_000, 1_000, 600_000);
  const started = performance.now();

  const names = readdirSync(HANDLERS_DIR)
    .filter((file) => file.endsWith('.ts') && !file.endsWith('-app.ts'))
    .map((file) => file.slice(0, -3))
    .sort();
  await fs.rm(OUT_DIR, { recursive: true, force: true });
  await fs.mkdir(OUT_DIR, { recursive: true });
  const sizes = new Map<string, { bytes: number; undiciBytes: number }>();
  for (const name of names) sizes.set(name, await bundle(name));

  const pki = await generateDevPki();
  const secureContext = timeSecureContext(pki);
  const caFile = path.join(OUT_DIR, 'dev-ca-chain.pem');
  await fs.writeFile(caFile, pki.caChain);
  const childFile = path.join(OUT_DIR, 'child.js');
  await fs.writeFile(childFile, CHILD);

  const stops: Array<() => Promise<void>> = [];
  try {
    const sim = new IdentityPlusSimulator({
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
      apiClients: [pki.api.cert],
      host: '127.0.0.1',
      port: 0,
      seed: demoSeed(pki),
    });
    await sim.start();
    stops.push(() => sim.stop());
    const dynalite = await startDynalite();
    stops.push(() => dynalite.stop());
    await ensureRecordsTable(localDynamoClient(dynalite.endpoint), TABLE_NAME);
    const secrets = new SecretsManagerEmulator({
      secrets: {
        [API_CERT_SECRET]: JSON.stringify(initialApiCertSecret(pki)),
        [STATE_KEY_SECRET]: randomBytes(32).toString('base64url'),
      },
    });
    await secrets.start();
    stops.push(() => secrets.stop());

    // As in Lambda: no extra CA setting, so the client verifies against Node's default store; the dev CA
    // is in that store through NODE_EXTRA_CA_CERTS, as a public CA is in it for api.identity.plus.
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      NODE_EXTRA_CA_CERTS: caFile,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: secrets.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: secrets.credentials.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: path.join(OUT_DIR, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: path.join(OUT_DIR, 'no-aws-credentials'),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
      [ENV.TABLE_NAME]: TABLE_NAME,
      [ENV.API_CERT_SECRET]: API_CERT_SECRET,
      [ENV.STATE_KEY_SECRET]: STATE_KEY_SECRET,
      [ENV.IDENTITY_PLUS_API_URL]: sim.apiUrl,
      [ENV.IDENTITY_PLUS_SIGNON_URL]: sim.signonUrl,
      [ENV.PUBLIC_ORIGIN]: PUBLIC_ORIGIN,
      [ENV.TRUSTSTORE_FILE]: caFile,
      [ENV.REPORTS_BUCKET]: 'plusgate-bench-reports',
    };
    const events = await writeEvents(pki);
    const subjects: Subject[] = names.map((name) => ({
      label: name,
      bundle: path.join(OUT_DIR, name, 'index.js'),
      env,
      ...(events[name] ?? {}),
    }));
    const edge = subjects.find((s) => s.label === 'edge');
    if (edge) {
      subjects.push({
        ...edge,
        label: 'edge+rootsCopy',
        env: { ...env, NODE_EXTRA_CA_CERTS: undefined, [ENV.IDENTITY_PLUS_EXTRA_CA]: pki.caChain },
      });
    }

    // Interleaved (one process per subject per round) so a burst of load elsewhere hits all alike.
    const samples = new Map<string, ChildResult[]>(subjects.map((s) => [s.label, []]));
    for (let round = 0; round < runs && performance.now() - started < maxMs; round++) {
      for (const subject of subjects) {
        const result = await runChild(childFile, subject);
        if (result.error) throw new Error(`${subject.label}: ${result.error}`);
        if (subject.expect && (result.first !== subject.expect || result.second !== subject.expect)) {
          throw new Error(
            `${subject.label} answered ${result.first} then ${result.second}, expected ${subject.expect}`,
          );
        }
        samples.get(subject.label)?.push(result);
      }
    }

    const resultOf = (label: string, name: string): BundleResult => {
      const taken = samples.get(label) ?? [];
      const size = sizes.get(name) ?? { bytes: 0, undiciBytes: 0 };
      const invoked = taken.filter((r) => r.firstMs !== undefined);
      return {
        name: label,
        ...size,
        requireMs: median(taken.map((r) => r.requireMs)),
        ...(invoked.length > 0
          ? {
              firstInvocationMs: median(invoked.map((r) => r.firstMs ?? 0)),
              secondInvocationMs: median(invoked.map((r) => r.secondMs ?? 0)),
            }
          : {}),
        runs: taken.length,
      };
    };
    const bundles = names.map((name) => resultOf(name, name));
    const edgeWithRootsCopy = edge ? resultOf('edge+rootsCopy', 'edge') : undefined;
    const summary = summarize(bundles, edgeWithRootsCopy, secureContext);
    return {
      name: 'cold-start',
      bundles,
      ...(edgeWithRootsCopy ? { edgeWithRootsCopy } : {}),
      secureContext,
      target: { edgeRequirePlusFirstMs: TARGET_EDGE_MS },
      summary,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  }
}

/** esbuild with the functions' own options (lib/function-bundling.ts), as CDK's NodejsFunction runs it. */
async function bundle(name: string): Promise<{ bytes: number; undiciBytes: number }> {
  const outfile = path.join(OUT_DIR, name, 'index.js');
  const result = await build({
    entryPoints: [path.join(HANDLERS_DIR, `${name}.ts`)],
    bundle: true,
    platform: 'node',
    target: FUNCTION_BUNDLING.target,
    format: 'cjs',
    minify: FUNCTION_BUNDLING.minify,
    sourcemap: FUNCTION_BUNDLING.sourceMap,
    sourcesContent: FUNCTION_BUNDLING.sourcesContent,
    mainFields: [...FUNCTION_BUNDLING.mainFields],
    external: [...FUNCTION_BUNDLING.externalModules],
    outfile,
    metafile: true,
    logLevel: 'silent',
    absWorkingDir: ROOT,
  });
  let undiciBytes = 0;
  for (const [output, meta] of Object.entries(result.metafile.outputs)) {
    if (!output.endsWith('.js')) continue;
    for (const [input, used] of Object.entries(meta.inputs)) {
      if (input.includes('node_modules/undici/')) undiciBytes += used.bytesInOutput;
    }
  }
  return { bytes: (await fs.stat(outfile)).size, undiciBytes };
}

/** Realistic events for the auth-path functions, written to files for the child processes. */
async function writeEvents(pki: DevPki): Promise<Record<string, { eventFile: string; expect: string }>> {
  const host = new URL(PUBLIC_ORIGIN).host;
  const base = {
    rawQuery: '',
    body: Buffer.alloc(0),
    stage: 'prod',
    domainName: host,
    sourceIp: '203.0.113.9',
    now: new Date(),
    requestId: 'bench-request',
    forwarded: { proto: 'https', port: 443 },
  } as const;
  const cert = { pem: pki.devices.alice.cert };
  const whoami = buildProxyEvent({
    ...base,
    method: 'GET',
    path: '/whoami',
    resource: '/whoami',
    headers: { host, 'user-agent': 'curl/8.5.0', accept: '*/*' },
    clientCert: cert,
  });
  // Forward-auth: nginx passes the verified client certificate URL-encoded; no mutual TLS at this API.
  const verify = buildProxyEvent({
    ...base,
    method: 'GET',
    path: '/verify',
    resource: '/verify',
    headers: { host, 'user-agent': 'nginx', 'x-client-cert': encodeURIComponent(pki.devices.alice.cert) },
  });
  const authorizer = {
    ...buildProxyEvent({
      ...base,
      method: 'GET',
      path: '/orders',
      resource: '/orders',
      headers: { host, 'user-agent': 'curl/8.5.0' },
      clientCert: cert,
    }),
    type: 'REQUEST',
    methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abcdef1234/prod/GET/orders',
  };
  const write = async (name: string, event: APIGatewayProxyEvent | object): Promise<string> => {
    const file = path.join(OUT_DIR, `${name}.event.json`);
    await fs.writeFile(file, JSON.stringify(event));
    return file;
  };
  return {
    edge: { eventFile: await write('edge', whoami), expect: 'HTTP 200' },
    verify: { eventFile: await write('verify', verify), expect: 'HTTP 200' },
    authorizer: { eventFile: await write('authorizer', authorizer), expect: 'policy Allow' },
  };
}

/** One fresh process: `node --enable-source-maps child.js <bundle> [event]`, killed after a time limit. */
function runChild(childFile: string, subject: Subject): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    // PLUSGATE_BENCH_CPU_PROF=<folder> writes a V8 CPU profile of every child there (open it in Chrome DevTools).
    const profile = process.env.PLUSGATE_BENCH_CPU_PROF;
    const profiling = profile ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(profile)}`] : [];
    const args = [...profiling, childFile, subject.bundle, ...(subject.eventFile ? [subject.eventFile] : [])];
    const child = spawn(process.execPath, args, {
      env: subject.env,
      cwd: path.dirname(subject.bundle),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      err += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const line = out.split('\n').find((l) => l.startsWith(RESULT_MARK));
      if (!line) {
        const why = signal ? `killed by ${signal}` : `exit code ${code}`;
        reject(new Error(`${subject.label}: no result (${why}): ${err.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARK.length)) as ChildResult);
    });
  });
}

/** Median build of the Identity Plus secure context, without (`ca` left to Node) and with the roots copied. */
function timeSecureContext(pki: DevPki): { defaultRootsMs: number; rootsCopiedMs: number } {
  const credentials = { certificate: pki.api.cert, privateKey: pki.api.key };
  const time = (extraCa: string | undefined): number => {
    const t0 = performance.now();
    buildSecureContext(credentials, extraCa);
    return performance.now() - t0;
  };
  const without: number[] = [];
  const withRoots: number[] = [];
  for (let i = 0; i < SECURE_CONTEXT_SAMPLES; i++) {
    without.push(time(undefined));
    withRoots.push(time(pki.caChain));
  }
  return { defaultRootsMs: median(without), rootsCopiedMs: median(withRoots) };
}

function summarize(
  bundles: readonly BundleResult[],
  edgeWithRootsCopy: BundleResult | undefined,
  secureContext: { defaultRootsMs: number; rootsCopiedMs: number },
): string {
  const edge = bundles.find((b) => b.name === 'edge');
  const rows = [...bundles, ...(edgeWithRootsCopy ? [edgeWithRootsCopy] : [])].map((b) => {
    const total = b.requireMs + (b.firstInvocationMs ?? 0);
    const first = b.firstInvocationMs === undefined ? '' : ` + first ${ms(b.firstInvocationMs)}`;
    const second = b.secondInvocationMs === undefined ? '' : ` (second ${ms(b.secondInvocationMs)})`;
    const share = b.bytes > 0 ? Math.round((100 * b.undiciBytes) / b.bytes) : 0;
    const vsEdge = edge && edge.bytes > 0 ? ` ×${(b.bytes / edge.bytes).toFixed(2)} of edge` : '';
    return (
      `  ${b.name.padEnd(15)} ${kb(b.bytes).padStart(8)} (undici ${share} %${vsEdge})  ` +
      `require ${ms(b.requireMs)}${first} = ${ms(total)}${second}  [median of ${b.runs}]`
    );
  });
  const edgeTotal = edge ? edge.requireMs + (edge.firstInvocationMs ?? 0) : Number.NaN;
  const head =
    `edge require + first invocation ${ms(edgeTotal)} (target ≤ ${TARGET_EDGE_MS} ms: ` +
    `×${(edgeTotal / TARGET_EDGE_MS).toFixed(2)} of it); secure context ${secureContext.defaultRootsMs.toFixed(1)} ms ` +
    `with Node's default roots vs ${secureContext.rootsCopiedMs.toFixed(1)} ms with the roots copied ` +
    `(×${(secureContext.rootsCopiedMs / secureContext.defaultRootsMs).toFixed(0)}, median of ${SECURE_CONTEXT_SAMPLES})`;
  return [head, ...rows].join('\n');
}

function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] ?? Number.NaN) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

const ms = (value: number): string => `${Math.round(value)} ms`;
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KB`;

function bounded(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(max, Math.max(min, Math.floor(value)));
}
