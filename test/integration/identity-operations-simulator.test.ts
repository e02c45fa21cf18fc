/**
 * plusgate's Identity Plus client against the simulator over real mutual TLS, for every operation beyond
 * the sign-in inquiry: binding and unbinding local users, reporting and withdrawing intrusions, delegated
 * inquiries and the intent type, each with every error answer the simulator gives (docs/identityplus-api.md,
 * "The simulator's own answers"), and what plusgate makes of each (functions/domain/identity-operations.ts).
 */
import { IdentityPlusClient } from '../../functions/adapters/identity-plus-client';
import { IdentityPlusError } from '../../functions/domain/errors';
import { refusal } from '../../functions/domain/identity-operations';
import type { DevPki } from '../../local/dev-pki';
import { IdentityPlusSimulator } from '../../local/identity-plus-simulator';
import { demoSimulatorSeed } from '../../local/simulator-seed';
import { testPki } from '../support/test-pki';

let pki: DevPki;
let sim: IdentityPlusSimulator;
let ip: IdentityPlusClient;

beforeAll(async () => {
  pki = await testPki();
  sim = new IdentityPlusSimulator({
    tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.caChain },
    apiClients: [pki.api.cert],
    port: 0,
    seed: demoSimulatorSeed(pki),
  });
  await sim.start();
  ip = new IdentityPlusClient({
    apiUrl: sim.apiUrl,
    signonUrl: sim.signonUrl,
    credentials: { certificate: pki.api.cert, privateKey: pki.api.key },
    extraCa: pki.caChain,
  });
});
afterEach(() => sim.reset());
afterAll(async () => {
  await ip.close();
  await sim.stop();
});

const serial = (person: keyof DevPki['devices']) => pki.devices[person].serial;
const code = (outcome: string) => outcome.slice(0, 7);

describe('binding local users', () => {
  it('binds alice (OK 0100 with the profile), inquiries then say OK 0002 with local-user-id, unbinding undoes it', async () => {
    const bound = await ip.bind(serial('alice'), 'alice-local');
    expect(bound.kind).toBe('profile');
    if (bound.kind !== 'profile') return;
    expect(code(bound.profile.outcome)).toBe('OK 0100');
    expect(bound.profile.localUserId).toBe('alice-local');
    expect(bound.profile.organizationalReference).toBe('org-ref-alice-0001');

    const after = await ip.inquire(serial('alice'));
    expect(after.kind === 'profile' && [code(after.profile.outcome), after.profile.localUserId]).toEqual([
      'OK 0002',
      'alice-local',
    ]);

    const unbound = await ip.unbind('alice-local');
    expect(code(unbound.outcome)).toBe('OK 0101');
    const again = await ip.inquire(serial('alice'));
    expect(again.kind === 'profile' && [code(again.profile.outcome), again.profile.localUserId]).toEqual([
      'OK 0001',
      undefined,
    ]);
  });

  it.each([
    ['an identity already bound (erin)', 'erin', 'someone', 'ER 0003', 409],
    ['a name bound to another identity', 'alice', 'erin-local', 'ER 0004', 409],
    ['an unknown certificate (dave)', 'dave', 'dave-local', 'PB 0006', 404],
    ['a revoked certificate (carol)', 'carol', 'carol-local', 'PB 0004', 409],
    ['a certificate that needs validation (bob)', 'bob', 'bob-local', 'PB 0003', 409],
  ] as const)(
    'refuses %s: binding %s as %s is %s, plusgate answers %d',
    async (_what, person, name, expected, status) => {
      const answer = await ip.bind(serial(person), name);
      const outcome = answer.kind === 'profile' ? answer.profile.outcome : answer.outcome;
      expect(code(outcome)).toBe(expected);
      expect(refusal('bind', outcome).status).toBe(status);
    },
  );

  it('binding the same pair twice is ER 0003 (the simulator follows "this can only be done once")', async () => {
    await ip.bind(serial('alice'), 'alice-local');
    const twice = await ip.bind(serial('alice'), 'alice-local');
    expect(twice.kind === 'problem' && code(twice.outcome)).toBe('ER 0003');
  });

  it('unbinding a name never bound is ER 0005 → 404', async () => {
    const answer = await ip.unbind('nobody');
    expect(code(answer.outcome)).toBe('ER 0005');
    expect(refusal('unbind', answer.outcome).status).toBe(404);
  });
});

describe('intrusion reports', () => {
  it('reports dave, a second report is ER 0007, withdrawing works once (then ER 0010)', async () => {
    const first = await ip.reportIntrusion({
      serial: serial('dave'),
      severity: 'intrusive',
      message: 'scraping',
      ip: '203.0.113.9',
    });
    expect(first.kind).toBe('reference');
    if (first.kind !== 'reference') return;
    expect(code(first.outcome)).toBe('OK 0000');

    const second = await ip.reportIntrusion({ serial: serial('dave'), severity: 'fraud', message: 'again' });
    expect(second.kind === 'problem' && code(second.outcome)).toBe('ER 0007');
    expect(refusal('report-intrusion', second.kind === 'problem' ? second.outcome : '').status).toBe(409);

    expect(code((await ip.withdrawIntrusion(first.reference)).outcome)).toBe('OK 0000');
    const gone = await ip.withdrawIntrusion(first.reference);
    expect(code(gone.outcome)).toBe('ER 0010');
    expect(refusal('withdraw-intrusion', gone.outcome).status).toBe(404);
  });

  it('a report on alice counts in her profile (local-intrusions), withdrawing takes it back', async () => {
    const report = await ip.reportIntrusion({
      serial: serial('alice'),
      severity: 'policy violation',
      message: 'shared',
    });
    const profile = await ip.inquire(serial('alice'));
    expect(profile.kind === 'profile' && profile.profile.localIntrusions).toBe(1);
    if (report.kind === 'reference') await ip.withdrawIntrusion(report.reference);
    const after = await ip.inquire(serial('alice'));
    expect(after.kind === 'profile' && after.profile.localIntrusions).toBe(0);
  });
});

describe('delegated inquiries and intents', () => {
  it('asks on behalf of a managed service (alice has org. member there); another service is ER 0009', async () => {
    const managed = await ip.inquire(serial('alice'), { service: 'managed.plusgate.local' });
    expect(managed.kind === 'profile' && managed.profile.serviceRoles).toEqual(['org. member']);
    const other = await ip.inquire(serial('alice'), { service: 'billing.example.com' });
    expect(other.kind === 'problem' && code(other.outcome)).toBe('ER 0009');
  });

  it('sends discover by default, which the simulator accepts as the real service does', async () => {
    const intent = await ip.createIntent({ returnUrl: 'https://auth.example.com/return?state=x' });
    expect(intent.signonUrl.startsWith(sim.signonUrl)).toBe(true);
    expect(sim.stats().intents).toBe(1);
  });

  it('an explicitly requested type the service refuses is an error (no fallback when the caller chose)', async () => {
    await expect(
      ip.createIntent({ returnUrl: 'https://auth.example.com/return', type: 'befriend' }),
    ).rejects.toBeInstanceOf(IdentityPlusError);
  });

  it('the problem envelope does not matter: a PB outcome inside an Identity-Profile decides the same', async () => {
    sim.updateSettings({ problemEnvelope: 'Identity-Profile' });
    const carol = await ip.inquire(serial('carol'));
    expect(carol.kind).toBe('profile');
    expect(carol.kind === 'profile' && code(carol.profile.outcome)).toBe('PB 0004');
  });
});
