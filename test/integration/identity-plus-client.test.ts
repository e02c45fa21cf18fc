/**
 * The Identity Plus client over real mutual TLS on loopback: against the simulator for answers, intents
 * and faults, and against small purpose-built servers for the pooled-socket retry and the timeouts.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import forge from 'node-forge';
import { IdentityPlusClient, type IdentityPlusClientOptions } from '../../functions/adapters/identity-plus-client';
import type { ApiCredentials } from '../../functions/adapters/identity-plus-credentials';
import { ConfigurationError, IdentityPlusError, InvalidInputError } from '../../functions/domain/errors';
import { demoSeed, issueCertificate, type DevPki } from '../../local/dev-pki';
import { testPki } from '../support/test-pki';
import { IdentityPlusSimulator } from '../../local/identity-plus-simulator';

const SHORT = { connectTimeoutMs: 500, answerTimeoutMs: 800 } as const;
// Timers, TLS and the event loop on a busy 2-core machine: generous but still far below a second.
const SLACK_MS = 400;

let pki: DevPki;
let sim: IdentityPlusSimulator;
const clients: IdentityPlusClient[] = [];

/** A client against the simulator with our API certificate (PEM) and the dev CA trusted. */
function client(overrides: Partial<IdentityPlusClientOptions> = {}): IdentityPlusClient {
  const created = new IdentityPlusClient({
    apiUrl: sim.apiUrl,
    signonUrl: sim.signonUrl,
    credentials: { certificate: pki.api.cert, privateKey: pki.api.key },
    extraCa: pki.caChain,
    ...SHORT,
    ...overrides,
  });
  clients.push(created);
  return created;
}

/** The IdentityPlusError a promise rejects with, and how long that took. */
async function failure(promise: Promise<unknown>): Promise<{ err: IdentityPlusError; ms: number }> {
  const started = performance.now();
  try {
    await promise;
  } catch (err) {
    if (err instanceof IdentityPlusError) return { err, ms: performance.now() - started };
    throw err;
  }
  throw new Error('expected the call to fail');
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

beforeAll(async () => {
  pki = await testPki();
  sim = new IdentityPlusSimulator({
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
    apiClients: [pki.api.cert],
    port: 0,
    seed: demoSeed(pki),
  });
  await sim.start();
});

afterEach(() => sim.reset());

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await sim?.stop();
});

describe('inquiries against the simulator', () => {
  let shared: IdentityPlusClient;
  beforeAll(() => {
    shared = client();
  });

  it('reads alice as OK 0001 with her roles and organisation data', async () => {
    const answer = await shared.inquire(pki.devices.alice.serial);
    if (answer.kind !== 'profile') throw new Error(`expected a profile, got ${answer.outcome}`);
    expect(answer.profile.outcome.slice(0, 7)).toBe('OK 0001');
    expect(answer.profile.serviceRoles).toEqual(['member']);
    expect(answer.profile.organizationalReference).toBe('org-ref-alice-0001');
    expect(answer.profile.organizationalEmail).toBe('alice@example.com');
    expect(answer.profile.localUserId).toBeUndefined();
  });

  it('reads erin as OK 0002 bound to a local user', async () => {
    const answer = await shared.inquire(pki.devices.erin.serial);
    if (answer.kind !== 'profile') throw new Error(`expected a profile, got ${answer.outcome}`);
    expect(answer.profile.outcome.slice(0, 7)).toBe('OK 0002');
    expect(answer.profile.localUserId).toBe('erin-local');
    expect(answer.profile.serviceRoles).toContain('org. administrator');
  });

  it.each([
    ['bob', 'PB 0003'],
    ['carol', 'PB 0004'],
    ['dave', 'PB 0006'],
  ] as const)('reads %s as the problem %s', async (person, code) => {
    const answer = await shared.inquire(pki.devices[person].serial);
    expect(answer.kind).toBe('problem');
    expect(answer.kind === 'problem' && answer.outcome.slice(0, 7)).toBe(code);
  });

  it('accepts the serial as 0x-hex and sends it as decimal', async () => {
    const hex = `0x${BigInt(pki.devices.alice.serial).toString(16)}`;
    const answer = await shared.inquire(hex, { service: 'managed.plusgate.local', ip: '203.0.113.7' });
    expect(answer.kind).toBe('profile');
  });

  it('keeps organisation custom fields', async () => {
    sim.setIdentity(pki.devices.alice.serial, {
      outcome: 'OK 0001 Subject anonymous certificate valid',
      roles: ['member'],
      customFields: { 'cost-center': 'CC-42', clearance: { level: 3 } },
    });
    const answer = await shared.inquire(pki.devices.alice.serial);
    expect(answer.kind === 'profile' && answer.profile.customFields).toEqual({
      'cost-center': 'CC-42',
      clearance: { level: 3 },
    });
  });

  it('serves concurrent inquiries, each with its own answer', async () => {
    const people = ['alice', 'erin', 'bob', 'carol', 'dave'] as const;
    const answers = await Promise.all([...people, ...people].map((p) => shared.inquire(pki.devices[p].serial)));
    const codes = answers.map((a) => (a.kind === 'profile' ? a.profile.outcome : a.outcome).slice(0, 7));
    expect(codes).toEqual([...Array(2)].flatMap(() => ['OK 0001', 'OK 0002', 'PB 0003', 'PB 0004', 'PB 0006']));
    expect(shared.stats.retries).toBe(0);
  });

  it('refuses a bad serial before calling Identity Plus', async () => {
    const before = sim.stats().apiRequests;
    await expect(shared.inquire('not-a-serial')).rejects.toThrow(InvalidInputError);
    expect(sim.stats().apiRequests).toBe(before);
  });

  it('keeps one pooled connection for 20 sequential inquiries', async () => {
    const pooled = client();
    for (let i = 0; i < 20; i++) await pooled.inquire(pki.devices.alice.serial);
    expect(sim.stats().inquiries).toBe(20);
    // undici may open a second socket when the second request follows the first within the same tick.
    expect(pooled.stats.connectionsOpened).toBeLessThanOrEqual(2);
    expect(pooled.stats.retries).toBe(0);
  });
});

describe('our API certificate', () => {
  it('works as PKCS#12 given as a Buffer or as base64', async () => {
    for (const p12 of [pki.api.p12, pki.api.p12.toString('base64')]) {
      const answer = await client({ credentials: { p12, password: pki.api.p12Password } }).inquire(
        pki.devices.alice.serial,
      );
      expect(answer.kind).toBe('profile');
    }
  });

  it('refuses a PKCS#12 with the wrong password when the client is built', () => {
    expect(() => client({ credentials: { p12: pki.api.p12, password: 'wrong' } })).toThrow(ConfigurationError);
  });

  it('is required: a certificate from a foreign CA is refused by the simulator', async () => {
    const { cert, key } = pki.devices.mallory;
    const mallory = client({ credentials: { certificate: cert, privateKey: key } });
    const { err } = await failure(mallory.inquire(pki.devices.alice.serial));
    expect(['tls', 'connection']).toContain(err.kind);
    expect(sim.stats().apiRequests).toBe(0);
    // A new connection that the server closes is not the stale-socket case: no retry.
    expect(mallory.stats.retries).toBe(0);
  });
});

describe('the server certificate', () => {
  it("is refused when not trusted by Node's default roots (no extraCa, no `ca` option)", async () => {
    const { err } = await failure(client({ extraCa: undefined }).inquire(pki.devices.alice.serial));
    expect(err.kind).toBe('tls');
    expect(err.message).toMatch(/^The TLS handshake with Identity Plus at .* failed: /);
    expect(sim.stats().apiRequests).toBe(0);
  });

  it('is refused when extraCa is some other CA (adding a CA never turns verification off)', async () => {
    const { err } = await failure(client({ extraCa: pki.foreignCa.cert }).inquire(pki.devices.alice.serial));
    expect(err.kind).toBe('tls');
  });

  it('is refused when it is trusted but issued for another host name', async () => {
    const otherHost = await issueCertificate(pki.intermediate, {
      subject: 'CN=other.example',
      usage: 'server',
      dnsNames: ['other.example'],
    });
    const server = https.createServer(
      { cert: otherHost.cert + pki.intermediate.cert, key: otherHost.key },
      (_req, res) => res.end('{}'),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const { err } = await failure(
        client({ apiUrl: `https://127.0.0.1:${port}/v1` }).inquire(pki.devices.alice.serial),
      );
      expect(err.kind).toBe('tls');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('intents', () => {
  it('creates an intent and builds the sign-on URL', async () => {
    const intent = await client().createIntent({ returnUrl: 'https://auth.example.com/return?state=s1' });
    expect(intent.outcome.slice(0, 7)).toBe('OK 0000');
    expect(intent.reference).not.toBe('');
    expect(intent.signonUrl).toBe(`${sim.signonUrl}/${encodeURIComponent(intent.reference)}`);
    expect(sim.stats().intents).toBe(1);
  });

  describe('against a service that only accepts discover', () => {
    let discoverOnly: IdentityPlusSimulator;
    beforeAll(async () => {
      discoverOnly = new IdentityPlusSimulator({
        tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
        apiClients: [pki.api.cert],
        port: 0,
        acceptedIntentTypes: ['discover'],
      });
      await discoverOnly.start();
    });
    afterAll(() => discoverOnly.stop());

    const against = (): IdentityPlusClient =>
      client({ apiUrl: discoverOnly.apiUrl, signonUrl: discoverOnly.signonUrl });

    it('sends discover by default: one intent', async () => {
      discoverOnly.reset();
      await against().createIntent({ returnUrl: 'https://auth.example.com/return' });
      expect(discoverOnly.stats().intents).toBe(1);
    });

    it('falls back from a configured validate to discover once, then sends discover directly', async () => {
      discoverOnly.reset();
      const c = client({ apiUrl: discoverOnly.apiUrl, signonUrl: discoverOnly.signonUrl, intentType: 'validate' });
      const first = await c.createIntent({ returnUrl: 'https://auth.example.com/return' });
      expect(first.signonUrl).toBe(`${discoverOnly.signonUrl}/${encodeURIComponent(first.reference)}`);
      expect(discoverOnly.stats().intents).toBe(2);
      await c.createIntent({ returnUrl: 'https://auth.example.com/return' });
      expect(discoverOnly.stats().intents).toBe(3);
    });

    it('does not fall back when the caller asked for validate explicitly', async () => {
      discoverOnly.reset();
      const { err } = await failure(against().createIntent({ returnUrl: 'https://a.example/r', type: 'validate' }));
      expect(err.kind).toBe('rejected');
      expect(err.outcome?.slice(0, 7)).toBe('ER 0009');
      expect(discoverOnly.stats().intents).toBe(1);
    });
  });
});

describe('faults of the simulator', () => {
  let shared: IdentityPlusClient;
  beforeAll(() => {
    shared = client();
  });

  it('http500 → http-status 500', async () => {
    sim.setFault({ mode: 'http500' });
    const { err } = await failure(shared.inquire(pki.devices.alice.serial));
    expect(err.kind).toBe('http-status');
    expect(err.statusCode).toBe(500);
    expect(err.message).toBe('Identity Plus answered HTTP 500.');
  });

  it('garbage → invalid-response', async () => {
    sim.setFault({ mode: 'garbage' });
    const { err } = await failure(shared.inquire(pki.devices.alice.serial));
    expect(err.kind).toBe('invalid-response');
  });

  it('drop → connection', async () => {
    sim.setFault({ mode: 'drop' });
    const { err, ms } = await failure(shared.inquire(pki.devices.alice.serial));
    expect(err.kind).toBe('connection');
    expect(ms).toBeLessThan(SHORT.connectTimeoutMs + SHORT.answerTimeoutMs);
  });

  it('latency beyond the answer timeout → timeout, within the timeout', async () => {
    sim.setFault({ mode: 'latency', latencyMs: 3000 });
    const { err, ms } = await failure(shared.inquire(pki.devices.alice.serial));
    expect(err.kind).toBe('timeout');
    expect(err.message).toBe(`Identity Plus did not answer within ${SHORT.answerTimeoutMs} ms.`);
    expect(ms).toBeGreaterThanOrEqual(SHORT.answerTimeoutMs - 50);
    expect(ms).toBeLessThan(SHORT.answerTimeoutMs + SLACK_MS);
    expect(sim.stats().inquiries).toBe(1); // a timeout is never retried
  });

  it('latency below the answer timeout is just slow', async () => {
    sim.setFault({ mode: 'latency', latencyMs: 200 });
    expect((await shared.inquire(pki.devices.alice.serial)).kind).toBe('profile');
  });

  it('a forced ER outcome is an answer, not a transport failure', async () => {
    sim.setFault({ mode: 'outcome', outcome: 'ER 1104 API certificate over the plan limit' });
    expect(await shared.inquire(pki.devices.alice.serial)).toMatchObject({
      kind: 'problem',
      outcome: 'ER 1104 API certificate over the plan limit',
    });
  });
});

/** A tiny mutual TLS server whose behaviour per request is chosen by the test. */
type Behaviour = 'answer' | 'drop-reused' | 'drop-all' | 'http500' | 'cut-reused' | 'hang' | 'huge';

describe('the pooled socket retry and the transport limits', () => {
  let server: https.Server;
  let behaviour: Behaviour = 'answer';
  let requests = 0;
  let connections = 0;
  const perSocket = new WeakMap<object, number>();
  let apiUrl = '';

  const PROFILE = JSON.stringify({ 'Identity-Profile': { outcome: 'OK 0001 valid', 'service-roles': ['member'] } });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    requests++;
    const onSocket = (perSocket.get(req.socket) ?? 0) + 1;
    perSocket.set(req.socket, onSocket);
    req.resume();
    const reused = onSocket > 1;
    switch (behaviour) {
      case 'drop-reused':
        if (reused) return void req.socket.destroy();
        break;
      case 'drop-all':
        return void req.socket.destroy();
      case 'http500':
        res.writeHead(500, { 'content-type': 'application/json' }).end(PROFILE);
        return;
      case 'cut-reused':
        if (reused) {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(PROFILE.length) });
          res.write(PROFILE.slice(0, 10));
          setTimeout(() => req.socket.destroy(), 20);
          return;
        }
        break;
      case 'hang':
        return; // headers never come
      case 'huge':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(`{"Identity-Profile":{"outcome":"OK 0001 v","pad":"${'x'.repeat(2 * 1024 * 1024)}"}}`);
        return;
      default:
        break;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(PROFILE);
  }

  beforeAll(async () => {
    server = https.createServer(
      { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain, requestCert: true, rejectUnauthorized: true },
      handle,
    );
    server.on('secureConnection', () => connections++);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    apiUrl = `https://localhost:${(server.address() as AddressInfo).port}/v1`;
  });
  beforeEach(() => {
    behaviour = 'answer';
    requests = 0;
    connections = 0;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  const own = (): IdentityPlusClient => client({ apiUrl });
  /** A client with one pooled socket that has served one request. */
  async function warmed(): Promise<IdentityPlusClient> {
    const c = own();
    await c.inquire('1');
    // Let undici put the socket back in the pool before the next call (see the pooling test).
    await pause(20);
    return c;
  }

  it('retries exactly once when the pooled socket turns out dropped, and succeeds', async () => {
    const c = await warmed();
    behaviour = 'drop-reused';
    expect((await c.inquire('2')).kind).toBe('profile');
    expect(c.stats.retries).toBe(1);
    expect(requests).toBe(3); // warm-up, the dropped one, the retry
    expect(connections).toBe(2);
  });

  it('does not retry when a new connection is closed before answering', async () => {
    const c = own();
    behaviour = 'drop-all';
    const { err } = await failure(c.inquire('1'));
    expect(err.kind).toBe('connection');
    expect(err.message).toContain('closed a new connection before answering');
    expect(requests).toBe(1);
    expect(c.stats.retries).toBe(0);
  });

  it('retries a dropped pooled socket only once', async () => {
    const c = await warmed();
    behaviour = 'drop-all';
    const { err } = await failure(c.inquire('2'));
    expect(err.kind).toBe('connection');
    expect(err.message).toContain('after one retry');
    expect(requests).toBe(3);
    expect(c.stats.retries).toBe(1);
  });

  it('does not retry after the server answered 500 on a pooled socket', async () => {
    const c = await warmed();
    behaviour = 'http500';
    const { err } = await failure(c.inquire('2'));
    expect(err.kind).toBe('http-status');
    expect(requests).toBe(2);
    expect(c.stats.retries).toBe(0);
  });

  it('does not retry an answer cut off in the middle', async () => {
    const c = await warmed();
    behaviour = 'cut-reused';
    const { err } = await failure(c.inquire('2'));
    expect(err.kind).toBe('connection');
    expect(err.message).toContain('in the middle of its answer');
    expect(requests).toBe(2);
    expect(c.stats.retries).toBe(0);
  });

  it('does not retry a timeout on a pooled socket', async () => {
    const c = await warmed();
    behaviour = 'hang';
    const { err, ms } = await failure(c.inquire('2'));
    expect(err.kind).toBe('timeout');
    expect(ms).toBeLessThan(SHORT.answerTimeoutMs + SLACK_MS);
    expect(requests).toBe(2);
    expect(c.stats.retries).toBe(0);
  });

  it('stops reading an answer larger than 1 MB', async () => {
    behaviour = 'huge';
    const { err } = await failure(own().inquire('1'));
    expect(err.kind).toBe('invalid-response');
    expect(err.message).toContain('more than 1048576 bytes');
  });

  it('gives up connecting after the connect timeout', async () => {
    // Accepts TCP but never speaks TLS: the handshake can only time out.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as AddressInfo).port;
      const { err, ms } = await failure(client({ apiUrl: `https://127.0.0.1:${port}/v1` }).inquire('1'));
      expect(err.kind).toBe('timeout');
      expect(err.message).toBe(
        `Could not connect to Identity Plus at 127.0.0.1:${port} within ${SHORT.connectTimeoutMs} ms.`,
      );
      expect(ms).toBeGreaterThanOrEqual(SHORT.connectTimeoutMs - 50);
      expect(ms).toBeLessThan(SHORT.connectTimeoutMs + SLACK_MS);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('reports a refused connection as connection', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const { err } = await failure(client({ apiUrl: `https://127.0.0.1:${port}/v1` }).inquire('1'));
    expect(err.kind).toBe('connection');
    expect(err.message).toContain('ECONNREFUSED');
  });
});

describe('secrets never show', () => {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  let p12: Buffer;
  let keyLines: string[];

  beforeAll(() => {
    const asn1 = forge.pkcs12.toPkcs12Asn1(
      forge.pki.privateKeyFromPem(pki.api.key),
      [forge.pki.certificateFromPem(pki.api.cert)],
      password,
      { algorithm: 'aes256' },
    );
    p12 = Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
    keyLines = pki.api.key.split('\n').filter((line) => line.length > 20 && !line.startsWith('-----'));
  });

  function expectClean(value: unknown): void {
    const p12Base64 = p12.toString('base64');
    const views = [
      JSON.stringify(value),
      inspect(value, { depth: 10 }),
      inspect(value, { depth: 10, showHidden: true }),
      String(value),
      value instanceof Error ? String(value.stack) : '',
    ];
    for (const view of views) {
      expect(view).not.toContain(password);
      for (const line of keyLines) expect(view).not.toContain(line);
      expect(view).not.toContain(p12Base64.slice(200, 264));
      expect(view).not.toContain('PRIVATE KEY');
    }
  }

  const pem = (): ApiCredentials => ({ certificate: pki.api.cert, privateKey: pki.api.key });
  const pfx = (): ApiCredentials => ({ p12, password });

  it('in errors of every kind, for PEM and PKCS#12 credentials', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as AddressInfo).port;
        s.close(() => resolve(port));
      });
    });
    for (const credentials of [pem(), pfx()]) {
      const errors: unknown[] = [];
      const collect = async (promise: Promise<unknown>): Promise<void> => {
        errors.push((await failure(promise)).err);
      };
      await collect(client({ credentials, extraCa: undefined }).inquire('1')); // tls
      await collect(client({ credentials, apiUrl: `https://127.0.0.1:${closedPort}/v1` }).inquire('1')); // refused
      const c = client({ credentials });
      await c.inquire('1');
      for (const fault of [{ mode: 'drop' }, { mode: 'http500' }, { mode: 'garbage' }] as const) {
        sim.setFault(fault);
        await collect(c.inquire('1'));
      }
      sim.setFault({ mode: 'latency', latencyMs: 2000 });
      await collect(c.inquire('1')); // timeout
      sim.setFault({ mode: 'none' });
      expect(errors.map((e) => (e as IdentityPlusError).kind)).toEqual([
        'tls',
        'connection',
        'connection',
        'http-status',
        'invalid-response',
        'timeout',
      ]);
      for (const err of errors) expectClean(err);
      expectClean(c);
    }
  });

  it('in configuration errors', () => {
    const wrongPassword = { p12, password: `${password}-wrong` };
    const mismatched = { certificate: pki.api.cert, privateKey: pki.devices.alice.key };
    for (const credentials of [wrongPassword, mismatched]) {
      let caught: unknown;
      try {
        new IdentityPlusClient({ credentials });
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(ConfigurationError);
      expectClean(caught);
      expect(inspect(caught)).not.toContain(pki.devices.alice.key.split('\n')[2]);
    }
  });
});
