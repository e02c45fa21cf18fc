import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  PutSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import { inspect } from 'node:util';
import { type EmulatorCredentials, SecretsManagerEmulator } from '../../local/secrets-manager-emulator';

const API_CERT = JSON.stringify({
  certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  privateKey: 'pem',
});

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly json: { __type?: string; message?: string; SecretString?: string };
}

/** SHA-256 / HMAC-SHA256 for SignatureV4, from node:crypto. */
class Sha256 {
  private h: Hash | Hmac;
  constructor(secret?: SourceData) {
    this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
  }
  update(data: SourceData): void {
    this.h.update(bytes(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.h.digest());
  }
  reset(): void {
    throw new Error('not used');
  }
}
function bytes(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data);
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

/** One request on its own connection; `headers` as [name, value] pairs so a name may repeat. */
function request(port: number, headers: ReadonlyArray<readonly [string, string]>, body = ''): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/', agent: false, setHost: false });
    for (const [name, value] of headers) {
      const prior = req.getHeader(name);
      req.setHeader(name, prior === undefined ? value : [...(Array.isArray(prior) ? prior : [String(prior)]), value]);
    }
    req.on('response', (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString()));
      res.on('end', () => {
        let json = {};
        try {
          json = JSON.parse(text);
        } catch {
          /* not JSON: json stays empty */
        }
        resolve({ status: res.statusCode ?? 0, text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** Bytes straight onto a socket (a request line and headers Node's client would not write); the answer's status. */
function rawStatus(port: number, head: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(head));
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('end', () => resolve(Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0)));
    socket.on('error', reject);
    socket.setTimeout(5000, () => socket.destroy(new Error(`no answer:${text}`)));
  });
}

interface SignedOptions {
  readonly credentials: EmulatorCredentials;
  readonly target?: string;
  readonly body?: string;
  readonly host?: string;
  readonly service?: string;
  readonly signingDate?: Date;
  /** Changes the request after it was signed. */
  readonly after?: (headers: Record<string, string>) => void;
  readonly sentBody?: string;
}

/** A request SigV4-signed by @smithy/signature-v4 as the SDK signs it, sent with http. */
async function signed(emulator: SecretsManagerEmulator, o: SignedOptions): Promise<Answer> {
  const port = Number(new URL(emulator.endpoint).port);
  const body = o.body ?? JSON.stringify({ SecretId: 'plusgate/api-cert' });
  const signer = new SignatureV4({
    credentials: o.credentials,
    region: 'us-east-1',
    service: o.service ?? 'secretsmanager',
    sha256: Sha256,
  });
  const out = await signer.sign(
    {
      method: 'POST',
      protocol: 'http:',
      hostname: '127.0.0.1',
      port,
      path: '/',
      query: {},
      headers: {
        host: o.host ?? `127.0.0.1:${port}`,
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': o.target ?? 'secretsmanager.GetSecretValue',
      },
      body,
    },
    { signingDate: o.signingDate ?? new Date() },
  );
  const headers = { ...out.headers } as Record<string, string>;
  o.after?.(headers);
  return request(port, Object.entries(headers), o.sentBody ?? body);
}

describe('SecretsManagerEmulator', () => {
  let emulator: SecretsManagerEmulator;
  let client: SecretsManagerClient;

  beforeAll(async () => {
    emulator = new SecretsManagerEmulator({
      secrets: { 'plusgate/api-cert': API_CERT, 'plusgate/state-key': 'k1' },
      region: 'eu-west-1',
    });
    await emulator.start();
    client = new SecretsManagerClient({
      endpoint: emulator.endpoint,
      region: 'us-east-1',
      credentials: emulator.credentials,
      maxAttempts: 1,
    });
  });
  afterAll(async () => {
    client.destroy();
    await emulator.stop();
  });

  it('listens on loopback', () => {
    expect(emulator.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('answers GetSecretValue by name with the current version', async () => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }));
    expect(out).toMatchObject({
      ARN: emulator.arnOf('plusgate/api-cert'),
      Name: 'plusgate/api-cert',
      SecretString: API_CERT,
      VersionStages: ['AWSCURRENT'],
    });
    expect(out.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(out.CreatedDate).toBeInstanceOf(Date);
    expect(Math.abs(out.CreatedDate!.getTime() - Date.now())).toBeLessThan(60_000);
  });

  it('writes ARNs with the region, an account and a six-character suffix, stable per name', () => {
    const arn = emulator.arnOf('plusgate/api-cert');
    expect(arn).toMatch(/^arn:aws:secretsmanager:eu-west-1:\d{12}:secret:plusgate\/api-cert-[A-Za-z0-9]{6}$/);
    expect(new SecretsManagerEmulator({ secrets: {}, region: 'eu-west-1' }).arnOf('plusgate/api-cert')).toBe(arn);
  });

  it.each([
    ['full ARN', (e: SecretsManagerEmulator) => e.arnOf('plusgate/state-key')],
    ['partial ARN without the suffix', (e: SecretsManagerEmulator) => e.arnOf('plusgate/state-key').slice(0, -7)],
  ])('finds a secret by %s', async (_form, idOf) => {
    const out = await client.send(new GetSecretValueCommand({ SecretId: idOf(emulator) }));
    expect(out.SecretString).toBe('k1');
  });

  it('answers an unknown secret with ResourceNotFoundException, as the SDK types it', async () => {
    const failure = await client.send(new GetSecretValueCommand({ SecretId: 'nope' })).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(ResourceNotFoundException);
    expect((failure as ResourceNotFoundException).message).toBe("Secrets Manager can't find the specified secret.");
    expect((failure as ResourceNotFoundException).$metadata.httpStatusCode).toBe(400);
  });

  it('refuses a staging label other than AWSCURRENT and an unknown version id', async () => {
    await expect(
      client.send(new GetSecretValueCommand({ SecretId: 'plusgate/state-key', VersionStage: 'AWSPREVIOUS' })),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
    await expect(
      client.send(
        new GetSecretValueCommand({
          SecretId: 'plusgate/state-key',
          VersionId: '00000000-0000-4000-8000-000000000000',
        }),
      ),
    ).rejects.toBeInstanceOf(ResourceNotFoundException);
  });

  it('answers DescribeSecret with the current version', async () => {
    const out = await client.send(new DescribeSecretCommand({ SecretId: 'plusgate/api-cert' }));
    const value = await client.send(new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }));
    expect(out.ARN).toBe(emulator.arnOf('plusgate/api-cert'));
    expect(out.Name).toBe('plusgate/api-cert');
    expect(out.VersionIdsToStages).toEqual({ [value.VersionId!]: ['AWSCURRENT'] });
    expect(out.LastChangedDate).toBeInstanceOf(Date);
  });

  it('serves a new version after setSecret, keeping the creation date of the secret', async () => {
    const before = await client.send(new DescribeSecretCommand({ SecretId: 'plusgate/state-key' }));
    const old = await client.send(new GetSecretValueCommand({ SecretId: 'plusgate/state-key' }));
    emulator.setSecret('plusgate/state-key', 'k2');
    const now = await client.send(new GetSecretValueCommand({ SecretId: 'plusgate/state-key' }));
    expect(now.SecretString).toBe('k2');
    expect(now.VersionId).not.toBe(old.VersionId);
    const after = await client.send(new DescribeSecretCommand({ SecretId: 'plusgate/state-key' }));
    expect(after.CreatedDate).toEqual(before.CreatedDate);
  });

  it('serves a client configured only by environment, as a handler in local mode is', async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: emulator.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: emulator.credentials.secretAccessKey,
    });
    const fromEnv = new SecretsManagerClient({ maxAttempts: 1 });
    try {
      expect((await fromEnv.send(new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }))).SecretString).toBe(
        API_CERT,
      );
    } finally {
      fromEnv.destroy();
      process.env = saved;
    }
  });

  it('answers an unsupported operation with UnknownOperationException', async () => {
    const res = await signed(emulator, {
      credentials: emulator.credentials,
      target: 'secretsmanager.DeleteSecret',
      body: JSON.stringify({ SecretId: 'plusgate/state-key' }),
    });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('answers a body that is not JSON with SerializationException', async () => {
    const res = await signed(emulator, { credentials: emulator.credentials, body: '{not json' });
    expect(res.status).toBe(400);
    expect(res.json).toMatchObject({ __type: 'SerializationException' });
  });

  it('answers a missing SecretId with a validation error the SDK surfaces', async () => {
    const failure = await client.send(new GetSecretValueCommand({ SecretId: undefined })).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SecretsManagerServiceException);
    expect((failure as SecretsManagerServiceException).name).toBe('ValidationException');
  });
});

describe('SecretsManagerEmulator answers only SigV4 requests with its key pair, addressed to it', () => {
  let emulator: SecretsManagerEmulator;
  let port: number;
  let client: SecretsManagerClient;
  const clientWith = (credentials: EmulatorCredentials) =>
    new SecretsManagerClient({ endpoint: emulator.endpoint, region: 'us-east-1', credentials, maxAttempts: 1 });
  /** Neither the secret (its certificate or key) nor the emulator's secret key is in an answer. */
  const expectNothingSecret = (answer: { text: string } | string) => {
    const text = typeof answer === 'string' ? answer : answer.text;
    expect(text).not.toContain('MIIB');
    expect(text).not.toContain('privateKey');
    expect(text).not.toContain(emulator.credentials.secretAccessKey);
  };
  const unsigned = (target: string, host = `127.0.0.1:${port}`) =>
    request(
      port,
      [
        ['Host', host],
        ['Content-Type', 'application/x-amz-json-1.1'],
        ['X-Amz-Target', target],
      ],
      JSON.stringify({ SecretId: 'plusgate/api-cert', SecretString: 'attacker' }),
    );

  beforeEach(async () => {
    emulator = new SecretsManagerEmulator({ secrets: { 'plusgate/api-cert': API_CERT } });
    await emulator.start();
    port = Number(new URL(emulator.endpoint).port);
    client = clientWith(emulator.credentials);
  });
  afterEach(async () => {
    client.destroy();
    await emulator.stop();
  });

  it.each(['secretsmanager.GetSecretValue', 'secretsmanager.PutSecretValue', 'secretsmanager.DescribeSecret'])(
    'answers an unsigned %s with MissingAuthenticationTokenException, and no secret',
    async (target) => {
      const res = await unsigned(target);
      expect(res.status).toBe(400);
      expect(res.json).toEqual({
        __type: 'MissingAuthenticationTokenException',
        message: 'Missing Authentication Token',
      });
      expectNothingSecret(res);
      expect((await client.send(new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }))).SecretString).toBe(
        API_CERT,
      );
    },
  );

  it('refuses its access key with the wrong secret key (InvalidSignatureException, 403), for reads and writes', async () => {
    const wrong = clientWith({ accessKeyId: emulator.credentials.accessKeyId, secretAccessKey: 'not-the-secret-key' });
    try {
      for (const command of [
        new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }),
        new DescribeSecretCommand({ SecretId: 'plusgate/api-cert' }),
        new PutSecretValueCommand({ SecretId: 'plusgate/api-cert', SecretString: 'attacker' }),
      ]) {
        const failure = (await wrong.send(command as GetSecretValueCommand).catch((err: unknown) => err)) as
          | SecretsManagerServiceException
          | undefined;
        expect(failure).toBeInstanceOf(SecretsManagerServiceException);
        expect(failure?.name).toBe('InvalidSignatureException');
        expect(failure?.$metadata.httpStatusCode).toBe(403);
        expect(failure?.message).toMatch(/signature we calculated does not match/);
        expectNothingSecret(String(failure?.message));
      }
    } finally {
      wrong.destroy();
    }
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }))).SecretString).toBe(
      API_CERT,
    );
  });

  it('refuses another access key (UnrecognizedClientException, 403)', async () => {
    const stranger = clientWith({ accessKeyId: 'AKIDSTRANGER', secretAccessKey: emulator.credentials.secretAccessKey });
    try {
      const failure = (await stranger
        .send(new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }))
        .catch((err: unknown) => err)) as SecretsManagerServiceException;
      expect(failure.name).toBe('UnrecognizedClientException');
      expect(failure.$metadata.httpStatusCode).toBe(403);
      expect(failure.message).toBe('The security token included in the request is invalid.');
    } finally {
      stranger.destroy();
    }
  });

  it('refuses a signature dated more than five minutes away, either way, and accepts one within', async () => {
    const credentials = emulator.credentials;
    const stale = await signed(emulator, { credentials, signingDate: new Date(Date.now() - 6 * 60_000) });
    expect(stale.status).toBe(403);
    expect(stale.json.__type).toBe('InvalidSignatureException');
    expect(stale.json.message).toMatch(/^Signature expired: X-Amz-Date \d{8}T\d{6}Z is more than 5 minutes/);
    expectNothingSecret(stale);
    const future = await signed(emulator, { credentials, signingDate: new Date(Date.now() + 6 * 60_000) });
    expect(future.status).toBe(403);
    expect(future.json.message).toMatch(/^Signature not yet current/);
    const recent = await signed(emulator, { credentials, signingDate: new Date(Date.now() - 4 * 60_000) });
    expect(recent.status).toBe(200);
    expect(recent.json.SecretString).toBe(API_CERT);
  });

  it('refuses a signature scoped to another service', async () => {
    const res = await signed(emulator, { credentials: emulator.credentials, service: 'dynamodb' });
    expect(res.status).toBe(403);
    expect(res.json).toEqual({
      __type: 'InvalidSignatureException',
      message: "Credential should be scoped to correct service: 'secretsmanager'.",
    });
  });

  it('answers a Host other than its own 127.0.0.1:<port> with 421, even correctly signed', async () => {
    const hosts = ['evil.example', `evil.example:${port}`, `localhost:${port}`, '127.0.0.1', `127.0.0.1:${port + 1}`];
    for (const host of hosts) {
      for (const res of [
        await signed(emulator, { credentials: emulator.credentials, host }),
        await unsigned('secretsmanager.GetSecretValue', host),
      ]) {
        expect(res.status).toBe(421);
        expect(res.json.__type).toBe('MisdirectedRequestException');
        expect(res.json.message).toMatch(/Host header is not this emulator's loopback address \(127\.0\.0\.1:\d+\)/);
        expectNothingSecret(res);
      }
    }
  });

  it('refuses a signed request changed afterwards: its body, its operation, or its payload hash', async () => {
    const credentials = emulator.credentials;
    const tampered = [
      await signed(emulator, { credentials, sentBody: JSON.stringify({ SecretId: 'plusgate/api-cert ' }) }),
      await signed(emulator, {
        credentials,
        after: (h) => {
          h['x-amz-target'] = 'secretsmanager.DescribeSecret';
        },
      }),
      await signed(emulator, {
        credentials,
        after: (h) => {
          h['x-amz-content-sha256'] = createHash('sha256').update('{"SecretId":"x"}').digest('hex');
        },
        sentBody: '{"SecretId":"x"}',
      }),
    ];
    for (const res of tampered) {
      expect(res.status).toBe(403);
      expect(res.json.__type).toBe('InvalidSignatureException');
      expectNothingSecret(res);
    }
  });

  it('answers malformed, partial or repeated signature headers with a 4xx naming the problem', async () => {
    const credentials = emulator.credentials;
    const cases: Array<[SignedOptions['after'], number, string, RegExp]> = [
      [
        (h) => {
          h.authorization = 'Bearer abc';
        },
        400,
        'IncompleteSignatureException',
        /AWS4-HMAC-SHA256/,
      ],
      [
        (h) => {
          h.authorization = `AWS4-HMAC-SHA256 ${'x'.repeat(8000)}`;
        },
        400,
        'IncompleteSignatureException',
        /form/,
      ],
      [
        (h) => {
          delete h['x-amz-date'];
        },
        400,
        'IncompleteSignatureException',
        /X-Amz-Date/,
      ],
      [
        (h) => {
          h['x-amz-date'] = '20261399T250000Z';
        },
        400,
        'IncompleteSignatureException',
        /X-Amz-Date/,
      ],
      [
        (h) => {
          delete h['x-amz-target'];
        },
        400,
        'IncompleteSignatureException',
        /x-amz-target/,
      ],
      [
        (h) => {
          h['x-amz-security-token'] = 'token';
        },
        403,
        'UnrecognizedClientException',
        /security token/,
      ],
      [
        (h) => {
          h.authorization = h.authorization!.replace(/SignedHeaders=[^,]+/, 'SignedHeaders=x-amz-date');
        },
        400,
        'IncompleteSignatureException',
        /Host and X-Amz-Date/,
      ],
    ];
    for (const [after, status, type, message] of cases) {
      const res = await signed(emulator, { credentials, after });
      expect([res.status, res.json.__type]).toEqual([status, type]);
      expect(res.json.message).toMatch(message);
      expectNothingSecret(res);
    }
  });

  it('answers repeated Host or Authorization headers, a missing Host and oversized headers with a 4xx, and keeps serving', async () => {
    const ok = await signed(emulator, { credentials: emulator.credentials });
    expect(ok.status).toBe(200);
    const target = 'X-Amz-Target: secretsmanager.GetSecretValue\r\nContent-Length: 2\r\n';
    const statuses = [
      await rawStatus(port, `POST / HTTP/1.0\r\n${target}\r\n{}`),
      await rawStatus(port, `POST / HTTP/1.1\r\n${target}Connection: close\r\n\r\n{}`),
      await rawStatus(
        port,
        `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nHost: evil.example\r\n${target}Connection: close\r\n\r\n{}`,
      ),
      await rawStatus(
        port,
        `POST / HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Big: ${'a'.repeat(20_000)}\r\n${target}\r\n{}`,
      ),
    ];
    for (const status of statuses) {
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }
    const twice = await signed(emulator, {
      credentials: emulator.credentials,
      after: (h) => {
        h.Authorization = h.authorization!;
      },
    });
    expect(twice.status).toBe(400);
    expect(twice.json.message).toBe('More than one Authorization header');
    expect((await client.send(new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }))).SecretString).toBe(
      API_CERT,
    );
  });

  it('serves the real SDK signing with its key pair: GetSecretValue, DescribeSecret and PutSecretValue', async () => {
    const put = await client.send(
      new PutSecretValueCommand({ SecretId: 'plusgate/api-cert', SecretString: '{"certificate":"v2"}' }),
    );
    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    const now = await client.send(new GetSecretValueCommand({ SecretId: 'plusgate/api-cert' }));
    expect(now).toMatchObject({ SecretString: '{"certificate":"v2"}', VersionId: put.VersionId });
    const described = await client.send(new DescribeSecretCommand({ SecretId: 'plusgate/api-cert' }));
    expect(described.VersionIdsToStages).toEqual({ [put.VersionId!]: ['AWSCURRENT'] });
  });

  it('makes a random key pair per instance unless given one, and does not show the secret key when inspected', () => {
    const other = new SecretsManagerEmulator({ secrets: {} });
    expect(other.credentials.accessKeyId).not.toBe(emulator.credentials.accessKeyId);
    expect(other.credentials.secretAccessKey).not.toBe(emulator.credentials.secretAccessKey);
    expect(emulator.credentials.secretAccessKey.length).toBeGreaterThanOrEqual(40);
    expect(inspect(emulator, { depth: 5, showHidden: true })).not.toContain(emulator.credentials.secretAccessKey);
    expect(JSON.stringify(emulator)).not.toContain(emulator.credentials.secretAccessKey);
    const given = { accessKeyId: 'AKIDGIVEN', secretAccessKey: 'given-secret' };
    expect(new SecretsManagerEmulator({ secrets: {}, credentials: given }).credentials).toEqual(given);
  });
});
