/**
 * How transport failures become IdentityPlusError kinds and messages: undici's own errors, Node's socket,
 * DNS and TLS errors (built here with the codes Node gives them), and our own timers and body cap.
 */
import { inspect } from 'node:util';
import { errors as undiciErrors } from 'undici';
import {
  LocalFailure,
  type TransportErrorContext,
  errorDetail,
  isDroppedSocket,
  safeCause,
  toIdentityPlusError,
} from '../../../functions/adapters/identity-plus-transport-errors';
import type { IdentityPlusError } from '../../../functions/domain/errors';

const context: TransportErrorContext = {
  host: 'api.example.test:8444',
  connectTimeoutMs: 500,
  answerTimeoutMs: 800,
  deadlineMs: 1300,
  maxAnswerBytes: 1024,
  retried: false,
  responseStarted: false,
};

/** A Node system error as sockets, DNS and TLS report them: a message and a string `code`. */
function nodeError(code: string, message = `${code.toLowerCase()} happened`): Error {
  return Object.assign(new Error(message), { code });
}

const convert = (error: unknown, overrides: Partial<TransportErrorContext> = {}): IdentityPlusError =>
  toIdentityPlusError(error, { ...context, ...overrides });

describe('timeouts', () => {
  it.each([
    ['undici ConnectTimeoutError', new undiciErrors.ConnectTimeoutError()],
    ['Node ETIMEDOUT', nodeError('ETIMEDOUT')],
  ])('calls %s a connect timeout naming the host and the limit', (_name, error) => {
    const err = convert(error);
    expect(err.kind).toBe('timeout');
    expect(err.message).toBe('Could not connect to Identity Plus at api.example.test:8444 within 500 ms.');
  });

  it.each([
    ['HeadersTimeoutError', new undiciErrors.HeadersTimeoutError()],
    ['BodyTimeoutError', new undiciErrors.BodyTimeoutError()],
  ])("calls undici's %s an answer timeout with our answer limit", (_name, error) => {
    const err = convert(error);
    expect(err.kind).toBe('timeout');
    expect(err.message).toBe('Identity Plus did not answer within 800 ms.');
  });
});

describe('TLS', () => {
  it.each([
    'DEPTH_ZERO_SELF_SIGNED_CERT',
    'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    'CERT_HAS_EXPIRED',
    'SELF_SIGNED_CERT_IN_CHAIN',
    'ERR_TLS_CERT_ALTNAME_INVALID',
    'ERR_TLS_HANDSHAKE_TIMEOUT',
    'EPROTO',
    'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    'ERR_SSL_WRONG_VERSION_NUMBER',
    'CERT_SOMETHING_NEWER_THAN_THIS_LIST',
  ])('calls %s a TLS failure and shows its message and code', (code) => {
    const err = convert(nodeError(code, 'handshake went wrong'));
    expect(err.kind).toBe('tls');
    expect(err.message).toBe(
      `The TLS handshake with Identity Plus at api.example.test:8444 failed: handshake went wrong (${code}).`,
    );
  });
});

describe('malformed HTTP and closed clients', () => {
  it("calls undici's HTTP parser errors an invalid response naming the parser code", () => {
    // undici sets the code as HPE_ + llhttp's error name; its typings do not declare the constructor's code.
    const parserError = Object.assign(
      new undiciErrors.HTTPParserError('Response does not match the HTTP/1.1 protocol'),
      {
        code: 'HPE_INVALID_CONSTANT',
      },
    );
    expect(parserError).toBeInstanceOf(undiciErrors.HTTPParserError);
    const err = convert(parserError);
    expect(err.kind).toBe('invalid-response');
    expect(err.message).toBe(
      'Identity Plus at api.example.test:8444 sent a malformed HTTP answer (HPE_INVALID_CONSTANT).',
    );
  });

  it.each([
    ['ClientClosedError', new undiciErrors.ClientClosedError()],
    ['ClientDestroyedError', new undiciErrors.ClientDestroyedError()],
  ])('calls %s a closed client', (_name, error) => {
    const err = convert(error);
    expect(err.kind).toBe('connection');
    expect(err.message).toBe('This Identity Plus client is closed.');
  });
});

describe('dropped connections', () => {
  const dropped = [
    ['undici SocketError', new undiciErrors.SocketError('other side closed')],
    ['ECONNRESET', nodeError('ECONNRESET', 'read ECONNRESET')],
    ['EPIPE', nodeError('EPIPE', 'write EPIPE')],
    ['ECONNABORTED', nodeError('ECONNABORTED')],
  ] as const;

  it.each(dropped)('calls %s on a new connection a connection failure that may be our certificate', (_n, error) => {
    const err = convert(error);
    expect(err.kind).toBe('connection');
    expect(err.message).toMatch(
      /^Identity Plus at api\.example\.test:8444 closed a new connection before answering \(.+\); it may have refused our API certificate\.$/,
    );
  });

  it('says so when the one retry on a new connection was dropped too', () => {
    const err = convert(new undiciErrors.SocketError('other side closed'), { retried: true });
    expect(err.kind).toBe('connection');
    expect(err.message).toBe(
      'Identity Plus at api.example.test:8444 closed a pooled connection before answering, ' +
        'and a new one after one retry (other side closed (UND_ERR_SOCKET)).',
    );
  });

  it('says the answer was cut when the drop came after the answer started, retried or not', () => {
    for (const retried of [false, true]) {
      const err = convert(nodeError('ECONNRESET', 'read ECONNRESET'), { responseStarted: true, retried });
      expect(err.kind).toBe('connection');
      expect(err.message).toBe(
        'Identity Plus at api.example.test:8444 closed the connection in the middle of its answer (read ECONNRESET).',
      );
    }
  });

  it.each(dropped)('treats %s as a stale pooled socket worth one retry', (_n, error) => {
    expect(isDroppedSocket(error)).toBe(true);
  });

  it.each([
    new undiciErrors.ConnectTimeoutError(),
    new undiciErrors.HeadersTimeoutError(),
    nodeError('ECONNREFUSED'),
    nodeError('CERT_HAS_EXPIRED'),
    new undiciErrors.ClientClosedError(),
    new LocalFailure('answer-timeout'),
    new Error('no code'),
    'not an error',
  ])('does not retry on %p', (error) => {
    expect(isDroppedSocket(error)).toBe(false);
  });
});

describe('unreachable and other failures', () => {
  it.each([
    'ECONNREFUSED',
    'ENOTFOUND',
    'EAI_AGAIN',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'EHOSTDOWN',
    'ENETDOWN',
    'EADDRNOTAVAIL',
  ])('calls %s a failure to connect', (code) => {
    const err = convert(nodeError(code, `connect ${code} 192.0.2.1:443`));
    expect(err.kind).toBe('connection');
    expect(err.message).toBe(
      `Could not connect to Identity Plus at api.example.test:8444: connect ${code} 192.0.2.1:443.`,
    );
  });

  it.each([
    ['an Error without a code', new Error('something odd'), 'something odd'],
    ['an undici error of another kind', new undiciErrors.RequestAbortedError(), 'Request aborted (UND_ERR_ABORTED)'],
    ['a thrown string', 'weird', 'weird'],
    ['an Error with an empty message', new Error('  '), 'no details'],
  ])('calls %s a generic connection failure', (_name, error, detail) => {
    const err = convert(error);
    expect(err.kind).toBe('connection');
    expect(err.message).toBe(`Calling Identity Plus at api.example.test:8444 failed: ${detail}.`);
  });
});

describe('our own failures', () => {
  it.each([
    ['answer-timeout', 'timeout', 'Identity Plus did not answer within 800 ms.'],
    ['deadline', 'timeout', 'Identity Plus did not answer within 1300 ms.'],
    ['too-large', 'invalid-response', 'Identity Plus answered with more than 1024 bytes; the answer was not read.'],
  ] as const)('turns %s into %s with no cause', (reason, kind, message) => {
    const err = convert(new LocalFailure(reason));
    expect(err.kind).toBe(kind);
    expect(err.message).toBe(message);
    expect(err.cause).toBeUndefined();
  });
});

describe('causes', () => {
  it('keep only name, code and message of the vendor error, never the object', () => {
    const secret = 'PASSPHRASE-do-not-show';
    const vendor = Object.assign(new undiciErrors.SocketError('other side closed'), {
      socket: { options: { passphrase: secret } },
    });
    const err = convert(vendor);
    expect(err.cause).toEqual({ name: 'SocketError', code: 'UND_ERR_SOCKET', message: 'other side closed' });
    expect(err.cause).not.toBe(vendor);
    for (const view of [inspect(err, { depth: 10, showHidden: true }), JSON.stringify(err), String(err.stack)]) {
      expect(view).not.toContain(secret);
    }
  });

  it('leave the code out when there is none, and clip long messages', () => {
    expect(safeCause(new TypeError('x'.repeat(1000)))).toEqual({ name: 'TypeError', message: `${'x'.repeat(299)}…` });
    expect(safeCause('just text')).toEqual({ name: 'Error', message: 'just text' });
    expect(safeCause(new LocalFailure('deadline'))).toBeUndefined();
  });
});

describe('errorDetail', () => {
  it('adds the code unless the message already names it', () => {
    expect(errorDetail(nodeError('ECONNRESET', 'socket hang up'))).toBe('socket hang up (ECONNRESET)');
    expect(errorDetail(nodeError('ECONNRESET', 'read ECONNRESET'))).toBe('read ECONNRESET');
  });

  it('collapses whitespace and clips to 200 characters', () => {
    expect(errorDetail(new Error('a\n  b\tc  '))).toBe('a b c');
    const detail = errorDetail(new Error('y'.repeat(500)));
    expect(detail).toHaveLength(200);
    expect(detail.endsWith('…')).toBe(true);
  });

  it('ignores a code that is not a string', () => {
    expect(errorDetail(Object.assign(new Error('boom'), { code: 42 }))).toBe('boom');
  });
});
