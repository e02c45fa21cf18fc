/** The composition root: adapters are built once per container and rebuilt only when a secret was rotated. */
import { ENV } from '../../../functions/config/names';
import { testPki } from '../../support/test-pki';
import { defined } from '../../support/only';

type Composition = typeof import('../../../functions/runtime/composition');
const saved = { ...process.env };

function freshComposition(): Composition {
  let module: Composition | undefined;
  jest.isolateModules(() => {
    // require, not import(): isolateModules loads synchronously, so the module is fresh for this call only.
    module = require('../../../functions/runtime/composition');
  });
  return module!;
}

beforeAll(() => {
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    [ENV.TABLE_NAME]: 'records',
    [ENV.API_CERT_SECRET]: 'api',
    [ENV.STATE_KEY_SECRET]: 'state',
  });
});
afterAll(() => {
  process.env = saved;
});

describe('services', () => {
  it('reuses the client for the same secrets, and for equal secrets fetched again; rebuilds it when one was rotated', async () => {
    const { api, devices } = await testPki();
    const { services } = freshComposition();
    const stateKey = 'k'.repeat(48);
    const first = services({ apiCert: { certificate: api.cert, privateKey: api.key }, stateKey });
    expect(services({ apiCert: first.secrets.apiCert, stateKey }).client).toBe(first.client);
    expect(services({ apiCert: { certificate: api.cert, privateKey: api.key }, stateKey }).client).toBe(first.client);

    const rotated = services({ apiCert: { certificate: devices.alice.cert, privateKey: devices.alice.key }, stateKey });
    expect(rotated.client).not.toBe(first.client);
    const newStateKey = services({
      apiCert: { certificate: devices.alice.cert, privateKey: devices.alice.key },
      stateKey: 'n'.repeat(48),
    });
    expect(newStateKey.stateKey).toEqual(Buffer.from('n'.repeat(48)));
    await newStateKey.client.close();
  });
});

describe('perServices', () => {
  it('builds an app once per services and again after a rotation, and retries a build that threw', async () => {
    const { api, devices } = await testPki();
    const { services, perServices } = freshComposition();
    const stateKey = 'k'.repeat(48);
    let builds = 0;
    let failNext = false;
    const appFor = perServices((built) => {
      builds++;
      if (failNext) throw new Error('not yet');
      return { client: built.client };
    });
    const first = services({ apiCert: { certificate: api.cert, privateKey: api.key }, stateKey });
    const app = appFor(first);
    expect(app.client).toBe(first.client);
    // The same secrets fetched again (equal values, new objects): the same services, so the same app.
    expect(appFor(services({ apiCert: { certificate: api.cert, privateKey: api.key }, stateKey }))).toBe(app);
    expect(builds).toBe(1);

    const rotated = services({ apiCert: { certificate: devices.alice.cert, privateKey: devices.alice.key }, stateKey });
    failNext = true;
    expect(() => appFor(rotated)).toThrow('not yet');
    failNext = false;
    const second = appFor(rotated);
    expect(second).not.toBe(app);
    expect(second.client).toBe(rotated.client);
    expect(appFor(rotated)).toBe(second);
    expect(builds).toBe(3);
    await rotated.client.close();
  });
});

/** A fresh composition and the metrics registry it writes to (one module graph). */
function freshWithMetrics(): {
  composition: Composition;
  metrics: typeof import('../../../functions/runtime/metrics');
} {
  let loaded: ReturnType<typeof freshWithMetrics> | undefined;
  jest.isolateModules(() => {
    loaded = {
      composition: require('../../../functions/runtime/composition'),
      metrics: require('../../../functions/runtime/metrics'),
    };
  });
  return loaded!;
}

/** The value of one sample line of the Prometheus text, or undefined when it is not there. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

/** Lines written to stdout and stderr while `run` runs. */
function logsOf(run: () => void): string[] {
  const written: string[] = [];
  const spies = (['stdout', 'stderr'] as const).map((stream) =>
    jest.spyOn(process[stream], 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    }),
  );
  try {
    run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return written.join('').split('\n').filter(Boolean);
}

describe('reportEvent: authentication events → metrics and logs', () => {
  beforeEach(() => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  });

  it('counts decisions by decision and reason, fresh cache hits, new billable users, ledger write failures and degraded allows', () => {
    const { composition, metrics } = freshWithMetrics();
    const decision = { type: 'decision', serial: '1', cached: false, degraded: false } as const;
    logsOf(() => {
      composition.reportEvent({ ...decision, decision: 'allow', reason: 'cleared' });
      composition.reportEvent({ ...decision, decision: 'allow', reason: 'cleared', cached: true });
      composition.reportEvent({ ...decision, decision: 'validate', reason: 'needs-validation' });
      composition.reportEvent({ ...decision, decision: 'allow', reason: 'cleared', degraded: true });
      composition.reportEvent({ type: 'degraded', serial: '1', failure: 'timeout' });
      composition.reportEvent({ type: 'new-billable-user', userId: 'org:a', period: '2026-11' });
      composition.reportEvent({ type: 'ledger-write-failed', userId: 'org:b', period: '2026-11', failure: 'x' });
    });
    const text = metrics.prometheusText();
    expect(sample(text, 'plusgate_decisions_total{decision="allow",reason="cleared"}')).toBe(3);
    expect(sample(text, 'plusgate_decisions_total{decision="validate",reason="needs-validation"}')).toBe(1);
    expect(sample(text, 'plusgate_decision_cache_hits_total')).toBe(1);
    expect(sample(text, 'plusgate_degraded_allows_total')).toBe(1);
    expect(sample(text, 'plusgate_new_billable_users_total')).toBe(1);
    expect(sample(text, 'plusgate_ledger_write_failures_total')).toBe(1);
  });

  it('logs red flags, alarms, unavailability and degraded allows as plain structured lines (no hand-written EMF)', () => {
    delete process.env.POWERTOOLS_LOG_LEVEL;
    const { composition } = freshWithMetrics();
    const lines = logsOf(() => {
      composition.reportEvent({ type: 'red-flag', serial: '7', outcome: 'PB 0004 Revoked' });
      composition.reportEvent({ type: 'alarm', serial: '7', outcome: 'ER 1102 Expired' });
      composition.reportEvent({ type: 'unavailable', serial: '7', failure: 'timeout' });
      composition.reportEvent({ type: 'degraded', serial: '7', failure: 'timeout' });
    }).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.map((l) => [l.level, l.message, l.type, l.serial])).toEqual([
      ['WARN', 'authentication event: red-flag', 'red-flag', '7'],
      ['ERROR', 'authentication event: alarm', 'alarm', '7'],
      ['ERROR', 'authentication event: unavailable', 'unavailable', '7'],
      ['WARN', 'authentication event: degraded', 'degraded', '7'],
    ]);
    for (const line of lines) expect(line).not.toHaveProperty('_aws');
  });
});

describe('measuredIdentityPlus', () => {
  beforeEach(() => {
    process.env.POWERTOOLS_METRICS_DISABLED = 'true';
  });

  it('times every inquiry and intent, counts failures (thrown or ER) and the intents created', async () => {
    const { composition, metrics } = freshWithMetrics();
    const { IdentityPlusError } =
      require('../../../functions/domain/errors') as typeof import('../../../functions/domain/errors');
    const answers: Array<() => Promise<unknown>> = [
      async () => ({ kind: 'profile', profile: { outcome: 'OK 0001 valid', serviceRoles: [], customFields: {} } }),
      async () => ({ kind: 'problem', outcome: 'PB 0004 Revoked' }),
      async () => ({ kind: 'problem', outcome: 'ER 1102 Expired service agent certificate' }),
      async () => {
        throw new IdentityPlusError('timeout', 'no answer in 3000 ms');
      },
    ];
    const intents: Array<() => Promise<unknown>> = [
      async () => ({ reference: 'r', outcome: 'OK 0000', signonUrl: 'https://signon.example/r' }),
      async () => {
        throw new IdentityPlusError('rejected', 'refused');
      },
    ];
    let clock = 0;
    const port = {
      inquire: async () => {
        clock += 100;
        return (answers.shift() as () => Promise<never>)();
      },
      createIntent: async () => {
        clock += 250;
        return (intents.shift() as () => Promise<never>)();
      },
    };
    const measured = composition.measuredIdentityPlus(port, () => clock);

    expect(await measured.inquire('1')).toMatchObject({ kind: 'profile' });
    expect(await measured.inquire('1')).toMatchObject({ outcome: 'PB 0004 Revoked' });
    expect(await measured.inquire('1')).toMatchObject({ outcome: expect.stringMatching(/^ER 1102/) });
    await expect(measured.inquire('1')).rejects.toThrow('no answer in 3000 ms');
    expect(await measured.createIntent({ returnUrl: 'https://auth.example.com/return', serial: '1' })).toMatchObject({
      reference: 'r',
    });
    await expect(measured.createIntent({ returnUrl: 'https://auth.example.com/return', serial: '1' })).rejects.toThrow(
      'refused',
    );

    const text = metrics.prometheusText();
    expect(sample(text, 'plusgate_identity_plus_latency_seconds_count')).toBe(6);
    expect(sample(text, 'plusgate_identity_plus_latency_seconds_sum')).toBeCloseTo(0.9, 6);
    expect(sample(text, 'plusgate_identity_plus_latency_seconds_bucket{le="0.1"}')).toBe(4);
    expect(sample(text, 'plusgate_identity_plus_failures_total')).toBe(3);
    expect(sample(text, 'plusgate_intents_created_total')).toBe(1);
  });
});

describe('the service inquiries ask on behalf of (identityPlusService)', () => {
  /**
   * The bodies a fresh composition's Identity Plus client sends for one sign-in, with `env` set. The client
   * is the real one down to undici's `dispatch`, which is stubbed here (no network in unit tests) to capture
   * the bytes and answer PB 0006, a deny: nothing is written to the ledger.
   */
  async function inquiryBodies(env: Record<string, string>): Promise<unknown[]> {
    const { api, devices } = await testPki();
    let composition: Composition | undefined;
    let undici: typeof import('../../../functions/adapters/undici-parts') | undefined;
    const saved = { ...process.env };
    Object.assign(process.env, { POWERTOOLS_METRICS_DISABLED: 'true', POWERTOOLS_LOG_LEVEL: 'SILENT', ...env });
    jest.isolateModules(() => {
      composition = require('../../../functions/runtime/composition');
      undici = require('../../../functions/adapters/undici-parts');
    });
    const bodies: unknown[] = [];
    const dispatch = jest
      .spyOn(defined(undici, 'undici-parts').Agent.prototype, 'dispatch')
      .mockImplementation((options, handler) => {
        bodies.push(JSON.parse(String(options.body)));
        const controller = { abort: () => undefined, pause: () => undefined, resume: () => undefined };
        const answer = Buffer.from(JSON.stringify({ 'Simple-Response': { outcome: 'PB 0006 Unknown' } }));
        const c = controller as unknown as Parameters<NonNullable<typeof handler.onRequestStart>>[0];
        setImmediate(() => {
          handler.onRequestStart?.(c, {});
          handler.onResponseStart?.(c, 200, { 'content-type': 'application/json' }, 'OK');
          handler.onResponseData?.(c, answer);
          handler.onResponseEnd?.(c, {});
        });
        return true;
      });
    try {
      const built = defined(composition, 'composition').services({
        apiCert: { certificate: api.cert, privateKey: api.key },
      });
      const result = await built.authenticator.authenticate(devices.alice.serial, { ip: '203.0.113.7' });
      expect(result).toMatchObject({ decision: 'deny', reason: 'unknown-certificate' });
      await built.client.close();
    } finally {
      dispatch.mockRestore();
      process.env = saved;
    }
    return bodies;
  }

  it('goes into every inquiry body when set, lower-cased as the setting reads it', async () => {
    const bodies = await inquiryBodies({ PLUSGATE_IDENTITY_PLUS_SERVICE: 'Billing.Example.com' });
    expect(bodies).toEqual([
      {
        'Identity-Inquiry': {
          'serial-number': expect.any(String),
          service: 'billing.example.com',
          'ip-address': '203.0.113.7',
        },
      },
    ]);
  });

  it("is not in the inquiry body when unset or empty: Identity Plus answers for the API certificate's own service", async () => {
    for (const env of [{}, { PLUSGATE_IDENTITY_PLUS_SERVICE: '' }] as Array<Record<string, string>>) {
      const bodies = await inquiryBodies(env);
      expect(bodies).toEqual([
        { 'Identity-Inquiry': { 'serial-number': expect.any(String), 'ip-address': '203.0.113.7' } },
      ]);
    }
  });
});
