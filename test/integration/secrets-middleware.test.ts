/**
 * The refreshing secrets middleware against the Secrets Manager emulator over the real SDK: rotation is
 * picked up after the TTL, an outage keeps the last good values, and nothing runs in the background.
 */
import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { refreshingSecrets } from '../../functions/runtime/secrets-middleware';
import { SecretsManagerEmulator } from '../../local/secrets-manager-emulator';

const context = { functionName: 'test', getRemainingTimeInMillis: () => 10_000 } as unknown as Context;

async function withEmulator() {
  const emulator = new SecretsManagerEmulator({
    secrets: { 'api-cert': '{"certificate":"v1"}', 'state-key': 'k'.repeat(40) },
    // The key pair the environment below signs with (the emulator refuses any other).
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await emulator.start();
  Object.assign(process.env, {
    AWS_ENDPOINT_URL_SECRETS_MANAGER: emulator.endpoint,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
  return emulator;
}

function handlerWith(options: { cacheKey: string; now: () => number; onStale?: (err: unknown) => void }) {
  return middy<unknown, unknown, Error, Context & { apiCert?: unknown; stateKey?: unknown }>()
    .use(refreshingSecrets({ fetchData: { apiCert: 'api-cert', stateKey: 'state-key' }, ttlMs: 60_000, ...options }))
    .handler(async (_event, ctx) => ({ apiCert: ctx.apiCert, stateKey: ctx.stateKey }));
}

describe('refreshingSecrets', () => {
  it('puts JSON-parsed secrets on the context and picks up a rotation only after the TTL', async () => {
    const emulator = await withEmulator();
    let now = 0;
    try {
      const handler = handlerWith({ cacheKey: 'rotation', now: () => now });
      expect(await handler({}, { ...context })).toEqual({ apiCert: { certificate: 'v1' }, stateKey: 'k'.repeat(40) });
      emulator.setSecret('api-cert', '{"certificate":"v2"}');
      now = 59_000;
      expect(await handler({}, { ...context })).toMatchObject({ apiCert: { certificate: 'v1' } });
      now = 60_000;
      expect(await handler({}, { ...context })).toMatchObject({ apiCert: { certificate: 'v2' } });
    } finally {
      await emulator.stop();
    }
  });

  it('keeps serving the last good values when a refresh fails, and says so', async () => {
    const emulator = await withEmulator();
    let now = 0;
    const stale: unknown[] = [];
    const handler = handlerWith({ cacheKey: 'outage', now: () => now, onStale: (err) => stale.push(err) });
    expect(await handler({}, { ...context })).toMatchObject({ apiCert: { certificate: 'v1' } });
    await emulator.stop();
    now = 120_000;
    expect(await handler({}, { ...context })).toMatchObject({ apiCert: { certificate: 'v1' } });
    expect(stale).toHaveLength(1);
    // It does not hammer Secrets Manager on every request during the outage.
    now = 121_000;
    await handler({}, { ...context });
    expect(stale).toHaveLength(1);
    // ... and asks again after 30 s, picking up the values once Secrets Manager is back.
    const back = await withEmulator();
    try {
      back.setSecret('api-cert', '{"certificate":"v3"}');
      now = 150_000;
      expect(await handler({}, { ...context })).toMatchObject({ apiCert: { certificate: 'v3' } });
    } finally {
      await back.stop();
    }
  });

  it('fails the request (for the error mapper) when no value was ever read, and tries again next time', async () => {
    const emulator = await withEmulator();
    await emulator.stop();
    const handler = handlerWith({ cacheKey: 'never', now: () => 0 });
    await expect(handler({}, { ...context })).rejects.toThrow();
    const again = await withEmulator();
    try {
      expect(await handler({}, { ...context })).toMatchObject({ apiCert: { certificate: 'v1' } });
    } finally {
      await again.stop();
    }
  });
});
