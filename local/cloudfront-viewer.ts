/**
 * Local mode's stand-in for CloudFront with viewer mutual TLS in **optional** mode in front of the edge
 * function's Lambda function URL (`npm start -- --edge cloudfront`; local/gateway.ts uses it when given
 * `cloudFront`). Sources: the CloudFront Developer Guide's "Viewer mTLS headers" and "mTLS validation
 * modes" pages; the function URL event itself is built by local/function-url-event.ts.
 *
 * What it does, as CloudFront does:
 * - the TLS handshake asks for a client certificate and does not require one; a certificate that does not
 *   chain to the device truststore or is expired ends the connection: no HTTP answer, no function call;
 * - every client-sent `CloudFront-Viewer-Cert-*` and `CloudFront-Viewer-Address` header is dropped, then
 *   they are set from the verified certificate (`Present: 0` alone without one) and the TCP peer;
 * - Host becomes the function URL's own host (the origin request policy never forwards the viewer's Host:
 *   the OAC signature is made for the function URL), X-Forwarded-For gets the viewer's address appended,
 *   Via and X-Amz-Cf-Id are added; only GET and HEAD reach the origin (other methods: 403 from CloudFront).
 *
 * What differs from CloudFront (also in the README):
 * - timing: Node checks the client certificate only once the handshake is complete ('secureConnection'),
 *   then closes the socket without a TLS alert. Under TLS 1.3 the client has finished its side of the
 *   handshake by then, so curl reports a closed connection (exit 52 or 56) rather than a handshake failure
 *   (35, as under TLS 1.2); CloudFront refuses inside the handshake. Either way no HTTP answer comes.
 * - the origin request policy is applied from the same list as the CDK's (CLOUDFRONT_ORIGIN_HEADERS): only
 *   those viewer headers reach the function, no cookies, and User-Agent is CloudFront's; the OAC signature is
 *   neither added nor checked.
 * - `requestContext.http.sourceIp` is the viewer's address (in AWS: a CloudFront address).
 * - the PEM header is `encodeURIComponent` of the PEM with `+`, `/` and `=` left as they are: what
 *   CloudFront's example shows (`%20`, `%0A`) and what a form decoder (`+` → space) would break.
 */
import type { Context, LambdaFunctionURLEvent } from 'aws-lambda';
import { createHash, randomBytes, type X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { rfc2253 } from '../functions/domain/certificate';
import { CLOUDFRONT_ORIGIN_HEADERS } from '../functions/config/names';
import { buildFunctionUrlEvent, functionUrlDomain, LOCAL_FUNCTION_URL_ID } from './function-url-event';

/** The edge function's handler as a function URL invokes it. */
export type FunctionUrlHandler = (event: LambdaFunctionURLEvent, context: Context) => Promise<unknown>;

/** The methods the distribution's behaviour allows (GET/HEAD: OAC needs a body hash for anything else). */
export const CLOUDFRONT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

const CERT_HEADER_PREFIX = 'cloudfront-viewer-cert-';
const ADDRESS_HEADER = 'cloudfront-viewer-address';
// CloudFront does not forward hop-by-hop headers; the function URL frames its own request.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);
const RESULT_KEYS = new Set(['statusCode', 'headers', 'body', 'isBase64Encoded', 'cookies']);
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const INVALID_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Whether CloudFront sets this request header itself (so a client's copy must never reach the origin). */
export function isCloudFrontViewerHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower.startsWith(CERT_HEADER_PREFIX) || lower === ADDRESS_HEADER;
}

/** The leaf PEM as `CloudFront-Viewer-Cert-Pem` carries it: URL-encoded, base64's `+/=` left as they are. */
export function encodePemHeader(pem: string): string {
  return encodeURIComponent(pem).replace(/%2B/g, '+').replace(/%2F/g, '/').replace(/%3D/g, '=');
}

/**
 * The `CloudFront-Viewer-Cert-*` headers for a verified client certificate, or `Present: 0` alone without
 * one. Serial: the DER integer's bytes as lower-case colon hex (a leading `00` kept when DER has one);
 * Issuer/Subject: RFC 2253; Sha256: hex of the DER; Validity: `NotBefore=…Z;NotAfter=…Z`.
 */
export function viewerCertificateHeaders(cert: X509Certificate | undefined): Array<[string, string]> {
  if (!cert) return [['CloudFront-Viewer-Cert-Present', '0']];
  return [
    ['CloudFront-Viewer-Cert-Present', '1'],
    ['CloudFront-Viewer-Cert-Serial-Number', serialHeader(cert.serialNumber)],
    ['CloudFront-Viewer-Cert-Issuer', rfc2253(cert.issuer)],
    ['CloudFront-Viewer-Cert-Subject', rfc2253(cert.subject)],
    ['CloudFront-Viewer-Cert-Sha256', createHash('sha256').update(cert.raw).digest('hex')],
    ['CloudFront-Viewer-Cert-Validity', `NotBefore=${isoSeconds(cert.validFrom)};NotAfter=${isoSeconds(cert.validTo)}`],
    ['CloudFront-Viewer-Cert-Pem', encodePemHeader(cert.toString())],
  ];
}

/** `CloudFront-Viewer-Address`: `ip:port`, an IPv6 address unbracketed (the port follows the last colon). */
export function viewerAddressHeader(ip: string, port: number): string {
  return `${ip}:${port}`;
}

/** The viewer headers the edge's origin request policy forwards, lower-cased (functions/config/names.ts). */
const POLICY_HEADERS = new Set<string>(CLOUDFRONT_ORIGIN_HEADERS.map((name) => name.toLowerCase()));

/** What {@link originRequestHeaders} needs: the viewer's request and connection. */
export interface ViewerRequest {
  /** The viewer's headers as Node's `rawHeaders` (alternating names and values). */
  readonly rawHeaders: readonly string[];
  /** The client certificate the handshake verified, if one was presented. */
  readonly certificate?: X509Certificate;
  readonly viewerIp: string;
  readonly viewerPort: number;
  /** The origin's host name (the function URL's). */
  readonly originHost: string;
  /** CloudFront's id of the request (X-Amz-Cf-Id). */
  readonly cfId: string;
}

/** The headers of the request CloudFront sends the origin for one viewer request (see the file comment). */
export function originRequestHeaders(viewer: ViewerRequest): Array<[string, string]> {
  const kept: Array<[string, string]> = [];
  const forwardedFor: string[] = [];
  for (let i = 0; i + 1 < viewer.rawHeaders.length; i += 2) {
    const name = viewer.rawHeaders[i] ?? '';
    const value = viewer.rawHeaders[i + 1] ?? '';
    const lower = name.toLowerCase();
    if (isCloudFrontViewerHeader(lower) || HOP_BY_HOP.has(lower) || lower === 'host' || lower === 'via') continue;
    if (lower === 'x-amz-cf-id') continue;
    if (lower === 'x-forwarded-for') forwardedFor.push(value);
    // The origin request policy: only the viewer headers it names reach the function (no cookies either).
    else if (POLICY_HEADERS.has(lower)) kept.push([name, value]);
  }
  return [
    ['Host', viewer.originHost],
    // What CloudFront sends as User-Agent when the policy does not forward the viewer's.
    ['User-Agent', 'Amazon CloudFront'],
    ...kept,
    ['X-Forwarded-For', [...forwardedFor, viewer.viewerIp].join(', ')],
    ['Via', `2.0 ${createHash('sha256').update(viewer.cfId).digest('hex').slice(0, 32)}.cloudfront.net (CloudFront)`],
    ['X-Amz-Cf-Id', viewer.cfId],
    ...viewerCertificateHeaders(viewer.certificate),
    ['CloudFront-Viewer-Address', viewerAddressHeader(viewer.viewerIp, viewer.viewerPort)],
  ];
}

/**
 * Whether a request must not be served on this connection: its client certificate did not verify
 * (untrusted, expired, …), or it was already closed for that. A closed socket no longer shows its peer
 * certificate, so a request parsed from it would otherwise look like one without a certificate.
 */
export function refusedConnection(socket: Partial<TLSSocket>): boolean {
  if (socket.destroyed) return true;
  return !socket.authorized && socket.getPeerX509Certificate?.() !== undefined;
}

/**
 * Optional mutual TLS on a server made with `requestCert: true, rejectUnauthorized: false`: a connection
 * without a client certificate is served; one whose certificate did not verify is closed as soon as the
 * handshake completes, before Node's HTTP layer is attached to it (so no request on it is ever read), as
 * Node itself does with `rejectUnauthorized: true` (see the file comment for how that differs from CloudFront).
 */
export function refuseUnverifiedCertificates(
  server: TlsServer,
  log: (line: string) => void,
  ip: (s: TLSSocket) => string,
): void {
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    if (socket.authorized || socket.getPeerX509Certificate() === undefined) return;
    log(`TLS handshake refused from ${ip(socket)}: ${String(socket.authorizationError)}`);
    socket.destroy();
  });
}

/** One viewer request as the gateway read it. */
export interface ForwardedRequest {
  /** URL path and query (without `?`) as received. */
  readonly path: string;
  readonly rawQuery: string;
  readonly body: Buffer;
  readonly viewerIp: string;
  readonly requestId: string;
  /** CloudFront's id of the request (X-Amz-Cf-Id, also in the answer). */
  readonly cfId: string;
}

/** A CloudFront distribution's one origin: the edge function behind its function URL. */
export class CloudFrontOrigin {
  readonly domainName: string;

  constructor(
    readonly handler: FunctionUrlHandler,
    readonly urlId: string = LOCAL_FUNCTION_URL_ID,
  ) {
    this.domainName = functionUrlDomain(urlId);
  }

  /**
   * Serves one viewer request CloudFront forwards: the method check, the function URL event, the call
   * (`invoke` resolves undefined when the function did not answer in time: 504) and the result (a malformed
   * one throws: the caller answers 502).
   */
  async serve(
    req: IncomingMessage,
    res: ServerResponse,
    o: ForwardedRequest,
    invoke: (call: (context: Context) => Promise<unknown>, now: Date) => Promise<{ result: unknown } | undefined>,
  ): Promise<void> {
    if (!CLOUDFRONT_METHODS.has(req.method ?? 'GET')) {
      return cloudFrontError(
        res,
        403,
        'This distribution is not configured to allow the HTTP request method that was used for this request.',
      );
    }
    const now = new Date();
    const event = this.event(req, o, now);
    const outcome = await invoke((context) => this.handler(event, context), now);
    if (!outcome) return cloudFrontError(res, 504, 'CloudFront could not get an answer from the origin in time.');
    writeFunctionUrlResult(res, outcome.result);
  }

  /** The function URL event for a viewer request CloudFront forwards. */
  event(req: IncomingMessage, o: ForwardedRequest, now: Date): LambdaFunctionURLEvent {
    const socket = req.socket as Partial<TLSSocket>;
    const certificate = socket.authorized ? socket.getPeerX509Certificate?.() : undefined;
    const headers = originRequestHeaders({
      rawHeaders: req.rawHeaders,
      ...(certificate ? { certificate } : {}),
      viewerIp: o.viewerIp,
      viewerPort: req.socket.remotePort ?? 0,
      originHost: this.domainName,
      cfId: o.cfId,
    });
    return buildFunctionUrlEvent({
      method: req.method ?? 'GET',
      rawPath: o.path,
      rawQuery: o.rawQuery,
      headers: headers.flat(),
      body: o.body,
      sourceIp: o.viewerIp,
      now,
      requestId: o.requestId,
      urlId: this.urlId,
    });
  }
}

/** A fresh X-Amz-Cf-Id: 56 base64url-ish characters, as CloudFront's look. */
export function newCfId(): string {
  return randomBytes(42).toString('base64url');
}

/**
 * Checks a function URL result as Lambda does before answering (payload 2.0): an object with a
 * `statusCode` from 100 to 599, string-like header values without control characters, `cookies` a list of
 * strings (each becomes a Set-Cookie), a string body, valid base64 with `isBase64Encoded`. Any other value
 * (no `statusCode`) is Lambda's inferred format: 200, JSON, the value itself as the body (a string as it is).
 * Throws on anything else (the function URL's 502).
 */
export function validateFunctionUrlResult(result: unknown): {
  status: number;
  headers: Map<string, string>;
  cookies: string[];
  body: Buffer;
} {
  if (result === undefined) throw new Error('the function returned nothing');
  if (typeof result !== 'object' || result === null || Array.isArray(result) || !('statusCode' in result)) {
    return {
      status: 200,
      headers: new Map([['content-type', 'application/json']]),
      cookies: [],
      body: Buffer.from(typeof result === 'string' ? result : JSON.stringify(result)),
    };
  }
  const r = result as Record<string, unknown>;
  const extra = Object.keys(r).filter((key) => !RESULT_KEYS.has(key));
  if (extra.length) throw new Error(`unexpected keys ${extra.join(', ')}`);
  const status = r.statusCode;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 100 || status > 599) {
    throw new Error('statusCode must be an integer from 100 to 599');
  }
  if (r.body !== undefined && r.body !== null && typeof r.body !== 'string') throw new Error('body must be a string');
  if (r.isBase64Encoded !== undefined && typeof r.isBase64Encoded !== 'boolean')
    throw new Error('isBase64Encoded must be a boolean');
  const text = (r.body as string | null | undefined) ?? '';
  let body: Buffer;
  if (r.isBase64Encoded) {
    const compact = text.replace(/\s+/g, '');
    if (compact.length % 4 !== 0 || !BASE64.test(compact)) throw new Error('body is not valid base64');
    body = Buffer.from(compact, 'base64');
  } else {
    body = Buffer.from(text, 'utf8');
  }
  const headers = new Map<string, string>();
  const rawHeaders = r.headers ?? {};
  if (typeof rawHeaders !== 'object' || rawHeaders === null || Array.isArray(rawHeaders))
    throw new Error('headers must be an object');
  for (const [name, value] of Object.entries(rawHeaders)) {
    if (!TOKEN.test(name)) throw new Error('a header name is not a valid HTTP token');
    if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
      throw new Error(`header ${name} has a ${value === null ? 'null' : typeof value} value`);
    }
    const one = String(value);
    if (INVALID_HEADER_VALUE.test(one)) throw new Error(`header ${name} has a control character in its value`);
    const lower = name.toLowerCase();
    if (!HOP_BY_HOP.has(lower) && lower !== 'content-length') headers.set(name, one);
  }
  const cookies = r.cookies ?? [];
  if (!Array.isArray(cookies) || cookies.some((c) => typeof c !== 'string' || INVALID_HEADER_VALUE.test(c))) {
    throw new Error('cookies must be a list of strings without control characters');
  }
  return { status, headers, cookies: cookies as string[], body };
}

/** Writes a function URL result back to the viewer (a malformed one throws: the caller answers 502). */
export function writeFunctionUrlResult(res: ServerResponse, result: unknown): void {
  const { status, headers, cookies, body } = validateFunctionUrlResult(result);
  res.statusCode = status;
  for (const [name, value] of headers) res.setHeader(name, value);
  if (cookies.length) res.setHeader('Set-Cookie', cookies);
  res.setHeader('X-Cache', 'Miss from cloudfront');
  res.end(body);
}

/** CloudFront's own error page (e.g. 403 for a method the behaviour does not allow). */
export function cloudFrontError(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'text/html');
  res.setHeader('X-Cache', 'Error from cloudfront');
  res.end(
    `<!DOCTYPE HTML PUBLIC "-//W3C//DTD HTML 4.01 Transitional//EN"><HTML><HEAD><TITLE>ERROR: The request could not be satisfied</TITLE></HEAD><BODY><H1>${status} ERROR</H1><H2>The request could not be satisfied.</H2><HR noshade size="1px">${message}</BODY></HTML>`,
  );
}

function serialHeader(nodeHex: string): string {
  let hex = nodeHex.toLowerCase();
  if (hex.length % 2) hex = `0${hex}`;
  // DER encodes a positive integer whose top bit is set with a leading zero byte.
  if (/^[89a-f]/.test(hex)) hex = `00${hex}`;
  return (hex.match(/../g) ?? []).join(':');
}

function isoSeconds(opensslDate: string): string {
  return new Date(opensslDate).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
