/**
 * The Lambda entries themselves (middy chain and all), when Secrets Manager cannot be reached at all:
 * every one fails closed with an answer its caller understands, never a crash or a bare 500. And the
 * scheduled billable-users count, against dynalite, flushing its gauge as CloudWatch EMF.
 */
import type { APIGatewayAuthorizerResult, APIGatewayProxyResult, Context } from 'aws-lambda';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { METRIC } from '../../functions/config/metrics';
import { ENV } from '../../functions/config/names';
import { clearCache } from '@middy/util';
import type { DevPki } from '../../local/dev-pki';
import { devPkiPaths } from '../../local/dev-pki-files';
import { proxyEvent } from '../support/handler-doubles';
import { SecretsManagerEmulator } from '../../local/secrets-manager-emulator';
import { RecordsTable } from '../../functions/adapters/records-table';
import { periodOf, previousPeriod } from '../../functions/domain/billing-period';
import { type RunningDynalite, ensureRecordsTable, localDynamoClient, startDynalite } from '../../local/dynamodb-local';
import { defined } from '../support/only';
import { IdentityPlusSimulator } from '../../local/identity-plus-simulator';
import { demoSimulatorSeed } from '../../local/simulator-seed';
import { SETTINGS } from '../../functions/config/settings';
import { cloudFrontPem, functionUrlEvent } from '../support/fuzz-function-url';
import { testPki } from '../support/test-pki';

type Entry = (event: unknown, context: Context) => Promise<unknown>;
const context = {
  functionName: 'test',
  awsRequestId: 'req',
  getRemainingTimeInMillis: () => 10_000,
} as unknown as Context;
const saved = { ...process.env };
let pki: DevPki;

/** A loopback port where nothing listens: connections are refused at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  pki = await testPki();
  const pkiDir = process.env.PLUSGATE_TEST_PKI_DIR;
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_MAX_ATTEMPTS: '1',
    AWS_ENDPOINT_URL_SECRETS_MANAGER: `http://127.0.0.1:${await closedPort()}`,
    AWS_ENDPOINT_URL_DYNAMODB: `http://127.0.0.1:${await closedPort()}`,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    [ENV.TABLE_NAME]: 'records',
    [ENV.API_CERT_SECRET]: 'plusgate/api-cert',
    [ENV.STATE_KEY_SECRET]: 'plusgate/state-key',
    [ENV.PUBLIC_ORIGIN]: 'https://auth.example.com',
    [ENV.TRUSTSTORE_FILE]: pkiDir ? devPkiPaths(pkiDir).caChain : path.join(__dirname, 'missing.pem'),
  });
});
afterAll(() => {
  process.env = saved;
  clearCache();
});

function entry(module: string): Entry {
  let handler: Entry | undefined;
  jest.isolateModules(() => {
    // require, not import(): isolateModules loads synchronously, so the module is fresh for this call only.
    handler = require(`../../functions/handlers/${module}`).handler;
  });
  return handler!;
}

describe('with Secrets Manager unreachable', () => {
  it('GET /verify (forward-auth) answers 503 with Retry-After, the only failure status a proxy understands', async () => {
    const res = (await entry('verify')(
      proxyEvent({ path: '/verify', headers: { 'X-Client-Cert': encodeURIComponent(pki.devices.alice.cert) } }),
      context,
    )) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBe('30');
    expect(JSON.parse(res.body).message).toMatch(/cannot read its credentials/);
  });

  it('POST /verify answers 503 JSON', async () => {
    const res = (await entry('verify')(
      proxyEvent({ path: '/verify', method: 'POST', body: JSON.stringify({ serial: '1' }) }),
      context,
    )) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Content-Type']).toMatch(/application\/json/);
  });

  it('the edge answers a 503 page', async () => {
    const res = (await entry('edge')(
      proxyEvent({ path: '/signin', clientCertPem: pki.devices.alice.cert }),
      context,
    )) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(503);
    expect(res.body).toContain('Temporarily unavailable');
    expect(res.body).not.toMatch(/ECONNREFUSED|stack|at /);
  });

  it('the edge behind CloudFront answers a 503 page as a function-URL result', async () => {
    process.env[SETTINGS.edge.env] = 'cloudfront';
    try {
      const res = (await entry('edge')(
        functionUrlEvent({ path: '/signin', clientCertPem: pki.devices.alice.cert }),
        context,
      )) as Record<string, unknown>;
      expect(res).toMatchObject({ statusCode: 503, isBase64Encoded: false });
      expect(res).not.toHaveProperty('multiValueHeaders');
      expect((res.headers as Record<string, string>)['Retry-After']).toBe('30');
      expect(res.body).toContain('Temporarily unavailable');
    } finally {
      delete process.env[SETTINGS.edge.env];
    }
  });

  it('the authorizer denies (fail closed) instead of erroring', async () => {
    const event = {
      ...proxyEvent({ path: '/orders', clientCertPem: pki.devices.alice.cert }),
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/orders',
    };
    const result = (await entry('authorizer')(event, context)) as APIGatewayAuthorizerResult;
    expect(result.policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny', Resource: event.methodArn });
  });
});

describe('with a malformed API certificate secret (a configuration error)', () => {
  let emulator: SecretsManagerEmulator;
  beforeAll(async () => {
    emulator = new SecretsManagerEmulator({
      secrets: { 'plusgate/api-cert': '{"certificate":"not pem"}', 'plusgate/state-key': 'k'.repeat(48) },
      // The key pair the environment signs with (the emulator refuses any other).
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await emulator.start();
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = emulator.endpoint;
  });
  afterAll(() => emulator.stop());

  it('forward-auth still answers 503, never the 500 nginx would pass on', async () => {
    const res = (await entry('verify')(
      proxyEvent({ path: '/verify', headers: { 'X-Client-Cert': encodeURIComponent(pki.devices.alice.cert) } }),
      context,
    )) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain('not pem');
  });

  it('the edge says plusgate is misconfigured (500) without showing the secret', async () => {
    const res = (await entry('edge')(
      proxyEvent({ path: '/signin', clientCertPem: pki.devices.alice.cert }),
      context,
    )) as APIGatewayProxyResult;
    expect(res.statusCode).toBe(500);
    expect(res.body).toContain('not configured correctly');
    expect(res.body).not.toContain('not pem');
  });
});

/**
 * The edge entry under `edge: "cloudfront"`, invoked as the function URL behind CloudFront invokes it, with
 * the real middy chain, the Secrets Manager emulator, the Identity Plus simulator and dynalite.
 */
describe('the edge entry behind CloudFront (function-URL events)', () => {
  let emulator: SecretsManagerEmulator;
  let sim: IdentityPlusSimulator;
  let dynalite: RunningDynalite;
  const before: Record<string, string | undefined> = {};
  const set = (values: Record<string, string>) => {
    for (const [name, value] of Object.entries(values)) {
      if (!(name in before)) before[name] = process.env[name];
      process.env[name] = value;
    }
  };

  beforeAll(async () => {
    sim = new IdentityPlusSimulator({
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
      apiClients: [pki.api.cert],
      port: 0,
      seed: demoSimulatorSeed(pki),
    });
    await sim.start();
    emulator = new SecretsManagerEmulator({
      secrets: {
        'plusgate/api-cert': JSON.stringify({ certificate: pki.api.cert, privateKey: pki.api.key }),
        'plusgate/state-key': 's'.repeat(48),
      },
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await emulator.start();
    dynalite = await startDynalite({ port: 0 });
    const client = localDynamoClient(dynalite.endpoint);
    try {
      await ensureRecordsTable(client, 'records');
    } finally {
      client.destroy();
    }
    set({
      AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint,
      AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
      [ENV.IDENTITY_PLUS_API_URL]: sim.apiUrl,
      [ENV.IDENTITY_PLUS_SIGNON_URL]: sim.signonUrl,
      [ENV.IDENTITY_PLUS_EXTRA_CA]: pki.caChain,
      [SETTINGS.edge.env]: 'cloudfront',
      POWERTOOLS_METRICS_DISABLED: 'true',
    });
    clearCache();
  });
  afterAll(async () => {
    for (const [name, value] of Object.entries(before)) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    clearCache();
    await Promise.all([emulator.stop(), sim.stop(), dynalite.stop()]);
  });
  afterEach(() => sim.reset());

  type Result = { statusCode: number; headers: Record<string, string>; body: string; cookies?: string[] };
  const invoke = async (event: unknown) => (await entry('edge')(event, context)) as Result;

  it("signs alice in from the PEM in CloudFront's header (Present 1), answering a function-URL result", async () => {
    const res = await invoke(functionUrlEvent({ path: '/signin', clientCertPem: pki.devices.alice.cert }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Signed in');
    expect(res.body).toContain(pki.devices.alice.serial);
    expect(res).not.toHaveProperty('multiValueHeaders');
    expect(res.headers['Content-Security-Policy']).toMatch(/default-src 'none'/);
    expect(sim.stats().inquiries).toBe(1);

    const whoami = await invoke(
      functionUrlEvent({
        path: '/whoami',
        clientCertPem: pki.devices.alice.cert,
        headers: { accept: 'application/json' },
        viewerAddress: '[2001:db8::1]:443',
      }),
    );
    expect(JSON.parse(whoami.body)).toMatchObject({ decision: 'allow', device: { serial: pki.devices.alice.serial } });
  });

  it('sends bob to Identity Plus to validate', async () => {
    const res = await invoke(functionUrlEvent({ path: '/signin', clientCertPem: pki.devices.bob.cert }));
    expect(res.statusCode).toBe(302);
    expect(res.headers.Location?.startsWith(sim.signonUrl)).toBe(true);
  });

  it('answers a visitor without a certificate with the landing page, asking Identity Plus nothing', async () => {
    const res = await invoke(functionUrlEvent({ path: '/signin' }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Sign in with your device certificate');
    expect(res.body).toContain('href="https://identity.plus"');
    const json = await invoke(functionUrlEvent({ path: '/whoami', headers: { accept: 'application/json' } }));
    expect(json.statusCode).toBe(401);
    expect(JSON.parse(json.body)).toMatchObject({
      decision: 'deny',
      reason: 'no-certificate',
      help: 'https://identity.plus',
    });
    expect(sim.stats().inquiries).toBe(0);
  });

  it.each([
    ['Present 0', { 'cloudfront-viewer-cert-present': '0' }],
    ['Present 0,1 (a second, viewer-sent Present joined to it)', { 'cloudfront-viewer-cert-present': '0,1' }],
    ['a mixed-case Present 1', { 'CloudFront-Viewer-Cert-Present': '1' }],
  ])('does not sign in a forged PEM of alice with %s: the landing page, no inquiry', async (_c, present) => {
    const res = await invoke(
      functionUrlEvent({
        path: '/signin',
        headers: { 'cloudfront-viewer-cert-pem': cloudFrontPem(pki.devices.alice.cert), ...present },
      }),
    );
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('Sign in with your device certificate');
    expect(res.body).not.toContain('Signed in');
    expect(sim.stats().inquiries).toBe(0);
  });

  it('answers a PEM header that does not decode with a 400 naming the client certificate', async () => {
    const res = await invoke(
      functionUrlEvent({
        path: '/signin',
        headers: {
          'cloudfront-viewer-cert-present': '1',
          'cloudfront-viewer-cert-pem': '-----BEGIN%20CERTIFICATE-----%0A%ZZ',
        },
      }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.body).toMatch(/client certificate/i);
    expect(sim.stats().inquiries).toBe(0);
  });

  it('answers an API Gateway event 500 "not configured correctly" without running the app, and logs it once', async () => {
    set({ POWERTOOLS_LOG_LEVEL: 'ERROR' });
    try {
      const handler = entry('edge');
      let results: Result[] = [];
      const lines = await stderrOf(async () => {
        results = [];
        for (let i = 0; i < 3; i++)
          results.push(
            (await handler(proxyEvent({ path: '/signin', clientCertPem: pki.devices.alice.cert }), context)) as Result,
          );
      });
      for (const res of results) {
        expect(res.statusCode).toBe(500);
        expect(JSON.parse(res.body)).toEqual({ message: 'plusgate is not configured correctly' });
      }
      const logged = lines.filter((line) => line.includes('does not match the edge setting'));
      expect(logged).toHaveLength(1);
      expect(logged[0]).toContain('"edge":"cloudfront"');
      expect(logged[0]).not.toContain('BEGIN CERTIFICATE');
      expect(sim.stats().inquiries).toBe(0);
    } finally {
      set({ POWERTOOLS_LOG_LEVEL: 'SILENT' });
    }
  });

  it('under api-gateway, answers a function-URL event 500 the same way, even with a forged certificate header', async () => {
    set({ [SETTINGS.edge.env]: 'api-gateway' });
    try {
      const res = await invoke(functionUrlEvent({ path: '/signin', clientCertPem: pki.devices.alice.cert }));
      expect(res.statusCode).toBe(500);
      expect(JSON.parse(res.body)).toEqual({ message: 'plusgate is not configured correctly' });
      expect(sim.stats().inquiries).toBe(0);
    } finally {
      set({ [SETTINGS.edge.env]: 'cloudfront' });
    }
  });
});

/** What `run` wrote to stderr (where the logger writes errors), as lines. */
async function stderrOf(run: () => Promise<unknown>): Promise<string[]> {
  const written: string[] = [];
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return written.join('').split('\n').filter(Boolean);
}

/** What `run` wrote to stdout, as lines (EMF documents are JSON lines with `_aws`). */
async function stdoutOf(run: () => Promise<unknown>): Promise<string[]> {
  const written: string[] = [];
  const spy = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    spy.mockRestore();
  }
  return written.join('').split('\n').filter(Boolean);
}

describe('metrics', () => {
  /** A fresh entry and the metrics facade of the same module graph. */
  function entryWithMetrics(module: string) {
    let loaded: { handler: Entry; metrics: typeof import('../../functions/runtime/metrics') } | undefined;
    jest.isolateModules(() => {
      loaded = {
        handler: require(`../../functions/handlers/${module}`).handler,
        metrics: require('../../functions/runtime/metrics'),
      };
    });
    return loaded!;
  }

  const events: Record<string, () => unknown> = {
    edge: () => proxyEvent({ path: '/signin', clientCertPem: pki.devices.alice.cert }),
    verify: () => proxyEvent({ path: '/verify', method: 'POST', body: JSON.stringify({ serial: '1' }) }),
    authorizer: () => ({
      ...proxyEvent({ path: '/orders', clientCertPem: pki.devices.alice.cert }),
      type: 'REQUEST',
      methodArn: 'arn:aws:execute-api:us-east-1:123456789012:abc/prod/GET/orders',
    }),
    report: () => proxyEvent({ path: '/report' }),
    'period-close': () => ({ period: '2020-01' }),
    'billable-users': () => ({ time: new Date().toISOString() }),
  };

  it.each(Object.keys(events))(
    '%s flushes the stored metrics as EMF when the invocation ends, also when it fails',
    async (module) => {
      const { handler, metrics } = entryWithMetrics(module);
      const lines = await stdoutOf(async () => {
        metrics.emitMetric(METRIC.LEDGER_WRITE_FAILURES, 1); // stored: only the entry's middleware publishes it
        await handler(defined(events[module], module)(), context).catch(() => undefined);
      });
      const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => '_aws' in o);
      expect(emf).toEqual([expect.objectContaining({ service: 'plusgate', LedgerWriteFailures: 1 })]);
    },
  );
});

describe('the billable-users count (hourly schedule)', () => {
  const scheduled = { 'detail-type': 'Scheduled Event', source: 'aws.events', time: new Date().toISOString() };

  it('fails the invocation (so the Errors metric and the retry see it) when the ledger cannot be read', async () => {
    await expect(entry('billable-users')(scheduled, context)).rejects.toThrow(/could not read billing period/);
  });

  describe('against dynalite', () => {
    let dynalite: RunningDynalite;
    let endpoint: string | undefined;
    beforeAll(async () => {
      dynalite = await startDynalite({ port: 0 });
      endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
      process.env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
      const client = localDynamoClient(dynalite.endpoint);
      try {
        await ensureRecordsTable(client, 'records');
        const table = new RecordsTable({ client, tableName: 'records' });
        const now = new Date();
        const period = periodOf(now);
        for (const userId of ['org:a', 'org:b', 'local:c'])
          await table.recordAuthentication({ period, userId, serial: '1', roles: [], at: now, admitted: true });
        await table.recordAuthentication({
          period: previousPeriod(period),
          userId: 'org:last-period-only',
          serial: '2',
          roles: [],
          at: previousPeriod(period).start,
          admitted: true,
        });
      } finally {
        client.destroy();
      }
    });
    afterAll(async () => {
      process.env.AWS_ENDPOINT_URL_DYNAMODB = endpoint;
      await dynalite.stop();
    });

    it("counts this period's users and flushes BillableUsersThisPeriod as EMF when the invocation ends", async () => {
      let result: unknown;
      const lines = await stdoutOf(async () => {
        result = await entry('billable-users')(scheduled, context);
      });
      expect(result).toMatchObject({ period: periodOf(new Date()).id, billableUsers: 3, expiredIgnored: 0 });
      const emf = lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((o) => '_aws' in o);
      expect(emf).toEqual([
        {
          _aws: {
            Timestamp: expect.any(Number),
            CloudWatchMetrics: [
              {
                Namespace: 'plusgate',
                Dimensions: [['service']],
                Metrics: [{ Name: 'BillableUsersThisPeriod', Unit: 'Count' }],
              },
            ],
          },
          service: 'plusgate',
          BillableUsersThisPeriod: 3,
        },
      ]);
    });
  });
});
