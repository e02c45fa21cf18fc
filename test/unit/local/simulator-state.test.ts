import { DEFAULT_SETTINGS } from '../../../local/simulator-settings';
import { MAX_INTENTS, SimulatorState, boundName } from '../../../local/simulator-state';

const OK_0001 = 'OK 0001 Subject anonymous certificate valid';
const TTL = 30_000;

function stateAt(clock: { now: number }): SimulatorState {
  return new SimulatorState({
    seed: [{ serial: '1', identity: { outcome: OK_0001, roles: ['member'] } }],
    intentTtlMs: TTL,
    now: () => clock.now,
    settings: DEFAULT_SETTINGS,
  });
}

describe('identities and reset', () => {
  it('starts with the seed and restores it on reset, without sharing it', () => {
    const state = stateAt({ now: 0 });
    expect(state.identity('1')).toEqual({ outcome: OK_0001, roles: ['member'] });
    state.setIdentity('1', { outcome: 'PB 0004 Revoked', roles: [] });
    state.setIdentity('2', { outcome: OK_0001, roles: [] });
    state.reset();
    expect(state.identity('1')).toEqual({ outcome: OK_0001, roles: ['member'] });
    expect(state.hasIdentity('2')).toBe(false);
    const before = state.identity('1');
    state.reset();
    expect(state.identity('1')).not.toBe(before);
  });

  it('deletes an identity and says whether it was known', () => {
    const state = stateAt({ now: 0 });
    expect(state.deleteIdentity('1')).toBe(true);
    expect(state.deleteIdentity('1')).toBe(false);
    expect(state.identity('1')).toBeUndefined();
  });

  it('clears the fault and the counters on reset', () => {
    const state = stateAt({ now: 0 });
    state.fault = { mode: 'drop' };
    state.count('apiRequests');
    state.count('apiRequests');
    state.count('signons');
    state.count('bindings');
    state.count('intrusionReports');
    const zero = {
      apiRequests: 0,
      inquiries: 0,
      intents: 0,
      signons: 0,
      renewals: 0,
      bindings: 0,
      unbindings: 0,
      intrusionReports: 0,
      intrusionWithdrawals: 0,
      trustChains: 0,
    };
    expect(state.stats()).toEqual({ ...zero, apiRequests: 2, signons: 1, bindings: 1, intrusionReports: 1 });
    state.reset();
    expect(state.fault).toEqual({ mode: 'none' });
    expect(state.stats()).toEqual(zero);
  });

  it('hands out a copy of the counters', () => {
    const state = stateAt({ now: 0 });
    const stats = state.stats();
    state.count('inquiries');
    expect(stats.inquiries).toBe(0);
  });
});

describe('intents', () => {
  it('creates url-safe references, each claimed once', () => {
    const state = stateAt({ now: 0 });
    const reference = state.createIntent('https://a.example/return');
    expect(reference).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(state.createIntent('https://a.example/return')).not.toBe(reference);
    expect(state.claimIntent(reference)).toEqual({
      status: 'claimed',
      returnUrl: 'https://a.example/return',
      strictMassl: true,
    });
    expect(state.claimIntent(reference)).toEqual({ status: 'used' });
  });

  it('remembers whether an intent asked for strict mutual TLS', () => {
    const state = stateAt({ now: 0 });
    const reference = state.createIntent('https://a.example/return', false);
    expect(state.claimIntent(reference)).toMatchObject({ status: 'claimed', strictMassl: false });
  });

  it('says unknown for a reference it never issued, and after a reset', () => {
    const state = stateAt({ now: 0 });
    const reference = state.createIntent('https://a.example/');
    expect(state.claimIntent('AAAAAAAAAAAAAAAA')).toEqual({ status: 'unknown' });
    state.reset();
    expect(state.claimIntent(reference)).toEqual({ status: 'unknown' });
  });

  it('expires an intent after its time to live without using it up', () => {
    const clock = { now: 1_000 };
    const state = stateAt(clock);
    const reference = state.createIntent('https://a.example/');
    clock.now += TTL;
    const onTime = state.createIntent('https://a.example/');
    clock.now += 1;
    expect(state.claimIntent(reference)).toEqual({ status: 'expired' });
    expect(state.claimIntent(reference)).toEqual({ status: 'expired' });
    expect(state.claimIntent(onTime).status).toBe('claimed');
  });

  it('forgets long-expired intents when a new one is created', () => {
    const clock = { now: 0 };
    const state = stateAt(clock);
    const old = state.createIntent('https://a.example/');
    clock.now += 10 * 60_000; // the horizon: max(10 x TTL, 10 minutes)
    state.createIntent('https://a.example/');
    expect(state.claimIntent(old)).toEqual({ status: 'expired' });
    clock.now += 1;
    state.createIntent('https://a.example/');
    expect(state.claimIntent(old)).toEqual({ status: 'unknown' });
  });

  it(`keeps at most ${MAX_INTENTS} intents, dropping the oldest`, () => {
    const state = stateAt({ now: 0 });
    const first = state.createIntent('https://a.example/');
    const second = state.createIntent('https://a.example/');
    for (let i = 2; i < MAX_INTENTS; i++) state.createIntent('https://a.example/');
    expect(state.claimIntent(first).status).toBe('claimed');
    state.createIntent('https://a.example/');
    expect(state.claimIntent(first)).toEqual({ status: 'unknown' });
    expect(state.claimIntent(second).status).toBe('claimed');
  });
});

describe('settings', () => {
  it('starts with the given settings and restores them on reset', () => {
    const state = stateAt({ now: 0 });
    expect(state.settings).toBe(DEFAULT_SETTINGS);
    state.settings = { ...DEFAULT_SETTINGS, problemEnvelope: 'Identity-Profile' };
    expect(state.settings.problemEnvelope).toBe('Identity-Profile');
    state.reset();
    expect(state.settings).toBe(DEFAULT_SETTINGS);
  });
});

describe('bindings', () => {
  it('finds the identity a local user name is bound to, by name or else by id', () => {
    const state = stateAt({ now: 0 });
    state.setIdentity('2', { outcome: OK_0001, roles: [], localUserId: 'id-only' });
    state.setIdentity('3', { outcome: OK_0001, roles: [], localUserId: 'the-id', localUserName: 'the-name' });
    expect(state.boundSerial('id-only')).toBe('2');
    expect(state.boundSerial('the-name')).toBe('3');
    expect(state.boundSerial('the-id')).toBeUndefined();
    expect(state.boundSerial('nobody')).toBeUndefined();
  });

  it('reads an empty name or id as not bound', () => {
    expect(boundName({ outcome: OK_0001, roles: [], localUserId: '', localUserName: '' })).toBeUndefined();
    expect(boundName({ outcome: OK_0001, roles: [] })).toBeUndefined();
  });

  it('lists every identity', () => {
    const state = stateAt({ now: 0 });
    state.setIdentity('2', { outcome: OK_0001, roles: [] });
    expect([...state.allIdentities().keys()]).toEqual(['1', '2']);
  });
});

describe('intrusion reports', () => {
  it('stores a report under a fresh reference, lists it by serial, and withdraws it once', () => {
    const clock = { now: 5 };
    const state = stateAt(clock);
    const headers = ['Host = a.example'];
    const reference = state.addIntrusion({ serial: '1', severity: 'fraud', intrudingRequestHeaders: headers });
    headers.push('changed');
    expect(reference).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(state.addIntrusion({ serial: '2', severity: 'mistake' })).not.toBe(reference);
    expect(state.intrusion(reference)).toEqual({
      reference,
      serial: '1',
      severity: 'fraud',
      intrudingRequestHeaders: ['Host = a.example'],
      reportedAt: 5,
    });
    expect(state.intrusionsOn('1').map((r) => r.reference)).toEqual([reference]);
    expect(state.removeIntrusion(reference)).toBe(true);
    expect(state.removeIntrusion(reference)).toBe(false);
    expect(state.intrusionsOn('1')).toEqual([]);
  });

  it('forgets reports on reset', () => {
    const state = stateAt({ now: 0 });
    const reference = state.addIntrusion({ serial: '1', severity: 'fraud' });
    state.reset();
    expect(state.intrusion(reference)).toBeUndefined();
  });
});
