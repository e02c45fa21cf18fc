/**
 * The Identity Plus simulator's other operations over real mutual TLS on loopback: binding and unbinding
 * local users, intrusion reports and their withdrawal, the problem envelope, inquiries on behalf of a
 * managed service, intent types and `strict-massl`, device certificates on the API, and the trust chain
 * download. Raw node:https requests with the dev PKI's API certificate, shaped as the public Java and PHP
 * clients send them, so the simulator is tested on its own.
 */
import { X509Certificate } from 'node:crypto';
import type { DevPki } from '../../local/dev-pki';
import { IdentityPlusSimulator } from '../../local/identity-plus-simulator';
import { demoSimulatorSeed } from '../../local/simulator-seed';
import { type Answer, type ClientCert, mtlsRequest } from '../support/mtls-request';
import { testPki } from '../support/test-pki';

type Envelope = Record<string, Record<string, unknown>>;

const OK_0001 = 'OK 0001 Subject anonymous certificate valid';
const OK_0002 = 'OK 0002 Subject anonymous certificate valid and user uid associated';
const REVOKED = 'PB 0004 Revoked Identity Plus anonymous certificate';
const NEEDS_VALIDATION = 'PB 0003 Identity Plus anonymous certificate needs validation';

let pki: DevPki;
let sim: IdentityPlusSimulator;

beforeAll(async () => {
  pki = await testPki();
  sim = new IdentityPlusSimulator({
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
    apiClients: [pki.api.cert],
    seed: demoSimulatorSeed(pki),
  });
  await sim.start();
});

afterAll(async () => {
  await sim?.stop();
});

beforeEach(() => {
  sim.reset();
});

/** One request on a fresh connection; `ca` is the CA the client trusts (the dev chain unless given). */
function request(
  method: string,
  url: string,
  options: { body?: string; client?: ClientCert | null; ca?: string } = {},
): Promise<Answer> {
  const client = options.client === undefined ? pki.api : options.client;
  return mtlsRequest(method, url, { body: options.body, client, ca: options.ca ?? pki.caChain });
}

/** An API call; the body is sent as written (a string) or as JSON. */
async function api(method: string, envelope: unknown, client?: ClientCert | null): Promise<Envelope> {
  const body = typeof envelope === 'string' ? envelope : JSON.stringify(envelope);
  const answer = await request(method, sim.apiUrl, { body, client });
  expect(answer.status).toBe(200);
  expect(answer.headers['content-type']).toBe('application/json');
  return JSON.parse(answer.text) as Envelope;
}

function inquire(serial: string, extra: Record<string, unknown> = {}): Promise<Envelope> {
  return api('POST', { 'Identity-Inquiry': { 'serial-number': serial, ...extra } });
}

async function admin(method: string, route: string, body?: unknown): Promise<{ status: number; json: any }> {
  const answer = await request(method, `${sim.signonUrl}/__admin/${route}`, {
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: answer.status, json: answer.text ? JSON.parse(answer.text) : {} };
}

const outcomeOf = (answer: Envelope): unknown => Object.values(answer)[0]?.outcome;

describe('binding a local user (PUT Local-User-Information)', () => {
  it('binds alice as the Java client sends it: OK 0100 with her profile, then OK 0002 with the name on inquiries', async () => {
    // Java's json_build: fields with `-`, zero numbers and empty strings left out, enums with spaces.
    const bound = await api('PUT', {
      'Local-User-Information': {
        'serial-number': pki.devices.alice.serial,
        'local-user-name': 'alice-1',
        'local-user-age': 30,
        'tokens-of-trust': 10,
        'identity-assurance': 'email communication',
      },
    });
    expect(bound['Identity-Profile']).toMatchObject({
      outcome: 'OK 0100 Subject user successfully associated to Identity Plus identity',
      'service-roles': ['member'],
      'organizational-reference': 'org-ref-alice-0001',
      'local-user-name': 'alice-1',
      'local-user-id': 'alice-1',
    });
    expect((await inquire(pki.devices.alice.serial))['Identity-Profile']).toMatchObject({
      outcome: OK_0002,
      'local-user-id': 'alice-1',
      'local-user-name': 'alice-1',
    });
    const shown = await admin('GET', `identities/${pki.devices.alice.serial}`);
    expect(shown.json.identity).toMatchObject({ localUserId: 'alice-1', localUserName: 'alice-1' });
    expect((await admin('GET', 'stats')).json).toMatchObject({ bindings: 1, inquiries: 1, apiRequests: 2 });
  });

  it('binds as the WordPress plugin sends it: a numeric user id, every field present', async () => {
    const bound = await api(
      'PUT',
      `{"Local-User-Information":{"serial-number": "${pki.devices.alice.serial}","local-user-age": 12.0,"local-user-name": 42,"tokens-of-trust": 100}}`,
    );
    expect(bound['Identity-Profile']).toMatchObject({ 'local-user-name': '42', 'local-trust': 100 });
  });

  it('binds once: ER 0003 for the same identity (same name too), ER 0004 for the name on another identity', async () => {
    const bind = (serial: string, name: string) =>
      api('PUT', { 'Local-User-Information': { 'serial-number': serial, 'local-user-name': name } });
    expect(outcomeOf(await bind(pki.devices.erin.serial, 'erin-local'))).toBe(
      'ER 0003 Subject user name is already associated',
    );
    expect(outcomeOf(await bind(pki.devices.erin.serial, 'other'))).toBe(
      'ER 0003 Subject user name is already associated',
    );
    expect(outcomeOf(await bind(pki.devices.alice.serial, 'erin-local'))).toBe(
      'ER 0004 Subject user name is already associated to a different identity',
    );
    expect((await inquire(pki.devices.alice.serial))['Identity-Profile']?.outcome).toBe(OK_0001);
  });

  it('answers PB 0006 for an unknown certificate, the identity’s outcome when it is not OK, ER 0011 without a name', async () => {
    const bind = (body: Record<string, unknown>) => api('PUT', { 'Local-User-Information': body });
    expect(outcomeOf(await bind({ 'serial-number': pki.devices.dave.serial, 'local-user-name': 'd' }))).toBe(
      'PB 0006 Unknown Identity Plus anonymous certificate',
    );
    expect(outcomeOf(await bind({ 'serial-number': pki.devices.bob.serial, 'local-user-name': 'b' }))).toBe(
      NEEDS_VALIDATION,
    );
    const missing = await bind({ 'serial-number': pki.devices.alice.serial });
    expect(missing['Simple-Response']).toEqual({
      outcome: 'ER 0011 Incomplete Message Error',
      message: 'local-user-name is missing.',
    });
  });
});

describe('unbinding a local user (DELETE Local-User-Reference)', () => {
  it('unbinds erin’s seeded binding: OK 0101, then OK 0001 without local user fields; a second time ER 0005', async () => {
    const unbind = () => api('DELETE', { 'Local-User-Reference': { 'local-user-name': 'erin-local' } });
    expect((await unbind())['Simple-Response']).toEqual({
      outcome: 'OK 0101 Subject user disassociated',
      message: expect.any(String),
    });
    const profile = (await inquire(pki.devices.erin.serial))['Identity-Profile'];
    expect(profile?.outcome).toBe(OK_0001);
    expect(profile).not.toHaveProperty('local-user-id');
    expect(profile).not.toHaveProperty('local-user-name');
    expect((await unbind())['Simple-Response']?.outcome).toBe('ER 0005 Subject user name was never associated');
    expect((await admin('GET', 'stats')).json).toMatchObject({ unbindings: 2 });
  });

  it('restores the seeded binding on reset', async () => {
    await api('DELETE', { 'Local-User-Reference': { 'local-user-name': 'erin-local' } });
    await admin('POST', 'reset');
    expect((await inquire(pki.devices.erin.serial))['Identity-Profile']).toMatchObject({
      outcome: OK_0002,
      'local-user-id': 'erin-local',
    });
  });
});

describe('intrusion reports (PUT Intrusion-Report, DELETE Intrusion-Reference)', () => {
  const report = (serial: string, severity = 'policy violation') => ({
    'Intrusion-Report': {
      'intruding-certificate-uid': serial,
      severity,
      message: 'A spam was reported from this device.',
      'intruder-ip-address': '203.0.113.9',
      'intruded-url': '/wp-comments-post.php',
      'intruding-request-headers': ['Host = blog.example', 'User-Agent = curl'],
    },
  });

  it('answers a Reference-Number, raises local-intrusions, shows the report on the admin API, refuses a second with ER 0007', async () => {
    const answer = await api('PUT', report(pki.devices.alice.serial));
    expect(answer).toEqual({ 'Reference-Number': { outcome: 'OK 0000 Acknowledged', value: expect.any(String) } });
    const reference = answer['Reference-Number']?.value;
    expect((await inquire(pki.devices.alice.serial))['Identity-Profile']?.['local-intrusions']).toBe(1);
    const shown = await admin('GET', `identities/${pki.devices.alice.serial}`);
    expect(shown.json.identity.localIntrusions).toBe(1);
    expect(shown.json.intrusions).toEqual([
      expect.objectContaining({ reference, severity: 'policy violation', intruderIpAddress: '203.0.113.9' }),
    ]);
    // The PHP client's hyphenated severities are the same operation.
    expect(outcomeOf(await api('PUT', report(pki.devices.alice.serial, 'monetary-damage')))).toBe(
      'ER 0007 An intrusion was already reported on this certificate',
    );
  });

  it('withdraws a report by its reference: OK 0000 and local-intrusions back down; then ER 0010', async () => {
    const reference = (await api('PUT', report(pki.devices.carol.serial)))['Reference-Number']?.value;
    const withdraw = () => api('DELETE', { 'Intrusion-Reference': { value: reference } });
    expect((await withdraw())['Simple-Response']?.outcome).toBe('OK 0000 Acknowledged');
    expect((await admin('GET', `identities/${pki.devices.carol.serial}`)).json).toMatchObject({
      identity: { localIntrusions: 0 },
      intrusions: [],
    });
    expect((await withdraw())['Simple-Response']?.outcome).toBe('ER 0010 Insufficient Reference Information');
    expect((await admin('GET', 'stats')).json).toMatchObject({ intrusionReports: 1, intrusionWithdrawals: 2 });
  });

  it('takes a report on a certificate it does not know, and answers ER 0001 naming the field for an unknown severity', async () => {
    expect(outcomeOf(await api('PUT', report(pki.devices.dave.serial)))).toBe('OK 0000 Acknowledged');
    const bad = await api('PUT', report(pki.devices.alice.serial, 'rude'));
    expect(bad['Simple-Response']).toMatchObject({
      outcome: 'ER 0001 Unknown request error',
      message: expect.stringMatching(/^severity must be one of: mistake, policy violation/),
    });
  });

  it('lists every identity with its bound name and open reports on GET /__admin/identities', async () => {
    await api('PUT', report(pki.devices.bob.serial, 'fraud'));
    const { status, json } = await admin('GET', 'identities');
    expect(status).toBe(200);
    const bySerial = new Map(json.identities.map((entry: any) => [entry.serial, entry]));
    expect(bySerial.get(pki.devices.erin.serial)).toMatchObject({ identity: { localUserId: 'erin-local' } });
    expect(bySerial.get(pki.devices.bob.serial)).toMatchObject({
      identity: { localIntrusions: 1 },
      intrusions: [expect.objectContaining({ severity: 'fraud' })],
    });
    expect(bySerial.has(pki.devices.dave.serial)).toBe(false);
  });
});

describe('the problem envelope', () => {
  it('answers PB outcomes in a Simple-Response by default', async () => {
    expect((await inquire(pki.devices.carol.serial))['Simple-Response']?.outcome).toBe(REVOKED);
  });

  it('answers them inside an Identity-Profile with the reputation fields when set by the admin API, until a reset', async () => {
    const set = await admin('POST', 'settings', { problemEnvelope: 'Identity-Profile' });
    expect(set).toMatchObject({ status: 200, json: { settings: { problemEnvelope: 'Identity-Profile' } } });
    const carol = await inquire(pki.devices.carol.serial);
    expect(carol).toEqual({
      'Identity-Profile': {
        outcome: REVOKED,
        'trust-score': expect.any(Number),
        'sites-frequented': expect.any(Number),
        'average-identity-age': 0,
        'max-identity-age': 0,
        'local-trust': 0,
        'local-intrusions': 0,
        'trust-sponsors': [],
      },
    });
    expect(await inquire(pki.devices.dave.serial)).toEqual({
      'Identity-Profile': { outcome: 'PB 0006 Unknown Identity Plus anonymous certificate' },
    });
    expect((await inquire(pki.devices.alice.serial))['Identity-Profile']?.outcome).toBe(OK_0001);
    await admin('POST', 'reset');
    expect((await admin('GET', 'settings')).json.settings.problemEnvelope).toBe('Simple-Response');
  });

  it('refuses a bad setting with 400, changing nothing', async () => {
    const answer = await admin('POST', 'settings', { problemEnvelope: 'Identity-Profile', managedServices: 'x' });
    expect(answer.status).toBe(400);
    expect(answer.json.error).toMatch(/managedServices/);
    expect(sim.settings().problemEnvelope).toBe('Simple-Response');
  });

  it('takes the setting from the constructor too', async () => {
    const other = new IdentityPlusSimulator({
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
      apiClients: [pki.api.cert],
      seed: demoSimulatorSeed(pki),
      problemEnvelope: 'Identity-Profile',
    });
    await other.start();
    try {
      const answer = await request('POST', other.apiUrl, {
        body: JSON.stringify({ 'Identity-Inquiry': { 'serial-number': pki.devices.bob.serial } }),
      });
      expect(JSON.parse(answer.text)['Identity-Profile'].outcome).toBe(NEEDS_VALIDATION);
    } finally {
      await other.stop();
    }
  });
});

describe('inquiries on behalf of a managed service (service)', () => {
  it('answers alice’s roles in managed.plusgate.local, without our local user binding', async () => {
    const answer = await inquire(pki.devices.alice.serial, { service: 'managed.plusgate.local' });
    expect(answer['Identity-Profile']).toMatchObject({
      outcome: OK_0001,
      'service-roles': ['org. member'],
      'organizational-reference': 'org-ref-alice-0001',
    });
    const erin = await inquire(pki.devices.erin.serial, { service: 'managed.plusgate.local' });
    expect(erin['Identity-Profile']).toMatchObject({ outcome: OK_0001, 'service-roles': [] });
    expect(erin['Identity-Profile']).not.toHaveProperty('local-user-id');
  });

  it('answers ER 0009 Request Denied for a service it does not manage, and follows the managed list', async () => {
    const denied = await inquire(pki.devices.alice.serial, { service: 'other.example' });
    expect(denied['Simple-Response']?.outcome).toBe('ER 0009 Request Denied');
    sim.updateSettings({ managedServices: ['other.example'] });
    expect((await inquire(pki.devices.alice.serial, { service: 'other.example' }))['Identity-Profile']).toMatchObject({
      'service-roles': [],
    });
    expect(outcomeOf(await inquire(pki.devices.alice.serial, { service: 'managed.plusgate.local' }))).toBe(
      'ER 0009 Request Denied',
    );
  });
});

describe('intents and strict-massl', () => {
  const intent = (body: Record<string, unknown>) => api('PUT', { Intent: body });

  it('accepts discover (or no type) by default, refuses validate with ER 0009 and an unknown type with ER 0001', async () => {
    expect(await intent({ type: 'discover', 'return-url': 'https://a.example/r' })).toHaveProperty('Intent-Reference');
    expect(await intent({ 'return-url': 'https://a.example/r' })).toHaveProperty('Intent-Reference');
    expect(outcomeOf(await intent({ type: 'validate', 'return-url': 'https://a.example/r' }))).toBe(
      'ER 0009 Request Denied',
    );
    expect(outcomeOf(await intent({ type: 'register', 'return-url': 'https://a.example/r' }))).toBe(
      'ER 0001 Unknown request error',
    );
    expect(outcomeOf(await intent({ type: 'discover', 'return-url': `https://a.example/${'x'.repeat(2048)}` }))).toBe(
      'ER 0006 Return URL is too long',
    );
    expect(outcomeOf(await intent({ type: 'discover' }))).toBe('ER 0011 Incomplete Message Error');
    sim.updateSettings({ acceptedIntentTypes: ['validate', 'assume_ownership'] });
    expect(await intent({ type: 'assume-ownership', 'return-url': 'https://a.example/r' })).toHaveProperty(
      'Intent-Reference',
    );
  });

  it('adds identity-plus-intent=<reference> to the return URL, keeping its query, when strict-massl is false', async () => {
    const returnUrl = 'https://blog.example/wp-login.php?redirect_to=%2Fwp-admin%2F&x=a+b';
    const reference = (await intent({ type: 'discover', 'return-url': returnUrl, 'strict-massl': false }))[
      'Intent-Reference'
    ]?.value as string;
    const visit = await request('GET', `${sim.signonUrl}/${reference}`, { client: pki.devices.bob });
    expect(visit.status).toBe(302);
    expect(visit.headers.location).toBe(`${returnUrl}&identity-plus-intent=${reference}`);
  });

  it('adds nothing with strict-massl absent (true, as the Java client leaves it out)', async () => {
    const returnUrl = 'https://auth.example.com/return?state=s';
    const reference = (await intent({ type: 'discover', 'return-url': returnUrl }))['Intent-Reference']
      ?.value as string;
    const visit = await request('GET', `${sim.signonUrl}/${reference}`, { client: pki.devices.alice });
    expect(visit.headers.location).toBe(returnUrl);
  });
});

describe('device certificates on the API', () => {
  it('answers ER 0012 Expecting Service Agent to every operation made with a known device’s certificate', async () => {
    for (const [method, envelope] of [
      ['POST', { 'Identity-Inquiry': { 'serial-number': pki.devices.alice.serial } }],
      ['PUT', { 'Local-User-Information': { 'serial-number': pki.devices.alice.serial, 'local-user-name': 'x' } }],
      ['PUT', { 'Intrusion-Report': { 'intruding-certificate-uid': pki.devices.carol.serial, severity: 'fraud' } }],
    ] as const) {
      expect((await api(method, envelope, pki.devices.alice))['Simple-Response']?.outcome).toBe(
        'ER 0012 Expecting Service Agent',
      );
    }
    expect((await inquire(pki.devices.alice.serial))['Identity-Profile']).not.toHaveProperty('local-user-name');
    expect((await admin('GET', 'stats')).json).toMatchObject({ bindings: 0, intrusionReports: 0 });
  });

  it('answers ER 1101 to a certificate of the CA that is neither an API certificate nor a known device', async () => {
    const answer = await api('POST', { 'Identity-Inquiry': { 'serial-number': '1' } }, pki.devices.dave);
    expect(answer['Simple-Response']?.outcome).toBe('ER 1101 Unknown Identity Plus API certificate');
  });
});

describe('the trust chain (GET /download/trust-chain?format=pem)', () => {
  const url = () => `${sim.signonUrl}/download/trust-chain?format=pem`;
  const blocks = (text: string): string[] =>
    text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];

  it('answers the API certificate the dev CA chain, intermediate then root, as a PEM file', async () => {
    const answer = await request('GET', url());
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe('application/x-pem-file');
    const chain = blocks(answer.text).map((pem) => new X509Certificate(pem).fingerprint256);
    expect(chain).toEqual([
      new X509Certificate(pki.intermediate.cert).fingerprint256,
      new X509Certificate(pki.root.cert).fingerprint256,
    ]);
    expect((await admin('GET', 'stats')).json.trustChains).toBe(1);
  });

  it('is a truststore that verifies what the CA issued: a TLS client trusting only it reaches the simulator', async () => {
    const chain = (await request('GET', url())).text;
    const answer = await request('POST', sim.apiUrl, {
      ca: chain,
      body: JSON.stringify({ 'Identity-Inquiry': { 'serial-number': pki.devices.alice.serial } }),
    });
    expect(JSON.parse(answer.text)['Identity-Profile'].outcome).toBe(OK_0001);
    const device = new X509Certificate(pki.devices.alice.cert);
    expect(device.verify(new X509Certificate(blocks(chain)[0] as string).publicKey)).toBe(true);
  });

  it('refuses device certificates with 403 text, other formats with 400 and other methods with 405', async () => {
    const device = await request('GET', url(), { client: pki.devices.alice });
    expect(device.status).toBe(403);
    expect(device.headers['content-type']).toMatch(/^text\/plain/);
    expect(device.text).not.toMatch(/BEGIN CERTIFICATE/);
    for (const query of ['?format=der', '', '?format=pem&format=der', '?format=PEM']) {
      const answer = await request('GET', `${sim.signonUrl}/download/trust-chain${query}`);
      expect(answer.status).toBe(400);
      expect(answer.text).toMatch(/format must be pem/);
    }
    const post = await request('POST', url(), { body: '{}' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });

  it('refuses a certificate from another CA in the handshake', async () => {
    await expect(request('GET', url(), { client: pki.devices.mallory })).rejects.toThrow();
  });

  it('gets the transport faults', async () => {
    await admin('POST', 'faults', { mode: 'http500' });
    expect((await request('GET', url())).status).toBe(500);
  });
});
