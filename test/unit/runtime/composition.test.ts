/** The composition root: adapters are built once per container and rebuilt only when a secret was rotated. */
import { ENV } from '../../../functions/config/names';
import { testPki } from '../../support/test-pki';

type Composition = typeof import('../../../functions/runtime/composition');
const saved = { ...process.env };

function freshComposition(): Composition {
  let module: Composition | undefined;
  jest.isolateModules(() => {
    // require, not import(): isolateModules loads synchronously, so the module is fresh for this call only.
    module = require('../../../functions/runtime/composition');
  });
  return module!;
}

beforeAll(() => {
  Object.assign(process.env, {
    AWS_REGION: 'us-east-1',
    [ENV.TABLE_NAME]: 'records',
    [ENV.API_CERT_SECRET]: 'api',
    [ENV.STATE_KEY_SECRET]: 'state',
  });
});
afterAll(() => {
  process.env = saved;
});

describe('services', () => {
  it('reuses the client for the same secrets, and for equal secrets fetched again; rebuilds it when one was rotated', async () => {
    const { api, devices } = await testPki();
    const { services } = freshComposition();
    const stateKey = 'k'.repeat(48);
    const first = services({ apiCert: { certificate: api.cert, privateKey: api.key }, stateKey });
    expect(services({ apiCert: first.secrets.apiCert, stateKey }).client).toBe(first.client);
    expect(services({ apiCert: { certificate: api.cert, privateKey: api.key }, stateKey }).client).toBe(first.client);

    const rotated = services({ apiCert: { certificate: devices.alice.cert, privateKey: devices.alice.key }, stateKey });
    expect(rotated.client).not.toBe(first.client);
    const newStateKey = services({
      apiCert: { certificate: devices.alice.cert, privateKey: devices.alice.key },
      stateKey: 'n'.repeat(48),
    });
    expect(newStateKey.stateKey).toEqual(Buffer.from('n'.repeat(48)));
    await newStateKey.client.close();
  });
});
