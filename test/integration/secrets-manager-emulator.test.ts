import {
  DescribeSecretCommand,
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';
import { SecretsManagerEmulator } from '../../local/secrets-manager-emulator';

const API_CERT = JSON.stringify({
  certificate: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  privateKey: 'pem',
});

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
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
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
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
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
    const res = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'secretsmanager.DeleteSecret', 'Content-Type': 'application/x-amz-json-1.1' },
      body: JSON.stringify({ SecretId: 'plusgate/state-key' }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });

  it('answers a body that is not JSON with SerializationException', async () => {
    const res = await fetch(emulator.endpoint, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'secretsmanager.GetSecretValue', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{not json',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ __type: 'SerializationException' });
  });

  it('answers a missing SecretId with a validation error the SDK surfaces', async () => {
    const failure = await client.send(new GetSecretValueCommand({ SecretId: undefined })).catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(SecretsManagerServiceException);
    expect((failure as SecretsManagerServiceException).name).toBe('ValidationException');
  });
});
