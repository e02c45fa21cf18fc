/**
 * The Identity Plus client's identity operations (bind, unbind, reportIntrusion, withdrawIntrusion) and its
 * intent type rules (discover by default; one fallback to the other sign-in type on a refusal, kept when it
 * worked), over real mutual TLS on loopback against a small server that records every request and answers
 * what each test scripts. (The simulator is an independent oracle for the documented answers; this server
 * can answer what no well-behaved service would.)
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { IdentityPlusClient, type IdentityPlusClientOptions } from '../../functions/adapters/identity-plus-client';
import { IdentityPlusError, InvalidInputError } from '../../functions/domain/errors';
import type { DevPki } from '../../local/dev-pki';
import { only } from '../support/only';
import { testPki } from '../support/test-pki';

/** What the server does with one request: answer (status 200 unless given), never answer, or drop the socket. */
type Reply = { readonly status?: number; readonly body: string } | 'hang' | 'drop';

interface Received {
  readonly method: string;
  readonly url: string;
  readonly contentType: string | undefined;
  readonly body: unknown;
}

const SHORT = { connectTimeoutMs: 500, answerTimeoutMs: 800 } as const;
const SIGNON = 'https://signon.example.test';

let pki: DevPki;
let server: https.Server;
let apiUrl = '';
const received: Received[] = [];
const replies: Reply[] = [];
const clients: IdentityPlusClient[] = [];

function handle(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // kept as text: the test shows what came
    }
    received.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'], body });
    // Nothing scripted: a status no test expects, so an extra call shows.
    const reply = replies.shift() ?? { status: 418, body: '{}' };
    if (reply === 'hang') return;
    if (reply === 'drop') return void req.socket.destroy();
    res.writeHead(reply.status ?? 200, { 'content-type': 'application/json' }).end(reply.body);
  });
}

beforeAll(async () => {
  pki = await testPki();
  server = https.createServer(
    { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain, requestCert: true, rejectUnauthorized: true },
    handle,
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  apiUrl = `https://localhost:${(server.address() as AddressInfo).port}/v1`;
});

beforeEach(() => {
  received.length = 0;
  replies.length = 0;
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

function client(overrides: Partial<IdentityPlusClientOptions> = {}): IdentityPlusClient {
  const created = new IdentityPlusClient({
    apiUrl,
    signonUrl: SIGNON,
    credentials: { certificate: pki.api.cert, privateKey: pki.api.key },
    extraCa: pki.caChain,
    ...SHORT,
    ...overrides,
  });
  clients.push(created);
  return created;
}

/** The error a promise rejects with, of the class given. */
async function rejection<E extends Error>(kind: new (...args: never[]) => E, promise: Promise<unknown>): Promise<E> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof kind) return err;
    throw err;
  }
  throw new Error(`expected ${kind.name}`);
}

const answer = (value: unknown, status?: number): Reply => ({
  body: JSON.stringify(value),
  ...(status === undefined ? {} : { status }),
});
const simple = (outcome: string, message?: string): Reply =>
  answer({ 'Simple-Response': message === undefined ? { outcome } : { outcome, message } });
const intentRef = (value: string, outcome = 'OK 0000 Acknowledged'): Reply =>
  answer({ 'Intent-Reference': { value, outcome } });
const http500: Reply = { status: 500, body: '{"error":"internal"}' };

/** The intent types the server was asked for, in order. */
const typesAsked = (): unknown[] => received.map((r) => (r.body as { Intent?: { type?: unknown } }).Intent?.type);
const RETURN_URL = 'https://auth.example.com/return?state=s1';

describe('identity operations', () => {
  it('bind: PUT Local-User-Information with the decimal serial, the profile read back', async () => {
    replies.push(
      answer({
        'Identity-Profile': {
          outcome: 'OK 0100 Local user bound',
          'local-user-name': 'user-42',
          'organizational-reference': 'ref-alice',
          'service-roles': ['member'],
        },
      }),
    );
    const result = await client().bind('0x3039', 'user-42');
    expect(only(received)).toEqual({
      method: 'PUT',
      url: '/v1',
      contentType: 'application/json',
      body: { 'Local-User-Information': { 'serial-number': '12345', 'local-user-name': 'user-42' } },
    });
    expect(result).toMatchObject({
      kind: 'profile',
      profile: { outcome: 'OK 0100 Local user bound', localUserName: 'user-42', serviceRoles: ['member'] },
    });
  });

  it('bind: a Simple-Response problem comes back as a problem, with its message', async () => {
    replies.push(simple('ER 0003 Already bound', 'unbind first'));
    expect(await client().bind('12345', 'user-42')).toEqual({
      kind: 'problem',
      outcome: 'ER 0003 Already bound',
      message: 'unbind first',
    });
  });

  it('unbind: DELETE Local-User-Reference, the outcome read back', async () => {
    replies.push(simple('OK 0101 Local user unbound'));
    expect(await client().unbind('user-42')).toEqual({ outcome: 'OK 0101 Local user unbound' });
    expect(only(received)).toMatchObject({
      method: 'DELETE',
      body: { 'Local-User-Reference': { 'local-user-name': 'user-42' } },
    });
  });

  it('reportIntrusion: PUT Intrusion-Report with every field, the Reference-Number read back', async () => {
    replies.push(answer({ 'Reference-Number': { value: 'R-2026-17', outcome: 'OK 0000 Acknowledged' } }));
    const result = await client().reportIntrusion({
      serial: '0xff',
      severity: 'policy violation',
      message: 'tried /admin',
      ip: '198.51.100.7',
      url: 'https://app.example.com/admin',
    });
    expect(result).toEqual({ kind: 'reference', reference: 'R-2026-17', outcome: 'OK 0000 Acknowledged' });
    expect(only(received)).toMatchObject({
      method: 'PUT',
      body: {
        'Intrusion-Report': {
          'intruding-certificate-uid': '255',
          severity: 'policy violation',
          message: 'tried /admin',
          'intruder-ip-address': '198.51.100.7',
          'intruded-url': 'https://app.example.com/admin',
        },
      },
    });
  });

  it('withdrawIntrusion: DELETE Intrusion-Reference, the outcome read back', async () => {
    replies.push(simple('ER 0010 No such report', 'gone'));
    expect(await client().withdrawIntrusion('R-2026-17')).toEqual({
      outcome: 'ER 0010 No such report',
      message: 'gone',
    });
    expect(only(received)).toMatchObject({ method: 'DELETE', body: { 'Intrusion-Reference': { value: 'R-2026-17' } } });
  });

  it('refuses bad input before sending anything', async () => {
    const c = client();
    await expect(c.bind('12345', 'a/b')).rejects.toThrow(InvalidInputError);
    await expect(c.bind('not-a-serial', 'u')).rejects.toThrow(InvalidInputError);
    await expect(c.unbind('')).rejects.toThrow(InvalidInputError);
    await expect(c.reportIntrusion({ serial: '1', severity: 'spam' as never, message: 'm' })).rejects.toThrow(
      InvalidInputError,
    );
    await expect(c.withdrawIntrusion('R/1')).rejects.toThrow(InvalidInputError);
    expect(received).toEqual([]);
  });

  it('turns a non-2xx status into http-status, without a second call', async () => {
    replies.push(http500);
    const err = await rejection(IdentityPlusError, client().unbind('user-42'));
    expect(err.kind).toBe('http-status');
    expect(err.statusCode).toBe(500);
    expect(received).toHaveLength(1);
  });

  it('refuses hostile answers as invalid-response', async () => {
    const c = client();
    replies.push(answer({ 'Reference-Number': { value: 'R/1', outcome: 'OK 0000 a' } }));
    expect(
      (await rejection(IdentityPlusError, c.reportIntrusion({ serial: '1', severity: 'fraud', message: 'm' }))).kind,
    ).toBe('invalid-response');
    replies.push(simple('OK 0000 Acknowledged'));
    expect(
      (await rejection(IdentityPlusError, c.reportIntrusion({ serial: '1', severity: 'fraud', message: 'm' }))).kind,
    ).toBe('invalid-response');
    replies.push(answer({ 'Simple-Response': { outcome: 'OK 0101 a' }, 'Identity-Profile': { outcome: 'OK 0101 b' } }));
    expect((await rejection(IdentityPlusError, c.unbind('u'))).kind).toBe('invalid-response');
  });

  it('times out a call that gets no answer, without retrying it', async () => {
    replies.push('hang');
    const err = await rejection(IdentityPlusError, client().withdrawIntrusion('R-1'));
    expect(err.kind).toBe('timeout');
    expect(received).toHaveLength(1);
  });
});

describe('intent types', () => {
  it('sends discover by default', async () => {
    replies.push(intentRef('ref-1'));
    const intent = await client().createIntent({ returnUrl: RETURN_URL });
    expect(intent).toEqual({ reference: 'ref-1', outcome: 'OK 0000 Acknowledged', signonUrl: `${SIGNON}/ref-1` });
    expect(only(received)).toMatchObject({
      method: 'PUT',
      body: { Intent: { type: 'discover', 'return-url': RETURN_URL, 'strict-massl': true } },
    });
  });

  it('discover refused with an ER code → validate once, then validate first from then on', async () => {
    const c = client();
    replies.push(simple('ER 0003 Invalid or missing parameter'), intentRef('ref-v'));
    expect((await c.createIntent({ returnUrl: RETURN_URL })).signonUrl).toBe(`${SIGNON}/ref-v`);
    expect(typesAsked()).toEqual(['discover', 'validate']);
    replies.push(intentRef('ref-v2'));
    expect((await c.createIntent({ returnUrl: RETURN_URL })).reference).toBe('ref-v2');
    expect(typesAsked()).toEqual(['discover', 'validate', 'validate']);
  });

  it('discover refused with a PB code → validate once', async () => {
    replies.push(simple('PB 0003 Needs validation'), intentRef('ref-v'));
    expect((await client().createIntent({ returnUrl: RETURN_URL })).reference).toBe('ref-v');
    expect(typesAsked()).toEqual(['discover', 'validate']);
  });

  it('discover refused with HTTP 500 → validate once, then validate first', async () => {
    const c = client();
    replies.push(http500, intentRef('ref-v'));
    expect((await c.createIntent({ returnUrl: RETURN_URL })).reference).toBe('ref-v');
    replies.push(intentRef('ref-v2'));
    await c.createIntent({ returnUrl: RETURN_URL });
    expect(typesAsked()).toEqual(['discover', 'validate', 'validate']);
  });

  it('discover refused with a problem outcome in an Intent-Reference → validate once', async () => {
    replies.push(intentRef('ref-d', 'ER 0003 Invalid or missing parameter'), intentRef('ref-v'));
    expect((await client().createIntent({ returnUrl: RETURN_URL })).reference).toBe('ref-v');
    expect(typesAsked()).toEqual(['discover', 'validate']);
  });

  it('refused twice: the error names the first refusal, and the default stays', async () => {
    const c = client();
    replies.push(simple('ER 0003 Invalid or missing parameter', 'type'), http500);
    const err = await rejection(IdentityPlusError, c.createIntent({ returnUrl: RETURN_URL }));
    expect(err.kind).toBe('rejected');
    expect(err.outcome).toBe('ER 0003 Invalid or missing parameter');
    expect(err.message).toBe('Identity Plus refused to create an intent: ER 0003 Invalid or missing parameter (type).');
    expect(typesAsked()).toEqual(['discover', 'validate']);
    replies.push(intentRef('ref-d'));
    await c.createIntent({ returnUrl: RETURN_URL });
    expect(typesAsked()).toEqual(['discover', 'validate', 'discover']);
  });

  it('refused twice, first by HTTP 500: the error is that http-status', async () => {
    replies.push(http500, simple('ER 0009 Denied'));
    const err = await rejection(IdentityPlusError, client().createIntent({ returnUrl: RETURN_URL }));
    expect(err.kind).toBe('http-status');
    expect(err.statusCode).toBe(500);
    expect(received).toHaveLength(2);
  });

  it('a fallback answered with a problem outcome in its Intent-Reference is no success: not kept, first refusal named', async () => {
    const c = client();
    replies.push(simple('ER 0003 Invalid'), intentRef('ref-v', 'PB 0003 Needs validation'));
    const err = await rejection(IdentityPlusError, c.createIntent({ returnUrl: RETURN_URL }));
    expect(err.outcome).toBe('ER 0003 Invalid');
    replies.push(intentRef('ref-d'));
    await c.createIntent({ returnUrl: RETURN_URL });
    expect(typesAsked()).toEqual(['discover', 'validate', 'discover']);
  });

  it('does not fall back on a timeout', async () => {
    replies.push('hang');
    const err = await rejection(IdentityPlusError, client().createIntent({ returnUrl: RETURN_URL }));
    expect(err.kind).toBe('timeout');
    expect(typesAsked()).toEqual(['discover']);
  });

  it('does not fall back on a dropped connection', async () => {
    replies.push('drop');
    const err = await rejection(IdentityPlusError, client().createIntent({ returnUrl: RETURN_URL }));
    expect(err.kind).toBe('connection');
    expect(typesAsked()).toEqual(['discover']);
  });

  it('does not fall back on an answer it cannot read', async () => {
    replies.push({ body: 'busy' });
    const err = await rejection(IdentityPlusError, client().createIntent({ returnUrl: RETURN_URL }));
    expect(err.kind).toBe('invalid-response');
    expect(typesAsked()).toEqual(['discover']);
  });

  it.each(['discover', 'validate'] as const)('does not fall back when %s was asked for explicitly', async (type) => {
    const c = client();
    replies.push(simple('ER 0003 Invalid'));
    const err = await rejection(IdentityPlusError, c.createIntent({ returnUrl: RETURN_URL, type }));
    expect(err.kind).toBe('rejected');
    replies.push(http500);
    expect((await rejection(IdentityPlusError, c.createIntent({ returnUrl: RETURN_URL, type }))).kind).toBe(
      'http-status',
    );
    expect(typesAsked()).toEqual([type, type]);
  });

  it('a configured validate falls back to discover, and keeps discover', async () => {
    const c = client({ intentType: 'validate' });
    replies.push(simple('ER 0003 Invalid'), intentRef('ref-d'), intentRef('ref-d2'));
    await c.createIntent({ returnUrl: RETURN_URL });
    await c.createIntent({ returnUrl: RETURN_URL });
    expect(typesAsked()).toEqual(['validate', 'discover', 'discover']);
  });

  it('any other configured type falls back to discover', async () => {
    const c = client({ intentType: 'request' });
    replies.push(http500, intentRef('ref-d'));
    await c.createIntent({ returnUrl: RETURN_URL });
    expect(typesAsked()).toEqual(['request', 'discover']);
  });

  it('an explicit type does not change the default', async () => {
    const c = client();
    replies.push(intentRef('ref-v'), intentRef('ref-d'));
    await c.createIntent({ returnUrl: RETURN_URL, type: 'validate' });
    await c.createIntent({ returnUrl: RETURN_URL });
    expect(typesAsked()).toEqual(['validate', 'discover']);
  });
});
