/**
 * What the throughput benchmarks share: the HTTP load generator (a worker thread driving keep-alive agents),
 * rounds that interleave the variants, per-round ratios, the median/range table, and small helpers.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';

/** `count` ports the OS says are free right now (bound and released); the e2e tests' helper. */
export { freePorts } from '../test/support/processes';

/** An HTTP target of the load worker. */
export interface LoadTarget {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly tls?: { readonly cert: string; readonly key: string; readonly ca: string; readonly servername: string };
}

/** Answers counted (all 200) and the time they took. */
export interface Timed {
  readonly count: number;
  readonly ms: number;
}

interface LoadAnswer {
  readonly id: number;
  readonly count?: number;
  readonly ms?: number;
  readonly error?: string;
}

/**
 * Drives the load worker (its own thread, so its event loop does not share the servers'): one run at a
 * time, answered with the number of 200s (or an error, prefixed with `label`). {@link close} ends the worker.
 */
export class LoadClient {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (timed: Timed) => void; reject: (e: Error) => void }>();
  private readonly worker = new Worker(LOAD_WORKER, { eval: true });

  constructor(private readonly label: string) {
    this.worker.on('message', (answer: LoadAnswer) => {
      const waiting = this.pending.get(answer.id);
      this.pending.delete(answer.id);
      if (!waiting) return;
      if (answer.error !== undefined) waiting.reject(new Error(`${this.label}: ${answer.error}`));
      else waiting.resolve({ count: answer.count ?? 0, ms: answer.ms ?? Number.NaN });
    });
    this.worker.on('error', (err) => this.failAll(err));
    this.worker.on('exit', () => this.failAll(new Error(`${this.label}: the load worker exited`)));
    this.worker.unref();
  }

  /** `concurrency` requests in flight to `target` for `ms`, over connections opened before the clock starts. */
  run(name: string, target: LoadTarget, ms: number, concurrency: number): Promise<Timed> {
    const id = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, name, target, ms, concurrency });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
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

/** Two variants whose rates are divided round by round: `of` ÷ `against`. */
export interface Pair<N extends string> {
  readonly of: N;
  readonly against: N;
}

/** The order of round `round`: the pairs rotated by one each round, each pair's order flipped every other round. */
export function pairOrder<N extends string>(pairs: readonly Pair<N>[], round: number): N[] {
  const order: N[] = [];
  for (let i = 0; i < pairs.length; i++) {
    const pair = pairs[(round + i) % pairs.length] as Pair<N>;
    order.push(...(round % 2 === 0 ? [pair.against, pair.of] : [pair.of, pair.against]));
  }
  return order;
}

/** Rates of every variant, round by round. */
export interface Rounds<N extends string> {
  /** Rounds run (fewer than asked when `maxMs` ran out). */
  readonly done: number;
  /** Requests (or calls) per second of each variant, one entry per round. */
  readonly perRound: Readonly<Record<N, number[]>>;
  /** Requests (or calls) counted per variant over all rounds. */
  readonly counts: Readonly<Record<N, number>>;
}

/**
 * Runs up to `rounds` rounds, each running every variant for `roundMs` in the order `order(round)` gives;
 * no new round starts once `maxMs` has passed (the first always runs).
 */
export async function measureRounds<N extends string>(opts: {
  readonly names: readonly N[];
  readonly rounds: number;
  readonly roundMs: number;
  readonly maxMs: number;
  readonly order: (round: number) => readonly N[];
  readonly run: (name: N, ms: number) => Promise<Timed>;
}): Promise<Rounds<N>> {
  const perRound = Object.fromEntries(opts.names.map((name) => [name, [] as number[]])) as Record<N, number[]>;
  const counts = Object.fromEntries(opts.names.map((name) => [name, 0])) as Record<N, number>;
  const started = performance.now();
  let done = 0;
  for (let round = 0; round < opts.rounds && (round === 0 || performance.now() - started < opts.maxMs); round++) {
    for (const name of opts.order(round)) {
      const timed = await opts.run(name, opts.roundMs);
      counts[name] += timed.count;
      perRound[name].push((timed.count * 1000) / timed.ms);
    }
    done++;
  }
  return { done, perRound, counts };
}

/** Per-round ratios of two variants' rates (each round pairs the two under the same noise), their median and range. */
export function roundRatios(
  of: readonly number[],
  against: readonly number[],
): { perRound: number[]; median: number; min: number; max: number } {
  const each = of.map((rate, i) => rate / (against[i] ?? Number.NaN));
  return { perRound: each, median: median(each), min: Math.min(...each), max: Math.max(...each) };
}

/** A table row: one variant's rates. */
export interface RateRow {
  readonly name: string;
  readonly perRound: readonly number[];
  readonly median: number;
}

/** A table row: one ratio with its target. */
export interface RatioRow {
  readonly name: string;
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly target: number;
}

/** The title, each variant's median and per-round rates, each ratio's median, range and target, then `notes`. */
export function formatTable(
  title: string,
  variants: readonly RateRow[],
  ratios: readonly RatioRow[],
  notes: readonly string[],
): string {
  const rate = (n: number) => Math.round(n).toLocaleString('en-US');
  const variantWidth = Math.max(11, ...variants.map((v) => v.name.length));
  const ratioWidth = Math.max(34, ...ratios.map((r) => r.name.length));
  const lines = [
    title,
    `  ${'variant'.padEnd(variantWidth)}  req/s (median)  rounds (req/s)`,
    ...variants.map(
      (v) =>
        `  ${v.name.padEnd(variantWidth)}  ${rate(v.median).padStart(14)}  ${v.perRound.map((x) => rate(x)).join(' ')}`,
    ),
    `  ${'ratio'.padEnd(ratioWidth)}  median  range          target`,
    ...ratios.map(
      (r) =>
        `  ${r.name.padEnd(ratioWidth)}  ${r.median.toFixed(3).padStart(6)}  ${r.min.toFixed(3)}–${r.max.toFixed(3)}  ` +
        `≥ ${r.target} ${r.median >= r.target ? 'met' : 'missed'}`,
    ),
    ...notes.map((note) => `  ${note}`),
  ];
  return lines.join('\n');
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function portOf(server: http.Server): number {
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

export function bounded(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(max, Math.max(min, Math.floor(value)));
}
