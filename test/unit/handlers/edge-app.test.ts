import type { APIGatewayProxyEvent } from 'aws-lambda';
import { IdentityPlusError } from '../../../functions/domain/errors';
import { signState, verifyState } from '../../../functions/domain/state-token';
import { createEdgeHandler } from '../../../functions/handlers/edge-app';
import type { DevPki } from '../../../local/dev-pki';
import { testPki } from '../../support/test-pki';
import {
  FakeIdentityPlus,
  FakeIntents,
  MemoryRecords,
  MemoryUsedStates,
  TestClock,
  authenticatorWith,
  cleared,
  problem,
  proxyEvent,
} from '../../support/handler-doubles';
import { only } from '../../support/only';

const ORIGIN = 'https://auth.example.com';
const APP = 'https://app.example.com';
const KEY = Buffer.alloc(32, 3);
const OK = cleared;
const PROBLEM = problem;

let pki: DevPki;
beforeAll(async () => {
  pki = await testPki();
});

function setup(options: { noCertificateHelpUrl?: string; noCertificateHelpText?: string } = {}) {
  const clock = new TestClock();
  const identityPlus = new FakeIdentityPlus();
  const recordsPort = new MemoryRecords();
  const intents = new FakeIntents();
  const usedStates = new MemoryUsedStates();
  const handler = createEdgeHandler({
    authenticator: authenticatorWith(identityPlus, recordsPort, clock),
    intents,
    usedStates,
    stateKey: KEY,
    allowedReturnOrigins: [APP],
    publicOrigin: ORIGIN,
    ...options,
    now: clock.now,
  });
  return {
    handler,
    identityPlus,
    records: recordsPort.records,
    recordsPort,
    usedStates,
    intents: intents.asked,
    failIntents: (e: Error) => (intents.failure = e),
    advance: (ms: number) => clock.advance(ms),
    now: clock.now,
  };
}

function event(
  path: string,
  options: { person?: keyof DevPki['devices'] | null; query?: string; accept?: string; method?: string } = {},
): APIGatewayProxyEvent {
  const person = options.person === undefined ? 'alice' : options.person;
  return proxyEvent({
    path,
    method: options.method,
    query: options.query,
    headers: { accept: options.accept ?? 'text/html' },
    clientCertPem: person ? pki.devices[person].cert : undefined,
  });
}

describe('GET /signin', () => {
  it('signs in a cleared certificate: records first, then a page naming the person, device and roles', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, OK());
    const res = await t.handler(event('/signin'));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['Content-Type']).toMatch(/text\/html/);
    expect(res.body).toContain('Alice Archer');
    expect(res.body).toContain('Alice&#39;s Laptop (Desktop)');
    expect(res.body).toContain('member');
    expect(res.body).toContain('Certificate valid until');
    expect(res.body).toContain('To sign out, close the browser');
    expect(t.records).toHaveLength(1);
    expect(t.records[0]).toMatchObject({ userId: 'org:ref-alice', serial: pki.devices.alice.serial });
  });

  it('answers JSON when asked for it', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, OK());
    const res = await t.handler(event('/signin', { accept: 'application/json' }));
    expect(JSON.parse(res.body)).toMatchObject({
      decision: 'allow',
      user: { id: 'org:ref-alice', name: 'Alice Archer' },
      roles: ['member'],
    });
  });

  it('sends a cleared person on to an allowed return URL', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, OK());
    const res = await t.handler(event('/signin', { query: `return=${encodeURIComponent(`${APP}/home?x=1`)}` }));
    expect(res.statusCode).toBe(302);
    expect(res.headers?.Location).toBe(`${APP}/home?x=1`);
  });

  it.each([
    ['an origin off the allow-list', 'https://evil.example/', /not an allowed return origin/],
    ['a scheme-relative URL', '//evil.example', /not a valid URL/],
    ['javascript:', 'javascript:alert(1)', /https URL/],
    ['CR/LF', 'https://app.example.com/\r\nSet-Cookie: x=1', /control characters/],
    ['an overlong URL', `${APP}/${'a'.repeat(3000)}`, /at most 1200/],
  ])('refuses %s as return with a 400 and never redirects', async (_c, ret, message) => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, OK());
    const res = await t.handler(
      event('/signin', { query: `return=${encodeURIComponent(ret)}`, accept: 'application/json' }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.headers?.Location).toBeUndefined();
    expect(JSON.parse(res.body).message).toMatch(message);
    expect(t.identityPlus.calls).toBe(0);
  });

  it('refuses a return given twice', async () => {
    const t = setup();
    const res = await t.handler(
      event('/signin', { query: `return=${encodeURIComponent(APP)}&return=${encodeURIComponent(APP)}` }),
    );
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('Return is given 2 times; give it once.');
    expect(res.body).toContain('href="/signin"');
  });

  it('answers 503 and writes nothing visible when the record cannot be written', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, OK());
    t.recordsPort.fail = true;
    const res = await t.handler(event('/signin', { query: `return=${encodeURIComponent(APP)}` }));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.Location).toBeUndefined();
    expect(res.headers?.['Retry-After']).toBe('30');
  });

  it('sends a certificate that needs validation to Identity Plus with a signed state for this certificate', async () => {
    const t = setup();
    t.identityPlus.answers.set(
      pki.devices.bob.serial,
      PROBLEM('PB 0003 Identity Plus anonymous certificate needs validation'),
    );
    const res = await t.handler(event('/signin', { person: 'bob', query: `return=${encodeURIComponent(`${APP}/x`)}` }));
    expect(res.statusCode).toBe(302);
    expect(res.headers?.Location).toBe('https://signon.identity.plus/ref123');
    const returnUrl = new URL(only(t.intents, 'intent asked for').returnUrl);
    expect(returnUrl.origin + returnUrl.pathname).toBe(`${ORIGIN}/return`);
    const state = verifyState(returnUrl.searchParams.get('state'), KEY, {
      serial: pki.devices.bob.serial,
      now: t.now(),
    });
    expect(state.destination).toBe(`${APP}/x`);
    expect(t.records).toHaveLength(0);
  });

  it('answers 503 when the intent cannot be created', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.bob.serial, PROBLEM('PB 0003 needs validation'));
    t.failIntents(new IdentityPlusError('timeout', 'Identity Plus did not answer within 3000 ms'));
    const res = await t.handler(event('/signin', { person: 'bob' }));
    expect(res.statusCode).toBe(503);
    expect(res.body).not.toContain('3000 ms');
  });

  it.each([
    ['carol', 'PB 0004 Revoked Identity Plus anonymous certificate', /revoked/],
    ['dave', 'PB 0006 Unknown Identity Plus anonymous certificate', /does not know this device/],
    ['alice', 'PB 0005 Intruder Certificate', /intruder/],
  ] as const)(
    'denies %s with a 403 page naming the reason and where to get a certificate',
    async (person, outcome, text) => {
      const t = setup();
      t.identityPlus.answers.set(pki.devices[person].serial, PROBLEM(outcome));
      const res = await t.handler(event('/signin', { person }));
      expect(res.statusCode).toBe(403);
      expect(res.body).toMatch(text);
      expect(res.body).toContain('https://identity.plus');
    },
  );

  it('denies a cleared identity without a required role (JSON names the reason)', async () => {
    const t = setup();
    const strict = createEdgeHandler({
      authenticator: authenticatorWith(t.identityPlus, t.recordsPort, new TestClock(), { allowedRoles: ['admin'] }),
      intents: { createIntent: async () => ({ reference: 'r', outcome: 'OK', signonUrl: 'x' }) },
      usedStates: t.usedStates,
      stateKey: KEY,
      allowedReturnOrigins: [],
      now: t.now,
    });
    t.identityPlus.answers.set(pki.devices.alice.serial, OK());
    const res = await strict(event('/signin', { accept: 'application/json' }));
    expect(res.statusCode).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ decision: 'deny', reason: 'no-role' });
  });

  it('answers 503 with Retry-After when Identity Plus cannot be reached', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, new IdentityPlusError('connection', 'refused'));
    const res = await t.handler(event('/signin'));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBe('30');
  });

  it('decides on the certificate itself, never on the DN or serial strings next to it', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, OK());
    t.identityPlus.answers.set(
      pki.devices.bob.serial,
      OK({ organizationalName: 'Bob Baker', organizationalReference: 'ref-bob' }),
    );
    const e = event('/whoami', { person: 'alice' });
    const clientCert = e.requestContext.identity.clientCert!;
    // Bob's serial and DN beside Alice's PEM: the PEM wins.
    e.requestContext.identity.clientCert = {
      ...clientCert,
      serialNumber: 'aa:bb',
      subjectDN: "CN=Bob's Desktop,OU=Desktop,O=Identity Plus Device",
    };
    const body = JSON.parse((await t.handler(e)).body);
    expect(body.user.id).toBe('org:ref-alice');
    expect(body.device.serial).toBe(pki.devices.alice.serial);
  });

  it('escapes everything Identity Plus says before putting it on a page', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, OK({ organizationalName: '<script>alert(1)</script>' }));
    const res = await t.handler(event('/signin'));
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain('&#60;script&#62;');
    expect(res.headers?.['Content-Security-Policy']).toContain("default-src 'none'");
  });
});

describe('GET /return', () => {
  const returnEvent = (
    t: ReturnType<typeof setup>,
    destination = `${APP}/x`,
    person: 'bob' | 'alice' = 'bob',
    serial?: string,
  ) =>
    event('/return', {
      person,
      query: `state=${encodeURIComponent(signState({ serial: serial ?? pki.devices.bob.serial, destination }, KEY, t.now()))}`,
    });

  it('asks Identity Plus again bypassing the cache, records, and sends the person on', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.bob.serial, OK({ organizationalReference: 'ref-bob' }));
    await t.handler(event('/signin', { person: 'bob' }));
    const res = await t.handler(returnEvent(t));
    expect(t.identityPlus.calls).toBe(2);
    expect(res.statusCode).toBe(302);
    expect(res.headers?.Location).toBe(`${APP}/x`);
    expect(t.records.map((r) => r.userId)).toEqual(['org:ref-bob', 'org:ref-bob']);
  });

  it('redirects to /signin when the round trip had no destination, so the token leaves the address bar', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.bob.serial, OK());
    const res = await t.handler(returnEvent(t, ''));
    expect(res.statusCode).toBe(302);
    expect(res.headers?.Location).toBe(`${ORIGIN}/signin`);
    // /signin then answers from the allow /return just recorded.
    const signedIn = await t.handler(event('/signin', { person: 'bob' }));
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.body).toContain('Signed in');
    expect(t.identityPlus.calls).toBe(1);
  });

  it.each([
    ['a page', undefined],
    ['JSON', 'application/json'],
  ])('refuses a /return link used a second time with 400 and %s offering a fresh sign-in', async (_as, accept) => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.bob.serial, OK());
    const first = returnEvent(t);
    expect((await t.handler(first)).statusCode).toBe(302);
    const again = await t.handler({ ...first, headers: { ...first.headers, ...(accept ? { Accept: accept } : {}) } });
    expect(again.statusCode).toBe(400);
    expect(again.headers?.Location).toBeUndefined();
    expect(again.body).toMatch(/already used/);
    expect(again.body).toContain(`/signin?return=${encodeURIComponent(`${APP}/x`)}`);
    // The replay asked Identity Plus nothing and recorded nothing.
    expect(t.identityPlus.calls).toBe(1);
    expect(t.records).toHaveLength(1);
  });

  it('claims the token before asking Identity Plus, so a link is used up even when the answer is a 503', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.bob.serial, new IdentityPlusError('timeout', 'no answer'));
    const link = returnEvent(t);
    expect((await t.handler(link)).statusCode).toBe(503);
    expect((await t.handler(link)).statusCode).toBe(400);
  });

  it('answers 503 (and asks Identity Plus nothing) when the used-token check cannot be made', async () => {
    const t = setup();
    t.usedStates.fail = true;
    const res = await t.handler(returnEvent(t));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBeDefined();
    expect(t.identityPlus.calls).toBe(0);
  });

  it('answers 409 with a link, never a redirect, while validation is still pending', async () => {
    const t = setup();
    t.identityPlus.answers.set(
      pki.devices.bob.serial,
      PROBLEM('PB 0003 Identity Plus anonymous certificate needs validation'),
    );
    const res = await t.handler(returnEvent(t));
    expect(res.statusCode).toBe(409);
    expect(res.headers?.Location).toBeUndefined();
    expect(res.body).toContain('Validation not completed');
    expect(res.body).toContain(`href="/signin?return=${encodeURIComponent(`${APP}/x`)}"`);
  });

  it('denies with 403 when Identity Plus now says revoked', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.bob.serial, PROBLEM('PB 0004 Revoked'));
    expect((await t.handler(returnEvent(t))).statusCode).toBe(403);
  });

  it('refuses a state made for another certificate', async () => {
    const t = setup();
    const res = await t.handler(returnEvent(t, APP, 'alice'));
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('different certificate');
    expect(t.identityPlus.calls).toBe(0);
  });

  it('refuses an expired state', async () => {
    const t = setup();
    const e = returnEvent(t);
    t.advance(10 * 60 * 1000 + 1);
    const res = await t.handler(e);
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('expired');
  });

  it('refuses a tampered state', async () => {
    const t = setup();
    const e = returnEvent(t);
    const state = e.queryStringParameters!.state!;
    const tampered = state.slice(0, -2) + (state.endsWith('AA') ? 'BB' : 'AA');
    const res = await t.handler(event('/return', { person: 'bob', query: `state=${encodeURIComponent(tampered)}` }));
    expect(res.statusCode).toBe(400);
  });

  it('refuses a missing state', async () => {
    const t = setup();
    const res = await t.handler(event('/return', { person: 'bob', accept: 'application/json' }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).message).toBe('state is missing');
  });

  it('refuses a state whose destination is no longer allowed', async () => {
    const t = setup();
    const res = await t.handler(returnEvent(t, 'https://old-app.example.com/'));
    expect(res.statusCode).toBe(400);
  });
});

describe('GET /whoami', () => {
  it('answers the identity as JSON, cached on repeat', async () => {
    const t = setup();
    t.identityPlus.answers.set(
      pki.devices.erin.serial,
      OK({ localUserId: 'erin-local', outcome: 'OK 0002 valid and user uid associated' }),
    );
    const first = JSON.parse((await t.handler(event('/whoami', { person: 'erin' }))).body);
    const second = JSON.parse((await t.handler(event('/whoami', { person: 'erin' }))).body);
    expect(first).toMatchObject({
      decision: 'allow',
      reason: 'cleared-local-user',
      user: { id: 'local:erin-local', localUserId: 'erin-local' },
      device: { serial: pki.devices.erin.serial, type: 'Mobile' },
      cached: false,
      degraded: false,
    });
    expect(first.device.subject).toContain("CN=Erin's Phone");
    expect(second.cached).toBe(true);
    expect(t.records).toHaveLength(1);
  });

  it('answers a denied certificate with 200 and its reason', async () => {
    const t = setup();
    const res = await t.handler(event('/whoami', { person: 'dave' }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toMatchObject({ decision: 'deny', reason: 'unknown-certificate', user: { id: null } });
  });
});

it('answers 404 for an unknown route and 405 (Allow: GET) for another method on a route', async () => {
  const t = setup();
  expect((await t.handler(event('/admin'))).statusCode).toBe(404);
  const post = await t.handler(event('/signin', { method: 'POST' }));
  expect([post.statusCode, post.headers?.Allow]).toEqual([405, 'GET']);
  const head = await t.handler(event('/return', { method: 'HEAD' }));
  expect([head.statusCode, head.headers?.Allow]).toEqual([405, 'GET']);
});

describe('visitors without a certificate (CloudFront optional mutual TLS)', () => {
  const paths = ['/signin', '/return', '/whoami'] as const;

  it.each(paths)('%s answers the landing page (200 HTML), asking, claiming and recording nothing', async (path) => {
    const t = setup();
    const res = await t.handler(event(path, { person: null, query: path === '/return' ? 'state=v2.x.y' : '' }));
    expect(res.statusCode).toBe(200);
    expect(res.headers?.['Content-Type']).toMatch(/^text\/html/);
    expect(res.headers?.['Content-Security-Policy']).toMatch(/default-src 'none'/);
    expect(res.headers?.['Cache-Control']).toBe('no-store');
    expect(res.body).toContain('<title>Sign in with your device certificate · plusgate</title>');
    expect(res.body).toContain('Identity Plus device certificate');
    expect(res.body).toContain('<a href="https://identity.plus">Get an Identity Plus certificate</a>');
    expect(res.body).toMatch(/Restart the browser/);
    expect(res.body).toMatch(/import your \.p12 file into this browser or into your operating system/);
    expect(res.body).toMatch(/choose the certificate when the browser asks/);
    expect(res.body).not.toMatch(/<script|<form|<input/i);
    expect(t.identityPlus.calls).toBe(0);
    expect(t.intents).toHaveLength(0);
    expect(t.usedStates.used.size).toBe(0);
    expect(t.records).toHaveLength(0);
  });

  it.each(paths)('%s answers JSON callers 401 with the reason and where to get a certificate', async (path) => {
    const t = setup({ noCertificateHelpUrl: 'https://help.example.com/certificates' });
    const res = await t.handler(event(path, { person: null, accept: 'application/json' }));
    expect(res.statusCode).toBe(401);
    expect(JSON.parse(res.body)).toEqual({
      decision: 'deny',
      reason: 'no-certificate',
      message: expect.stringMatching(/Identity Plus device certificate/),
      help: 'https://help.example.com/certificates',
    });
    expect(t.identityPlus.calls).toBe(0);
  });

  it('links to the configured help URL, escaped', async () => {
    const t = setup({ noCertificateHelpUrl: 'https://help.example.com/get?a=1&b="2"' });
    const res = await t.handler(event('/signin', { person: null }));
    expect(res.body).toContain('<a href="https://help.example.com/get?a=1&#38;b=&#34;2&#34;">');
  });

  it("replaces the explanation with the operator's text, escaped, and keeps the advice and the links", async () => {
    const text = 'Ask <b>IT</b> for a device certificate & "install" it.';
    const t = setup({ noCertificateHelpText: text });
    const res = await t.handler(event('/signin', { person: null }));
    expect(res.body).toContain(
      '<p>Ask &#60;b&#62;IT&#60;/b&#62; for a device certificate &#38; &#34;install&#34; it.</p>',
    );
    expect(res.body).not.toContain('<b>IT</b>');
    expect(res.body).not.toMatch(/There is no password to type/);
    expect(res.body).toMatch(/Restart the browser/);
    expect(res.body).toContain('Get an Identity Plus certificate');
  });

  it('offers "Try again" to the same sign-in, keeping an allowed return', async () => {
    const t = setup();
    const ret = `${APP}/home?x=1`;
    const res = await t.handler(event('/signin', { person: null, query: `return=${encodeURIComponent(ret)}` }));
    expect(res.body).toContain(
      `<a href="/signin?return=${encodeURIComponent(ret).replace(/&/g, '&#38;')}">Try again</a>`,
    );
  });

  it.each([
    ['off the allow-list', 'return=https%3A%2F%2Fevil.example%2F'],
    ['not https', 'return=http%3A%2F%2Fapp.example.com%2F'],
    ['repeated', 'return=%2Fa&return=%2Fb'],
    ['with a line break', 'return=%2Fa%0D%0ASet-Cookie%3A%20x'],
  ])('drops a return that is %s from "Try again" (and answers the page, not a 400)', async (_c, query) => {
    const t = setup();
    const res = await t.handler(event('/signin', { person: null, query }));
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain('<a href="/signin">Try again</a>');
    expect(res.body).not.toMatch(/evil|Set-Cookie/);
  });

  it('sends "Try again" from /return to a fresh /signin, and from /whoami to /whoami', async () => {
    const t = setup();
    const fromReturn = await t.handler(event('/return', { person: null, query: 'state=v2.x.y' }));
    expect(fromReturn.body).toContain('<a href="/signin">Try again</a>');
    expect(fromReturn.body).not.toContain('state=');
    const fromWhoami = await t.handler(event('/whoami', { person: null }));
    expect(fromWhoami.body).toContain('<a href="/whoami">Try again</a>');
  });

  it('still answers 404 off the routes and 405 for other methods, before looking for a certificate', async () => {
    const t = setup();
    expect((await t.handler(event('/elsewhere', { person: null }))).statusCode).toBe(404);
    expect((await t.handler(event('/signin', { person: null, method: 'POST' }))).statusCode).toBe(405);
  });
});
