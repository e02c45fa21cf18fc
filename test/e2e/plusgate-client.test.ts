/**
 * The typed Node client: its SigV4 signatures (scope execute-api/<region>, signed host, date and body)
 * checked on a capture server, and its answers against local mode's service API.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { SignatureV4 } from '@smithy/signature-v4';
import type { SourceData } from '@smithy/types';
import { createHash, createHmac } from 'node:crypto';
import { PlusgateClient, PlusgateClientError } from '../../functions/client/plusgate-client';
import type { DevPki } from '../../local/dev-pki';
import { loadDevPki } from '../../local/dev-pki-files';
import { type RunningProcess, freePorts, localModeArgs, startNpm } from '../support/processes';
import { defined } from '../support/only';

jest.setTimeout(120_000);

const credentials = {
  accessKeyId: 'AKIDEXAMPLE',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY',
  sessionToken: 'session-token-example',
};

describe('SigV4 signing', () => {
  let server: Server;
  let seen: { req: IncomingMessage; body: string } | undefined;
  let answer: { status: number; body: unknown } = { status: 200, body: {} };
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen = { req, body };
        res.statusCode = answer.status;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answer.body));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as import('node:net').AddressInfo).port}/prod/`;
  });
  afterAll(() => new Promise((resolve) => server.close(resolve)));

  it('signs for execute-api in the region, over host, date, token and the exact body it sends', async () => {
    answer = { status: 200, body: { decision: 'allow', reason: 'cleared' } };
    const client = new PlusgateClient({ endpoint: url, region: 'eu-west-1', credentials });
    const result = await client.verify({ serial: '476701752658536845' }, { ip: '198.51.100.7' });
    expect(result.decision).toBe('allow');

    const headers = seen!.req.headers;
    const amzDate = String(headers['x-amz-date']);
    expect(seen!.req.method).toBe('POST');
    expect(seen!.req.url).toBe('/prod/verify');
    expect(JSON.parse(seen!.body)).toEqual({ serial: '476701752658536845', ip: '198.51.100.7' });
    expect(headers['x-amz-security-token']).toBe('session-token-example');
    const authorization = String(headers.authorization);
    expect(authorization).toMatch(
      new RegExp(
        `^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${amzDate.slice(0, 8)}/eu-west-1/execute-api/aws4_request, `,
      ),
    );
    expect(authorization).toMatch(/SignedHeaders=[^,]*\bhost\b[^,]*;x-amz-date;x-amz-security-token/);

    // An independent signer over what actually arrived gives the same signature.
    const bytes = (d: SourceData) =>
      typeof d === 'string'
        ? Buffer.from(d)
        : ArrayBuffer.isView(d)
          ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
          : Buffer.from(d);
    const Sha256 = class {
      private h;
      constructor(secret?: SourceData) {
        this.h = secret === undefined ? createHash('sha256') : createHmac('sha256', bytes(secret));
      }
      update(d: SourceData) {
        this.h.update(bytes(d));
      }
      async digest() {
        return new Uint8Array(this.h.digest());
      }
      reset() {}
    };
    const verifier = new SignatureV4({ service: 'execute-api', region: 'eu-west-1', credentials, sha256: Sha256 });
    const signedNames = defined(
      /SignedHeaders=([^,]+)/.exec(authorization)?.[1],
      'SignedHeaders in the Authorization header',
    ).split(';');
    const received = Object.fromEntries(
      signedNames.filter((n) => n !== 'x-amz-date' && n !== 'x-amz-security-token').map((n) => [n, String(headers[n])]),
    );
    const again = await verifier.sign(
      {
        method: 'POST',
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: '/prod/verify',
        query: {},
        headers: received,
        body: seen!.body,
      },
      {
        signingDate: new Date(
          `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
        ),
      },
    );
    expect(/Signature=([0-9a-f]+)/.exec(String(again.headers.authorization))![1]).toBe(
      /Signature=([0-9a-f]+)/.exec(authorization)![1],
    );
  });

  it("turns a 4xx into a PlusgateClientError carrying plusgate's message", async () => {
    answer = { status: 400, body: { message: 'serial "x" is not a serial number' } };
    const client = new PlusgateClient({ endpoint: url, region: 'eu-west-1', credentials });
    await expect(client.verify({ serial: 'x' })).rejects.toThrow(
      new PlusgateClientError('serial "x" is not a serial number', 400),
    );
  });

  it('refuses a non-https endpoint off loopback and a malformed region', () => {
    expect(
      () => new PlusgateClient({ endpoint: 'http://api.example.com/prod', region: 'eu-west-1', credentials }),
    ).toThrow(/https/);
    expect(() => new PlusgateClient({ endpoint: url, region: 'Europe', credentials })).toThrow(/not an AWS region/);
  });
});

describe('against local mode', () => {
  let dir: string;
  let local: RunningProcess | undefined;
  let pki: DevPki;
  let client: PlusgateClient;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'plusgate-client-'));
    const [gateway, simulator, dynamodb, service] = await freePorts(4);
    local = await startNpm(
      [...localModeArgs(dir, { gateway, simulator, dynamodb, service }), '--quiet'],
      'plusgate local ready',
    );
    pki = await loadDevPki(dir);
    client = new PlusgateClient({ endpoint: `http://127.0.0.1:${service}/`, region: 'us-east-1', credentials });
  });
  afterAll(async () => {
    await local?.interrupt();
    rmSync(dir, { recursive: true, force: true });
  });

  it('verifies alice by her certificate', async () => {
    const result = await client.verify({ certificate: pki.devices.alice.cert });
    expect(result).toMatchObject({
      decision: 'allow',
      user: { name: 'Alice Archer' },
      roles: ['member'],
      device: { type: 'Desktop' },
    });
  });

  it('gives a validation URL for bob when asked', async () => {
    const result = await client.verify({ serial: pki.devices.bob.serial }, { validationUrl: true });
    expect(result.decision).toBe('validate');
    expect(result.validationUrl).toMatch(/^https:\/\/localhost:\d+\/[A-Za-z0-9_-]+$/);
  });

  it('reports a denial and a bad input as plusgate words them', async () => {
    expect((await client.verify({ certificate: pki.devices.carol.cert })).reason).toBe('revoked');
    await expect(client.verify({ certificate: pki.devices.mallory.cert })).rejects.toMatchObject({
      status: 400,
      message: expect.stringMatching(/truststore/),
    });
  });

  it('binds alice to a local user id and unbinds her; a conflict is a PlusgateClientError with status 409', async () => {
    const bound = await client.bind({ certificate: pki.devices.alice.cert }, 'alice-client');
    expect(bound).toMatchObject({ localUserId: 'alice-client', userId: 'local:alice-client' });
    expect((await client.verify({ serial: pki.devices.alice.serial })).user.id).toBe('local:alice-client');
    await expect(client.bind({ serial: pki.devices.erin.serial }, 'alice-client')).rejects.toMatchObject({
      status: 409,
    });
    expect(await client.unbind('alice-client')).toMatchObject({ localUserId: 'alice-client', unbound: true });
    await expect(client.unbind('alice-client')).rejects.toMatchObject({ status: 404 });
  });

  it('reports an intruder and withdraws the report by its reference', async () => {
    const report = await client.reportIntrusion(
      { serial: pki.devices.dave.serial },
      { severity: 'intrusive', message: 'probing', ip: '198.51.100.4' },
    );
    expect(report.reference.length).toBeGreaterThan(0);
    expect(await client.withdrawIntrusion(report.reference)).toMatchObject({
      reference: report.reference,
      withdrawn: true,
    });
  });
});
