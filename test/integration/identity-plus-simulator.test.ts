/**
 * The Identity Plus simulator over real mutual TLS on loopback: the wire API, the sign-on page, the
 * admin API and fault injection. Talks node:https directly so the simulator is tested on its own.
 */
import { type DevPki, demoSeed } from '../../local/dev-pki';
import { type Answer, type ClientCert, mtlsRequest } from '../support/mtls-request';
import { testPki } from '../support/test-pki';
import { IdentityPlusSimulator } from '../../local/identity-plus-simulator';

/** A wire answer: one envelope name → its fields. */
type Envelope = Record<string, Record<string, unknown>>;

let pki: DevPki;
let sim: IdentityPlusSimulator;
let clock = 0;

const OK_0001 = 'OK 0001 Subject anonymous certificate valid';
const OK_0002 = 'OK 0002 Subject anonymous certificate valid and user uid associated';

beforeAll(async () => {
  pki = await testPki();
  clock = Date.now();
  sim = new IdentityPlusSimulator({
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
    apiClients: [pki.api.cert],
    seed: demoSeed(pki),
    now: () => clock,
  });
  await sim.start();
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(() => {
  sim.reset();
});

/** One request on a fresh connection (no pooling: each test sees its own TLS handshake). */
function request(
  method: string,
  url: string,
  options: { body?: string; client?: ClientCert | null } = {},
): Promise<Answer> {
  const client = options.client === undefined ? pki.api : options.client;
  return mtlsRequest(method, url, { body: options.body, client, ca: pki.caChain });
}

async function api(method: string, envelope: unknown, client?: ClientCert | null): Promise<Envelope> {
  const answer = await request(method, sim.apiUrl, { body: JSON.stringify(envelope), client });
  expect(answer.status).toBe(200);
  expect(answer.headers['content-type']).toBe('application/json');
  return JSON.parse(answer.text) as Envelope;
}

function inquire(serial: string, method = 'POST'): Promise<Envelope> {
  return api(method, { 'Identity-Inquiry': { 'serial-number': serial } });
}

async function admin(
  method: string,
  route: string,
  body?: unknown,
): Promise<{ status: number; json: Record<string, unknown> }> {
  const answer = await request(method, `${sim.signonUrl}/__admin/${route}`, {
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: answer.status, json: answer.text ? (JSON.parse(answer.text) as Record<string, unknown>) : {} };
}

async function createIntent(returnUrl = 'https://auth.example.com/return?state=abc'): Promise<string> {
  const answer = await api('PUT', { Intent: { type: 'discover', 'return-url': returnUrl, 'strict-massl': true } });
  expect(answer['Intent-Reference']?.outcome).toBe('OK 0000 Acknowledged');
  return answer['Intent-Reference']?.value as string;
}

function visitSignon(reference: string, device: ClientCert): Promise<Answer> {
  return request('GET', `${sim.signonUrl}/${reference}`, { client: device });
}

describe('identity inquiry', () => {
  it('answers an Identity-Profile with roles and organisation data for a valid certificate', async () => {
    const answer = await inquire(pki.devices.alice.serial);
    expect(answer['Identity-Profile']).toMatchObject({
      outcome: OK_0001,
      'service-roles': ['member'],
      'organizational-reference': 'org-ref-alice-0001',
      'organizational-name': 'Alice Archer',
      'organizational-email': 'alice@example.com',
      'trust-score': expect.any(Number),
      'trust-sponsors': [],
    });
    expect(answer['Identity-Profile']).not.toHaveProperty('local-user-id');
  });

  it('answers the same to an inquiry sent as GET with a body', async () => {
    const answer = await inquire(pki.devices.alice.serial, 'GET');
    expect(answer['Identity-Profile']?.outcome).toBe(OK_0001);
  });

  it('answers OK 0002 with the local user id for a bound identity', async () => {
    const answer = await inquire(pki.devices.erin.serial);
    expect(answer['Identity-Profile']).toMatchObject({ outcome: OK_0002, 'local-user-id': 'erin-local' });
  });

  it('switches OK 0001 to OK 0002 when a local user id is set', async () => {
    sim.setIdentity(pki.devices.alice.serial, { outcome: OK_0001, roles: ['member'], localUserId: 'alice-1' });
    const answer = await inquire(pki.devices.alice.serial);
    expect(answer['Identity-Profile']).toMatchObject({ outcome: OK_0002, 'local-user-id': 'alice-1' });
  });

  it('answers a Simple-Response PB 0003 for a certificate that needs validation', async () => {
    const answer = await inquire(pki.devices.bob.serial, 'GET');
    expect(answer['Simple-Response']?.outcome).toMatch(/^PB 0003 /);
    expect(answer['Simple-Response']?.message).toEqual(expect.any(String));
  });

  it('answers PB 0004 for a revoked certificate', async () => {
    const answer = await inquire(pki.devices.carol.serial);
    expect(answer['Simple-Response']?.outcome).toBe('PB 0004 Revoked Identity Plus anonymous certificate');
  });

  it('answers PB 0006 for a serial it does not know', async () => {
    const answer = await inquire(pki.devices.dave.serial);
    expect(answer['Simple-Response']?.outcome).toBe('PB 0006 Unknown Identity Plus anonymous certificate');
  });

  it('accepts a 0x-hex serial as the same certificate', async () => {
    const hex = `0x${BigInt(pki.devices.alice.serial).toString(16)}`;
    const answer = await inquire(hex);
    expect(answer['Identity-Profile']?.outcome).toBe(OK_0001);
  });

  it('answers ER 0001 with a message naming the field for a malformed serial', async () => {
    const answer = await inquire('12ab');
    expect(answer['Simple-Response']?.outcome).toBe('ER 0001 Unknown request error');
    expect(answer['Simple-Response']?.message).toMatch(/serial-number/);
  });

  it('spreads custom fields as extra profile keys', async () => {
    sim.setIdentity(pki.devices.alice.serial, { outcome: OK_0001, roles: [], customFields: { 'cost-center': 'R&D' } });
    const answer = await inquire(pki.devices.alice.serial);
    expect(answer['Identity-Profile']?.['cost-center']).toBe('R&D');
  });
});

describe('envelopes and methods', () => {
  it('answers ER 0002 for an unknown envelope', async () => {
    const answer = await api('POST', { 'Something-Else': { a: 1 } });
    expect(answer['Simple-Response']?.outcome).toBe('ER 0002 No such operation for object');
  });

  it('answers ER 0002 for a known envelope on the wrong method', async () => {
    const answer = await api('PUT', { 'Identity-Inquiry': { 'serial-number': pki.devices.alice.serial } });
    expect(answer['Simple-Response']?.outcome).toBe('ER 0002 No such operation for object');
  });

  it('answers ER 0008 for malformed JSON and for more than one envelope', async () => {
    const malformed = await request('POST', sim.apiUrl, { body: '{"Identity-Inquiry": ' });
    expect(malformed.status).toBe(200);
    expect((JSON.parse(malformed.text) as Envelope)['Simple-Response']?.outcome).toBe('ER 0008 Error Parsing Request');
    const two = await api('POST', { 'Identity-Inquiry': {}, Intent: {} });
    expect(two['Simple-Response']?.outcome).toBe('ER 0008 Error Parsing Request');
  });

  it('serves the API on / and /v1/ too', async () => {
    for (const path of ['/', '/v1/']) {
      const answer = await request('POST', `${sim.signonUrl}${path}`, {
        body: JSON.stringify({ 'Identity-Inquiry': { 'serial-number': pki.devices.alice.serial } }),
      });
      expect(JSON.parse(answer.text)['Identity-Profile'].outcome).toBe(OK_0001);
    }
  });

  it('refuses a body over 64 KB with 413', async () => {
    const answer = await request('POST', sim.apiUrl, {
      body: JSON.stringify({ 'Identity-Inquiry': { pad: 'x'.repeat(70_000) } }),
    });
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.text)['Simple-Response'].outcome).toMatch(/^ER 0008 /);
  });
});

describe('intents', () => {
  it('answers a PUT Intent with a url-safe reference', async () => {
    const reference = await createIntent();
    expect(reference).toMatch(/^[A-Za-z0-9_-]{16,}$/);
  });

  it('refuses an unknown intent type and a return-url that is not absolute https', async () => {
    const badType = await api('PUT', { Intent: { type: 'launch', 'return-url': 'https://a.example/' } });
    expect(badType['Simple-Response']?.outcome).toBe('ER 0001 Unknown request error');
    for (const url of ['http://a.example/return', '/return', 'not a url']) {
      const badUrl = await api('PUT', { Intent: { type: 'discover', 'return-url': url } });
      expect(badUrl['Simple-Response']).toMatchObject({
        outcome: 'ER 0001 Unknown request error',
        message: expect.stringMatching(/return-url/),
      });
    }
  });
});

describe('sign-on page', () => {
  it('validates the browser certificate, redirects to the return-url, and the next inquiry says OK', async () => {
    const returnUrl = 'https://auth.example.com/return?state=signed';
    const reference = await createIntent(returnUrl);
    const visit = await visitSignon(reference, pki.devices.bob);
    expect(visit.status).toBe(302);
    expect(visit.headers.location).toBe(returnUrl);
    const answer = await inquire(pki.devices.bob.serial);
    expect(answer['Identity-Profile']).toMatchObject({ outcome: OK_0001, 'service-roles': ['member'] });
  });

  it('answers 410 once the intent is older than its 30 s time to live', async () => {
    const reference = await createIntent();
    clock += 30_001;
    const visit = await visitSignon(reference, pki.devices.bob);
    expect(visit.status).toBe(410);
    expect(visit.text).toMatch(/expired/);
    expect((await inquire(pki.devices.bob.serial))['Simple-Response']?.outcome).toMatch(/^PB 0003 /);
  });

  it('answers 404 for a reference it never issued', async () => {
    const visit = await visitSignon('AAAAAAAAAAAAAAAAAAAAAAAA', pki.devices.bob);
    expect(visit.status).toBe(404);
    expect(visit.headers['content-type']).toMatch(/^text\/html/);
  });

  it('answers 410 to a second visit: an intent is single-use', async () => {
    const reference = await createIntent();
    expect((await visitSignon(reference, pki.devices.alice)).status).toBe(302);
    expect((await visitSignon(reference, pki.devices.alice)).status).toBe(410);
  });

  it('refuses a revoked certificate with 403 and no redirect', async () => {
    const reference = await createIntent();
    const visit = await visitSignon(reference, pki.devices.carol);
    expect(visit.status).toBe(403);
    expect(visit.headers.location).toBeUndefined();
    expect((await inquire(pki.devices.carol.serial))['Simple-Response']?.outcome).toMatch(/^PB 0004 /);
  });
});

describe('only our API certificate may use the API and the admin API', () => {
  it('answers ER 0012 to an inquiry made with a known device certificate (devices share the CA for the sign-on page)', async () => {
    const answer = await api(
      'POST',
      { 'Identity-Inquiry': { 'serial-number': pki.devices.alice.serial } },
      pki.devices.carol,
    );
    expect(answer['Simple-Response']?.outcome).toBe('ER 0012 Expecting Service Agent');
    expect(answer['Identity-Profile']).toBeUndefined();
  });

  it('answers ER 1101 to any other certificate of the CA', async () => {
    const answer = await api(
      'POST',
      { 'Identity-Inquiry': { 'serial-number': pki.devices.alice.serial } },
      pki.devices.dave,
    );
    expect(answer['Simple-Response']?.outcome).toBe('ER 1101 Unknown Identity Plus API certificate');
    expect(answer['Identity-Profile']).toBeUndefined();
  });

  it('refuses the admin API to a device certificate, so a revoked device cannot clear itself', async () => {
    const body = JSON.stringify({
      outcome: 'OK 0001 Subject anonymous certificate valid',
      roles: ['org. administrator'],
    });
    const answer = await request('PUT', `${sim.signonUrl}/__admin/identities/${pki.devices.carol.serial}`, {
      body,
      client: pki.devices.carol,
    });
    expect(answer.status).toBe(403);
    expect((await inquire(pki.devices.carol.serial))['Simple-Response']?.outcome).toMatch(/^PB 0004/);
  });

  it('refuses to start without an API certificate to accept', () => {
    expect(
      () =>
        new IdentityPlusSimulator({
          tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
          apiClients: [],
        }),
    ).toThrow(/apiClients/);
  });
});

describe('mutual TLS', () => {
  // Refused in the handshake: no HTTP request ever reaches the simulator.
  afterEach(() => {
    expect(sim.stats().apiRequests).toBe(0);
  });

  it('refuses a connection without a client certificate', async () => {
    await expect(request('POST', sim.apiUrl, { body: '{}', client: null })).rejects.toThrow();
  });

  it('refuses a certificate from a foreign CA', async () => {
    await expect(request('POST', sim.apiUrl, { body: '{}', client: pki.devices.mallory })).rejects.toThrow();
  });

  it('refuses an expired certificate', async () => {
    await expect(request('POST', sim.apiUrl, { body: '{}', client: pki.devices.frank })).rejects.toThrow();
  });
});

describe('faults', () => {
  const aliceInquiry = () =>
    request('POST', sim.apiUrl, {
      body: JSON.stringify({ 'Identity-Inquiry': { 'serial-number': pki.devices.alice.serial } }),
    });

  it('delays API answers by latencyMs', async () => {
    expect((await admin('POST', 'faults', { mode: 'latency', latencyMs: 300 })).status).toBe(200);
    const started = Date.now();
    const answer = await aliceInquiry();
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    expect(JSON.parse(answer.text)['Identity-Profile'].outcome).toBe(OK_0001);
  });

  it('answers 500 in http500 mode', async () => {
    await admin('POST', 'faults', { mode: 'http500' });
    expect((await aliceInquiry()).status).toBe(500);
  });

  it('drops the connection without an answer in drop mode', async () => {
    await admin('POST', 'faults', { mode: 'drop' });
    await expect(aliceInquiry()).rejects.toThrow(/socket hang up|ECONNRESET/);
  });

  it('answers 200 with a body that is not JSON in garbage mode', async () => {
    await admin('POST', 'faults', { mode: 'garbage' });
    const answer = await aliceInquiry();
    expect(answer.status).toBe(200);
    expect(() => JSON.parse(answer.text)).toThrow();
  });

  it('answers every inquiry with the given outcome in outcome mode', async () => {
    await admin('POST', 'faults', { mode: 'outcome', outcome: 'ER 1103 Revoked API certificate' });
    const answer = JSON.parse((await aliceInquiry()).text);
    expect(answer['Simple-Response'].outcome).toBe('ER 1103 Revoked API certificate');
  });

  it('never applies a fault to the admin API', async () => {
    await admin('POST', 'faults', { mode: 'drop' });
    const stats = await admin('GET', 'stats');
    expect(stats.status).toBe(200);
  });
});

describe('admin API', () => {
  it('creates, reads and deletes an identity', async () => {
    const serial = pki.devices.dave.serial;
    const put = await admin('PUT', `identities/${serial}`, {
      outcome: OK_0001,
      roles: ['reader'],
      organizationalName: 'Dave',
    });
    expect(put.status).toBe(201);
    expect((await inquire(serial))['Identity-Profile']).toMatchObject({
      'service-roles': ['reader'],
      'organizational-name': 'Dave',
    });
    const got = await admin('GET', `identities/${serial}`);
    expect(got.json.identity).toMatchObject({ outcome: OK_0001, roles: ['reader'] });
    expect((await admin('DELETE', `identities/${serial}`)).status).toBe(204);
    expect((await admin('GET', `identities/${serial}`)).status).toBe(404);
  });

  it('answers 400 with a message for bad input', async () => {
    const serial = pki.devices.dave.serial;
    const cases: Array<[string, unknown, RegExp]> = [
      [`identities/${serial}`, { outcome: 'fine', roles: [] }, /outcome/],
      [`identities/${serial}`, { outcome: OK_0001, roles: 'admin' }, /roles/],
      [`identities/${serial}`, { outcome: OK_0001, rolez: [] }, /rolez/],
      [`identities/${serial}`, { outcome: OK_0001, customFields: { outcome: 'x' } }, /customFields/],
      ['identities/not-a-serial', { outcome: OK_0001 }, /serial/],
      ['faults', { mode: 'meltdown' }, /mode/],
      ['faults', { mode: 'latency' }, /latencyMs/],
    ];
    for (const [route, body, message] of cases) {
      const answer = await admin(route.startsWith('faults') ? 'POST' : 'PUT', route, body);
      expect(answer.status).toBe(400);
      expect(answer.json.error).toMatch(message);
    }
    const notJson = await request('PUT', `${sim.signonUrl}/__admin/identities/${serial}`, { body: '{oops' });
    expect(notJson.status).toBe(400);
  });

  it('counts inquiries and intents served', async () => {
    await inquire(pki.devices.alice.serial);
    await inquire(pki.devices.bob.serial);
    await createIntent();
    expect((await admin('GET', 'stats')).json).toMatchObject({ inquiries: 2, intents: 1 });
  });

  it('restores the seed, clears the fault and forgets intents on reset', async () => {
    await admin('PUT', `identities/${pki.devices.alice.serial}`, {
      outcome: 'PB 0004 Revoked Identity Plus anonymous certificate',
    });
    const reference = await createIntent();
    await admin('POST', 'faults', { mode: 'http500' });
    expect((await admin('POST', 'reset')).status).toBe(200);
    expect((await inquire(pki.devices.alice.serial))['Identity-Profile']?.outcome).toBe(OK_0001);
    expect((await visitSignon(reference, pki.devices.bob)).status).toBe(404);
  });
});
