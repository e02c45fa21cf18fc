/**
 * End to end, as an operator would: `npm start`, people signing in with curl, `npm run renew-api-cert`
 * against the running local mode and against a stopped one, and local mode restarted on the renewed
 * certificate. Sign-ins never fail on the way.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import {
  type CurlResult,
  type LocalModePorts,
  REPO_ROOT,
  type RunningProcess,
  curl,
  freePorts,
  localModeArgs,
  startNpm,
} from '../support/processes';

jest.setTimeout(180_000);

let dataDir: string;
let ports: LocalModePorts;
let running: RunningProcess | undefined;

const start = () => startNpm(localModeArgs(dataDir, ports), 'plusgate local ready');

function asAlice(): Promise<CurlResult> {
  const pki = path.join(dataDir, 'pki');
  return curl([
    '--cacert',
    path.join(pki, 'ca.pem'),
    '--cert',
    path.join(pki, 'alice.pem'),
    '--key',
    path.join(pki, 'alice.key'),
    `https://localhost:${ports.gateway}/signin`,
  ]);
}

/** `npm run renew-api-cert -- <args>`: exit code and output. */
function renew(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', ['run', '--silent', 'renew-api-cert', '--', ...args], {
      cwd: REPO_ROOT,
      env: { ...process.env, FORCE_COLOR: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Polls `condition` every 100 ms for up to 10 s. */
async function waitFor(condition: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 100));
  expect(condition()).toBe(true);
}

const localArgs = () => ['--data-dir', dataDir, '--simulator-port', String(ports.simulator)];

/** The serial on local mode's start-up line about the API certificate. */
function apiCertLine(output: string): { serial: string; daysLeft: number } {
  const match = /API certificate (\d+): expires \d{4}-\d{2}-\d{2} \((\d+) days left\); renewal due/.exec(output);
  if (!match?.[1] || !match[2]) throw new Error(`no API certificate line in:\n${output}`);
  return { serial: match[1], daysLeft: Number(match[2]) };
}

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), 'plusgate-renewal-'));
  const [gateway, simulator, dynamodb, service] = await freePorts(4);
  ports = { gateway, simulator, dynamodb, service };
  running = await start();
});

afterAll(async () => {
  await running?.interrupt();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('renewing the API certificate of local mode', () => {
  let first: { oldSerial: string; newSerial: string; notAfter: string };

  it('says when renewal is due at start-up, and does not renew before then', async () => {
    const line = apiCertLine(running?.output() ?? '');
    expect(line.daysLeft).toBeGreaterThan(300);
    const result = await renew([...localArgs(), '--json']);
    expect(result.code).toBe(0);
    const outcome = JSON.parse(result.stdout);
    expect(outcome).toMatchObject({ renewed: false, oldSerial: line.serial });
    expect(outcome.reason).toMatch(/^not due: renewal is due \d{4}-\d{2}-\d{2}/);
  });

  it('renews with --force against the running local mode while alice keeps signing in', async () => {
    const before = apiCertLine(running?.output() ?? '');
    let stop = false;
    const during: number[] = [];
    const signingIn = (async () => {
      while (!stop) during.push((await asAlice()).status);
    })();
    const result = await renew([...localArgs(), '--force', '--json']);
    stop = true;
    await signingIn;

    expect(result.code).toBe(0);
    first = JSON.parse(result.stdout);
    expect(first).toMatchObject({ renewed: true, oldSerial: before.serial });
    expect(first.newSerial).toMatch(/^\d+$/);
    expect(first.newSerial).not.toBe(before.serial);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((status) => status === 200)).toBe(true);
    expect((await asAlice()).status).toBe(200);
    // The running local mode saw the new file and serves it as the secret's new version.
    await waitFor(() => running?.output().includes(`API certificate ${first.newSerial}: expires`) ?? false);
    // The secret file is the operator's only: readable by its owner alone.
    expect(statSync(path.join(dataDir, 'api-cert.json')).mode & 0o077).toBe(0);
  });

  it('starts again on the renewed certificate, and alice is still signed in', async () => {
    await running?.interrupt();
    running = await start();
    expect(apiCertLine(running.output()).serial).toBe(first.newSerial);
    expect((await asAlice()).status).toBe(200);
  });

  it('renews while local mode is stopped too, and the next start uses that certificate', async () => {
    await running?.interrupt();
    running = undefined;
    const result = await renew([...localArgs(), '--force', '--json']);
    expect(result.code).toBe(0);
    const second = JSON.parse(result.stdout);
    expect(second).toMatchObject({ renewed: true, oldSerial: first.newSerial });
    expect(Date.parse(second.notAfter)).toBeGreaterThanOrEqual(Date.parse(first.notAfter));

    running = await start();
    expect(apiCertLine(running.output()).serial).toBe(second.newSerial);
    expect((await asAlice()).status).toBe(200);
  });

  it('explains a bad command line with exit status 2', async () => {
    const result = await renew(['--simulator-port', 'abc', '--secret-name', 'x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--simulator-port is for local mode; it does not go with --secret-name/);
    expect(result.stderr).toMatch(/usage: npm run renew-api-cert/);
  });
});
