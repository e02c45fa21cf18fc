/**
 * Benchmark: inquiries per second through one pooled keep-alive client versus a new client (new TLS
 * connection, full mutual TLS handshake) per inquiry, against the simulator on loopback in this process.
 * The design expects pooling to be worth at least 20x (measured ~50x on loopback when it was chosen).
 */
import { performance } from 'node:perf_hooks';
import { IdentityPlusClient, type IdentityPlusClientOptions } from '../functions/adapters/identity-plus-client';
import { demoSeed, generateDevPki } from '../local/dev-pki';
import { IdentityPlusSimulator } from '../local/identity-plus-simulator';

/** Options of {@link benchIdentityPlusPool}; every count and duration is bounded. */
export interface IdentityPlusPoolBenchOptions {
  /** Inquiries through the pooled client. @default 2000 */
  readonly pooledInquiries?: number;
  /** Inquiries with a new client each. @default 200 */
  readonly newConnectionInquiries?: number;
  /** The measurement stops early after this much wall time. @default 30000 */
  readonly maxMs?: number;
}

/** One measured mode. */
export interface ModeResult {
  readonly inquiries: number;
  /** Time counted for this mode only. */
  readonly ms: number;
  readonly perSecond: number;
  readonly connectionsOpened: number;
}

/** What the benchmark measured, plus a one-line summary. */
export interface IdentityPlusPoolBenchResult {
  readonly name: 'identity-plus-pool';
  readonly pooled: ModeResult;
  /** Timed without building the client: a fresh TLS connection and handshake per inquiry. */
  readonly newConnection: ModeResult;
  /** Fresh client per inquiry with its construction timed too. */
  readonly newClientPerSecond: number;
  readonly ratio: number;
  readonly target: number;
  readonly summary: string;
}

const TARGET_RATIO = 20;
const WARM_UP = 50;
// Both modes run in alternating slices so a burst of load from elsewhere on the machine hits both
// alike: the ratio stays meaningful even when the absolute rates are not.
const SLICES = 10;

/** Runs the pooled versus new-connection benchmark and returns the rates and their ratio. */
export async function benchIdentityPlusPool(
  opts: IdentityPlusPoolBenchOptions = {},
): Promise<IdentityPlusPoolBenchResult> {
  const pooledCount = bounded(opts.pooledInquiries ?? 2000, SLICES, 100_000);
  const newCount = bounded(opts.newConnectionInquiries ?? 200, SLICES, 10_000);
  const maxMs = bounded(opts.maxMs ?? 30_000, 100, 300_000);

  const pki = await generateDevPki();
  const sim = new IdentityPlusSimulator({
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
    apiClients: [pki.api.cert],
    host: '127.0.0.1',
    port: 0,
    seed: demoSeed(pki),
  });
  await sim.start();
  const options: IdentityPlusClientOptions = {
    apiUrl: sim.apiUrl,
    signonUrl: sim.signonUrl,
    credentials: { certificate: pki.api.cert, privateKey: pki.api.key },
    extraCa: pki.caChain,
  };
  const serial = pki.devices.alice.serial;
  const pooledClient = new IdentityPlusClient(options);
  try {
    for (let i = 0; i < WARM_UP; i++) await expectProfile(pooledClient.inquire(serial));

    const pooled = { inquiries: 0, ms: 0 };
    const fresh = { inquiries: 0, ms: 0, constructionMs: 0, connectionsOpened: 0 };
    const started = performance.now();
    for (let slice = 0; slice < SLICES && performance.now() - started < maxMs; slice++) {
      const sliceStarted = performance.now();
      const pooledTarget = Math.round((pooledCount * (slice + 1)) / SLICES);
      while (pooled.inquiries < pooledTarget) {
        await expectProfile(pooledClient.inquire(serial));
        pooled.inquiries++;
      }
      pooled.ms += performance.now() - sliceStarted;

      // A fresh client per inquiry means a fresh Agent: new TCP connection, full mutual TLS handshake, no
      // session resumption. Building it (a secure context holding the ~140 system roots) is timed apart,
      // so the headline ratio is about connections alone.
      const freshTarget = Math.round((newCount * (slice + 1)) / SLICES);
      while (fresh.inquiries < freshTarget && performance.now() - started < maxMs) {
        const built = performance.now();
        const once = new IdentityPlusClient(options);
        const asking = performance.now();
        fresh.constructionMs += asking - built;
        try {
          await expectProfile(once.inquire(serial));
        } finally {
          await once.close();
        }
        fresh.ms += performance.now() - asking;
        fresh.inquiries++;
        fresh.connectionsOpened += once.stats.connectionsOpened;
      }
    }

    const pooledResult: ModeResult = {
      inquiries: pooled.inquiries,
      ms: pooled.ms,
      perSecond: (pooled.inquiries * 1000) / pooled.ms,
      connectionsOpened: pooledClient.stats.connectionsOpened,
    };
    const newConnection: ModeResult = {
      inquiries: fresh.inquiries,
      ms: fresh.ms,
      perSecond: (fresh.inquiries * 1000) / fresh.ms,
      connectionsOpened: fresh.connectionsOpened,
    };
    const newClientPerSecond = (fresh.inquiries * 1000) / (fresh.ms + fresh.constructionMs);
    const ratio = pooledResult.perSecond / newConnection.perSecond;
    const summary =
      `pooled: ${Math.round(pooledResult.perSecond)}/s  new-connection: ${Math.round(newConnection.perSecond)}/s  ` +
      `ratio: ${ratio.toFixed(1)}x (target >= ${TARGET_RATIO})` +
      `  [new client per inquiry incl. building it: ${Math.round(newClientPerSecond)}/s, ` +
      `${(pooledResult.perSecond / newClientPerSecond).toFixed(1)}x; ` +
      `${pooledResult.inquiries} pooled inquiries over ${pooledResult.connectionsOpened} connection(s); ` +
      `${newConnection.inquiries} new-connection inquiries over ${newConnection.connectionsOpened} connections]`;
    return {
      name: 'identity-plus-pool',
      pooled: pooledResult,
      newConnection,
      newClientPerSecond,
      ratio,
      target: TARGET_RATIO,
      summary,
    };
  } finally {
    await pooledClient.close();
    await sim.stop();
  }
}

async function expectProfile(answer: ReturnType<IdentityPlusClient['inquire']>): Promise<void> {
  const result = await answer;
  // A benchmark that measures problem answers or errors would measure the wrong thing.
  if (result.kind !== 'profile') throw new Error(`benchmark expected a profile, got ${result.outcome}`);
}

function bounded(value: number, min: number, max: number): number {
  if (!Number.isFinite(value)) return min;
  return Math.min(max, Math.max(min, Math.floor(value)));
}
