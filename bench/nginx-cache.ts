/**
 * Benchmark (issue 12): nginx in front of plusgate with the example's cache of allows, against nginx alone,
 * on a repeat request, all in one process tree on loopback. One nginx master (Debian's package) serves two
 * servers side by side, with the same main configuration:
 * - `nginx-alone`: the example's `listen`, `server_name` and every `ssl_*` line (the same server certificate,
 *   the dev CA as client CA, `ssl_verify_client on`), proxying straight to the upstream app; no auth_request;
 * - `nginx-example`: examples/nginx/plusgate-forward-auth.conf exactly as shipped (its cache of allows on),
 *   placeholders filled as test/e2e/nginx-forward-auth.test.ts fills them, except that {{VERIFY_URL}} is local
 *   mode's service API itself (the e2e test's recording hop left out), in front of the same upstream app (a
 *   Node http server answering a small 200).
 * The ratio nginx-example ÷ nginx-alone has issue 12's target ≥ 0.5.
 *
 * Local mode runs as `npm start` in a process of its own, as the e2e test starts it: the handler modules
 * read their configuration (truststore, Identity Plus URL, secrets endpoint) once at import, so a second
 * in-process local mode after `hot-path` in the same `npm run bench` would get the first one's. It is
 * spawned here (not with the tests' startNpm, which does not stop a child that never prints its ready
 * line) and is ready when its service API answers.
 *
 * Before measuring it checks that the example's first request for alice reaches plusgate (X-Plusgate-Cache
 * MISS, one more decision on plusgate's /metrics) and the second is answered from nginx's cache (HIT, no
 * decision); the table reports the decisions plusgate made during the whole run (1 = only that first one).
 * The load is hot-path's: a worker thread, keep-alive agents presenting alice's certificate, 8 requests in
 * flight, the same URL every time, the two variants interleaved round by round. The target is printed,
 * never enforced; a wrong status or a failed request makes the benchmark fail. Without nginx it says so
 * and skips. nginx and local mode are stopped (process groups, also when the benchmark fails or is
 * interrupted) and the temporary folder removed.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SERVICE_ROUTES } from '../functions/config/names';
import { devPkiPaths, loadOrCreateDevPki } from '../local/dev-pki-files';
import { REPO_ROOT, localModeArgs } from '../test/support/processes';
import { nginxMainConfig } from '../test/support/proxy-harness';
import {
  LoadClient,
  type LoadTarget,
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

/** Options of {@link benchNginxCache}; every count and duration is bounded. */
export interface NginxCacheBenchOptions {
  /** Measured rounds; each runs both variants once. @default 10 (1–30) */
  readonly rounds?: number;
  /** Time each variant runs in one round. @default 1000 (200–10,000) */
  readonly roundMs?: number;
  /** Requests in flight per variant. @default 8 (1–64) */
  readonly concurrency?: number;
  /** No new round starts after this much wall time (setup excluded). @default 90000 */
  readonly maxMs?: number;
  /** The nginx binary; skipped when it does not run. @default `nginx` on PATH, else /usr/sbin/nginx */
  readonly nginx?: string;
}

type VariantName = 'nginx-alone' | 'nginx-example';

/** Requests per second of one variant. */
export interface NginxVariantResult {
  readonly name: VariantName;
  readonly perRound: readonly number[];
  readonly median: number;
  readonly requests: number;
}

/** What the benchmark measured, plus its table and a one-line summary. */
export interface NginxCacheBenchResult {
  readonly name: 'nginx-cache';
  readonly rounds: number;
  readonly roundMs: number;
  readonly concurrency: number;
  readonly variants: readonly NginxVariantResult[];
  /** nginx-example ÷ nginx-alone, the median of the per-round ratios. */
  readonly ratio: {
    readonly perRound: readonly number[];
    readonly median: number;
    readonly min: number;
    readonly max: number;
    readonly target: number;
  };
  /** Decisions plusgate made (each a GET /verify nginx sent) during the whole run: 1 = only the first request. */
  readonly verifyCalls: number;
  readonly table: string;
  readonly summary: string;
}

/** The benchmark did not run: nginx is not installed. */
export interface NginxCacheBenchSkipped {
  readonly name: 'nginx-cache';
  readonly skipped: string;
  readonly summary: string;
}

const RATIO = {
  name: 'nginx + plusgate example (cached) ÷ nginx alone',
  of: 'nginx-example',
  against: 'nginx-alone',
  target: 0.5,
} as const;
const VARIANTS: readonly VariantName[] = ['nginx-alone', 'nginx-example'];
const WARM_UP_MS = 500;
const EXAMPLE = path.join(REPO_ROOT, 'examples', 'nginx', 'plusgate-forward-auth.conf');
/** The one URL every request asks for, on either server. */
const ROUTE = '/app/orders?page=2';
const UPSTREAM_BODY = JSON.stringify({ ok: true, app: 'upstream' });
/** Where nginx may be: on PATH, or Debian's place (not on a non-root PATH). */
const NGINX_CANDIDATES = ['nginx', '/usr/sbin/nginx'];

/** Runs the benchmark; prints its table (or why it skipped) and returns it with the rates and the ratio. */
export async function benchNginxCache(
  opts: NginxCacheBenchOptions = {},
): Promise<NginxCacheBenchResult | NginxCacheBenchSkipped> {
  const rounds = bounded(opts.rounds ?? 10, 1, 30);
  const roundMs = bounded(opts.roundMs ?? 1000, 200, 10_000);
  const concurrency = bounded(opts.concurrency ?? 8, 1, 64);
  const maxMs = bounded(opts.maxMs ?? 90_000, 1000, 300_000);

  const candidates = opts.nginx === undefined ? NGINX_CANDIDATES : [opts.nginx];
  const nginxBinary = candidates.find((candidate) => spawnSync(candidate, ['-v']).status === 0);
  if (!nginxBinary) {
    const skipped = 'nginx is not installed (apt-get install nginx)';
    console.log(
      `nginx-cache: skipped: nginx is not installed (looked for ${candidates.join(' and ')}). ` +
        'Install it to run this benchmark: apt-get install nginx (Debian, Ubuntu).',
    );
    return { name: 'nginx-cache', skipped, summary: `skipped: ${skipped}` };
  }

  const dir = await mkdtemp(path.join(tmpdir(), 'plusgate-bench-nginx-cache-'));
  const guard = new ChildGuard(dir);
  const cleanups: Array<() => Promise<void>> = [async () => rmSync(dir, { recursive: true, force: true })];
  try {
    const [gateway, simulator, dynamodb, service, alonePort, examplePort] = await freePorts(6);
    // The dev PKI first, so nginx, the client and local mode (which loads it from the same folder) share it.
    const dataDir = path.join(dir, 'data');
    const pki = await loadOrCreateDevPki(dataDir);
    const files = devPkiPaths(dataDir);
    const alice = pki.devices.alice;

    const upstream = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(UPSTREAM_BODY) });
      res.end(UPSTREAM_BODY);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => closeServer(upstream));

    const origin = `https://localhost:${examplePort}`;
    const local = startChild(
      'npm',
      [
        'start',
        '--silent',
        '--',
        ...localModeArgs(dataDir, { gateway, simulator, dynamodb, service }),
        // Longer than any run: the allow nginx keeps (max-age) does not expire while measuring.
        '--decision-cache-seconds',
        '3600',
        '--allowed-return-origins',
        origin,
        '--quiet',
      ],
      'SIGINT',
      guard,
    );
    cleanups.push(() => local.stop());
    const decisionsUrl = `http://127.0.0.1:${service}/metrics`;
    // The service API starts last: once it answers, all of local mode is up.
    await waitFor('local mode', local, 60_000, async () => (await fetch(decisionsUrl)).ok);

    const nginxDir = path.join(dir, 'nginx');
    mkdirSync(nginxDir, { recursive: true });
    const config = path.join(nginxDir, 'nginx.conf');
    const placeholders = {
      SERVER_CERT: files.server.cert,
      SERVER_KEY: files.server.key,
      CLIENT_CA: files.caChain,
      VERIFY_URL: `http://127.0.0.1:${service}${SERVICE_ROUTES.VERIFY}`,
      PUBLIC_ORIGIN: origin,
      UPSTREAM: `http://127.0.0.1:${portOf(upstream)}`,
      CACHE_DIR: path.join(nginxDir, 'plusgate-cache'),
    };
    const template = await readFile(EXAMPLE, 'utf8');
    const example = fillExample(template, { ...placeholders, LISTEN: `127.0.0.1:${examplePort}` });
    const alone = aloneServer(
      fillExample(template, { ...placeholders, LISTEN: `127.0.0.1:${alonePort}` }),
      placeholders.UPSTREAM,
    );
    await writeFile(config, nginxMainConfig(nginxDir, [alone, example]));
    const checked = spawnSync(nginxBinary, ['-t', '-p', nginxDir, '-c', config], { encoding: 'utf8' });
    if (checked.status !== 0) throw new Error(`nginx-cache: nginx -t refused the configuration:\n${checked.stderr}`);

    // SIGTERM: nginx's fast shutdown, master and worker.
    const nginx = startChild(nginxBinary, ['-p', nginxDir, '-c', config], 'SIGTERM', guard);
    cleanups.push(() => nginx.stop());

    const tls = { cert: alice.cert, key: alice.key, ca: pki.caChain, servername: 'localhost' };
    const targets: Record<VariantName, LoadTarget> = {
      'nginx-alone': { url: `https://127.0.0.1:${alonePort}${ROUTE}`, tls, headers: {} },
      'nginx-example': { url: `https://127.0.0.1:${examplePort}${ROUTE}`, tls, headers: {} },
    };

    // Ready when nginx alone answers (one master binds both servers' ports before it serves either). The
    // example is not asked yet: its first request is the MISS checked below.
    await waitFor('nginx', nginx, 10_000, async () => (await get(targets['nginx-alone'])).status === 200);

    const before = await decisions(decisionsUrl);
    const first = await get(targets['nginx-example']);
    const afterFirst = await decisions(decisionsUrl);
    const second = await get(targets['nginx-example']);
    const afterSecond = await decisions(decisionsUrl);
    const plain = await get(targets['nginx-alone']);
    const seen =
      `first ${first.status} ${first.cache || '-'} (+${afterFirst - before} decisions), ` +
      `second ${second.status} ${second.cache || '-'} (+${afterSecond - afterFirst}), alone ${plain.status}`;
    if (
      first.status !== 200 ||
      first.cache !== 'MISS' ||
      afterFirst - before !== 1 ||
      second.status !== 200 ||
      second.cache !== 'HIT' ||
      afterSecond !== afterFirst ||
      plain.status !== 200 ||
      plain.cache !== ''
    ) {
      // Measuring anything else than a repeat request answered from the cache would measure the wrong thing.
      throw new Error(
        `nginx-cache: expected the example to ask plusgate once (MISS) and then answer from its cache (HIT): ${seen}\n${nginx.output()}`,
      );
    }

    const load = new LoadClient('nginx-cache');
    cleanups.push(() => load.close());
    const run = (name: VariantName, ms: number) => load.run(name, targets[name], ms, concurrency);
    for (const name of VARIANTS) await run(name, WARM_UP_MS);
    // Back to back in every round, taking turns going first.
    const { done, perRound, counts } = await measureRounds({
      names: VARIANTS,
      rounds,
      roundMs,
      maxMs,
      order: (round) => pairOrder([RATIO], round),
      run,
    });
    const verifyCalls = (await decisions(decisionsUrl)) - before;

    const variants = VARIANTS.map((name) => ({
      name,
      perRound: perRound[name],
      median: median(perRound[name]),
      requests: counts[name],
    }));
    const ratio = { target: RATIO.target, ...roundRatios(perRound[RATIO.of], perRound[RATIO.against]) };
    const table = formatTable(
      `nginx cache: ${done} rounds × ${roundMs} ms per variant, ${concurrency} in flight, loopback, keep-alive`,
      variants,
      [{ name: RATIO.name, ...ratio }],
      [
        `nginx ${nginxVersion(nginxBinary)}, 1 worker; alice's certificate (mutual TLS), GET ${ROUTE} every time; ` +
          `upstream: a Node http server answering a ${Buffer.byteLength(UPSTREAM_BODY)}-byte 200`,
        `before measuring: ${seen}`,
        `decisions plusgate made in the whole run: ${verifyCalls} ` +
          '(1 = only the first request reached /verify; every later one was an nginx cache HIT)',
      ],
    );
    console.log(table);
    const summary =
      `${RATIO.of}/${RATIO.against} ×${ratio.median.toFixed(3)} (target ≥ ${RATIO.target}, ` +
      `${ratio.median >= RATIO.target ? 'met' : 'missed'}); /verify calls ${verifyCalls}`;
    return {
      name: 'nginx-cache',
      rounds: done,
      roundMs,
      concurrency,
      variants,
      ratio,
      verifyCalls,
      table,
      summary,
    };
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    guard.dispose();
  }
}

/**
 * The example with every `{{NAME}}` filled; throws when a directive (not a comment) still holds one, or
 * when the cache of allows is not on.
 */
function fillExample(template: string, values: Readonly<Record<string, string>>): string {
  let text = template;
  for (const [name, value] of Object.entries(values)) text = text.replaceAll(`{{${name}}}`, value);
  const directives = text.split('\n').filter((line) => !line.trim().startsWith('#'));
  const left = directives.join('\n').match(/\{\{\w*\}\}/g);
  if (left)
    throw new Error(`nginx-cache: the example has placeholders this benchmark does not fill: ${left.join(', ')}`);
  if (!directives.some((line) => /^\s*proxy_cache\s+plusgate_verify;/.test(line)))
    throw new Error(`nginx-cache: ${EXAMPLE} no longer turns its cache on (proxy_cache plusgate_verify)`);
  return text;
}

/** nginx alone: the example's listen, server_name and ssl_* lines (its TLS and mutual TLS), straight to the app. */
function aloneServer(filledExample: string, upstream: string): string {
  const tlsLines = filledExample.split('\n').filter((line) => /^\s*(listen|server_name|ssl_\w+)\s/.test(line));
  if (!tlsLines.some((line) => /^\s*ssl_verify_client\s+on;/.test(line)))
    throw new Error(`nginx-cache: no \`ssl_verify_client on\` found in ${EXAMPLE}`);
  return ['server {', ...tlsLines, '', '    location / {', `        proxy_pass ${upstream};`, '    }', '}'].join('\n');
}

function nginxVersion(binary: string): string {
  const out = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${out.stderr}${out.stdout}`)?.[1] ?? '?';
}

/** One GET with its own connection: the status and what nginx says about its cache ('' when it says nothing). */
function get(target: LoadTarget): Promise<{ status: number; cache: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(target.url, { ...target.tls, headers: target.headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => {
        const cache = res.headers['x-plusgate-cache'];
        resolve({ status: res.statusCode ?? 0, cache: typeof cache === 'string' ? cache : '' });
      });
      res.on('error', reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${target.url}: no answer in 5 s`)));
    req.on('error', reject);
  });
}

/** The decisions plusgate has made, all labels together (its Prometheus counter at the service API's /metrics). */
async function decisions(url: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('plusgate_decisions_total'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}

/** A child process in a process group of its own, its output's tail kept for error messages. */
interface Child {
  output(): string;
  exited(): boolean;
  /** `stopSignal` to the whole group, SIGKILL after 10 s; resolves once the child has exited. */
  stop(): Promise<void>;
}

function startChild(command: string, args: readonly string[], stopSignal: NodeJS.Signals, guard: ChildGuard): Child {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    detached: true,
    env: { ...process.env, FORCE_COLOR: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  guard.add(child, stopSignal);
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let done = false;
  const exit = new Promise<void>((resolve) => {
    const finish = () => {
      done = true;
      guard.remove(child);
      resolve();
    };
    child.once('exit', finish);
    child.once('error', (err) => {
      output += `\n${err.message}`;
      finish();
    });
  });
  return {
    output: () => output,
    exited: () => done,
    stop: async () => {
      // The group even when the child itself has gone: what it started (nginx's worker) may still run.
      signalGroup(child, stopSignal);
      if (done) return;
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 10_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

/** Retries `ready` every 100 ms until it is true; gives up when `child` exits or `timeoutMs` passes. */
async function waitFor(what: string, child: Child, timeoutMs: number, ready: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exited()) throw new Error(`nginx-cache: ${what} exited while starting:\n${child.output()}`);
    if (await ready().catch(() => false)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`nginx-cache: ${what} was not ready within ${timeoutMs} ms:\n${child.output()}`);
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    /* already gone */
  }
}
/**
 * The children this run started in process groups of their own (so a Ctrl-C at the terminal does not reach
 * them): if the benchmark process is interrupted or exits before its cleanup ran, each group gets its stop
 * signal and the temporary folder is removed.
 */
class ChildGuard {
  private readonly children = new Map<ChildProcess, NodeJS.Signals>();
  private readonly onSignal = (signal: NodeJS.Signals) => {
    this.stopAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  private readonly onExit = () => this.stopAll();

  constructor(private readonly dir: string) {
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
    process.once('exit', this.onExit);
  }

  add(child: ChildProcess, stopSignal: NodeJS.Signals): void {
    this.children.set(child, stopSignal);
  }

  remove(child: ChildProcess): void {
    this.children.delete(child);
  }

  dispose(): void {
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    process.off('exit', this.onExit);
  }

  private stopAll(): void {
    for (const [child, signal] of this.children) signalGroup(child, signal);
    this.children.clear();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
