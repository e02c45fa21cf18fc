/**
 * End to end: `npm start` as a child process on free ports, driven by the real curl with the demo
 * people's certificates, then the ledger read back from its DynamoDB.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { localDynamoClient } from '../../local/dynamodb-local';
import { spawnSync } from 'node:child_process';
import {
  type CurlResult,
  type LocalModePorts,
  REPO_ROOT,
  type RunningProcess,
  curl,
  curlAs,
  freePorts,
  listeningPorts,
  localModeArgs,
  simulatorAdmin,
  startNpm,
} from '../support/processes';
import { defined, only } from '../support/only';

jest.setTimeout(120_000);

let dataDir: string;
let ports: LocalModePorts;
let running: RunningProcess | undefined;
const pki = () => path.join(dataDir, 'pki');
const gateway = () => `https://localhost:${ports.gateway}`;

function args(): string[] {
  return [
    ...localModeArgs(dataDir, ports),
    '--decision-cache-seconds',
    '1',
    '--negative-cache-seconds',
    '1',
    '--stale-if-error-seconds',
    '300',
  ];
}

/** curl as a person (or with no certificate) to the gateway. */
function as(person: string | null, route: string, extra: string[] = []): Promise<CurlResult> {
  return curlAs(pki(), person, `${gateway()}${route}`, extra);
}

/** The simulator's admin API, over mutual TLS with our API certificate. */
function admin(route: string, body: unknown): Promise<CurlResult> {
  return simulatorAdmin(pki(), ports.simulator, route, body);
}

interface Reply {
  readonly status: number;
  readonly body: string;
}

/**
 * One raw request to 127.0.0.1:`port` with exactly these headers; over plain HTTP, or over TLS as alice
 * (her client certificate) to a server that must prove it is `tls` (checked as a browser checks it).
 * Undefined when the connection ended without an answer.
 */
function probe(
  port: number,
  o: { method?: string; path?: string; headers: http.OutgoingHttpHeaders; body?: string; tls?: string },
): Promise<Reply | undefined> {
  return new Promise((resolve) => {
    const tls = o.tls
      ? {
          ca: readFileSync(path.join(pki(), 'ca.pem')),
          cert: readFileSync(path.join(pki(), 'alice.pem')),
          key: readFileSync(path.join(pki(), 'alice.key')),
          servername: o.tls,
        }
      : {};
    const options = { host: '127.0.0.1', port, method: o.method ?? 'GET', path: o.path ?? '/', headers: o.headers };
    const req = (o.tls ? https : http).request({ ...options, ...tls, agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve(undefined));
    });
    req.setTimeout(10_000, () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end(o.body);
  });
}

/** Waits until local mode's output has not grown for 300 ms (at most 5 s). */
async function settledOutput(): Promise<void> {
  let length = -1;
  for (let i = 0; i < 50 && running!.output().length !== length; i++) {
    length = running!.output().length;
    await new Promise((r) => setTimeout(r, 300));
  }
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'plusgate-e2e-'));
  const [gatewayPort, simulatorPort, dynamodbPort, servicePort] = await freePorts(4);
  ports = { gateway: gatewayPort, simulator: simulatorPort, dynamodb: dynamodbPort, service: servicePort };
  running = await startNpm(args(), 'plusgate local ready');
});

afterAll(async () => {
  await running?.interrupt();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('local mode, driven by curl', () => {
  it('prints ready-to-paste curl commands that work', async () => {
    const line = running!
      .output()
      .split('\n')
      .find((l) => l.includes('alice (cleared)'))!;
    const command = line.slice(line.indexOf('curl ') + 5).split(' ');
    const res = await curl(command);
    expect(res.status).toBe(200);
    expect(res.body).toContain('Welcome, Alice Archer');
  });

  it('serves the service API on loopback only, and says it checks no IAM signature there', () => {
    const line = running!
      .output()
      .split('\n')
      .find((l) => l.includes('service API'))!;
    expect(line).toContain(`http://127.0.0.1:${ports.service}`);
    expect(line).toContain('no IAM signature check');
  });

  it('signs alice in', async () => {
    const res = await as('alice', '/signin');
    expect(res.status).toBe(200);
    expect(res.body).toContain('Alice Archer');
    expect(res.body).toContain('member');
  });

  it('signs erin in with her bound local user', async () => {
    const res = await as('erin', '/whoami', ['-H', 'Accept: application/json']);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({
      decision: 'allow',
      reason: 'cleared-local-user',
      user: { id: 'local:erin-local', localUserId: 'erin-local' },
    });
  });

  it('sends bob to the sign-on page, and following the redirects signs him in', async () => {
    const first = await as('bob', '/signin?return=%2Fwhoami');
    expect(first.status).toBe(302);
    expect(first.location).toMatch(new RegExp(`^https://localhost:${ports.simulator}/[A-Za-z0-9_-]+$`));

    const followed = await as('bob', '/signin?return=%2Fwhoami', ['-L']);
    expect(followed.status).toBe(200);
    expect(followed.redirects).toBe(3); // /signin → sign-on → /return → /whoami
    expect(followed.effectiveUrl).toBe(`${gateway()}/whoami`);
    expect(JSON.parse(followed.body)).toMatchObject({ decision: 'allow', user: { name: 'Bob Baker' } });
  });

  it.each([
    ['carol', /revoked/],
    ['dave', /does not know this device certificate/],
  ])('denies %s with 403', async (person, reason) => {
    const res = await as(person, '/signin');
    expect(res.status).toBe(403);
    expect(res.body).toMatch(reason);
  });

  it("counts on the service API's GET /metrics: 3 new billable users (alice, erin, bob) and the decisions by outcome", async () => {
    const res = await curl(['-D', '-', `http://127.0.0.1:${ports.service}/metrics`]);
    expect(res.status).toBe(200);
    const split = res.body.indexOf('\r\n\r\n');
    const head = res.body.slice(0, split);
    const text = res.body.slice(split + 4);
    expect(head).toMatch(/^content-type: text\/plain; version=0\.0\.4; charset=utf-8\r?$/im);
    const value = (series: string) => {
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(value('plusgate_new_billable_users_total')).toBe(3);
    // alice signed in at least twice (the banner's command and the test), erin once, bob after validating.
    expect(value('plusgate_decisions_total{decision="allow",reason="cleared"}')).toBeGreaterThanOrEqual(3);
    expect(value('plusgate_decisions_total{decision="allow",reason="cleared-local-user"}')).toBe(1);
    expect(value('plusgate_decisions_total{decision="validate",reason="needs-validation"}')).toBe(2);
    expect(value('plusgate_decisions_total{decision="deny",reason="revoked"}')).toBe(1);
    expect(value('plusgate_decisions_total{decision="deny",reason="unknown-certificate"}')).toBe(1);
    // bob's two /signin calls within intentIntervalSeconds (10) share one intent.
    expect(value('plusgate_intents_created_total')).toBe(1);
    expect(value('plusgate_identity_plus_failures_total')).toBe(0);
    expect(value('plusgate_ledger_write_failures_total')).toBe(0);
    // Every inquiry and intent so far; bob's second /signin was answered from the negative cache.
    expect(value('plusgate_identity_plus_latency_seconds_count')).toBeGreaterThanOrEqual(7);
    expect(text).toMatch(/^# TYPE plusgate_identity_plus_latency_seconds histogram$/m);
    // Local mode prints no EMF: the numbers are here, not on its stdout.
    expect(running!.output()).not.toContain('"_aws"');
  });

  it('answers /metrics like the other service routes whatever the method or query string, for a loopback Host', async () => {
    const service = `http://127.0.0.1:${ports.service}`;
    const status = async (path: string, extra: string[] = []) => (await curl([...extra, `${service}${path}`])).status;
    for (const method of [
      ['-X', 'POST', '--data', 'x=1'],
      ['-X', 'PUT'],
      ['-X', 'DELETE'],
      ['-X', 'OPTIONS'],
      ['-I'],
    ]) {
      // API Gateway (and the local gateway) answer an undeclared method with 403, on /report as on /metrics.
      expect(await status('/metrics', method)).toBe(await status('/report', method));
      expect(await status('/metrics', method)).toBe(403);
    }
    for (const path of ['/metrics/', '/Metrics', '/metrics%2F', '/metrics/../metrics%00'])
      expect(await status(path)).toBe(403);
    for (const query of ['?format=json', '?%ZZ', '?a=%00&a=b&a', `?${'x'.repeat(8000)}`])
      expect(await status(`/metrics${query}`)).toBe(200);
    // Any loopback name, any port; nothing else (a DNS-rebinding page sends its own name).
    for (const host of ['[::1]:1', 'localhost', `127.0.0.1:${ports.service}`])
      expect(await status('/metrics', ['-H', `Host: ${host}`])).toBe(200);
    for (const host of ['evil.example', `evil.example:${ports.service}`, 'a"b<c>', 'x'.repeat(4000)])
      expect(await status('/metrics', ['-H', `Host: ${host}`])).toBe(421);
    const after = await curl([`${service}/metrics`]);
    expect(after.status).toBe(200);
    expect(after.body).toMatch(/^plusgate_new_billable_users_total 3$/m);
    expect(running!.output()).not.toMatch(/\/metrics: (handler failed|malformed)/);
  });

  it('gives a DNS-rebinding page (Host evil.example) a 4xx or no answer on every port it listens on', async () => {
    const listening = listeningPorts(running!.child.pid!);
    const known = [ports.gateway, ports.simulator, ports.dynamodb, ports.service];
    expect(listening).toEqual(expect.arrayContaining(known));
    // The one other port is the Secrets Manager emulator's (a free port chosen at start).
    expect(listening.filter((p) => !known.includes(p))).toHaveLength(1);

    // What a page at http(s)://evil.example:<port>/ whose name now resolves to 127.0.0.1 can send: plain
    // HTTP, or TLS where the browser (with alice's certificate installed) expects a certificate for
    // evil.example. The TLS ports (gateway, simulator) present one for localhost, so that ends unanswered.
    const answers: Array<{ port: number; status: number | undefined }> = [];
    for (const port of listening) {
      const foreign = { headers: { Host: `evil.example:${port}`, 'X-Amz-Target': 'secretsmanager.GetSecretValue' } };
      const body = '{"SecretId":"plusgate/local/state-key"}';
      const reply =
        (await probe(port, { ...foreign, method: 'POST', body })) ??
        (await probe(port, { ...foreign, method: 'POST', body, tls: 'evil.example' }));
      answers.push({ port, status: reply?.status });
    }
    expect(answers.filter((a) => a.status !== undefined && (a.status < 400 || a.status >= 500))).toEqual([]);
    const unanswered = answers.filter((a) => a.status === undefined).map((a) => a.port);
    expect(unanswered.sort()).toEqual([ports.gateway, ports.simulator].sort());

    // The routes that answer a loopback Host with 200 refuse the foreign one, saying why.
    // Past TLS too (a client that accepts the localhost certificate, e.g. curl -k), the gateway refuses it.
    const whoami = await probe(ports.gateway, { path: '/whoami', headers: { Host: 'evil.example' }, tls: 'localhost' });
    const metrics = await probe(ports.service, {
      path: '/metrics',
      headers: { Host: `evil.example:${ports.service}` },
    });
    const verify = await probe(ports.service, {
      method: 'POST',
      path: '/verify',
      headers: { Host: 'evil.example', 'Content-Type': 'application/json' },
      body: JSON.stringify({ serial: '1' }),
    });
    for (const reply of [whoami, metrics, verify]) {
      expect(reply?.status).toBe(421);
      expect(JSON.parse(reply!.body).message).toMatch(/Host header is not a loopback name/);
    }
    expect((await probe(ports.service, { path: '/metrics', headers: { Host: 'localhost' } }))?.status).toBe(200);
  });

  it('hands out no secret: its Secrets Manager refuses unsigned requests, other keys and other Hosts', async () => {
    const known = [ports.gateway, ports.simulator, ports.dynamodb, ports.service];
    const emulatorPort = only(
      listeningPorts(running!.child.pid!).filter((p) => !known.includes(p)),
      "the Secrets Manager emulator's port",
    );
    const stateKey = readFileSync(path.join(dataDir, 'state-key'), 'utf8').trim();
    const noSecret = (reply: Reply | undefined) => {
      expect(reply?.status).toBeGreaterThanOrEqual(400);
      expect(reply?.status).toBeLessThan(500);
      expect(reply!.body).not.toContain(stateKey);
      expect(reply!.body).not.toMatch(/p12|password|SecretString/);
    };
    for (const [target, secretId] of [
      ['GetSecretValue', 'plusgate/local/state-key'],
      ['GetSecretValue', 'plusgate/local/identity-plus-api-cert'],
      ['DescribeSecret', 'plusgate/local/identity-plus-api-cert'],
      ['PutSecretValue', 'plusgate/local/state-key'],
    ] as const) {
      for (const host of [`127.0.0.1:${emulatorPort}`, `localhost:${emulatorPort}`, 'evil.example']) {
        const reply = await probe(emulatorPort, {
          method: 'POST',
          headers: {
            Host: host,
            'Content-Type': 'application/x-amz-json-1.1',
            'X-Amz-Target': `secretsmanager.${target}`,
          },
          body: JSON.stringify({ SecretId: secretId, SecretString: 'attacker' }),
        });
        noSecret(reply);
        expect(JSON.parse(reply!.body).__type).toBe(
          host === `127.0.0.1:${emulatorPort}` ? 'MissingAuthenticationTokenException' : 'MisdirectedRequestException',
        );
      }
    }

    // The real SDK with a key pair of its own (the developer's, a guess) is refused too.
    const stranger = new SecretsManagerClient({
      endpoint: `http://127.0.0.1:${emulatorPort}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    try {
      const failure = await stranger
        .send(new GetSecretValueCommand({ SecretId: 'plusgate/local/state-key' }))
        .catch((err: unknown) => err as Error);
      expect((failure as Error).name).toBe('UnrecognizedClientException');
    } finally {
      stranger.destroy();
    }
    // While its own functions still read their secrets: alice signs in (state key and API certificate in use).
    expect((await as('alice', '/signin')).status).toBe(200);
  });

  it.each([
    ['frank', 'CERT_HAS_EXPIRED'],
    ['mallory', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    [null, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE'],
  ])('refuses %s in the TLS handshake, before any handler runs', async (person, reason) => {
    // Earlier tests' log lines may still be on their way: start from a quiet log.
    await settledOutput();
    const before = running!.output().length;
    const res = await as(person, '/signin');
    expect(res.status).toBe(0);
    // 35: handshake failed; 52/56: the server closed the connection (how TLS 1.3 reports a refused certificate).
    expect([35, 52, 56]).toContain(res.exitCode);
    const refused = `TLS handshake refused from 127.0.0.1: ${reason}`;
    for (let i = 0; i < 50 && !running!.output().slice(before).includes(refused); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    const logged = running!.output().slice(before);
    expect(logged).toContain(`TLS handshake refused from 127.0.0.1: ${reason}`);
    expect(logged).not.toMatch(/GET \/signin/);
  });

  it('refuses a destination off the allow-list with a 400 and no redirect', async () => {
    const bad = ['https://evil.example/', '//evil.example', 'javascript:alert(1)'].map(encodeURIComponent);
    // Raw CR/LF reaches the handler decoded, as API Gateway decodes query strings.
    for (const query of [...bad, '/x%0d%0aSet-Cookie:%20a=b']) {
      const res = await as('alice', `/signin?return=${query}`);
      expect(res.status).toBe(400);
      expect(res.location).toBe('');
    }
  });

  it('keeps one record per person per period, however often each signed in', async () => {
    await as('alice', '/signin');
    await new Promise((r) => setTimeout(r, 1100)); // past the 1 s decision cache: Identity Plus confirms again
    await as('alice', '/signin');
    const dynamo = localDynamoClient(`http://127.0.0.1:${ports.dynamodb}`);
    try {
      const all = (await dynamo.send(new ScanCommand({ TableName: 'plusgate-records' }))).Items ?? [];
      // bob's /return used one state token: its item holds the key and the expiry, nothing else.
      const used = all.filter((i) => i.pk?.S?.startsWith('STATE#'));
      expect(used.length).toBeGreaterThanOrEqual(1);
      for (const item of used) expect(Object.keys(item).sort()).toEqual(['expiresAt', 'pk', 'sk']);
      const items = all.filter((i) => i.pk?.S?.startsWith('PERIOD#'));
      expect(items.length + used.length).toBe(all.length);
      const users = items.map((i) => i.userId?.S).sort();
      expect(users).toEqual(['local:erin-local', 'org:org-ref-alice-0001', 'org:org-ref-bob-0003']);
      const periods = new Set(items.map((i) => defined(i.period?.S, 'a period on every record')));
      expect(periods.size).toBe(1);
      const alice = defined(
        items.find((i) => i.userId?.S === 'org:org-ref-alice-0001'),
        "alice's record",
      );
      expect(Number(alice.authCount?.N)).toBeGreaterThanOrEqual(2);
    } finally {
      dynamo.destroy();
    }
  });

  it('reports the three signed-in people with the right estimated cost (npm run report, and GET /report)', async () => {
    const cli = spawnSync(
      'npm',
      [
        'run',
        '--silent',
        'report',
        '--',
        '--dynamodb-endpoint',
        `http://127.0.0.1:${ports.dynamodb}`,
        '--format',
        'json',
      ],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      },
    );
    expect(cli.status).toBe(0);
    const report = JSON.parse(cli.stdout);
    const days = report.periodDays as number;
    expect(report).toMatchObject({ uniqueUsers: 3, uniqueDevices: 3, currency: 'USD' });
    expect(report.estimatedCost).toBeCloseTo(Math.round(3 * 0.9 * (days / 365) * 100) / 100, 2);

    const served = await curl([`http://127.0.0.1:${ports.service}/report?format=json`]);
    expect(served.status).toBe(200);
    expect(JSON.parse(served.body)).toMatchObject({ uniqueUsers: 3, estimatedCost: report.estimatedCost });
  });

  it('answers 503 when Identity Plus fails, but allows a recently allowed certificate marked degraded', async () => {
    expect((await as('alice', '/whoami')).status).toBe(200);
    expect((await admin('faults', { mode: 'http500' })).status).toBe(200);
    try {
      await new Promise((r) => setTimeout(r, 1100)); // past the 1 s decision cache
      const alice = await as('alice', '/whoami');
      expect(alice.status).toBe(200);
      expect(JSON.parse(alice.body)).toMatchObject({ decision: 'allow', degraded: true });

      const dave = await as('dave', '/signin');
      expect(dave.status).toBe(503);
      expect(dave.body).toContain('try again');

      const metrics = (await curl([`http://127.0.0.1:${ports.service}/metrics`])).body;
      expect(metrics).toMatch(/^plusgate_degraded_allows_total 1$/m);
      expect(metrics).toMatch(/^plusgate_identity_plus_failures_total 2$/m); // alice's and dave's inquiries
      expect(metrics).toMatch(/^plusgate_decisions_total\{decision="error",reason="identity-plus-unavailable"\} 1$/m);
    } finally {
      await admin('faults', { mode: 'none' });
    }
  });

  it('stops cleanly on Ctrl-C, and a restart keeps the records and the PKI', async () => {
    const aliceCert = require('node:fs').readFileSync(path.join(pki(), 'alice.pem'), 'utf8');
    await running!.interrupt();
    expect(running!.output()).toContain('SIGINT: stopping plusgate local');
    // Same ports again: only works if the first run released every one of them.
    running = await startNpm(args(), 'plusgate local ready');
    expect(running.output()).toContain('records table plusgate-records existed');
    expect(require('node:fs').readFileSync(path.join(pki(), 'alice.pem'), 'utf8')).toBe(aliceCert);
    expect((await as('alice', '/signin')).status).toBe(200);
  });
});
