import { apiOperations, operationKey } from '../../../local/simulator-api';
import { SimulatorState } from '../../../local/simulator-state';

const OK_0001 = 'OK 0001 Subject anonymous certificate valid';

function setup() {
  const state = new SimulatorState({
    seed: [{ serial: '16', identity: { outcome: OK_0001, roles: ['member'] } }],
    intentTtlMs: 30_000,
    now: () => 0,
  });
  return { state, operations: apiOperations(state, ['validate']) };
}

describe('API operations', () => {
  it('serves the inquiry on POST and GET and the intent on PUT, nothing else', () => {
    const { operations } = setup();
    expect([...operations.keys()].sort()).toEqual(['GET Identity-Inquiry', 'POST Identity-Inquiry', 'PUT Intent']);
    expect(operationKey('PUT', 'Intent')).toBe('PUT Intent');
  });

  it('answers an inquiry from the state, hex serials included', () => {
    const { operations } = setup();
    const answer = operations.get('POST Identity-Inquiry')?.answer({ 'serial-number': '0x10' });
    expect(answer?.['Identity-Profile']).toMatchObject({ outcome: OK_0001, 'service-roles': ['member'] });
  });

  it('answers ER 0003 to an inquiry with a bad field', () => {
    const { operations } = setup();
    const answer = operations.get('GET Identity-Inquiry')?.answer({ 'serial-number': 'x' });
    expect(answer?.['Simple-Response']?.outcome).toMatch(/^ER 0003 /);
  });

  it('stores an intent and answers its reference', () => {
    const { state, operations } = setup();
    const answer = operations.get('PUT Intent')?.answer({ type: 'validate', 'return-url': 'https://a.example/r' });
    const reference = answer?.['Intent-Reference']?.value;
    expect(typeof reference).toBe('string');
    expect(state.claimIntent(reference as string)).toEqual({ status: 'claimed', returnUrl: 'https://a.example/r' });
  });

  it('refuses an intent type that is not configured', () => {
    const { operations } = setup();
    const answer = operations.get('PUT Intent')?.answer({ type: 'discover', 'return-url': 'https://a.example/r' });
    expect(answer?.['Simple-Response']?.message).toBe('type must be one of: validate.');
  });

  it('counts each operation and lets an outcome fault replace inquiries only', () => {
    const { operations } = setup();
    expect(operations.get('POST Identity-Inquiry')).toMatchObject({ counter: 'inquiries', outcomeFault: true });
    expect(operations.get('PUT Intent')).toMatchObject({ counter: 'intents', outcomeFault: false });
  });
});
