import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { X509Certificate } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { certificateParser, serialToColonHex } from '../../functions/domain/certificate';
import { createEdgeHandler } from '../../functions/handlers/edge-app';
import { type DevPki, issueCertificate } from '../../local/dev-pki';
import { type GatewayRoute, LocalGateway, type ProxyHandler } from '../../local/gateway';
import {
  authenticatorWith,
  cleared,
  FakeIdentityPlus,
  FakeIntents,
  MemoryUsedStates,
  MemoryRecords,
  TestClock,
} from '../support/handler-doubles';
import { defined, only } from '../support/only';
import { testPki } from '../support/test-pki';

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly rawHeaders: string[];
  readonly body: Buffer;
}

interface SendOptions {
  readonly method?: string;
  readonly headers?: http.OutgoingHttpHeaders;
  readonly body?: Buffer | string;
  /** For https: the trust anchors, and the client certificate if one is to be presented. */
  readonly tls?: { readonly ca: string; readonly cert?: string; readonly key?: string };
  readonly agent?: http.Agent;
}

/** One request on its own connection (unless an agent is given), body collected. */
function send(baseUrl: string, path: string, o: SendOptions = {}): Promise<Reply> {
  const url = new URL(path, baseUrl);
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = {
      method: o.method ?? 'GET',
      headers: o.headers,
      agent: o.agent ?? false,
      ...(o.tls ? { ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, servername: 'localhost' } : {}),
    };
    const req = (url.protocol === 'https:' ? https : http).request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(o.body);
  });
}

const json = (reply: Reply): unknown => JSON.parse(reply.body.toString('utf8'));
const ok = (body: unknown): APIGatewayProxyResult => ({ statusCode: 200, body: JSON.stringify(body) });

describe('LocalGateway with mutual TLS', () => {
  let pki: DevPki;
  let gateway: LocalGateway;
  const seen: APIGatewayProxyEvent[] = [];
  const whoami = jest.fn<ReturnType<ProxyHandler>, Parameters<ProxyHandler>>(async (event) => {
    seen.push(event);
    return ok({ serial: event.requestContext.identity.clientCert?.serialNumber });
  });
  const logs: string[] = [];

  beforeAll(async () => {
    pki = await testPki();
    gateway = new LocalGateway({
      routes: [{ method: 'GET', path: '/whoami', handler: whoami }],
      tls: { cert: pki.server.cert, key: pki.server.key, truststore: pki.caChain },
      log: (line) => logs.push(line),
    });
    await gateway.start();
  });
  afterAll(() => gateway.stop());
  beforeEach(() => {
    whoami.mockClear();
    seen.length = 0;
  });

  const as = (person: keyof DevPki['devices']) => ({
    ca: pki.caChain,
    cert: pki.devices[person].cert,
    key: pki.devices[person].key,
  });

  it('serves https on localhost', () => {
    expect(gateway.url).toBe(`https://localhost:${gateway.port}`);
  });

  it('passes a trusted device certificate to the handler as API Gateway does', async () => {
    const reply = await send(gateway.url, '/whoami?x=1', { tls: as('alice'), headers: { 'user-agent': 'jest' } });
    expect(reply.status).toBe(200);
    const alice = pki.devices.alice;
    expect(json(reply)).toEqual({ serial: serialToColonHex(alice.serial) });

    const event = only(seen, 'event seen by the handler');
    const cert = event.requestContext.identity.clientCert!;
    expect(new X509Certificate(cert.clientCertPem).fingerprint256).toBe(new X509Certificate(alice.cert).fingerprint256);
    expect(cert.clientCertPem.trim()).toBe(alice.cert.trim());
    expect(cert.subjectDN).toContain("CN=Alice's Laptop");
    expect(cert.validity.notAfter).toBe(new X509Certificate(alice.cert).validTo);
    expect(event).toMatchObject({
      resource: '/whoami',
      path: '/whoami',
      httpMethod: 'GET',
      queryStringParameters: { x: '1' },
      requestContext: {
        stage: 'local',
        domainName: 'localhost',
        identity: { sourceIp: '127.0.0.1', userAgent: 'jest' },
      },
    });
    expect(event.headers).toMatchObject({
      'X-Forwarded-Proto': 'https',
      'X-Forwarded-Port': String(gateway.port),
      'X-Forwarded-For': '127.0.0.1',
    });
    expect(reply.headers['x-amzn-requestid']).toBe(event.requestContext.requestId);
  });

  it.each([
    ['no client certificate', undefined],
    ['a certificate from a foreign CA (mallory)', 'mallory'],
    ['an expired certificate (frank)', 'frank'],
  ] as const)('refuses %s in the handshake; no handler runs', async (_case, person) => {
    const tls = person ? as(person) : { ca: pki.caChain };
    // Under TLS 1.3 the refusal may only show after the client's handshake is done: a reset, a hang-up or
    // an alert. Which one is not the point; that the request fails and nothing ran is.
    await expect(send(gateway.url, '/whoami', { tls })).rejects.toThrow();
    expect(whoami).not.toHaveBeenCalled();
  });

  it('refuses a client that offers only TLS 1.1', async () => {
    await expect(
      new Promise((resolve, reject) => {
        const req = https.request(
          `${gateway.url}/whoami`,
          { ...as('alice'), servername: 'localhost', agent: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' },
          resolve,
        );
        req.on('error', reject);
        req.end();
      }),
    ).rejects.toThrow();
    expect(whoami).not.toHaveBeenCalled();
  });

  it('answers 421 to a trusted device whose request names a Host that is not loopback; no handler runs', async () => {
    const reply = await send(gateway.url, '/whoami', { tls: as('alice'), headers: { host: 'evil.example:8443' } });
    expect(reply.status).toBe(421);
    expect(json(reply)).toEqual({ message: expect.stringMatching(/Host header is not a loopback name/) });
    expect(whoami).not.toHaveBeenCalled();
    expect((await send(gateway.url, '/whoami', { tls: as('alice'), headers: { host: 'localhost' } })).status).toBe(200);
  });

  it('logs why a handshake was refused, and never certificates', () => {
    expect(logs).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/refused from 127\.0\.0\.1: .*CERTIFICATE/),
        expect.stringMatching(/refused from 127\.0\.0\.1: UNABLE_TO_VERIFY_LEAF_SIGNATURE$/),
        expect.stringMatching(/refused from 127\.0\.0\.1: CERT_HAS_EXPIRED$/),
      ]),
    );
    expect(logs.join('\n')).not.toMatch(/BEGIN|PRIVATE/);
    expect(logs).toContainEqual(expect.stringMatching(/^GET \/whoami 200 \d+ms$/));
  });
});

describe('LocalGateway over plain HTTP', () => {
  let gateway: LocalGateway;
  const logs: string[] = [];
  let releaseSlow: () => void = () => undefined;
  const slowGate = new Promise<void>((resolve) => (releaseSlow = resolve));
  const thrower = jest.fn(async (): Promise<APIGatewayProxyResult> => {
    throw new Error('database password is hunter2\n    at secretFunction (/var/task/index.js:1:1)');
  });
  const echo = jest.fn(async (event: APIGatewayProxyEvent) => ok(event));
  const bad =
    (result: unknown): ProxyHandler =>
    async () =>
      result as APIGatewayProxyResult;

  const routes: GatewayRoute[] = [
    { method: 'ANY', path: '/echo', handler: (event) => echo(event) },
    { method: 'ANY', path: '/auth/{dialect}', handler: (event) => echo(event) },
    { method: 'ANY', path: '/auth/{dialect}/{path+}', handler: (event) => echo(event) },
    { method: 'GET', path: '/auth/fixed', handler: async () => ({ statusCode: 209, body: '' }) },
    { method: 'DELETE', path: '/echo', handler: async () => ({ statusCode: 204, body: '' }) },
    {
      method: 'GET',
      path: '/signin',
      handler: async () => ({ statusCode: 302, headers: { Location: '/home' }, body: '' }),
    },
    {
      method: 'POST',
      path: '/binary',
      handler: async (event) => ({
        statusCode: 200,
        headers: { 'Content-Type': 'application/octet-stream' },
        body: event.isBase64Encoded ? (event.body as string) : Buffer.from(event.body ?? '').toString('base64'),
        isBase64Encoded: true,
      }),
    },
    {
      method: 'GET',
      path: '/cookies',
      handler: async () => ({
        statusCode: 200,
        headers: { 'Content-Type': 'text/plain', 'X-Count': 1, 'X-Flag': true },
        multiValueHeaders: { 'Set-Cookie': ['a=1; Secure', 'b=2; Secure'], 'x-count': [0] },
        body: 'cookies',
      }),
    },
    {
      method: 'GET',
      path: '/context',
      handler: async (_event, context: Context) => ok({ ...context, remaining: context.getRemainingTimeInMillis() }),
    },
    { method: 'GET', path: '/throws', handler: thrower },
    { method: 'GET', path: '/slow', handler: async () => slowGate.then(() => ok('late')) },
    { method: 'GET', path: '/bad-status', handler: bad({ body: 'no status' }) },
    {
      method: 'GET',
      path: '/bad-header',
      handler: bad({ statusCode: 200, headers: { 'X-Evil': 'a\r\nSet-Cookie: pwned=1' }, body: '' }),
    },
    {
      method: 'GET',
      path: '/bad-multi-header',
      handler: bad({ statusCode: 200, multiValueHeaders: { 'X-Evil': ['ok', 'a\nb'] }, body: '' }),
    },
    {
      method: 'GET',
      path: '/bad-header-name',
      handler: bad({ statusCode: 200, headers: { 'Bad Name': 'x' }, body: '' }),
    },
    { method: 'GET', path: '/bad-keys', handler: bad({ statusCode: 200, body: '', extra: true }) },
    { method: 'GET', path: '/bad-body', handler: bad({ statusCode: 200, body: { not: 'a string' } }) },
    {
      method: 'GET',
      path: '/bad-base64',
      handler: bad({ statusCode: 200, body: 'not base64!', isBase64Encoded: true }),
    },
    { method: 'GET', path: '/bad-null', handler: bad(null) },
  ];

  beforeAll(async () => {
    gateway = new LocalGateway({ routes, maxBodyBytes: 64 * 1024, timeoutMs: 300, log: (line) => logs.push(line) });
    await gateway.start();
  });
  afterAll(async () => {
    releaseSlow();
    await gateway.stop();
  });

  it('serves http on 127.0.0.1', () => {
    expect(gateway.url).toBe(`http://127.0.0.1:${gateway.port}`);
  });

  it('builds the event without a client certificate', async () => {
    const event = json(await send(gateway.url, '/echo')) as APIGatewayProxyEvent;
    expect(event.requestContext.identity.clientCert).toBeNull();
    expect(event.headers['X-Forwarded-Proto']).toBe('http');
    expect(event.body).toBeNull();
  });

  it.each([
    ['an unknown path', 'GET', '/nope'],
    ['a method the path does not declare', 'POST', '/signin'],
    ['a trailing slash (resources match exactly)', 'GET', '/signin/'],
    ['a different case', 'GET', '/SIGNIN'],
  ])('answers %s with 403 Missing Authentication Token', async (_case, method, path) => {
    const reply = await send(gateway.url, path, { method });
    expect(reply.status).toBe(403);
    expect(json(reply)).toEqual({ message: 'Missing Authentication Token' });
    expect(reply.headers['x-amzn-errortype']).toBe('MissingAuthenticationTokenException');
    expect(reply.headers['content-type']).toBe('application/json');
  });

  it('matches {name} and {name+} resources as API Gateway does: resource, decoded path parameters, exact first', async () => {
    const one = json(await send(gateway.url, '/auth/traefik?x=1')) as APIGatewayProxyEvent;
    expect(one).toMatchObject({
      resource: '/auth/{dialect}',
      path: '/auth/traefik',
      pathParameters: { dialect: 'traefik' },
    });
    const many = json(await send(gateway.url, '/auth/envoy/orders/2%20x', { method: 'POST' })) as APIGatewayProxyEvent;
    expect(many).toMatchObject({
      resource: '/auth/{dialect}/{path+}',
      httpMethod: 'POST',
      pathParameters: { dialect: 'envoy', path: 'orders/2 x' },
    });
    expect(many.requestContext.resourcePath).toBe('/auth/{dialect}/{path+}');
    expect((await send(gateway.url, '/auth/fixed')).status).toBe(209);
    for (const missing of ['/auth', '/auth/', '/auth//x', '/auth/envoy/']) {
      expect({ missing, status: (await send(gateway.url, missing)).status }).toEqual({ missing, status: 403 });
    }
  });

  it('prefers a specific method over ANY on the same path', async () => {
    expect((await send(gateway.url, '/echo', { method: 'DELETE' })).status).toBe(204);
    expect((await send(gateway.url, '/echo', { method: 'PATCH' })).status).toBe(200);
  });

  it('answers 413 to a body over the limit, without calling the handler', async () => {
    echo.mockClear();
    const reply = await send(gateway.url, '/echo', { method: 'POST', body: Buffer.alloc(64 * 1024 + 1, 0x61) });
    expect(reply.status).toBe(413);
    expect(json(reply)).toEqual({ message: 'Request Too Long' });
    expect(echo).not.toHaveBeenCalled();
  });

  it('accepts a body exactly at the limit', async () => {
    const reply = await send(gateway.url, '/echo', { method: 'POST', body: Buffer.alloc(64 * 1024, 0x61) });
    expect(reply.status).toBe(200);
    expect((json(reply) as APIGatewayProxyEvent).body).toHaveLength(64 * 1024);
  });

  it('answers 413 to a chunked body over the limit', async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(`${gateway.url}/echo`, { method: 'POST', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
      });
      req.on('error', reject);
      for (let i = 0; i < 5; i++) req.write(Buffer.alloc(20 * 1024, 0x62));
      req.end();
    });
    expect(reply.status).toBe(413);
  });

  it('passes repeated headers and query parameters in both single and multi-value maps', async () => {
    const reply = await send(gateway.url, '/echo?tag=a&tag=b%20c&q=x+y&empty', {
      headers: { 'X-Tag': ['one', 'two'], Accept: 'application/json' },
    });
    const event = json(reply) as APIGatewayProxyEvent;
    expect(event.headers['X-Tag']).toBe('two');
    expect(event.multiValueHeaders['X-Tag']).toEqual(['one', 'two']);
    expect(event.headers.Accept).toBe('application/json');
    expect(event.queryStringParameters).toEqual({ tag: 'b c', q: 'x y', empty: '' });
    expect(event.multiValueQueryStringParameters).toEqual({ tag: ['a', 'b c'], q: ['x y'], empty: [''] });
  });

  it('writes headers and multiValueHeaders merged, as API Gateway does', async () => {
    const reply = await send(gateway.url, '/cookies');
    expect(reply.status).toBe(200);
    expect(reply.headers['set-cookie']).toEqual(['a=1; Secure', 'b=2; Secure']);
    const counts = reply.rawHeaders.filter((name, i) => i % 2 === 0 && name.toLowerCase() === 'x-count').length;
    expect(counts).toBe(2);
    expect(reply.headers['x-count']).toBe('0, 1');
    expect(reply.headers['x-flag']).toBe('true');
    expect(reply.headers['content-type']).toBe('text/plain');
    expect(reply.body.toString()).toBe('cookies');
  });

  it('labels an answer without Content-Type as application/json and keeps redirects intact', async () => {
    const reply = await send(gateway.url, '/signin');
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe('/home');
    expect(reply.headers['content-type']).toBe('application/json');
  });

  it('round-trips a binary body: base64 in the event, decoded on the way out', async () => {
    const bytes = Buffer.from(Array.from({ length: 256 }, (_v, i) => i));
    const reply = await send(gateway.url, '/binary', { method: 'POST', body: bytes });
    expect(reply.status).toBe(200);
    expect(reply.body).toEqual(bytes);
  });

  it('gives the handler a Lambda context', async () => {
    const context = json(await send(gateway.url, '/context')) as Record<string, unknown>;
    expect(context).toMatchObject({
      functionName: 'plusgate-local',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:123456789012:function:plusgate-local',
      logGroupName: '/aws/lambda/plusgate-local',
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(context.remaining).toBeGreaterThan(0);
    expect(context.remaining).toBeLessThanOrEqual(300);
  });

  it('answers 502 Internal server error when the handler throws, and logs one line without the stack', async () => {
    logs.length = 0;
    const reply = await send(gateway.url, '/throws');
    expect(reply.status).toBe(502);
    expect(json(reply)).toEqual({ message: 'Internal server error' });
    expect(reply.body.toString()).not.toMatch(/hunter2|secretFunction/);
    const failure = logs.filter((line) => line.includes('handler failed'));
    expect(failure).toHaveLength(1);
    expect(failure[0]).not.toMatch(/\n/);
  });

  it.each([
    '/bad-status',
    '/bad-header',
    '/bad-multi-header',
    '/bad-header-name',
    '/bad-keys',
    '/bad-body',
    '/bad-base64',
    '/bad-null',
  ])('answers 502 to a malformed proxy result (%s)', async (path) => {
    const reply = await send(gateway.url, path);
    expect(reply.status).toBe(502);
    expect(json(reply)).toEqual({ message: 'Internal server error' });
    expect(reply.headers['set-cookie']).toBeUndefined();
    expect(reply.headers['x-evil']).toBeUndefined();
  });

  it('answers 504 when the handler outlives the integration timeout', async () => {
    const reply = await send(gateway.url, '/slow');
    expect(reply.status).toBe(504);
    expect(json(reply)).toEqual({ message: 'Endpoint request timed out' });
  });

  it('logs method, path, status and duration for each request, without the query', async () => {
    logs.length = 0;
    await send(gateway.url, '/echo?secret=1');
    expect(logs).toEqual([expect.stringMatching(/^GET \/echo 200 \d+ms$/)]);
  });
});

/** Bytes straight onto a socket (requests Node's client would not write); the status line's code and the body. */
function raw(port: number, head: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('end', () =>
      resolve({
        status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0),
        body: text.slice(text.indexOf('\r\n\r\n') + 4),
      }),
    );
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer: ${text}`)));
  });
}

describe('LocalGateway answers only requests addressed to a loopback name (DNS rebinding)', () => {
  let gateway: LocalGateway;
  const ping = jest.fn<ReturnType<ProxyHandler>, Parameters<ProxyHandler>>(async () => ok('pong'));
  const logs: string[] = [];
  beforeAll(async () => {
    gateway = new LocalGateway({ routes: [{ method: 'ANY', path: '/ping', handler: ping }], log: (l) => logs.push(l) });
    await gateway.start();
  });
  afterAll(() => gateway.stop());
  beforeEach(() => ping.mockClear());

  it.each([
    ['evil.example', 'evil.example'],
    ['evil.example:<port>', 'evil.example:PORT'],
    ['localhost.evil.example', 'localhost.evil.example'],
    ['127.0.0.1.nip.io:<port>', '127.0.0.1.nip.io:PORT'],
    ['127.0.0.2', '127.0.0.2'],
    ['0.0.0.0:<port>', '0.0.0.0:PORT'],
    ['[::2]', '[::2]'],
    ['[::ffff:127.0.0.1]', '[::ffff:127.0.0.1]'],
    ['localhost. (trailing dot)', 'localhost.'],
    ['localhost:99999', 'localhost:99999'],
    ['localhost:abc', 'localhost:abc'],
    ['[::1 (unclosed)', '[::1'],
    ['a"b<c>', 'a"b<c>'],
    ['of 4000 characters', 'x'.repeat(4000)],
  ])('answers Host %s with 421 Misdirected Request, before any handler runs', async (_label, template) => {
    const host = template.replace('PORT', String(gateway.port));
    for (const method of ['GET', 'POST']) {
      const reply = await send(gateway.url, '/ping', {
        method,
        headers: { host },
        body: method === 'POST' ? '{}' : undefined,
      });
      expect(reply.status).toBe(421);
      expect(json(reply)).toEqual({
        message:
          'Misdirected Request: the Host header is not a loopback name (localhost, 127.0.0.1 or [::1], with or without a port); local mode answers only requests addressed to loopback',
      });
      expect(reply.headers['x-amzn-errortype']).toBe('MisdirectedRequestException');
    }
    expect(ping).not.toHaveBeenCalled();
  });

  it.each(['localhost', 'localhost:PORT', '127.0.0.1', '127.0.0.1:PORT', '[::1]', '[::1]:PORT', 'LocalHost:1'])(
    'serves Host %s',
    async (template) => {
      const host = template.replace('PORT', String(gateway.port));
      const reply = await send(gateway.url, '/ping', { headers: { host } });
      expect(reply.status).toBe(200);
      expect(ping).toHaveBeenCalledTimes(1);
    },
  );

  it('answers a missing, empty or repeated Host, and headers over the size limit, with a 4xx, and keeps serving', async () => {
    const port = gateway.port;
    const missing = await raw(port, 'GET /ping HTTP/1.0\r\n\r\n');
    expect(missing.status).toBe(400);
    expect(JSON.parse(missing.body)).toEqual({ message: 'Bad Request: a Host header is required' });
    const twice = await raw(
      port,
      'GET /ping HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\nConnection: close\r\n\r\n',
    );
    expect(twice.status).toBe(400);
    expect(JSON.parse(twice.body)).toEqual({ message: 'Bad Request: more than one Host header' });
    const empty = await raw(port, 'GET /ping HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n');
    expect(empty.status).toBe(421);
    const huge = await raw(port, `GET /ping HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(huge.status).toBe(431);
    const noHost11 = await raw(port, 'GET /ping HTTP/1.1\r\nConnection: close\r\n\r\n');
    expect(noHost11.status).toBe(400);
    expect(ping).not.toHaveBeenCalled();
    expect((await send(gateway.url, '/ping')).status).toBe(200);
  });

  it('logs a refused request like any other, without the Host it named', async () => {
    logs.length = 0;
    await send(gateway.url, '/ping', { headers: { host: 'evil.example' } });
    expect(logs).toEqual([expect.stringMatching(/^GET \/ping 421 \d+ms$/)]);
  });
});

describe('LocalGateway lifecycle', () => {
  it('stops promptly even with an idle keep-alive connection open', async () => {
    const gateway = new LocalGateway({ routes: [{ method: 'GET', path: '/ping', handler: async () => ok('pong') }] });
    await gateway.start();
    const agent = new http.Agent({ keepAlive: true });
    expect((await send(gateway.url, '/ping', { agent })).status).toBe(200);
    const started = Date.now();
    await gateway.stop();
    expect(Date.now() - started).toBeLessThan(1000);
    agent.destroy();
  });

  it('refuses routes declared twice or without a leading slash', () => {
    const handler: ProxyHandler = async () => ok(null);
    expect(
      () =>
        new LocalGateway({
          routes: [
            { method: 'GET', path: '/a', handler },
            { method: 'get', path: '/a', handler },
          ],
        }),
    ).toThrow(/declared twice/);
    expect(() => new LocalGateway({ routes: [{ method: 'GET', path: 'a', handler }] })).toThrow(/must start with/);
  });

  it('reports a port already in use', async () => {
    const first = new LocalGateway({ routes: [] });
    await first.start();
    const second = new LocalGateway({ routes: [], port: first.port });
    await expect(second.start()).rejects.toThrow(/EADDRINUSE/);
    await first.stop();
  });
});

describe('LocalGateway in front of the edge handler, in one process', () => {
  let gateway: LocalGateway;
  let device: { cert: string; key: string; serial: string };
  let ca: string;
  const identityPlus = new FakeIdentityPlus();

  beforeAll(async () => {
    const pki = await testPki();
    ca = pki.caChain;
    // A certificate no other test has parsed, so the first request's count is not hidden by an earlier one.
    device = await issueCertificate(pki.intermediate, { subject: 'O=Identity Plus Device,OU=Desktop,CN=Parsed once' });
    identityPlus.answers.set(device.serial, cleared());
    const clock = new TestClock();
    clock.value = Date.now();
    const edge = createEdgeHandler({
      authenticator: authenticatorWith(identityPlus, new MemoryRecords(), clock),
      intents: new FakeIntents(),
      usedStates: new MemoryUsedStates(),
      stateKey: Buffer.alloc(32, 7),
      allowedReturnOrigins: [],
      now: clock.now,
    });
    gateway = new LocalGateway({
      routes: [{ method: 'GET', path: '/whoami', handler: (event) => edge(event) }],
      tls: { cert: pki.server.cert, key: pki.server.key, truststore: pki.caChain },
    });
    await gateway.start();
  });
  afterAll(() => gateway.stop());

  it('parses the client certificate once for gateway and handler together, and not at all on a repeat', async () => {
    const tls = { ca, cert: device.cert, key: device.key };
    const headers = { accept: 'application/json' };
    const parses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const before = certificateParser.parses;
      const reply = await send(gateway.url, '/whoami', { tls, headers });
      expect(reply.status).toBe(200);
      expect(json(reply)).toMatchObject({ decision: 'allow', device: { serial: device.serial }, cached: i > 0 });
      parses.push(certificateParser.parses - before);
    }
    expect(parses).toEqual([1, 0, 0]);
    // The repeats were decision-cache hits too: Identity Plus was asked once.
    expect(identityPlus.calls).toBe(1);
  });
});

describe('LocalGateway as CloudFront with optional viewer mTLS, in front of a function URL', () => {
  let pki: DevPki;
  let gateway: LocalGateway;
  const logs: string[] = [];
  const seen: LambdaFunctionURLEvent[] = [];
  let answer: (event: LambdaFunctionURLEvent) => Promise<unknown> = async () => undefined;
  const origin = jest.fn(async (event: LambdaFunctionURLEvent, _context: Context) => {
    seen.push(event);
    return answer(event);
  });

  beforeAll(async () => {
    pki = await testPki();
    gateway = new LocalGateway({
      routes: [],
      tls: { cert: pki.server.cert, key: pki.server.key, truststore: pki.caChain },
      cloudFront: { handler: origin },
      timeoutMs: 300,
      log: (line) => logs.push(line),
    });
    await gateway.start();
  });
  afterAll(() => gateway.stop());
  beforeEach(() => {
    origin.mockClear();
    seen.length = 0;
    answer = async (event) => ({
      statusCode: 200,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(event),
    });
  });

  const as = (person?: keyof DevPki['devices']) =>
    person ? { ca: pki.caChain, cert: pki.devices[person].cert, key: pki.devices[person].key } : { ca: pki.caChain };
  const certHeaders = (event: LambdaFunctionURLEvent) =>
    Object.fromEntries(Object.entries(event.headers).filter(([name]) => name.startsWith('cloudfront-viewer-')));

  it('serves a connection without a client certificate: Present 0, no certificate headers', async () => {
    const reply = await send(gateway.url, '/signin?return=%2Fwhoami', { tls: as() });
    expect(reply.status).toBe(200);
    const event = only(seen, 'event seen by the function');
    expect(certHeaders(event)).toEqual({
      'cloudfront-viewer-cert-present': '0',
      'cloudfront-viewer-address': expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    expect(event).toMatchObject({
      version: '2.0',
      rawPath: '/signin',
      rawQueryString: 'return=%2Fwhoami',
      requestContext: { http: { method: 'GET', sourceIp: '127.0.0.1' }, stage: '$default' },
    });
    expect(event.headers.host).toBe(event.requestContext.domainName);
    expect(reply.headers['x-amz-cf-id']).toEqual(expect.any(String));
    expect(reply.headers['x-cache']).toBe('Miss from cloudfront');
  });

  it("sets the certificate headers from a trusted device's verified certificate", async () => {
    const reply = await send(gateway.url, '/whoami', { tls: as('alice') });
    expect(reply.status).toBe(200);
    const headers = certHeaders(only(seen, 'event seen by the function'));
    const alice = new X509Certificate(pki.devices.alice.cert);
    expect(headers['cloudfront-viewer-cert-present']).toBe('1');
    expect(new X509Certificate(decodeURIComponent(headers['cloudfront-viewer-cert-pem'] ?? '')).fingerprint256).toBe(
      alice.fingerprint256,
    );
    expect(headers['cloudfront-viewer-cert-subject']).toMatch(/^CN=Alice's Laptop,/);
    expect(headers['cloudfront-viewer-cert-serial-number']?.replace(/:/g, '').replace(/^00/, '')).toBe(
      BigInt(pki.devices.alice.serial).toString(16).padStart(2, '0'),
    );
  });

  it.each([
    ['a certificate from a foreign CA (mallory)', 'mallory', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
    ['an expired certificate (frank)', 'frank', 'CERT_HAS_EXPIRED'],
  ] as const)(
    'refuses %s at the end of the handshake: no answer, no function call, a log line',
    async (_case, person, reason) => {
      await expect(send(gateway.url, '/whoami', { tls: as(person) })).rejects.toThrow();
      expect(origin).not.toHaveBeenCalled();
      expect(logs).toContain(`TLS handshake refused from 127.0.0.1: ${reason}`);
    },
  );

  it('replaces forged certificate headers: without a certificate they say Present 0, with bob they are his', async () => {
    const alicePem = encodeURIComponent(pki.devices.alice.cert);
    const forged = {
      'CloudFront-Viewer-Cert-Present': '1',
      'CloudFront-Viewer-Cert-Pem': alicePem,
      'CloudFront-Viewer-Address': '203.0.113.1:1',
    };
    await send(gateway.url, '/whoami', { tls: as(), headers: forged });
    await send(gateway.url, '/whoami', { tls: as('bob'), headers: forged });
    const nobody = certHeaders(defined(seen[0], 'the event without a certificate'));
    const bob = certHeaders(defined(seen[1], "the event with bob's certificate"));
    expect(nobody).toEqual({
      'cloudfront-viewer-cert-present': '0',
      'cloudfront-viewer-address': expect.stringMatching(/^127\.0\.0\.1:\d+$/),
    });
    const bobPem = decodeURIComponent(bob['cloudfront-viewer-cert-pem'] ?? '');
    expect(new X509Certificate(bobPem).fingerprint256).toBe(new X509Certificate(pki.devices.bob.cert).fingerprint256);
    expect(bob['cloudfront-viewer-address']).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('answers 421 to a Host that is not loopback before the function runs', async () => {
    const reply = await send(gateway.url, '/whoami', { tls: as('alice'), headers: { host: 'evil.example' } });
    expect(reply.status).toBe(421);
    expect(origin).not.toHaveBeenCalled();
  });

  it('sends every path to the function, GET and HEAD only (another method is CloudFront 403)', async () => {
    expect((await send(gateway.url, '/', { tls: as() })).status).toBe(200);
    expect((await send(gateway.url, '/any/path', { tls: as(), method: 'HEAD' })).status).toBe(200);
    expect(seen.map((e) => [e.requestContext.http.method, e.rawPath])).toEqual([
      ['GET', '/'],
      ['HEAD', '/any/path'],
    ]);
    const post = await send(gateway.url, '/signin', { tls: as('alice'), method: 'POST', body: 'x' });
    expect(post.status).toBe(403);
    expect(post.body.toString()).toMatch(/not configured to allow the HTTP request method/);
    expect(origin).toHaveBeenCalledTimes(2);
  });

  it('writes the function URL result back: status, headers, one Set-Cookie per cookie, base64 body', async () => {
    answer = async () => ({
      statusCode: 302,
      headers: { Location: '/home', 'Content-Type': 'text/plain' },
      cookies: ['a=1; Secure', 'b=2; Secure'],
      body: Buffer.from('moved').toString('base64'),
      isBase64Encoded: true,
    });
    const reply = await send(gateway.url, '/signin', { tls: as('alice') });
    expect(reply.status).toBe(302);
    expect(reply.headers.location).toBe('/home');
    expect(reply.headers['set-cookie']).toEqual(['a=1; Secure', 'b=2; Secure']);
    expect(reply.body.toString()).toBe('moved');
  });

  it('answers 502 to a malformed result and 504 to a function that does not answer in time', async () => {
    answer = async () => ({ statusCode: 200, headers: { 'X-Evil': 'a\r\nSet-Cookie: pwned=1' } });
    const malformed = await send(gateway.url, '/whoami', { tls: as('alice') });
    expect(malformed.status).toBe(502);
    expect(malformed.headers['set-cookie']).toBeUndefined();
    answer = () => new Promise((resolve) => setTimeout(() => resolve({ statusCode: 200 }), 1000));
    expect((await send(gateway.url, '/whoami', { tls: as('alice') })).status).toBe(504);
  });

  it('logs no certificate or key', () => {
    expect(logs.join('\n')).not.toMatch(/BEGIN|PRIVATE|%0A/);
  });

  it('needs TLS', () => {
    expect(() => new LocalGateway({ routes: [], cloudFront: { handler: origin } })).toThrow(/needs tls/);
  });
});
