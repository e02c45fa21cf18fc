/**
 * The identity operations' routes (functions/handlers/identity-ops-app.ts): PUT /bindings,
 * DELETE /bindings/{localUserId}, POST /intrusions, DELETE /intrusions/{reference}. Identity Plus is
 * test/support/identity-ops-doubles.ts' WireIdentityOperations: the client's own builders and parsers
 * on scripted answer bodies, so what is sent and what is read is what production sends and reads.
 */
import type { APIGatewayProxyResult } from 'aws-lambda';
import { Truststore } from '../../../functions/domain/certificate-chain';
import { decide } from '../../../functions/domain/decision';
import { IdentityPlusError, InvalidInputError } from '../../../functions/domain/errors';
import type { IdentityOperation } from '../../../functions/domain/identity-operations';
import { INTRUSION_SEVERITIES } from '../../../functions/domain/identity-plus';
import {
  createIdentityOpsHandler,
  intrusionSeverity,
  isIdentityRoute,
} from '../../../functions/handlers/identity-ops-app';
import type { DevPki } from '../../../local/dev-pki';
import { TestClock, cleared, proxyEvent } from '../../support/handler-doubles';
import {
  ForgetfulCache,
  RecordingLog,
  WireIdentityOperations,
  identityAnswers,
} from '../../support/identity-ops-doubles';
import { only } from '../../support/only';
import { testPki } from '../../support/test-pki';

let pki: DevPki;
beforeAll(async () => {
  pki = await testPki();
});

function setup() {
  const clock = new TestClock();
  clock.value = Date.now(); // real certificates: validity is checked against this clock
  const identityPlus = new WireIdentityOperations();
  const cache = new ForgetfulCache();
  const log = new RecordingLog();
  const handler = createIdentityOpsHandler({
    identityPlus,
    truststore: Truststore.fromPem(pki.caChain),
    cache,
    now: clock.now,
    log,
  });
  return { handler, identityPlus, cache, log, clock };
}

const JSON_HEADERS = { 'content-type': 'application/json' };

const bindEvent = (body: unknown, raw?: string) =>
  proxyEvent({
    path: '/bindings',
    resource: '/bindings',
    method: 'PUT',
    headers: JSON_HEADERS,
    body: raw ?? JSON.stringify(body),
  });
const reportEvent = (body: unknown, raw?: string) =>
  proxyEvent({
    path: '/intrusions',
    resource: '/intrusions',
    method: 'POST',
    headers: JSON_HEADERS,
    body: raw ?? JSON.stringify(body),
  });
const unbindEvent = (localUserId?: string) =>
  proxyEvent({
    path: `/bindings/${encodeURIComponent(localUserId ?? '')}`,
    resource: '/bindings/{localUserId}',
    method: 'DELETE',
    ...(localUserId === undefined ? {} : { pathParameters: { localUserId } }),
  });
const withdrawEvent = (reference?: string) =>
  proxyEvent({
    path: `/intrusions/${encodeURIComponent(reference ?? '')}`,
    resource: '/intrusions/{reference}',
    method: 'DELETE',
    ...(reference === undefined ? {} : { pathParameters: { reference } }),
  });

const bodyOf = (res: APIGatewayProxyResult): Record<string, unknown> => JSON.parse(res.body);
const messageOf = (res: APIGatewayProxyResult): string => String(bodyOf(res).message);

/** A 4xx whose JSON message contains `words`, and nothing sent to Identity Plus. */
function expectRefusedBeforeSending(
  res: APIGatewayProxyResult,
  t: ReturnType<typeof setup>,
  status: number,
  words: string | RegExp,
): void {
  expect({ status: res.statusCode, message: messageOf(res) }).toEqual({
    status,
    message: typeof words === 'string' ? expect.stringContaining(words) : expect.stringMatching(words),
  });
  expect(res.headers?.['Content-Type']).toBe('application/json; charset=utf-8');
  expect(t.identityPlus.sent).toEqual([]);
}

/** A cached allow for `serial`, decided as if Identity Plus had just cleared it. */
function cacheAllow(t: ReturnType<typeof setup>, serial: string, profile: Parameters<typeof cleared>[0] = {}): void {
  t.cache.remember(serial, decide(cleared(profile), { allowedRoles: [] }, serial), t.clock.now());
}

describe('PUT /bindings', () => {
  it("binds the owner of a certificate to a local user id: 200 with the user's new key", async () => {
    const t = setup();
    const res = await t.handler(bindEvent({ certificate: pki.devices.alice.cert, localUserId: 'user-42' }));
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toEqual({
      localUserId: 'user-42',
      userId: 'local:user-42',
      serial: pki.devices.alice.serial,
      outcome: 'OK 0100 Local user bound',
    });
    expect(t.identityPlus.sent).toEqual([
      {
        operation: 'bind',
        method: 'PUT',
        envelope: {
          'Local-User-Information': { 'serial-number': pki.devices.alice.serial, 'local-user-name': 'user-42' },
        },
      },
    ]);
    expect(res.headers?.['Cache-Control']).toBe('no-store');
    expect(res.headers?.['Retry-After']).toBeUndefined();
  });

  it('names the user by the local-user-id Identity Plus answered, when it answers one', async () => {
    const t = setup();
    t.identityPlus.queue.push({ body: identityAnswers.bound('user-42', { 'local-user-id': 'user-42-canonical' }) });
    const res = await t.handler(bindEvent({ serial: pki.devices.alice.serial, localUserId: 'user-42' }));
    expect(bodyOf(res)).toMatchObject({ localUserId: 'user-42', userId: 'local:user-42-canonical' });
  });

  it.each([
    ['decimal', (s: string) => s],
    ['0x-hex', (s: string) => `0x${BigInt(s).toString(16)}`],
    ['upper-case 0X-hex', (s: string) => `0X${BigInt(s).toString(16).toUpperCase()}`],
    [
      'colon-hex',
      (s: string) => {
        const hex = BigInt(s).toString(16);
        return ((hex.length % 2 ? `0${hex}` : hex).match(/../g) ?? []).join(':');
      },
    ],
    ['decimal with spaces around it', (s: string) => ` ${s} `],
  ])('binds by a serial in %s, sending it as decimal', async (_form, write) => {
    const t = setup();
    const res = await t.handler(bindEvent({ serial: write(pki.devices.alice.serial), localUserId: 'u' }));
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res).serial).toBe(pki.devices.alice.serial);
    expect(only(t.identityPlus.sent).envelope).toEqual({
      'Local-User-Information': { 'serial-number': pki.devices.alice.serial, 'local-user-name': 'u' },
    });
  });

  it('takes a base64-encoded body, as API Gateway passes some', async () => {
    const t = setup();
    const event = bindEvent({ serial: '12345', localUserId: 'u' });
    event.body = Buffer.from(event.body ?? '').toString('base64');
    event.isBase64Encoded = true;
    expect((await t.handler(event)).statusCode).toBe(200);
  });

  describe('checks a certificate against the truststore before asking Identity Plus', () => {
    it('refuses mallory, whose certificate a foreign CA issued', async () => {
      const t = setup();
      const res = await t.handler(bindEvent({ certificate: pki.devices.mallory.cert, localUserId: 'u' }));
      expectRefusedBeforeSending(res, t, 400, "certificate was not issued by a CA in plusgate's truststore");
    });

    it("refuses frank's expired certificate", async () => {
      const t = setup();
      const res = await t.handler(bindEvent({ certificate: pki.devices.frank.cert, localUserId: 'u' }));
      expectRefusedBeforeSending(res, t, 400, 'certificate expired on');
    });

    it('refuses a CA certificate', async () => {
      const t = setup();
      const res = await t.handler(bindEvent({ certificate: pki.intermediate.cert, localUserId: 'u' }));
      expectRefusedBeforeSending(res, t, 400, 'CA certificate, not a device certificate');
    });

    it.each([
      ['garbage', 'hello'],
      ['an empty string', ''],
      ['a PEM block that is no certificate', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'],
      ['two certificates', 'TWO'],
      ['a certificate and its key', 'WITH-KEY'],
    ])('refuses %s as certificate with a 400, without echoing it', async (_what, raw) => {
      const t = setup();
      const pem =
        raw === 'TWO'
          ? pki.devices.alice.cert + pki.devices.bob.cert
          : raw === 'WITH-KEY'
            ? pki.devices.alice.cert + pki.devices.alice.key
            : raw;
      const res = await t.handler(bindEvent({ certificate: pem, localUserId: 'u' }));
      expectRefusedBeforeSending(res, t, 400, 'certificate');
      // The message shows the armour lines as guidance; no line of the certificate or key comes back.
      const lines = (pki.devices.alice.cert + pki.devices.alice.key).split('\n').filter((l) => l.length > 20);
      for (const line of lines) if (!line.startsWith('-----')) expect(res.body).not.toContain(line);
      expect(res.body).not.toContain('PRIVATE KEY');
    });
  });

  describe('refuses a body that is not what the route takes, naming what was wrong', () => {
    it.each<[string, string, number, string]>([
      ['larger than 16 KB', JSON.stringify({ serial: '1', localUserId: 'x'.repeat(16_400) }), 413, 'at most 16384'],
      ['empty', '', 400, 'request body is empty'],
      ['blank', '  \n', 400, 'request body is empty'],
      ['not JSON', 'serial=1&localUserId=u', 400, 'request body is not JSON'],
      ['cut-off JSON', '{"serial": "1", "localUserId"', 400, 'request body is not JSON'],
      ['a JSON array', '[{"serial":"1","localUserId":"u"}]', 400, 'request body must be a JSON object'],
      ['JSON null', 'null', 400, 'request body must be a JSON object'],
      ['a JSON string', '"serial"', 400, 'request body must be a JSON object'],
      ['a JSON number', '12', 400, 'request body must be a JSON object'],
      ['with an unknown field', '{"serial":"1","localUserId":"u","admin":true}', 400, 'unknown field "admin"'],
      ['with __proto__', '{"serial":"1","localUserId":"u","__proto__":{"x":1}}', 400, 'unknown field "__proto__"'],
      ['with constructor', '{"serial":"1","localUserId":"u","constructor":1}', 400, 'unknown field "constructor"'],
      ['with a misspelt field', '{"Serial":"1","localUserId":"u"}', 400, 'unknown field "Serial"'],
      ['with certificate and serial', 'BOTH', 400, 'give either certificate or serial, not both'],
      ['with neither certificate nor serial', '{"localUserId":"u"}', 400, 'give certificate (PEM) or serial'],
      ['with a numeric certificate', '{"certificate":42,"localUserId":"u"}', 400, 'certificate must be a PEM string'],
      ['with a null certificate', '{"certificate":null,"localUserId":"u"}', 400, 'certificate must be a PEM string'],
      ['with a numeric serial', '{"serial":12345,"localUserId":"u"}', 400, 'serial must be a string'],
      ['with a serial of letters', '{"serial":"alice","localUserId":"u"}', 400, 'is not a serial number'],
      ['with a zero serial', '{"serial":"0","localUserId":"u"}', 400, 'serial must be a positive number'],
      ['with a 21-byte serial', `{"serial":"0x${'f'.repeat(42)}","localUserId":"u"}`, 400, 'larger than 20 bytes'],
      ['without localUserId', '{"serial":"1"}', 400, 'localUserId must be a non-empty string'],
      ['with a numeric localUserId', '{"serial":"1","localUserId":7}', 400, 'localUserId must be a non-empty string'],
      ['with an empty localUserId', '{"serial":"1","localUserId":""}', 400, 'localUserId must be a non-empty string'],
      ['with a localUserId with a /', '{"serial":"1","localUserId":"a/b"}', 400, 'localUserId must not contain'],
      ['with a localUserId with a NUL', '{"serial":"1","localUserId":"a\\u0000"}', 400, 'localUserId must not contain'],
      ['with a long localUserId', `{"serial":"1","localUserId":"${'u'.repeat(129)}"}`, 400, 'longer than 128'],
      // Found by the fuzz: bound, it could never be named in DELETE /bindings/{localUserId}.
      ['with a lone surrogate in localUserId', '{"serial":"1","localUserId":"\\ud800"}', 400, 'unpaired surrogates'],
    ])('%s', async (_what, raw, status, words) => {
      const t = setup();
      const body =
        raw === 'BOTH' ? JSON.stringify({ certificate: pki.devices.alice.cert, serial: '1', localUserId: 'u' }) : raw;
      expectRefusedBeforeSending(await t.handler(bindEvent(undefined, body)), t, status, words);
    });

    it('counts the 16 KB in bytes after base64 decoding', async () => {
      const t = setup();
      const event = bindEvent(undefined, JSON.stringify({ serial: '1', localUserId: 'é'.repeat(8200) }));
      event.body = Buffer.from(event.body ?? '').toString('base64');
      event.isBase64Encoded = true;
      expectRefusedBeforeSending(await t.handler(event), t, 413, 'at most 16384 are accepted');
    });
  });

  it('forgets the cached decisions of the serial and of its owner under the old key, and nothing else', async () => {
    const t = setup();
    const alice = pki.devices.alice.serial;
    cacheAllow(t, alice); // org:ref-alice
    cacheAllow(t, pki.devices.erin.serial); // another device of hers, same organisational reference
    cacheAllow(t, pki.devices.bob.serial, { organizationalReference: 'ref-bob' });
    expect(t.cache.fresh(alice, t.clock.now())?.decision).toBe('allow');

    const res = await t.handler(bindEvent({ certificate: pki.devices.alice.cert, localUserId: 'alice-1' }));
    expect(res.statusCode).toBe(200);
    expect(t.cache.fresh(alice, t.clock.now())).toBeUndefined();
    expect(t.cache.fresh(pki.devices.erin.serial, t.clock.now())).toBeUndefined();
    expect(t.cache.fresh(pki.devices.bob.serial, t.clock.now())?.decision).toBe('allow');
    expect(t.cache.forgotten).toEqual([alice]);
    expect(t.cache.forgottenUsers).toEqual(['org:ref-alice']);
  });

  it('forgets by the serial key when the identity has no organisational reference', async () => {
    const t = setup();
    t.identityPlus.queue.push({ body: identityAnswers.bound('u', { 'organizational-reference': '' }) });
    await t.handler(bindEvent({ serial: '0x3039', localUserId: 'u' }));
    expect(t.cache.forgottenUsers).toEqual(['serial:12345']);
  });

  it('keeps the cache when Identity Plus refused', async () => {
    const t = setup();
    cacheAllow(t, pki.devices.alice.serial);
    t.identityPlus.queue.push({ body: identityAnswers.simple('ER 0003 Already bound') });
    const res = await t.handler(bindEvent({ certificate: pki.devices.alice.cert, localUserId: 'alice-1' }));
    expect(res.statusCode).toBe(409);
    expect(t.cache.fresh(pki.devices.alice.serial, t.clock.now())?.decision).toBe('allow');
    expect(t.cache.forgotten).toEqual([]);
  });

  it('logs what it did, without the certificate', async () => {
    const t = setup();
    await t.handler(bindEvent({ certificate: pki.devices.alice.cert, localUserId: 'u' }));
    expect(t.log.decisions).toEqual([
      {
        route: 'PUT /bindings',
        operation: 'bind',
        serial: pki.devices.alice.serial,
        userId: 'local:u',
        outcome: 'OK 0100 Local user bound',
      },
    ]);
    expect(JSON.stringify(t.log.decisions)).not.toContain('BEGIN');
  });

  it('treats an Identity-Profile with a problem outcome as a refusal', async () => {
    const t = setup();
    t.identityPlus.queue.push({ body: JSON.stringify({ 'Identity-Profile': { outcome: 'PB 0006 Unknown' } }) });
    const res = await t.handler(bindEvent({ serial: '1', localUserId: 'u' }));
    expect(res.statusCode).toBe(404);
    expect(messageOf(res)).toBe('Identity Plus does not know this certificate: Identity Plus answered PB 0006');
  });
});

describe('DELETE /bindings/{localUserId}', () => {
  it('unbinds the local user id: 200, and forgets the decisions naming that user', async () => {
    const t = setup();
    cacheAllow(t, pki.devices.erin.serial, { localUserId: 'erin-7' });
    cacheAllow(t, pki.devices.alice.serial);
    const res = await t.handler(unbindEvent('erin-7'));
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toEqual({ localUserId: 'erin-7', unbound: true, outcome: 'OK 0101 Local user unbound' });
    expect(t.identityPlus.sent).toEqual([
      { operation: 'unbind', method: 'DELETE', envelope: { 'Local-User-Reference': { 'local-user-name': 'erin-7' } } },
    ]);
    expect(t.cache.fresh(pki.devices.erin.serial, t.clock.now())).toBeUndefined();
    expect(t.cache.fresh(pki.devices.alice.serial, t.clock.now())?.decision).toBe('allow');
    expect(t.cache.forgottenUsers).toEqual(['local:erin-7']);
  });

  it('takes any visible characters, spaces inside included', async () => {
    const t = setup();
    expect((await t.handler(unbindEvent('Zoë Ärger \u{1F600}'))).statusCode).toBe(200);
  });

  it.each<[string, string | undefined, string]>([
    ['missing', undefined, 'localUserId must be a non-empty string'],
    ['empty', '', 'localUserId must be a non-empty string'],
    ['blank', '   ', 'localUserId must be a non-empty string'],
    ['a slash', 'a/b', 'localUserId must not contain control characters, unpaired surrogates or "/"'],
    ['only a slash', '/', 'localUserId must not contain'],
    ['a line break', 'alice\r\nX-Injected: 1', 'localUserId must not contain'],
    ['a NUL', 'alice\u0000', 'localUserId must not contain'],
    ['an escape sequence', '\u001b[2Jalice', 'localUserId must not contain'],
    ['10 000 characters', 'a'.repeat(10_000), 'localUserId is longer than 128 characters'],
    ['a leading space', ' alice', 'without leading or trailing spaces'],
  ])('refuses a path parameter that is %s with a 400, before asking Identity Plus', async (_what, id, words) => {
    const t = setup();
    expectRefusedBeforeSending(await t.handler(unbindEvent(id)), t, 400, words);
  });

  it('keeps the cache when Identity Plus refused', async () => {
    const t = setup();
    cacheAllow(t, pki.devices.erin.serial, { localUserId: 'erin-7' });
    t.identityPlus.queue.push({ body: identityAnswers.simple('ER 0005 Not bound') });
    const res = await t.handler(unbindEvent('erin-7'));
    expect(res.statusCode).toBe(404);
    expect(messageOf(res)).toBe('this local user id is not bound to any identity: Identity Plus answered ER 0005');
    expect(t.cache.fresh(pki.devices.erin.serial, t.clock.now())?.decision).toBe('allow');
  });
});

describe('POST /intrusions', () => {
  const report = (extra: Record<string, unknown> = {}) => ({
    serial: pki.devices.mallory.serial,
    severity: 'intrusive',
    message: 'tried /admin 40 times',
    ...extra,
  });

  it("reports an intrusion: 201 with Identity Plus's reference and a Location to withdraw it", async () => {
    const t = setup();
    t.identityPlus.queue.push({ body: identityAnswers.reported('R-2026-17') });
    const res = await t.handler(reportEvent(report({ ip: '198.51.100.7', url: 'https://app.example.com/admin' })));
    expect(res.statusCode).toBe(201);
    expect(res.headers?.Location).toBe('/intrusions/R-2026-17');
    expect(bodyOf(res)).toEqual({
      reference: 'R-2026-17',
      serial: pki.devices.mallory.serial,
      severity: 'intrusive',
      outcome: 'OK 0000 Acknowledged',
    });
    expect(t.identityPlus.sent).toEqual([
      {
        operation: 'report-intrusion',
        method: 'PUT',
        envelope: {
          'Intrusion-Report': {
            'intruding-certificate-uid': pki.devices.mallory.serial,
            severity: 'intrusive',
            message: 'tried /admin 40 times',
            'intruder-ip-address': '198.51.100.7',
            'intruded-url': 'https://app.example.com/admin',
          },
        },
      },
    ]);
  });

  it('encodes the reference in the Location', async () => {
    const t = setup();
    t.identityPlus.queue.push({ body: identityAnswers.reported('R?x=1&y#z%') });
    const res = await t.handler(reportEvent(report()));
    expect(res.headers?.Location).toBe('/intrusions/R%3Fx%3D1%26y%23z%25');
  });

  it('reports by a certificate of the truststore, and refuses one of a foreign CA', async () => {
    const t = setup();
    const ok = await t.handler(
      reportEvent({ certificate: pki.devices.bob.cert, severity: 'fraud', message: 'chargeback' }),
    );
    expect(bodyOf(ok).serial).toBe(pki.devices.bob.serial);
    const foreign = setup();
    const res = await foreign.handler(
      reportEvent({ certificate: pki.devices.mallory.cert, severity: 'fraud', message: 'x' }),
    );
    expectRefusedBeforeSending(res, foreign, 400, "not issued by a CA in plusgate's truststore");
  });

  it.each([
    ['Policy-Violation', 'policy violation'],
    ['policy_violation', 'policy violation'],
    ['POLICY VIOLATION', 'policy violation'],
    ['  Material--Damage ', 'material damage'],
    ['false_information', 'false information'],
    ['Fraud', 'fraud'],
  ])('takes the severity %p, sent as %p', async (spelled, sent) => {
    const t = setup();
    const res = await t.handler(reportEvent(report({ severity: spelled })));
    expect(res.statusCode).toBe(201);
    expect(bodyOf(res).severity).toBe(sent);
    expect(only(t.identityPlus.sent).envelope).toMatchObject({ 'Intrusion-Report': { severity: sent } });
  });

  it('takes every documented severity', () => {
    for (const severity of INTRUSION_SEVERITIES) expect(intrusionSeverity(severity.toUpperCase())).toBe(severity);
  });

  it.each<[string, Record<string, unknown>, number, string]>([
    ['an unknown severity', { severity: 'spam' }, 400, 'severity must be one of mistake, policy violation'],
    ['a numeric severity', { severity: 3 }, 400, 'severity must be one of'],
    ['no severity', { severity: undefined }, 400, 'severity must be one of'],
    ['no message', { message: undefined }, 400, 'message must be text'],
    ['a numeric message', { message: 42 }, 400, 'message must be text'],
    ['an empty message', { message: '' }, 400, 'message must be text of 1 to 2000 characters'],
    ['a blank message', { message: ' \n ' }, 400, 'message must be text of 1 to 2000 characters'],
    ['a message of 2001 characters', { message: 'm'.repeat(2001) }, 400, 'message must be text of 1 to 2000'],
    ['an ip that is a name', { ip: 'localhost' }, 400, 'ip must be an IPv4 or IPv6 address'],
    ['an ip with a space', { ip: '1.2.3.4 ' }, 400, 'ip must be an IPv4 or IPv6 address'],
    ['a numeric ip', { ip: 16909060 }, 400, 'ip must be an IPv4 or IPv6 address'],
    ['a numeric url', { url: 5 }, 400, 'url must be an absolute http(s) URL'],
    ['a relative url', { url: '/admin' }, 400, 'url must be an absolute http(s) URL'],
    ['a javascript: url', { url: 'javascript:alert(1)' }, 400, 'url must be an absolute http(s) URL'],
    ['an unknown field', { reporter: 'me' }, 400, 'unknown field "reporter"'],
    ['a localUserId (a binding field)', { localUserId: 'u' }, 400, 'unknown field "localUserId"'],
    ['no certificate nor serial', { serial: undefined }, 400, 'give certificate (PEM) or serial'],
  ])('refuses %s with a 400 naming it, before anything is sent', async (_what, extra, status, words) => {
    const t = setup();
    expectRefusedBeforeSending(await t.handler(reportEvent(report(extra))), t, status, words);
  });

  it('forgets the cached decision of the reported serial', async () => {
    const t = setup();
    cacheAllow(t, pki.devices.bob.serial);
    await t.handler(reportEvent(report({ serial: pki.devices.bob.serial })));
    expect(t.cache.fresh(pki.devices.bob.serial, t.clock.now())).toBeUndefined();
    expect(t.cache.forgotten).toEqual([pki.devices.bob.serial]);
  });

  it('keeps the cache when Identity Plus refused', async () => {
    const t = setup();
    cacheAllow(t, pki.devices.bob.serial);
    t.identityPlus.queue.push({ body: identityAnswers.simple('ER 0007 Already reported') });
    const res = await t.handler(reportEvent(report({ serial: pki.devices.bob.serial })));
    expect(res.statusCode).toBe(409);
    expect(t.cache.forgotten).toEqual([]);
  });

  it('refuses a problem outcome that came in a Reference-Number', async () => {
    const t = setup();
    t.identityPlus.queue.push({ body: identityAnswers.reported('R-1', 'ER 0007 Already reported') });
    const res = await t.handler(reportEvent(report()));
    expect(res.statusCode).toBe(409);
    expect(res.headers?.Location).toBeUndefined();
  });

  it.each([
    ['an OK Simple-Response without a reference', identityAnswers.simple('OK 0000 Acknowledged')],
    ['a reference with a lone surrogate', identityAnswers.reported('R-\ud800')],
    ['a reference with a slash', identityAnswers.reported('R/1')],
    ['a reference with a line break', identityAnswers.reported('R-1\r\nSet-Cookie: a=b')],
    [
      'two envelopes',
      JSON.stringify({ 'Reference-Number': { value: 'R', outcome: 'OK 0000 a' }, 'Simple-Response': {} }),
    ],
    ['HTML', '<html>busy</html>'],
  ])('answers 503 with Retry-After when Identity Plus answered %s', async (_what, body) => {
    const t = setup();
    t.identityPlus.queue.push({ body });
    const res = await t.handler(reportEvent(report()));
    expect(res.statusCode).toBe(503);
    expect(res.headers?.['Retry-After']).toBe('30');
    expect(res.headers?.Location).toBeUndefined();
    expect(messageOf(res)).toBe(
      'Identity Plus could not be asked about this certificate right now. Please try again shortly.',
    );
  });
});

describe('DELETE /intrusions/{reference}', () => {
  it('withdraws a report: 200', async () => {
    const t = setup();
    const res = await t.handler(withdrawEvent('R-2026-17'));
    expect(res.statusCode).toBe(200);
    expect(bodyOf(res)).toEqual({ reference: 'R-2026-17', withdrawn: true, outcome: 'OK 0000 Acknowledged' });
    expect(t.identityPlus.sent).toEqual([
      {
        operation: 'withdraw-intrusion',
        method: 'DELETE',
        envelope: { 'Intrusion-Reference': { value: 'R-2026-17' } },
      },
    ]);
    expect(t.log.decisions).toEqual([
      {
        route: 'DELETE /intrusions/{reference}',
        operation: 'withdraw-intrusion',
        reference: 'R-2026-17',
        outcome: 'OK 0000 Acknowledged',
      },
    ]);
  });

  it.each<[string, string | undefined]>([
    ['missing', undefined],
    ['empty', ''],
    ['a slash', 'R/17'],
    ['a space', 'R 17'],
    ['a line break', 'R-17\r\nX: 1'],
    ['a NUL', 'R\u0000'],
    ['non-ASCII', 'Réf'],
    ['10 000 characters', 'R'.repeat(10_000)],
  ])('refuses a reference that is %s with a 400, before asking Identity Plus', async (_what, reference) => {
    const t = setup();
    expectRefusedBeforeSending(
      await t.handler(withdrawEvent(reference)),
      t,
      400,
      'reference must be 1 to 256 visible ASCII characters without "/"',
    );
  });

  it('answers 404 for a reference Identity Plus does not know', async () => {
    const t = setup();
    t.identityPlus.queue.push({ body: identityAnswers.simple('ER 0010 No such report') });
    const res = await t.handler(withdrawEvent('R-404'));
    expect(res.statusCode).toBe(404);
    expect(messageOf(res)).toBe(
      'Identity Plus knows no intrusion report with this reference: Identity Plus answered ER 0010',
    );
  });
});

describe("Identity Plus's refusals, on every route", () => {
  const ROUTES: ReadonlyArray<[IdentityOperation, () => ReturnType<typeof bindEvent>]> = [
    ['bind', () => bindEvent({ serial: '12345', localUserId: 'u' })],
    ['unbind', () => unbindEvent('u')],
    ['report-intrusion', () => reportEvent({ serial: '12345', severity: 'mistake', message: 'm' })],
    ['withdraw-intrusion', () => withdrawEvent('R-1')],
  ];
  const SPECIFIC: Readonly<Record<IdentityOperation, Readonly<Record<string, number>>>> = {
    bind: { 'ER 0003': 409, 'ER 0004': 409 },
    unbind: { 'ER 0005': 404 },
    'report-intrusion': { 'ER 0007': 409 },
    'withdraw-intrusion': { 'ER 0010': 404 },
  };
  const SHARED: Readonly<Record<string, number>> = {
    'PB 0000': 400,
    'PB 0001': 400,
    'PB 0002': 409,
    'PB 0003': 409,
    'PB 0004': 409,
    'PB 0005': 409,
    'PB 0006': 404,
    'PB 0007': 409,
    'PB 0008': 409,
    'ER 0001': 422,
    'ER 0006': 422,
    'ER 0009': 403,
    'ER 0011': 422,
    'ER 0000': 503,
    'ER 0002': 503,
    'ER 0008': 503,
    'ER 1100': 503,
    'ER 1101': 503,
    'ER 1104': 503,
    'ER 1106': 503,
    'PB 0009': 503,
  };

  it.each(ROUTES)(
    '%s: each code gets its status, its code in the message, and Retry-After only on 503',
    async (operation, event) => {
      const table = { ...SHARED, ...SPECIFIC[operation] };
      for (const [code, status] of Object.entries(table)) {
        const t = setup();
        t.identityPlus.queue.push({ body: identityAnswers.simple(`${code} words\u0000 <b>`, 'said\r\nthis') });
        const res = await t.handler(event());
        expect({ code, status: res.statusCode }).toEqual({ code, status });
        const message = messageOf(res);
        expect(message).toContain(code);
        expect(message).toContain('(said??this)');
        expect(message).not.toContain('<b>');
        expect(res.headers?.['Retry-After']).toBe(status === 503 ? '30' : undefined);
        expect(res.headers?.Location).toBeUndefined();
        expect(only(t.identityPlus.sent).operation).toBe(operation);
      }
    },
  );

  it.each(ROUTES)(
    '%s: an IdentityPlusError (timeout) is a 503 with Retry-After, logged, with no internals',
    async (_op, event) => {
      const t = setup();
      const timeout = new IdentityPlusError(
        'timeout',
        'Identity Plus did not answer within 3000 ms (internal detail).',
      );
      t.identityPlus.queue.push({ throws: timeout });
      const res = await t.handler(event());
      expect(res.statusCode).toBe(503);
      expect(res.headers?.['Retry-After']).toBe('30');
      expect(bodyOf(res)).toEqual({
        message: 'Identity Plus could not be asked about this certificate right now. Please try again shortly.',
      });
      expect(res.body).not.toContain('internal detail');
      expect(res.body).not.toMatch(/\bat [^\n]+:\d+:\d+/);
      expect(only(t.log.failures).err).toBe(timeout);
    },
  );

  it.each(ROUTES)('%s: every failure kind of the client is a 503', async (_op, event) => {
    for (const kind of [
      'timeout',
      'connection',
      'tls',
      'http-status',
      'invalid-response',
      'unknown-envelope',
      'rejected',
    ] as const) {
      const t = setup();
      t.identityPlus.queue.push({ throws: new IdentityPlusError(kind, `x-internal ${kind}`) });
      const res = await t.handler(event());
      expect({ kind, status: res.statusCode, retry: res.headers?.['Retry-After'] }).toEqual({
        kind,
        status: 503,
        retry: '30',
      });
      expect(res.body).not.toContain('x-internal');
    }
  });

  it('an InvalidInputError of the client is the 4xx it names', async () => {
    const t = setup();
    t.identityPlus.queue.push({ throws: new InvalidInputError('localUserId is odd.', { field: 'localUserId' }) });
    const res = await t.handler(unbindEvent('u'));
    expect(res.statusCode).toBe(400);
    expect(messageOf(res)).toBe('localUserId is odd.');
    expect(t.log.failures).toEqual([]);
  });

  it('does not log 4xx refusals as failures, and logs 503 ones', async () => {
    const t = setup();
    t.identityPlus.queue.push({ body: identityAnswers.simple('ER 0005 Not bound') });
    t.identityPlus.queue.push({ body: identityAnswers.simple('ER 1104 Over the plan') });
    await t.handler(unbindEvent('u'));
    expect(t.log.failures).toEqual([]);
    await t.handler(unbindEvent('u'));
    expect(only(t.log.failures).message).toBe('DELETE /bindings/{localUserId} failed');
  });
});

describe('routing', () => {
  it.each([
    ['GET', '/bindings', 'PUT'],
    ['POST', '/bindings', 'PUT'],
    ['DELETE', '/bindings', 'PUT'],
    ['PUT', '/bindings/{localUserId}', 'DELETE'],
    ['GET', '/bindings/{localUserId}', 'DELETE'],
    ['PUT', '/intrusions', 'POST'],
    ['GET', '/intrusions', 'POST'],
    ['POST', '/intrusions/{reference}', 'DELETE'],
    ['put', '/bindings', 'PUT'],
    ['__proto__', '/bindings', 'PUT'],
    ['constructor', '/intrusions', 'POST'],
    ['toString', '/intrusions/{reference}', 'DELETE'],
  ])('answers %s on %s with 405 and Allow: %s', async (method, resource, allow) => {
    const t = setup();
    const res = await t.handler(proxyEvent({ method, path: resource, resource }));
    expect(res.statusCode).toBe(405);
    expect(res.headers?.Allow).toBe(allow);
    expect(messageOf(res)).toBe(`${method} is not supported on ${resource}: use ${allow}`);
    expect(t.identityPlus.sent).toEqual([]);
  });

  it('clips a long method in the 405 message', async () => {
    const t = setup();
    const res = await t.handler(proxyEvent({ method: 'X'.repeat(5000), path: '/bindings', resource: '/bindings' }));
    expect(res.statusCode).toBe(405);
    expect(messageOf(res).length).toBeLessThan(100);
  });

  it.each([
    '/bindingz',
    '/bindings/',
    '/BINDINGS',
    '/intrusions/{id}',
    '/verify',
    '',
    '__proto__',
    'constructor',
    'hasOwnProperty',
  ])('answers 404 for the resource %p', async (resource) => {
    const t = setup();
    const res = await t.handler(proxyEvent({ method: 'PUT', path: `/x${'y'.repeat(200)}`, resource }));
    expect(res.statusCode).toBe(404);
    expect(messageOf(res)).toMatch(/^no route for "\/xy+"$/);
    expect(messageOf(res).length).toBeLessThan(100);
    expect(t.identityPlus.sent).toEqual([]);
  });

  it('knows its four resources, and nothing else', () => {
    for (const resource of ['/bindings', '/bindings/{localUserId}', '/intrusions', '/intrusions/{reference}'])
      expect(isIdentityRoute(resource)).toBe(true);
    for (const resource of [undefined, '', '/verify', '/bindings/', '__proto__', 'constructor', 'toString'])
      expect(isIdentityRoute(resource)).toBe(false);
  });

  it('answers every route with the security headers and JSON', async () => {
    const t = setup();
    for (const res of [
      await t.handler(bindEvent({ serial: '1', localUserId: 'u' })),
      await t.handler(unbindEvent('u')),
      await t.handler(reportEvent({ serial: '1', severity: 'mistake', message: 'm' })),
      await t.handler(withdrawEvent('R-1')),
      await t.handler(proxyEvent({ method: 'GET', path: '/bindings', resource: '/bindings' })),
    ]) {
      expect(res.headers).toMatchObject({
        'Cache-Control': 'no-store',
        'X-Content-Type-Options': 'nosniff',
        'Content-Type': 'application/json; charset=utf-8',
      });
      expect(() => JSON.parse(res.body)).not.toThrow();
    }
  });
});

describe('the ledger follows a binding (the period bills the person once)', () => {
  /** A ledger that records the moves asked for and resolves a target worked out from devices. */
  class MovesDouble {
    readonly moves: Array<{ periodId: string; from: string; to: string | undefined }> = [];
    fail?: Error;
    devices: readonly string[] = ['4242'];
    async move(
      periodId: string,
      from: string,
      target: string | ((old: { devices: readonly string[] }) => Promise<string | undefined>),
    ): Promise<{ moved: boolean }> {
      if (this.fail) throw this.fail;
      const to = typeof target === 'string' ? target : await target({ devices: this.devices });
      this.moves.push({ periodId, from, to });
      return { moved: to !== undefined };
    }
  }

  function withLedger() {
    const clock = new TestClock();
    clock.value = Date.UTC(2026, 10, 20, 12); // 2026-11-20: period 2026-11 (anchor 1), 2026-10 (anchor 25)
    const identityPlus = new WireIdentityOperations();
    const ledger = new MovesDouble();
    const log = new RecordingLog();
    const make = (billingAnchorDay?: number, service?: string) =>
      createIdentityOpsHandler({
        identityPlus,
        truststore: Truststore.fromPem(pki.caChain),
        cache: new ForgetfulCache(),
        now: clock.now,
        log,
        ledger,
        ...(billingAnchorDay === undefined ? {} : { billingAnchorDay }),
        ...(service === undefined ? {} : { service }),
      });
    return { identityPlus, ledger, log, make };
  }

  it('a binding moves the period item from the key before it to local:<id>', async () => {
    const { identityPlus, ledger, make } = withLedger();
    identityPlus.queue.push({
      body: JSON.stringify({
        'Identity-Profile': {
          outcome: 'OK 0100 Subject user successfully associated to Identity Plus identity',
          'organizational-reference': 'org-ref-9',
          'local-user-id': 'u-9',
        },
      }),
    });
    const res = await make()(bindEvent({ serial: '77', localUserId: 'u-9' }));
    expect(res.statusCode).toBe(200);
    expect(ledger.moves).toEqual([{ periodId: '2026-11', from: 'org:org-ref-9', to: 'local:u-9' }]);
  });

  it('an unbinding asks Identity Plus who a recorded device is now (for the configured service) and moves there', async () => {
    const { identityPlus, ledger, make } = withLedger();
    const res = await make(25, 'managed.example')(unbindEvent('u-9'));
    expect(res.statusCode).toBe(200);
    expect(identityPlus.inquiries).toEqual([{ serial: '4242', service: 'managed.example' }]);
    expect(ledger.moves).toEqual([{ periodId: '2026-10', from: 'local:u-9', to: 'org:org-ref-1' }]);
  });

  it('an unbinding keeps the item where it is when the device is no longer cleared', async () => {
    const { identityPlus, ledger, make } = withLedger();
    identityPlus.inquiryAnswer = { kind: 'problem', outcome: 'PB 0004 Revoked Identity Plus anonymous certificate' };
    expect((await make()(unbindEvent('u-9'))).statusCode).toBe(200);
    expect(ledger.moves).toEqual([{ periodId: '2026-11', from: 'local:u-9', to: undefined }]);
  });

  it('a failed move is logged, not answered: the binding is done at Identity Plus either way', async () => {
    const { ledger, log, make } = withLedger();
    ledger.fail = new Error('ProvisionedThroughputExceededException');
    const res = await make()(bindEvent({ serial: '77', localUserId: 'u-9' }));
    expect(res.statusCode).toBe(200);
    expect(log.failures.map((f) => f.message)).toEqual([
      expect.stringMatching(/moving the ledger item of org:|moving the ledger item of serial:/),
    ]);
  });

  it('a refused binding moves nothing', async () => {
    const { identityPlus, ledger, make } = withLedger();
    identityPlus.queue.push({ body: identityAnswers.simple('ER 0003 Subject user name is already associated') });
    expect((await make()(bindEvent({ serial: '77', localUserId: 'u-9' }))).statusCode).toBe(409);
    expect(ledger.moves).toEqual([]);
  });
});
