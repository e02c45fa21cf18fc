import { apiOperations, operationKey } from '../../../local/simulator-api';
import { DEFAULT_SETTINGS, type SimulatorSettings } from '../../../local/simulator-settings';
import { SimulatorState } from '../../../local/simulator-state';
import type { WireAnswer } from '../../../local/simulator-wire';

const OK_0001 = 'OK 0001 Subject anonymous certificate valid';
const OK_0002 = 'OK 0002 Subject anonymous certificate valid and user uid associated';
const REVOKED = 'PB 0004 Revoked Identity Plus anonymous certificate';

function setup(settings: Partial<SimulatorSettings> = {}) {
  const state = new SimulatorState({
    seed: [
      { serial: '16', identity: { outcome: OK_0001, roles: ['member'] } },
      { serial: '17', identity: { outcome: OK_0002, roles: [], localUserId: 'erin-local' } },
      { serial: '18', identity: { outcome: REVOKED, roles: [] } },
      { serial: '19', identity: { outcome: OK_0001, roles: [] } },
    ],
    intentTtlMs: 30_000,
    now: () => 0,
    settings: { ...DEFAULT_SETTINGS, ...settings },
  });
  const operations = apiOperations(state);
  const call = (method: string, envelope: string, body: Record<string, unknown>): WireAnswer => {
    const operation = operations.get(operationKey(method, envelope));
    if (!operation) throw new Error(`no operation ${method} ${envelope}`);
    return operation.answer(body);
  };
  return { state, operations, call };
}

const outcomeOf = (answer: WireAnswer): unknown => Object.values(answer)[0]?.outcome;
const bind = (serial: string, name: string) => ({ 'serial-number': serial, 'local-user-name': name });

describe('API operations', () => {
  it('serves the inquiry, intents, bindings and intrusion reports on the methods the public clients use', () => {
    const { operations } = setup();
    expect([...operations.keys()].sort()).toEqual([
      'DELETE Intrusion-Reference',
      'DELETE Local-User-Reference',
      'GET Identity-Inquiry',
      'POST Identity-Inquiry',
      'PUT Intent',
      'PUT Intrusion-Report',
      'PUT Local-User-Information',
    ]);
  });

  it('counts each operation and lets an outcome fault replace inquiries only', () => {
    const { operations } = setup();
    expect(operations.get('POST Identity-Inquiry')).toMatchObject({ counter: 'inquiries', outcomeFault: true });
    expect(operations.get('PUT Intent')).toMatchObject({ counter: 'intents', outcomeFault: false });
    expect(operations.get('PUT Local-User-Information')).toMatchObject({ counter: 'bindings', outcomeFault: false });
    expect(operations.get('DELETE Local-User-Reference')).toMatchObject({ counter: 'unbindings' });
    expect(operations.get('PUT Intrusion-Report')).toMatchObject({ counter: 'intrusionReports' });
    expect(operations.get('DELETE Intrusion-Reference')).toMatchObject({ counter: 'intrusionWithdrawals' });
  });
});

describe('inquiry', () => {
  it('answers from the state, hex serials included', () => {
    const { call } = setup();
    const answer = call('POST', 'Identity-Inquiry', { 'serial-number': '0x10' });
    expect(answer['Identity-Profile']).toMatchObject({ outcome: OK_0001, 'service-roles': ['member'] });
  });

  it('answers ER 0001 to a malformed serial and ER 0011 to a missing one', () => {
    const { call } = setup();
    expect(call('GET', 'Identity-Inquiry', { 'serial-number': 'x' })['Simple-Response']).toMatchObject({
      outcome: 'ER 0001 Unknown request error',
      message: expect.stringMatching(/serial-number/),
    });
    expect(outcomeOf(call('GET', 'Identity-Inquiry', {}))).toBe('ER 0011 Incomplete Message Error');
  });

  it('answers problems in the envelope the settings say, read at each request', () => {
    const { state, call } = setup();
    expect(call('POST', 'Identity-Inquiry', { 'serial-number': '18' })['Simple-Response']?.outcome).toBe(REVOKED);
    state.settings = { ...state.settings, problemEnvelope: 'Identity-Profile' };
    expect(call('POST', 'Identity-Inquiry', { 'serial-number': '18' })['Identity-Profile']?.outcome).toBe(REVOKED);
  });

  it('answers on behalf of a managed service, and ER 0009 Request Denied for one it does not manage', () => {
    const { state, call } = setup({ managedServices: ['managed.example'] });
    state.setIdentity('16', { outcome: OK_0001, roles: ['member'], serviceRoles: { 'managed.example': ['boss'] } });
    const answer = call('POST', 'Identity-Inquiry', { 'serial-number': '16', service: 'managed.example' });
    expect(answer['Identity-Profile']).toMatchObject({ outcome: OK_0001, 'service-roles': ['boss'] });
    const denied = call('POST', 'Identity-Inquiry', { 'serial-number': '16', service: 'other.example' });
    expect(denied['Simple-Response']?.outcome).toBe('ER 0009 Request Denied');
  });
});

describe('intent', () => {
  it('stores an intent, strict mutual TLS unless told otherwise, and answers its reference', () => {
    const { state, call } = setup();
    const answer = call('PUT', 'Intent', { type: 'discover', 'return-url': 'https://a.example/r' });
    const reference = answer['Intent-Reference']?.value as string;
    expect(state.claimIntent(reference)).toEqual({
      status: 'claimed',
      returnUrl: 'https://a.example/r',
      strictMassl: true,
    });
    const loose = call('PUT', 'Intent', { 'return-url': 'https://a.example/r', 'strict-massl': false });
    expect(state.claimIntent(loose['Intent-Reference']?.value as string)).toMatchObject({ strictMassl: false });
  });

  it('accepts only discover by default: validate is ER 0009, an unknown type ER 0001, a long URL ER 0006', () => {
    const { state, call } = setup();
    expect(outcomeOf(call('PUT', 'Intent', { type: 'validate', 'return-url': 'https://a.example/r' }))).toBe(
      'ER 0009 Request Denied',
    );
    expect(outcomeOf(call('PUT', 'Intent', { type: 'launch', 'return-url': 'https://a.example/r' }))).toBe(
      'ER 0001 Unknown request error',
    );
    const long = `https://a.example/${'x'.repeat(2048)}`;
    expect(outcomeOf(call('PUT', 'Intent', { 'return-url': long }))).toBe('ER 0006 Return URL is too long');
    state.settings = { ...state.settings, acceptedIntentTypes: ['validate'] };
    expect(call('PUT', 'Intent', { type: 'validate', 'return-url': 'https://a.example/r' })).toHaveProperty(
      'Intent-Reference',
    );
  });
});

describe('bind and unbind', () => {
  it('binds a name to an identity once: OK 0100 with the profile, then OK 0002 on inquiries', () => {
    const { state, call } = setup();
    const answer = call('PUT', 'Local-User-Information', { ...bind('16', 'alice-1'), 'tokens-of-trust': 10 });
    expect(answer['Identity-Profile']).toMatchObject({
      outcome: 'OK 0100 Subject user successfully associated to Identity Plus identity',
      'service-roles': ['member'],
      'local-user-id': 'alice-1',
      'local-user-name': 'alice-1',
      'local-trust': 10,
    });
    expect(state.identity('16')).toMatchObject({ localUserId: 'alice-1', localUserName: 'alice-1' });
    expect(call('POST', 'Identity-Inquiry', { 'serial-number': '16' })['Identity-Profile']).toMatchObject({
      outcome: OK_0002,
      'local-user-id': 'alice-1',
      'local-user-name': 'alice-1',
    });
  });

  it('answers ER 0003 for an identity bound already (to the same name too) and ER 0004 for a name bound elsewhere', () => {
    const { call } = setup();
    expect(outcomeOf(call('PUT', 'Local-User-Information', bind('17', 'someone')))).toBe(
      'ER 0003 Subject user name is already associated',
    );
    expect(outcomeOf(call('PUT', 'Local-User-Information', bind('17', 'erin-local')))).toBe(
      'ER 0003 Subject user name is already associated',
    );
    expect(outcomeOf(call('PUT', 'Local-User-Information', bind('16', 'erin-local')))).toBe(
      'ER 0004 Subject user name is already associated to a different identity',
    );
  });

  it('answers PB 0006 for an unknown serial and the identity’s own outcome when it is not OK', () => {
    const { state, call } = setup();
    expect(outcomeOf(call('PUT', 'Local-User-Information', bind('99', 'x')))).toBe(
      'PB 0006 Unknown Identity Plus anonymous certificate',
    );
    expect(outcomeOf(call('PUT', 'Local-User-Information', bind('18', 'x')))).toBe(REVOKED);
    expect(state.boundSerial('x')).toBeUndefined();
  });

  it('answers a missing name ER 0011, before looking at the identity', () => {
    const { call } = setup();
    expect(outcomeOf(call('PUT', 'Local-User-Information', { 'serial-number': '99' }))).toBe(
      'ER 0011 Incomplete Message Error',
    );
  });

  it('unbinds a seeded binding: OK 0101, then OK 0001 without local user fields; a second time ER 0005', () => {
    const { call } = setup();
    expect(call('DELETE', 'Local-User-Reference', { 'local-user-name': 'erin-local' })).toEqual({
      'Simple-Response': {
        outcome: 'OK 0101 Subject user disassociated',
        message: expect.any(String),
      },
    });
    const profile = call('POST', 'Identity-Inquiry', { 'serial-number': '17' })['Identity-Profile'];
    expect(profile?.outcome).toBe(OK_0001);
    expect(profile).not.toHaveProperty('local-user-id');
    expect(profile).not.toHaveProperty('local-user-name');
    expect(outcomeOf(call('DELETE', 'Local-User-Reference', { 'local-user-name': 'erin-local' }))).toBe(
      'ER 0005 Subject user name was never associated',
    );
  });

  it('binds the name again after an unbind, to another identity too', () => {
    const { call } = setup();
    call('DELETE', 'Local-User-Reference', { 'local-user-name': 'erin-local' });
    expect(outcomeOf(call('PUT', 'Local-User-Information', bind('16', 'erin-local')))).toMatch(/^OK 0100 /);
  });
});

describe('intrusion reports', () => {
  const report = (serial: string) => ({ 'intruding-certificate-uid': serial, severity: 'intrusive' });

  it('records a report with a reference, raises local-intrusions, and refuses a second open one with ER 0007', () => {
    const { state, call } = setup();
    const answer = call('PUT', 'Intrusion-Report', { ...report('16'), message: 'spam' });
    expect(answer).toEqual({ 'Reference-Number': { outcome: 'OK 0000 Acknowledged', value: expect.any(String) } });
    const reference = answer['Reference-Number']?.value as string;
    expect(state.intrusion(reference)).toMatchObject({ serial: '16', severity: 'intrusive', message: 'spam' });
    expect(state.identity('16')?.localIntrusions).toBe(1);
    expect(outcomeOf(call('PUT', 'Intrusion-Report', report('0x10')))).toBe(
      'ER 0007 An intrusion was already reported on this certificate',
    );
    expect(state.identity('16')?.localIntrusions).toBe(1);
  });

  it('takes a report on any certificate, revoked or unknown too (Java: "any incoming offending certificate")', () => {
    const { state, call } = setup();
    expect(call('PUT', 'Intrusion-Report', report('18'))).toHaveProperty('Reference-Number');
    expect(call('PUT', 'Intrusion-Report', report('99'))).toHaveProperty('Reference-Number');
    expect(state.identity('99')).toBeUndefined();
    expect(outcomeOf(call('PUT', 'Intrusion-Report', report('99')))).toBe(
      'ER 0007 An intrusion was already reported on this certificate',
    );
  });

  it('withdraws a report by its reference: OK 0000, local-intrusions down, a new report possible; ER 0010 after', () => {
    const { state, call } = setup();
    const value = call('PUT', 'Intrusion-Report', report('16'))['Reference-Number']?.value;
    expect(call('DELETE', 'Intrusion-Reference', { value })).toEqual({
      'Simple-Response': { outcome: 'OK 0000 Acknowledged', message: expect.any(String) },
    });
    expect(state.identity('16')?.localIntrusions).toBe(0);
    expect(outcomeOf(call('DELETE', 'Intrusion-Reference', { value }))).toBe(
      'ER 0010 Insufficient Reference Information',
    );
    expect(call('PUT', 'Intrusion-Report', report('16'))).toHaveProperty('Reference-Number');
  });

  it('answers a report without severity ER 0011 and one with an unknown severity ER 0001', () => {
    const { call } = setup();
    expect(outcomeOf(call('PUT', 'Intrusion-Report', { 'intruding-certificate-uid': '16' }))).toBe(
      'ER 0011 Incomplete Message Error',
    );
    expect(outcomeOf(call('PUT', 'Intrusion-Report', { ...report('16'), severity: 'annoying' }))).toBe(
      'ER 0001 Unknown request error',
    );
  });
});
