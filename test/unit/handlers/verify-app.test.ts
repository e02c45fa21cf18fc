import { Truststore } from '../../../functions/domain/certificate-chain';
import { IdentityPlusError } from '../../../functions/domain/errors';
import { verifyState } from '../../../functions/domain/state-token';
import { createVerifyHandler } from '../../../functions/handlers/verify-app';
import { type DevPki, issueCertificate } from '../../../local/dev-pki';
import {
  FakeIdentityPlus,
  FakeIntents,
  MemoryRecords,
  TestClock,
  authenticatorWith,
  cleared,
  problem,
  proxyEvent,
} from '../../support/handler-doubles';
import { only } from '../../support/only';
import { testPki } from '../../support/test-pki';

const KEY = Buffer.alloc(32, 9);
let pki: DevPki;
beforeAll(async () => {
  pki = await testPki();
});

function setup(options: { decisionCacheSeconds?: number; staleIfErrorSeconds?: number } = {}) {
  const decisionCacheSeconds = options.decisionCacheSeconds ?? 60;
  const clock = new TestClock();
  clock.value = Date.now(); // real certificates: validity is checked against this clock
  const identityPlus = new FakeIdentityPlus();
  const records = new MemoryRecords();
  const intents = new FakeIntents();
  const handler = createVerifyHandler({
    authenticator: authenticatorWith(identityPlus, records, clock, {
      ttlMs: decisionCacheSeconds * 1000,
      staleMs: (options.staleIfErrorSeconds ?? 0) * 1000,
    }),
    intents,
    stateKey: KEY,
    truststore: Truststore.fromPem(pki.caChain),
    edgeOrigin: 'https://auth.example.com',
    allowedReturnOrigins: ['https://app.example.com'],
    decisionCacheSeconds,
    now: clock.now,
  });
  identityPlus.answers.set(pki.devices.alice.serial, cleared());
  identityPlus.answers.set(
    pki.devices.bob.serial,
    problem('PB 0003 Identity Plus anonymous certificate needs validation'),
  );
  identityPlus.answers.set(pki.devices.carol.serial, problem('PB 0004 Revoked Identity Plus anonymous certificate'));
  return { handler, identityPlus, records, intents, clock };
}

const post = (body: unknown, raw?: string) =>
  proxyEvent({
    path: '/verify',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: raw ?? JSON.stringify(body),
  });
/** nginx's $ssl_client_escaped_cert: the PEM URL-escaped. */
const escaped = (pem: string) => encodeURIComponent(pem);
const forward = (pem?: string) =>
  proxyEvent({ path: '/verify', headers: pem === undefined ? {} : { 'X-Client-Cert': pem } });

describe('POST /verify', () => {
  it('answers the decision JSON for a certificate, and records the allowed user', async () => {
    const t = setup();
    const res = await t.handler(post({ certificate: pki.devices.alice.cert, ip: '198.51.100.7' }));
    expect(res.statusCode).toBe(200);
    expect(JSON.parse(res.body)).toEqual({
      decision: 'allow',
      reason: 'cleared',
      outcome: 'OK 0001 Subject anonymous certificate valid',
      user: {
        id: 'org:ref-alice',
        name: 'Alice Archer',
        email: 'alice@example.com',
        organizationalReference: 'ref-alice',
        localUserId: null,
      },
      roles: ['member'],
      device: {
        serial: pki.devices.alice.serial,
        subject: "CN=Alice's Laptop,OU=Desktop,O=Identity Plus Device",
        type: 'Desktop',
        notAfter: expect.any(String),
      },
      cached: false,
      degraded: false,
      period: expect.stringMatching(/^\d{4}-\d{2}$/),
    });
    expect(t.records.records).toHaveLength(1);
  });

  it('answers by serial in decimal or 0x-hex', async () => {
    const t = setup();
    const hex = `0x${BigInt(pki.devices.alice.serial).toString(16)}`;
    const res = JSON.parse((await t.handler(post({ serial: hex }))).body);
    expect(res).toMatchObject({ decision: 'allow', device: { serial: pki.devices.alice.serial, subject: null } });
  });

  it('gives a validation URL for a certificate that needs validation, only when asked', async () => {
    const t = setup();
    const without = JSON.parse((await t.handler(post({ serial: pki.devices.bob.serial }))).body);
    expect(without.decision).toBe('validate');
    expect(without.validationUrl).toBeUndefined();
    const withUrl = JSON.parse((await t.handler(post({ serial: pki.devices.bob.serial, validationUrl: true }))).body);
    expect(withUrl.validationUrl).toBe('https://signon.identity.plus/ref123');
    const returnUrl = new URL(only(t.intents.asked, 'intent asked for').returnUrl);
    expect(returnUrl.origin + returnUrl.pathname).toBe('https://auth.example.com/return');
    expect(
      verifyState(returnUrl.searchParams.get('state'), KEY, { serial: pki.devices.bob.serial, now: t.clock.now() })
        .destination,
    ).toBe('');
  });

  it('answers deny with the reason', async () => {
    const t = setup();
    expect(JSON.parse((await t.handler(post({ serial: pki.devices.carol.serial }))).body)).toMatchObject({
      decision: 'deny',
      reason: 'revoked',
    });
  });

  it('answers 503 with the decision when Identity Plus cannot be asked', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, new IdentityPlusError('timeout', 'slow'));
    const res = await t.handler(post({ serial: pki.devices.alice.serial }));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBe('30');
    expect(JSON.parse(res.body)).toMatchObject({ decision: 'error', reason: 'identity-plus-unavailable' });
  });

  it('answers 503 when the ledger write fails', async () => {
    const t = setup();
    t.records.fail = true;
    expect((await t.handler(post({ serial: pki.devices.alice.serial }))).statusCode).toBe(503);
  });

  it.each([
    ['a body over 16 KB', undefined, JSON.stringify({ serial: '1', pad: 'x'.repeat(17_000) }), 413, /at most 16384/],
    ['an empty body', undefined, '', 400, /empty/],
    ['a body that is not JSON', undefined, 'serial=1', 400, /not JSON/],
    ['a JSON array', undefined, '[]', 400, /JSON object/],
    ['neither certificate nor serial', {}, undefined, 400, /give certificate \(PEM\) or serial/],
    ['both certificate and serial', { certificate: 'x', serial: '1' }, undefined, 400, /not both/],
    [
      'a PEM that does not parse',
      { certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----' },
      undefined,
      400,
      /could not be parsed/,
    ],
    ['a serial that is not a number', { serial: 'alice' }, undefined, 400, /not a serial number/],
    ['a numeric serial', { serial: 12345 }, undefined, 400, /must be a string/],
    ['a bad ip', { serial: '1', ip: 'localhost' }, undefined, 400, /IPv4 or IPv6/],
    ['a non-boolean validationUrl', { serial: '1', validationUrl: 'yes' }, undefined, 400, /true or false/],
    ['an unknown field', { serial: '1', certifcate: 'x' }, undefined, 400, /unknown field "certifcate"/],
  ])('refuses %s', async (_c, body, raw, status, message) => {
    const t = setup();
    const res = await t.handler(post(body, raw));
    expect(res.statusCode).toBe(status);
    expect(JSON.parse(res.body).message).toMatch(message);
    expect(t.identityPlus.calls).toBe(0);
  });

  it("refuses a self-made certificate carrying someone else's serial (chain not in the truststore)", async () => {
    const t = setup();
    const twin = await issueCertificate(pki.foreignCa, { subject: 'CN=twin', serial: pki.devices.alice.serial });
    const res = await t.handler(post({ certificate: twin.cert }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).message).toMatch(/not issued by a CA in plusgate's truststore/);
    expect(t.identityPlus.calls).toBe(0);
  });

  it('refuses an expired certificate', async () => {
    const t = setup();
    const res = await t.handler(post({ certificate: pki.devices.frank.cert }));
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(res.body).message).toMatch(/expired on/);
  });

  it('reads a base64-encoded body', async () => {
    const t = setup();
    const event = post({ serial: pki.devices.alice.serial });
    const res = await t.handler({ ...event, body: Buffer.from(event.body!).toString('base64'), isBase64Encoded: true });
    expect(res.statusCode).toBe(200);
  });
});

describe('GET /verify (forward-auth)', () => {
  it('answers 200 with identity headers for an allowed certificate', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, cleared({ serviceRoles: ['member', 'org. admin,ops'] }));
    const res = await t.handler(forward(escaped(pki.devices.alice.cert)));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'X-Plusgate-Decision': 'allow',
      'X-Plusgate-User': 'org:ref-alice',
      'X-Plusgate-Roles': 'member,org. admin%2Cops',
      'X-Plusgate-Serial': pki.devices.alice.serial,
    });
  });

  it('percent-encodes characters outside the BMP and lone surrogates in identity headers (found by the fuzz suite)', async () => {
    const t = setup();
    t.identityPlus.answers.set(
      pki.devices.alice.serial,
      cleared({ localUserId: 'bob😀', serviceRoles: ['team 🚀', 'half \ud800 pair'] }),
    );
    const res = await t.handler(forward(escaped(pki.devices.alice.cert)));
    expect(res.statusCode).toBe(200);
    expect(res.headers).toMatchObject({
      'X-Plusgate-User': 'local:bob%F0%9F%98%80',
      'X-Plusgate-Roles': 'team %F0%9F%9A%80,half %EF%BF%BD pair',
    });
  });

  it('answers an unexpected failure with 503 and Retry-After, like every other 503 a proxy passes on', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, new Error('a bug, not an IdentityPlusError'));
    const res = await t.handler(forward(escaped(pki.devices.alice.cert)));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBeDefined();
  });

  it('answers 401 for a certificate that needs validation, with the sign-in URL that brings the browser back', async () => {
    const t = setup();
    const original = 'https://app.example.com/orders?page=2&sort=date';
    const event = proxyEvent({
      path: '/verify',
      headers: { 'X-Client-Cert': escaped(pki.devices.bob.cert), 'X-Original-URL': original },
    });
    const res = await t.handler(event);
    expect(res.statusCode).toBe(401);
    expect(res.headers?.['X-Plusgate-Decision']).toBe('validate');
    expect(res.headers?.['X-Plusgate-Signin']).toBe(
      `https://auth.example.com/signin?return=${encodeURIComponent(original)}`,
    );
  });

  it.each([
    ['an origin off the allow-list', 'https://evil.example/x'],
    ['no original URL', undefined],
    ['garbage', 'not a url'],
  ])('offers plain /signin (no return) for %s', async (_c, original) => {
    const t = setup();
    const headers: Record<string, string> = { 'X-Client-Cert': escaped(pki.devices.bob.cert) };
    if (original) headers['X-Original-URL'] = original;
    const res = await t.handler(proxyEvent({ path: '/verify', headers }));
    expect(res.headers?.['X-Plusgate-Signin']).toBe('https://auth.example.com/signin');
  });

  it.each([undefined, '', '-'])('answers 401 when no certificate is given (%p)', async (header) => {
    const t = setup();
    const res = await t.handler(forward(header));
    expect(res.statusCode).toBe(401);
    expect(res.headers?.['X-Plusgate-Reason']).toBe('no-certificate');
  });

  it('answers 403 for a denied certificate', async () => {
    const t = setup();
    const res = await t.handler(forward(escaped(pki.devices.carol.cert)));
    expect(res.statusCode).toBe(403);
    expect(res.headers?.['X-Plusgate-Reason']).toBe('revoked');
  });

  it.each([
    ['garbage', 'not-a-cert'],
    ['a bad escape', '%E0%A4%A'],
  ])('answers 403 (never 400 or 500) for %s', async (_c, header) => {
    const t = setup();
    const res = await t.handler(forward(header));
    expect(res.statusCode).toBe(403);
    expect(res.headers?.['X-Plusgate-Reason']).toBe('invalid-certificate');
  });

  it("answers 403 for mallory's certificate (a CA plusgate does not trust)", async () => {
    const t = setup();
    expect((await t.handler(forward(escaped(pki.devices.mallory.cert)))).statusCode).toBe(403);
  });

  it('answers 503 when Identity Plus cannot be asked, and when the ledger fails', async () => {
    const t = setup();
    t.identityPlus.answers.set(pki.devices.alice.serial, new IdentityPlusError('connection', 'refused'));
    expect((await t.handler(forward(escaped(pki.devices.alice.cert)))).statusCode).toBe(503);
    const u = setup();
    u.records.fail = true;
    expect((await u.handler(forward(escaped(pki.devices.alice.cert)))).statusCode).toBe(503);
  });

  describe('caching by proxies', () => {
    const cacheHeaders = (res: { headers?: Record<string, unknown> }) => ({
      cacheControl: res.headers?.['Cache-Control'],
      vary: res.headers?.Vary,
    });

    it('lets a proxy keep an allow Identity Plus has just confirmed for decisionCacheSeconds, per certificate', async () => {
      const t = setup({ decisionCacheSeconds: 45 });
      const res = await t.handler(forward(escaped(pki.devices.alice.cert)));
      expect(res.statusCode).toBe(200);
      expect(cacheHeaders(res)).toEqual({ cacheControl: 'max-age=45', vary: 'X-Client-Cert' });
      expect(t.identityPlus.calls).toBe(1);
    });

    it("keeps an allow from plusgate's own cache no-store (its remaining life is not known)", async () => {
      const t = setup({ decisionCacheSeconds: 45 });
      await t.handler(forward(escaped(pki.devices.alice.cert)));
      t.clock.value += 30_000;
      const res = await t.handler(forward(escaped(pki.devices.alice.cert)));
      expect(res.statusCode).toBe(200);
      expect(t.identityPlus.calls).toBe(1);
      expect(cacheHeaders(res)).toEqual({ cacheControl: 'no-store', vary: 'X-Client-Cert' });
    });

    it('keeps a degraded allow (stale-if-error grace) no-store', async () => {
      const t = setup({ decisionCacheSeconds: 10, staleIfErrorSeconds: 600 });
      await t.handler(forward(escaped(pki.devices.alice.cert)));
      t.clock.value += 20_000;
      t.identityPlus.answers.set(pki.devices.alice.serial, new IdentityPlusError('timeout', 'slow'));
      const res = await t.handler(forward(escaped(pki.devices.alice.cert)));
      expect(res.statusCode).toBe(200);
      expect(JSON.parse(res.body)).toMatchObject({ decision: 'allow' });
      expect(cacheHeaders(res).cacheControl).toBe('no-store');
    });

    it('answers every allow no-store when decisionCacheSeconds is 0', async () => {
      const t = setup({ decisionCacheSeconds: 0 });
      for (let i = 0; i < 2; i++) {
        const res = await t.handler(forward(escaped(pki.devices.alice.cert)));
        expect(res.statusCode).toBe(200);
        expect(cacheHeaders(res).cacheControl).toBe('no-store');
      }
      expect(t.identityPlus.calls).toBe(2);
    });

    it.each([
      ['validate', () => escaped(pki.devices.bob.cert), 401],
      ['no certificate', () => undefined, 401],
      ['deny (revoked)', () => escaped(pki.devices.carol.cert), 403],
      ['a certificate that does not parse', () => 'not-a-cert', 403],
      ['a certificate from a CA plusgate does not trust', () => escaped(pki.devices.mallory.cert), 403],
    ])('answers %s no-store', async (_c, header, status) => {
      const t = setup();
      const res = await t.handler(forward(header()));
      expect(res.statusCode).toBe(status);
      expect(cacheHeaders(res)).toEqual({ cacheControl: 'no-store', vary: 'X-Client-Cert' });
    });

    it('answers 503 no-store, whether Identity Plus or the ledger failed', async () => {
      const t = setup();
      t.identityPlus.answers.set(pki.devices.alice.serial, new IdentityPlusError('connection', 'refused'));
      const unavailable = await t.handler(forward(escaped(pki.devices.alice.cert)));
      expect(unavailable.statusCode).toBe(503);
      expect(cacheHeaders(unavailable).cacheControl).toBe('no-store');
      const u = setup();
      u.records.fail = true;
      const ledger = await u.handler(forward(escaped(pki.devices.alice.cert)));
      expect(ledger.statusCode).toBe(503);
      expect(cacheHeaders(ledger).cacheControl).toBe('no-store');
    });

    it('never forgets a revocation: after an allow, a revoked answer is no-store', async () => {
      const t = setup({ decisionCacheSeconds: 5 });
      expect((await t.handler(forward(escaped(pki.devices.alice.cert)))).headers?.['Cache-Control']).toBe('max-age=5');
      t.clock.value += 6_000;
      t.identityPlus.answers.set(
        pki.devices.alice.serial,
        problem('PB 0004 Revoked Identity Plus anonymous certificate'),
      );
      const res = await t.handler(forward(escaped(pki.devices.alice.cert)));
      expect(res.statusCode).toBe(403);
      expect(res.headers?.['Cache-Control']).toBe('no-store');
    });

    it('keeps POST /verify no-store, also for an allow', async () => {
      const t = setup();
      const res = await t.handler(post({ certificate: pki.devices.alice.cert }));
      expect(res.statusCode).toBe(200);
      expect(res.headers?.['Cache-Control']).toBe('no-store');
    });
  });
});

it('answers 405 for other methods on /verify', async () => {
  const t = setup();
  const res = await t.handler(proxyEvent({ path: '/verify', method: 'DELETE' }));
  expect(res.statusCode).toBe(405);
});

describe('forward-auth by proxy dialect (/auth/{dialect})', () => {
  /** base64 DER of a PEM certificate, as Caddy and Traefik send it. */
  const der = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----|\s/g, '');
  /** An Envoy XFCC element carrying the URL-encoded PEM. */
  const xfcc = (pem: string) => `Hash=00ff;Cert="${encodeURIComponent(pem)}";Subject="CN=x";URI=`;
  const auth = (
    dialect: string,
    headers: Record<string, string>,
    options: { method?: string; rest?: string; query?: string; accept?: string } = {},
  ) =>
    proxyEvent({
      path: `/auth/${dialect}${options.rest ? `/${options.rest}` : ''}`,
      method: options.method ?? 'GET',
      query: options.query ?? '',
      resource: options.rest ? '/auth/{dialect}/{path+}' : '/auth/{dialect}',
      pathParameters: { dialect, ...(options.rest ? { path: options.rest } : {}) },
      headers: { ...headers, ...(options.accept ? { Accept: options.accept } : {}) },
    });
  const forwarded = {
    'X-Forwarded-Proto': 'https',
    'X-Forwarded-Host': 'app.example.com',
    'X-Forwarded-Uri': '/orders?page=2&sort=date',
  };
  const signin = `https://auth.example.com/signin?return=${encodeURIComponent('https://app.example.com/orders?page=2&sort=date')}`;

  it.each([
    [
      'traefik',
      (pem: string) => ({ 'X-Forwarded-Tls-Client-Cert': `${der(pem)},${der(pki.intermediate.cert)}`, ...forwarded }),
    ],
    [
      'traefik (v1, query-escaped)',
      (pem: string) => ({ 'X-Forwarded-Tls-Client-Cert': encodeURIComponent(der(pem)), ...forwarded }),
    ],
    ['caddy', (pem: string) => ({ 'X-Client-Cert': der(pem), ...forwarded })],
    [
      'envoy',
      (pem: string) => ({
        'x-forwarded-client-cert': xfcc(pem),
        'x-forwarded-proto': 'https',
        Host: 'app.example.com',
      }),
    ],
    [
      'nginx',
      (pem: string) => ({
        'X-Client-Cert': encodeURIComponent(pem),
        'X-Original-URL': 'https://app.example.com/orders?page=2&sort=date',
      }),
    ],
  ])('%s: 200 with the identity for alice, 403 for carol, sign-in for bob', async (name, headersFor) => {
    const dialect = name.split(' ')[0] as string;
    const t = setup();
    const envoy = dialect === 'envoy' ? { rest: 'orders', query: 'page=2&sort=date' } : {};
    const alice = await t.handler(auth(dialect, headersFor(pki.devices.alice.cert), envoy));
    expect(alice.statusCode).toBe(200);
    expect(alice.headers).toMatchObject({
      'X-Plusgate-User': 'org:ref-alice',
      'X-Plusgate-Serial': pki.devices.alice.serial,
    });
    expect((await t.handler(auth(dialect, headersFor(pki.devices.carol.cert), envoy))).statusCode).toBe(403);
    const bob = await t.handler(auth(dialect, headersFor(pki.devices.bob.cert), envoy));
    if (dialect === 'nginx') {
      expect(bob.statusCode).toBe(401);
      expect(bob.headers?.['X-Plusgate-Signin']).toBe(signin);
    } else {
      expect(bob.statusCode).toBe(302);
      expect(bob.headers?.Location).toBe(signin);
      expect(bob.headers?.['X-Plusgate-Decision']).toBe('validate');
    }
  });

  it.each([
    ['traefik', { 'X-Client-Cert': 'alice' }],
    ['caddy', { 'X-Forwarded-Tls-Client-Cert': 'alice', 'x-forwarded-client-cert': 'alice' }],
    ['envoy', { 'X-Client-Cert': 'alice', 'X-Forwarded-Tls-Client-Cert': 'alice' }],
    ['nginx', { 'X-Forwarded-Tls-Client-Cert': 'alice', 'x-forwarded-client-cert': 'alice' }],
  ])(
    "%s ignores a certificate in another proxy's header: no certificate, sent to sign in",
    async (dialect, smuggled) => {
      const t = setup();
      const pem = pki.devices.alice.cert;
      const values: Record<string, string> = {
        'X-Client-Cert': dialect === 'traefik' || dialect === 'envoy' ? encodeURIComponent(pem) : der(pem),
        'X-Forwarded-Tls-Client-Cert': der(pem),
        'x-forwarded-client-cert': xfcc(pem),
      };
      const headers = Object.fromEntries(Object.keys(smuggled).map((h) => [h, values[h] as string]));
      const res = await t.handler(auth(dialect, { ...headers, ...forwarded }));
      expect(res.statusCode).toBe(dialect === 'nginx' ? 401 : 302);
      expect(res.headers?.['X-Plusgate-Reason']).toBe('no-certificate');
      expect(t.identityPlus.calls).toBe(0);
    },
  );

  it.each([
    ['traefik', { 'X-Forwarded-Tls-Client-Cert': 'not base64!' }, /does not start with a base64 certificate/],
    ['caddy', { 'X-Client-Cert': '-----BEGIN CERTIFICATE-----' }, /is not base64/],
    ['envoy', { 'x-forwarded-client-cert': 'Cert="a",Cert="b"' }, /has 2 elements/],
    ['envoy', { 'x-forwarded-client-cert': 'Cert="%E0%A4%A"' }, /not a URL-encoded PEM/],
    ['caddy', { 'X-Client-Cert': 'QUJD' }, /X-Client-Cert/],
  ])(
    '%s: a malformed certificate header is a 403 with the reason, never a 5xx (%j)',
    async (dialect, headers, reason) => {
      const t = setup();
      const res = await t.handler(auth(dialect, headers, { accept: 'application/json' }));
      expect(res.statusCode).toBe(403);
      expect(JSON.parse(res.body)).toMatchObject({
        decision: 'deny',
        reason: 'invalid-certificate',
        message: expect.stringMatching(reason),
      });
      expect(t.identityPlus.calls).toBe(0);
    },
  );

  it('rejects a chain whose first (leaf) element is a CA: the leaf is what is decided on', async () => {
    const t = setup();
    const res = await t.handler(
      auth('traefik', {
        'X-Forwarded-Tls-Client-Cert': `${der(pki.intermediate.cert)},${der(pki.devices.alice.cert)}`,
      }),
    );
    expect(res.statusCode).toBe(403);
    expect(t.identityPlus.calls).toBe(0);
  });

  it("answers any method (Envoy forwards the browser's), and a 404 naming the dialects for an unknown one", async () => {
    const t = setup();
    const pem = pki.devices.alice.cert;
    const res = await t.handler(
      auth(
        'envoy',
        { 'x-forwarded-client-cert': xfcc(pem), 'x-forwarded-proto': 'https', Host: 'app.example.com' },
        { method: 'DELETE', rest: 'x' },
      ),
    );
    expect(res.statusCode).toBe(200);
    const unknown = await t.handler(auth('haproxy', {}));
    expect(unknown.statusCode).toBe(404);
    expect(JSON.parse(unknown.body).message).toMatch(/nginx, traefik, caddy, envoy/);
  });

  it('sends a browser without a certificate to sign in without a return address when the original URL is not allowed', async () => {
    const t = setup();
    const res = await t.handler(
      auth('caddy', { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': 'evil.example', 'X-Forwarded-Uri': '/x' }),
    );
    expect(res.statusCode).toBe(302);
    expect(res.headers?.Location).toBe('https://auth.example.com/signin');
  });

  it('never builds a return address from a Host with userinfo or a path', async () => {
    const t = setup();
    for (const host of ['app.example.com@evil.example', 'evil.example/app.example.com', 'app.example.com:99999']) {
      const res = await t.handler(
        auth('traefik', { 'X-Forwarded-Proto': 'https', 'X-Forwarded-Host': host, 'X-Forwarded-Uri': '/x' }),
      );
      expect({ host, location: res.headers?.Location }).toEqual({ host, location: 'https://auth.example.com/signin' });
    }
  });

  it('answers a deny with a small page and an error with 503 + Retry-After (page dialects)', async () => {
    const t = setup();
    const carol = await t.handler(auth('caddy', { 'X-Client-Cert': der(pki.devices.carol.cert) }));
    expect(carol.statusCode).toBe(403);
    expect(carol.headers?.['Content-Type']).toMatch(/text\/html/);
    expect(carol.body).toContain('revoked');
    t.identityPlus.answers.set(pki.devices.alice.serial, new IdentityPlusError('timeout', 'no answer'));
    const down = await t.handler(auth('caddy', { 'X-Client-Cert': der(pki.devices.alice.cert) }));
    expect(down.statusCode).toBe(503);
    expect(down.headers?.['Retry-After']).toBe('30');
  });
});
