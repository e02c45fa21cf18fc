/**
 * Local mode against an external Identity Plus, as an operator runs it with the real API certificate:
 * no simulator of its own, the API certificate given as PKCS#12, the device truststore given as a file.
 * A standalone simulator stands in for api.identity.plus (the real one is out of reach here).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  type CurlResult,
  REPO_ROOT,
  type RunningProcess,
  curl,
  freePorts,
  startNpm,
  startProcess,
} from '../support/processes';

jest.setTimeout(120_000);

let dir: string;
let identityPlus: RunningProcess | undefined;
let local: RunningProcess | undefined;
let ports: { gateway: number; simulator: number; dynamodb: number; service: number };
const pki = (file: string) => path.join(dir, 'pki', file);

function as(person: string, route: string, extra: string[] = []): Promise<CurlResult> {
  return curl([
    '--cacert',
    pki('ca.pem'),
    '--cert',
    pki(`${person}.pem`),
    '--key',
    pki(`${person}.key`),
    ...extra,
    `https://localhost:${ports.gateway}${route}`,
  ]);
}

function externalArgs(password = 'plusgate'): string[] {
  return [
    '--data-dir',
    dir,
    '--gateway-port',
    String(ports.gateway),
    '--service-port',
    String(ports.service),
    '--dynamodb-port',
    String(ports.dynamodb),
    '--api-cert-p12',
    pki('api.p12'),
    '--api-cert-password',
    password,
    '--identity-plus-api-url',
    `https://localhost:${ports.simulator}/v1`,
    '--identity-plus-signon-url',
    `https://localhost:${ports.simulator}`,
    '--identity-plus-ca',
    pki('ca.pem'),
    '--truststore',
    pki('ca.pem'),
    '--quiet',
  ];
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'plusgate-external-'));
  const [gateway, simulator, dynamodb, service] = await freePorts(4);
  ports = { gateway, simulator, dynamodb, service };
  // The stand-in for Identity Plus creates the PKI (its CA issues the devices and our API certificate).
  identityPlus = await startProcess(
    'npx',
    ['tsx', 'bin/simulator.ts', '--data-dir', dir, '--port', String(simulator)],
    'identity plus simulator listening',
  );
  local = await startNpm(externalArgs(), 'plusgate local ready');
});

afterAll(async () => {
  await local?.interrupt();
  await identityPlus?.interrupt();
  rmSync(dir, { recursive: true, force: true });
});

describe('local mode against an external Identity Plus', () => {
  it('starts no simulator of its own and says which Identity Plus and API certificate it uses', () => {
    const banner = local!.output();
    expect(banner).toContain(`Identity Plus          https://localhost:${ports.simulator}/v1   API certificate: `);
    expect(banner).toContain('plusgate dev service agent');
    expect(banner).not.toContain('Identity Plus sim');
    expect(banner).toContain(`device truststore      ${pki('ca.pem')}`);
  });

  it('signs alice in by asking that Identity Plus', async () => {
    const res = await as('alice', '/signin', ['-H', 'Accept: application/json']);
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ decision: 'allow', user: { name: 'Alice Archer' } });
  });

  it("sends bob through that Identity Plus's sign-on page and back", async () => {
    const res = await as('bob', '/signin?return=%2Fwhoami', ['-L']);
    expect(res.status).toBe(200);
    expect(res.redirects).toBe(3);
    expect(JSON.parse(res.body)).toMatchObject({ decision: 'allow', user: { name: 'Bob Baker' } });
  });

  it('refuses to start with a wrong certificate password, saying so, before opening any port', () => {
    const started = spawnSync('npm', ['start', '--silent', '--', ...externalArgs('wrong'), '--gateway-port', '0'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    expect(started.status).toBe(2);
    expect(started.stderr).toMatch(/^API certificate: .*password/im);
    expect(started.stderr).not.toContain('wrong');
  });

  it('refuses Identity Plus endpoint flags without an API certificate', () => {
    const started = spawnSync(
      'npm',
      ['start', '--silent', '--', '--identity-plus-api-url', 'https://api.identity.plus/v1'],
      { cwd: REPO_ROOT, encoding: 'utf8' },
    );
    expect(started.status).toBe(2);
    expect(started.stderr).toContain('--identity-plus-api-url goes with an API certificate');
  });
});
