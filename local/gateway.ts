/**
 * The loopback stand-in for API Gateway in local mode: turns each HTTP request into the REST API proxy
 * event (local/api-gateway-event.ts), calls the same Lambda handlers, and writes their proxy results
 * back the way API Gateway does, including its own answers (403 for unknown routes, 413, 502, 504).
 * With `tls` it behaves like plusgate's custom domain: mutual TLS against a truststore, and a missing,
 * untrusted or expired client certificate ends the connection in the handshake, so no handler runs.
 *
 * Before anything else it answers 421 to a request whose Host is not a loopback name (`localhost`,
 * `127.0.0.1`, `[::1]`, any port) or its own `publicHostname`: that is what a web page sends after
 * rebinding its own DNS name to 127.0.0.1 (DNS rebinding), and the service API has no IAM check here.
 *
 * With `cloudFront` it stands in for CloudFront's optional viewer mTLS in front of a function URL instead
 * (local/cloudfront-viewer.ts): no client certificate is served, a bad one is refused, and every GET/HEAD
 * path reaches the one handler as a function URL event.
 */
import type { APIGatewayProxyEvent, APIGatewayProxyResult, Context } from 'aws-lambda';
import { randomBytes, randomUUID } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { buildProxyEvent, LOCAL_ACCOUNT_ID } from './api-gateway-event';
import {
  CloudFrontOrigin,
  type FunctionUrlHandler,
  newCfId,
  refusedConnection,
  refuseUnverifiedCertificates,
} from './cloudfront-viewer';
import { RouteTable, TOKEN } from './gateway-routes';
import { close, headerValues, isLoopbackHost, listen, readBody } from './server-lifecycle';

/** A Lambda proxy-integration handler, as the functions/handlers export them. */
export type ProxyHandler = (event: APIGatewayProxyEvent, context: Context) => Promise<APIGatewayProxyResult>;

/** One resource + method of the API. */
export interface GatewayRoute {
  /** `GET`, `POST`, … or `ANY` (a specific method on the same path wins over `ANY`). */
  readonly method: string;
  /**
   * Resource path as the REST API declares it: exact (`/signin`, no trailing-slash folding), or with
   * `{name}` (one path segment) and a last `{name+}` (the rest, one segment or more) parts. An exact
   * resource wins over one with parameters, as in API Gateway.
   */
  readonly path: string;
  readonly handler: ProxyHandler;
}

/** Options of {@link LocalGateway}. */
export interface LocalGatewayOptions {
  readonly routes: readonly GatewayRoute[];
  /** @default '127.0.0.1' */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /**
   * Mutual TLS like API Gateway's custom domain: server certificate (leaf + chain), its key, and the
   * truststore of device CAs. Omit for plain HTTP (the IAM service API in local mode, loopback only).
   */
  readonly tls?: { readonly cert: string; readonly key: string; readonly truststore: string };
  /** @default 'local' */
  readonly stage?: string;
  /** Host name put in `requestContext.domainName` and in {@link LocalGateway.url} with TLS. @default 'localhost' */
  readonly publicHostname?: string;
  /** Request bodies above this are answered 413, as API Gateway's 10 MiB payload limit. @default 10 MiB */
  readonly maxBodyBytes?: number;
  /** Integration timeout; a slower handler gets 504 like API Gateway's 29 s limit. @default 29000 */
  readonly timeoutMs?: number;
  /** One line per request (method, path, status, ms) and per refused handshake; never certificates or keys. */
  readonly log?: (line: string) => void;
  /**
   * Be CloudFront (optional viewer mTLS) in front of this function URL handler, not API Gateway: needs `tls`;
   * `routes` are unused, every GET/HEAD path goes to the handler. @default API Gateway
   */
  readonly cloudFront?: { readonly handler: FunctionUrlHandler };
}

/** API Gateway's payload limit. */
export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;
/** API Gateway's default (and, for REST APIs, usual maximum) integration timeout. */
export const DEFAULT_TIMEOUT_MS = 29_000;

const FUNCTION_NAME = 'plusgate-local';
const RESULT_KEYS = new Set(['statusCode', 'headers', 'multiValueHeaders', 'body', 'isBase64Encoded']);
// What Node (and HTTP) accept in a header value: no CR, LF, NUL or other control characters but tab.
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// Hop-by-hop and framing headers are the gateway's business; API Gateway does not pass a handler's own.
const GATEWAY_OWNED_HEADERS = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive']);

const TIMED_OUT = Symbol('timed out');
const MISDIRECTED =
  'Misdirected Request: the Host header is not a loopback name (localhost, 127.0.0.1 or [::1], with or without a port); local mode answers only requests addressed to loopback';

/** Raised internally when a handler's answer is not a valid proxy result (API Gateway: 502). */
class MalformedResultError extends Error {}

/** A loopback API Gateway (REST, proxy integration) in front of Lambda handlers. */
export class LocalGateway {
  private readonly routes: RouteTable;
  private readonly host: string;
  private readonly stage: string;
  private readonly publicHostname: string;
  private readonly maxBodyBytes: number;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;
  private readonly origin?: CloudFrontOrigin;
  private server?: http.Server;

  constructor(private readonly options: LocalGatewayOptions) {
    this.routes = new RouteTable(options.routes);
    this.host = options.host ?? '127.0.0.1';
    this.stage = options.stage ?? 'local';
    this.publicHostname = options.publicHostname ?? 'localhost';
    this.maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.log = options.log ?? (() => undefined);
    if (options.cloudFront) {
      if (!options.tls) throw new Error('LocalGateway: cloudFront needs tls (viewer mutual TLS)');
      this.origin = new CloudFrontOrigin(options.cloudFront.handler);
    }
  }

  /** Starts listening; resolves once the port is bound. */
  async start(): Promise<void> {
    if (this.server) throw new Error('LocalGateway is already started');
    const listener = (req: IncomingMessage, res: ServerResponse) => void this.serve(req, res);
    const tls = this.options.tls;
    const server = tls
      ? https.createServer(
          {
            cert: tls.cert,
            key: tls.key,
            ca: tls.truststore,
            requestCert: true,
            // CloudFront's optional mode: Node lets every handshake finish, refuseUnverifiedCertificates ends bad ones.
            rejectUnauthorized: !this.origin,
            minVersion: 'TLSv1.2',
          },
          listener,
        )
      : http.createServer(listener);
    if (tls) {
      // A missing certificate fails inside OpenSSL; an untrusted or expired one is refused by Node right
      // after the handshake (the socket then carries the verification error), before any request is read.
      server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
        const reason = socket.authorizationError ? String(socket.authorizationError) : (err.code ?? err.message);
        this.log(`TLS handshake refused from ${clientIp(socket.remoteAddress)}: ${reason}`);
      });
      if (this.origin)
        refuseUnverifiedCertificates(server as https.Server, this.log, (socket) => clientIp(socket.remoteAddress));
    }
    await listen(server, this.options.port ?? 0, this.host);
    this.server = server;
  }

  /** Stops listening and closes every connection, idle keep-alive ones included. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await close(server);
  }

  /** Base URL: `https://<publicHostname>:<port>` with TLS (the server certificate's name), else `http://<host>:<port>`. */
  get url(): string {
    if (this.options.tls) return `https://${this.publicHostname}:${this.port}`;
    const host = this.host.includes(':') ? `[${this.host}]` : this.host;
    return `http://${host}:${this.port}`;
  }

  /** The bound port (after {@link start}). */
  get port(): number {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (!address) throw new Error('LocalGateway is not started');
    return address.port;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const requestId = randomUUID();
    const extendedId = this.origin ? newCfId() : randomBytes(11).toString('base64');
    const method = req.method ?? 'GET';
    const [path, rawQuery] = splitTarget(req.url ?? '/');
    res.on('finish', () =>
      this.log(`${method} ${path} ${res.statusCode} ${Math.round(performance.now() - started)}ms`),
    );
    res.setHeader('x-amzn-RequestId', requestId);
    if (this.origin) res.setHeader('X-Amz-Cf-Id', extendedId);
    else res.setHeader('x-amz-apigw-id', extendedId);
    try {
      // Never serve a connection whose certificate did not verify (closed at 'secureConnection' already).
      if (this.origin && refusedConnection(req.socket as TLSSocket)) return void req.socket.destroy();
      const hosts = headerValues(req, 'host');
      if (hosts.length !== 1) {
        const problem = hosts.length ? 'more than one Host header' : 'a Host header is required';
        return gatewayAnswer(res, 400, `Bad Request: ${problem}`, 'BadRequestException');
      }
      if (!isLoopbackHost(hosts[0] ?? '', [this.publicHostname])) {
        return gatewayAnswer(res, 421, MISDIRECTED, 'MisdirectedRequestException');
      }

      const body = await readBody(req, this.maxBodyBytes);
      if (body === 'aborted') return;
      if (body === 'too-large') return gatewayAnswer(res, 413, 'Request Too Long', 'RequestTooLong');
      if (this.origin) {
        const viewerIp = clientIp(req.socket.remoteAddress);
        const forwarded = { path, rawQuery, body, requestId, cfId: extendedId, viewerIp };
        return await this.origin.serve(req, res, forwarded, (call, now) => this.invoke(call, now, `${method} ${path}`));
      }

      const matched = this.routes.match(path);
      const handler = matched?.methods.get(method) ?? matched?.methods.get('ANY');
      // API Gateway REST answers an unknown resource and an undeclared method alike.
      if (!handler)
        return gatewayAnswer(res, 403, 'Missing Authentication Token', 'MissingAuthenticationTokenException');

      const socket = req.socket as Partial<TLSSocket>;
      const peer = this.options.tls ? socket.getPeerX509Certificate?.() : undefined;
      const now = new Date();
      const event = buildProxyEvent({
        method,
        path,
        rawQuery,
        headers: req.rawHeaders,
        body,
        resource: matched?.resource ?? path,
        ...(matched?.pathParameters ? { pathParameters: matched.pathParameters } : {}),
        stage: this.stage,
        domainName: this.publicHostname,
        sourceIp: clientIp(req.socket.remoteAddress),
        ...(peer ? { clientCert: { pem: peer.toString() } } : {}),
        now,
        requestId,
        extendedRequestId: extendedId,
        forwarded: { proto: this.options.tls ? 'https' : 'http', port: req.socket.localPort ?? 0 },
      });
      const outcome = await this.invoke((context) => handler(event, context), now, `${method} ${path}`);
      if (!outcome) return gatewayAnswer(res, 504, 'Endpoint request timed out', 'IntegrationTimeout');
      writeResult(res, outcome.result);
    } catch (err) {
      const what = err instanceof MalformedResultError ? 'malformed Lambda proxy response' : 'handler failed';
      this.log(`${method} ${path}: ${what}: ${oneLine(err)}`);
      if (!res.headersSent) gatewayAnswer(res, 502, 'Internal server error', 'InternalServerErrorException');
      else res.destroy();
    }
  }

  /** Calls a handler with a Lambda context; undefined (and a log line) when it did not answer in time. */
  private async invoke(
    call: (context: Context) => Promise<unknown>,
    now: Date,
    label: string,
  ): Promise<{ result: unknown } | undefined> {
    const deadline = now.getTime() + this.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
      timer = setTimeout(() => resolve(TIMED_OUT), this.timeoutMs);
    });
    try {
      const outcome = await Promise.race([Promise.resolve().then(() => call(lambdaContext(now, deadline))), timeout]);
      if (outcome !== TIMED_OUT) return { result: outcome };
      this.log(`${label}: handler did not answer within ${this.timeoutMs}ms`);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** A Lambda context as the Node.js runtime fills it, for function `plusgate-local`. */
export function lambdaContext(now: Date, deadline: number): Context {
  const day = now.toISOString().slice(0, 10).replace(/-/g, '/');
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: FUNCTION_NAME,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:${LOCAL_ACCOUNT_ID}:function:${FUNCTION_NAME}`,
    memoryLimitInMB: '256',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${FUNCTION_NAME}`,
    logStreamName: `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    // The callback-style completions are deprecated; async handlers never call them.
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * Checks a handler's answer the way API Gateway does before using it: only the five proxy-result keys,
 * an integer status, header names that are tokens and values without control characters, a string body,
 * and base64 that decodes when `isBase64Encoded` is set. Returns the headers merged as API Gateway merges
 * `headers` and `multiValueHeaders` (for one name: the multi values, plus the single value if different).
 */
export function validateProxyResult(result: unknown): { status: number; headers: Map<string, string[]>; body: Buffer } {
  if (typeof result !== 'object' || result === null || Array.isArray(result)) {
    throw new MalformedResultError(
      `result is ${result === null ? 'null' : Array.isArray(result) ? 'an array' : typeof result}, not an object`,
    );
  }
  const r = result as Record<string, unknown>;
  const extra = Object.keys(r).filter((key) => !RESULT_KEYS.has(key));
  if (extra.length) throw new MalformedResultError(`unexpected keys ${extra.join(', ')}`);
  const status = r.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new MalformedResultError('statusCode must be an integer from 100 to 599');
  }
  if (r.body !== undefined && r.body !== null && typeof r.body !== 'string')
    throw new MalformedResultError('body must be a string');
  if (r.isBase64Encoded !== undefined && typeof r.isBase64Encoded !== 'boolean') {
    throw new MalformedResultError('isBase64Encoded must be a boolean');
  }
  const text = (r.body as string | null | undefined) ?? '';
  let body: Buffer;
  if (r.isBase64Encoded) {
    const compact = text.replace(/\s+/g, '');
    if (compact.length % 4 !== 0 || !BASE64.test(compact)) throw new MalformedResultError('body is not valid base64');
    body = Buffer.from(compact, 'base64');
  } else {
    body = Buffer.from(text, 'utf8');
  }

  const merged = new Map<string, { name: string; values: string[] }>();
  const add = (name: string, value: unknown) => {
    if (!TOKEN.test(name)) throw new MalformedResultError('a header name is not a valid HTTP token');
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new MalformedResultError(`header ${name} has a ${value === null ? 'null' : typeof value} value`);
    }
    const text = String(value);
    if (INVALID_HEADER_VALUE.test(text))
      throw new MalformedResultError(`header ${name} has a control character in its value`);
    const key = name.toLowerCase();
    const entry = merged.get(key) ?? { name, values: [] };
    merged.set(key, entry);
    return { entry, text };
  };
  const multi = plainRecord(r.multiValueHeaders, 'multiValueHeaders');
  for (const [name, values] of Object.entries(multi)) {
    if (!Array.isArray(values)) throw new MalformedResultError(`multiValueHeaders.${name} is not an array`);
    for (const value of values) {
      const { entry, text } = add(name, value);
      entry.values.push(text);
    }
  }
  for (const [name, value] of Object.entries(plainRecord(r.headers, 'headers'))) {
    const { entry, text } = add(name, value);
    if (!entry.values.includes(text)) entry.values.push(text);
  }

  const headers = new Map<string, string[]>();
  for (const [key, { name, values }] of merged) {
    if (!GATEWAY_OWNED_HEADERS.has(key) && values.length) headers.set(name, values);
  }
  return { status, headers, body };
}

function writeResult(res: ServerResponse, result: unknown): void {
  const { status, headers, body } = validateProxyResult(result);
  res.statusCode = status;
  for (const [name, values] of headers) {
    const [only, ...more] = values;
    res.setHeader(name, only !== undefined && more.length === 0 ? only : values);
  }
  // API Gateway REST labels an answer without a Content-Type as JSON.
  if (!res.hasHeader('content-type')) res.setHeader('Content-Type', 'application/json');
  res.end(body);
}

function gatewayAnswer(res: ServerResponse, status: number, message: string, errorType: string): void {
  const body = JSON.stringify({ message });
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('x-amzn-ErrorType', errorType);
  res.end(body);
}

function plainRecord(value: unknown, field: string): Record<string, unknown> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value)) throw new MalformedResultError(`${field} must be an object`);
  return value as Record<string, unknown>;
}

function splitTarget(target: string): [string, string] {
  const q = target.indexOf('?');
  return q < 0 ? [target, ''] : [target.slice(0, q), target.slice(q + 1)];
}

function clientIp(address: string | undefined): string {
  if (!address) return '127.0.0.1';
  return address.startsWith('::ffff:') ? address.slice('::ffff:'.length) : address;
}

function oneLine(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  return text.replace(/\s+/g, ' ').slice(0, 300);
}
