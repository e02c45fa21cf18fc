/**
 * End to end, as a new user would try it (issue 11): `npm start` on free ports, the real curl with the demo
 * people's certificates, and the simulator's own counters (`GET /__admin/stats`) as the judge of what reached
 * "Identity Plus". Defaults only: negativeCacheSeconds 15, intentIntervalSeconds 10.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import * as path from 'node:path';
import { recordKey } from '../../functions/adapters/records-table';
import { periodOf } from '../../functions/domain/billing-period';
import { localDynamoClient } from '../../local/dynamodb-local';
import { LOCAL_TABLE_NAME } from '../../local/local-mode';
import {
  type CurlResult,
  type LocalModePorts,
  type LocalModeRun,
  curlAs,
  simulatorAdmin,
  startLocalMode,
} from '../support/processes';

jest.setTimeout(120_000);

let dataDir: string;
let ports: LocalModePorts;
const pki = () => path.join(dataDir, 'pki');

/** curl as a person to the gateway (or to an absolute URL). */
function as(person: string, route: string, extra: string[] = []): Promise<CurlResult> {
  const url = route.startsWith('https://') ? route : `https://localhost:${ports.gateway}${route}`;
  return curlAs(pki(), person, url, extra);
}

const admin = (route: string, body?: unknown) => simulatorAdmin(pki(), ports.simulator, route, body);

async function stats(): Promise<{ inquiries: number; intents: number }> {
  const res = await admin('stats');
  expect(res.status).toBe(200);
  return JSON.parse(res.body);
}

let local: LocalModeRun | undefined;
beforeAll(async () => {
  local = await startLocalMode('plusgate-flood-');
  ({ dataDir, ports } = local);
});

afterAll(() => local?.stop());

describe('floods do not reach Identity Plus', () => {
  it('32 concurrent /whoami for alice right after the start make exactly 1 inquiry and 1 ledger write', async () => {
    // Identity Plus answers slowly, so all 32 arrive while the first inquiry is under way.
    expect((await admin('faults', { mode: 'latency', latencyMs: 1500 })).status).toBe(200);
    const before = await stats();
    const answers = await Promise.all(
      Array.from({ length: 32 }, () => as('alice', '/whoami', ['-H', 'Accept: application/json'])),
    );
    await admin('faults', { mode: 'none' });
    expect(answers.map((a) => a.status)).toEqual(Array(32).fill(200));
    expect(answers.every((a) => JSON.parse(a.body).decision === 'allow')).toBe(true);
    expect((await stats()).inquiries - before.inquiries).toBe(1);

    const client = localDynamoClient(`http://127.0.0.1:${ports.dynamodb}`);
    try {
      const key = recordKey(periodOf(new Date()).id, 'org:org-ref-alice-0001', 16);
      const item = await client.send(
        new GetItemCommand({ TableName: LOCAL_TABLE_NAME, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }),
      );
      expect(item.Item?.authCount).toEqual({ N: '1' });
    } finally {
      client.destroy();
    }
  });

  it("50 /signin with carol's revoked certificate make at most 2 inquiries and no intent", async () => {
    const before = await stats();
    for (let i = 0; i < 50; i++) expect((await as('carol', '/signin')).status).toBe(403);
    const after = await stats();
    expect(after.inquiries - before.inquiries).toBeLessThanOrEqual(2);
    expect(after.intents - before.intents).toBe(0);
  });

  it('50 /signin with bob (needs validation) make at most 2 inquiries and 1 intent, and all go to the same sign-on URL', async () => {
    const before = await stats();
    const locations = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const res = await as('bob', '/signin?return=%2Fwhoami');
      expect(res.status).toBe(302);
      locations.add(res.location);
    }
    const after = await stats();
    expect(after.inquiries - before.inquiries).toBeLessThanOrEqual(2);
    expect(after.intents - before.intents).toBeLessThanOrEqual(1);
    expect(locations.size).toBe(1);
  });
});

describe('a /return link works once', () => {
  it('signs bob in through the sign-on page, and the same /return URL replayed gets a 400 offering a fresh sign-in', async () => {
    const signin = await as('bob', '/signin?return=%2Fwhoami');
    expect(signin.status).toBe(302);
    // The simulator's sign-on page sends the browser back to /return?state=…
    const signon = await as('bob', signin.location);
    expect(signon.status).toBe(302);
    expect(signon.location).toMatch(/\/return\?state=/);

    const used = await as('bob', signon.location);
    expect(used.status).toBe(302);
    expect(used.location).toBe(`https://localhost:${ports.gateway}/whoami`);

    const replayed = await as('bob', signon.location);
    expect(replayed.status).toBe(400);
    expect(replayed.body).toMatch(/already used/);
    expect(replayed.body).toContain('/signin?return=');
  });
});
