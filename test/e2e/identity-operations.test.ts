/**
 * End to end, as a new user would try it (issue 14): `npm start`, the real curl, the service API's identity
 * operations against the simulator. Bind alice to `alice-local`: her `/whoami` and the ledger say
 * `local:alice-local`; unbind: `org:` again; report dave (a certificate Identity Plus does not know) as an
 * intruder: 201 with a reference, which withdraws it. Identity Plus's refusals are specific 4xx.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { recordKey } from '../../functions/adapters/records-table';
import { periodOf } from '../../functions/domain/billing-period';
import { localDynamoClient } from '../../local/dynamodb-local';
import { LOCAL_TABLE_NAME } from '../../local/local-mode';
import {
  type CurlResult,
  type LocalModePorts,
  type LocalModeRun,
  curl,
  curlAs,
  simulatorAdmin,
  startLocalMode,
} from '../support/processes';

jest.setTimeout(120_000);

let dataDir: string;
let ports: LocalModePorts;
const pki = () => path.join(dataDir, 'pki');

const serialOf = (person: string) =>
  BigInt(`0x${new X509Certificate(readFileSync(path.join(pki(), `${person}.pem`))).serialNumber}`).toString();
const pemOf = (person: string) => readFileSync(path.join(pki(), `${person}.pem`), 'utf8');

async function whoami(person: string): Promise<{ decision: string; reason: string; user: { id: string } }> {
  const res = await curlAs(pki(), person, `https://localhost:${ports.gateway}/whoami`, [
    '-H',
    'Accept: application/json',
  ]);
  expect(res.status).toBe(200);
  return JSON.parse(res.body);
}

/** A call to the service API (loopback, no signature in local mode). */
function service(method: string, route: string, body?: unknown): Promise<CurlResult> {
  const data = body === undefined ? [] : ['-H', 'content-type: application/json', '--data', JSON.stringify(body)];
  return curl(['-X', method, ...data, `http://127.0.0.1:${ports.service}${route}`]);
}

/** The user ids of the current period's ledger items. */
async function ledgerUsers(): Promise<string[]> {
  const client = localDynamoClient(`http://127.0.0.1:${ports.dynamodb}`);
  const users: string[] = [];
  try {
    for (let shard = 0; shard < 16; shard++) {
      const pk = `PERIOD#${periodOf(new Date()).id}#${shard}`;
      const page = await client.send(
        new QueryCommand({
          TableName: LOCAL_TABLE_NAME,
          KeyConditionExpression: 'pk = :pk',
          ExpressionAttributeValues: { ':pk': { S: pk } },
        }),
      );
      for (const item of page.Items ?? []) users.push(item.userId?.S ?? '');
    }
  } finally {
    client.destroy();
  }
  return users.sort();
}

/** The user ids of this period's report (CSV, first column). */
async function reportedUsers(): Promise<string[]> {
  const res = await service('GET', '/report?format=csv');
  expect(res.status).toBe(200);
  return res.body
    .split('\r\n')
    .slice(1)
    .filter((line) => line !== '')
    .map((line) => line.split(',')[0] as string);
}

let local: LocalModeRun | undefined;
beforeAll(async () => {
  local = await startLocalMode('plusgate-identity-ops-');
  ({ dataDir, ports } = local);
});

afterAll(() => local?.stop());

describe('binding a local user', () => {
  it('alice is org: until bound, local:alice-local once bound (whoami and ledger), org: again once unbound', async () => {
    expect((await whoami('alice')).user.id).toBe('org:org-ref-alice-0001');

    const bound = await service('PUT', '/bindings', { certificate: pemOf('alice'), localUserId: 'alice-local' });
    expect(bound.status).toBe(200);
    expect(JSON.parse(bound.body)).toMatchObject({
      localUserId: 'alice-local',
      userId: 'local:alice-local',
      serial: serialOf('alice'),
    });
    expect(JSON.parse(bound.body).outcome).toMatch(/^OK 0100/);

    const after = await whoami('alice');
    expect(after).toMatchObject({ decision: 'allow', reason: 'cleared-local-user', user: { id: 'local:alice-local' } });
    // The next ledger record of alice is keyed by the binding.
    expect(await ledgerUsers()).toContain('local:alice-local');
    expect(recordKey(periodOf(new Date()).id, 'local:alice-local', 16).sk).toBe('USER#local:alice-local');

    // The period bills alice once: her org: item of before the binding moved to local:alice-local.
    expect(await reportedUsers()).toContain('local:alice-local');
    expect(await reportedUsers()).not.toContain('org:org-ref-alice-0001');

    const unbound = await service('DELETE', '/bindings/alice-local');
    expect(unbound.status).toBe(200);
    expect(JSON.parse(unbound.body)).toMatchObject({ localUserId: 'alice-local', unbound: true });
    expect((await whoami('alice')).user.id).toBe('org:org-ref-alice-0001');
    // And back: still once.
    expect(await reportedUsers()).toContain('org:org-ref-alice-0001');
    expect(await reportedUsers()).not.toContain('local:alice-local');
  });

  it('refuses what Identity Plus refuses, with a specific 4xx that quotes the outcome', async () => {
    // erin is already bound (to her own id in the seed): binding her again is a conflict.
    const erin = await service('PUT', '/bindings', { serial: serialOf('erin'), localUserId: 'someone-else' });
    expect(erin.status).toBe(409);
    expect(JSON.parse(erin.body).message).toMatch(/already bound.*ER 0003/);

    const dave = await service('PUT', '/bindings', { serial: serialOf('dave'), localUserId: 'dave-local' });
    expect(dave.status).toBe(404);
    expect(JSON.parse(dave.body).message).toMatch(/does not know this certificate.*PB 0006/);

    const never = await service('DELETE', '/bindings/nobody-here');
    expect(never.status).toBe(404);
    expect(JSON.parse(never.body).message).toMatch(/not bound.*ER 0005/);

    const bad = await service('PUT', '/bindings', { serial: serialOf('alice'), localUserId: '' });
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body).message).toMatch(/localUserId/);

    const foreign = await service('PUT', '/bindings', { certificate: pemOf('mallory'), localUserId: 'm' });
    expect(foreign.status).toBe(400);
  });
});

describe('reporting an intruder', () => {
  it('dave gets reported: 201 with a reference, which withdraws the report', async () => {
    const reported = await service('POST', '/intrusions', {
      certificate: pemOf('dave'),
      severity: 'intrusive',
      message: 'Tried to open other people’s orders',
      ip: '203.0.113.7',
    });
    expect(reported.status).toBe(201);
    const { reference } = JSON.parse(reported.body);
    expect(typeof reference).toBe('string');
    expect(reference.length).toBeGreaterThan(0);

    const again = await service('POST', '/intrusions', {
      serial: serialOf('dave'),
      severity: 'fraud',
      message: 'again',
    });
    expect(again.status).toBe(409);

    const withdrawn = await service('DELETE', `/intrusions/${encodeURIComponent(reference)}`);
    expect(withdrawn.status).toBe(200);
    expect(JSON.parse(withdrawn.body)).toMatchObject({ reference, withdrawn: true });
    expect((await service('DELETE', `/intrusions/${encodeURIComponent(reference)}`)).status).toBe(404);
  });

  it('a report on a known identity shows in its profile (local-intrusions)', async () => {
    const reported = await service('POST', '/intrusions', {
      serial: serialOf('alice'),
      severity: 'Policy-Violation',
      message: 'Shared her device',
    });
    expect(reported.status).toBe(201);
    const identities = await simulatorAdmin(pki(), ports.simulator, 'identities');
    expect(identities.body).toContain('"localIntrusions":1');
    const { reference } = JSON.parse(reported.body);
    expect((await service('DELETE', `/intrusions/${encodeURIComponent(reference)}`)).status).toBe(200);
  });
});
