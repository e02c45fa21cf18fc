import {
  DEFAULT_SETTINGS,
  INTENT_TYPES,
  applySettings,
  intentTypeOf,
  requireSettings,
} from '../../../local/simulator-settings';

describe('intent types', () => {
  it('are the Java client’s six, assume ownership spelled three ways', () => {
    expect(INTENT_TYPES).toEqual(['validate', 'discover', 'request', 'bind', 'assume ownership', 'befriend']);
    for (const spelling of ['assume ownership', 'assume-ownership', 'assume_ownership']) {
      expect(intentTypeOf(spelling)).toBe('assume ownership');
    }
    expect(intentTypeOf('Discover')).toBeUndefined();
    expect(intentTypeOf('register')).toBeUndefined();
  });
});

describe('settings', () => {
  it('default to Simple-Response problems, discover intents and one managed service', () => {
    expect(DEFAULT_SETTINGS).toEqual({
      problemEnvelope: 'Simple-Response',
      acceptedIntentTypes: ['discover'],
      managedServices: ['managed.plusgate.local'],
    });
  });

  it('change only what is given, intent types in their normal form and without repeats', () => {
    const changed = applySettings(DEFAULT_SETTINGS, {
      acceptedIntentTypes: ['validate', 'assume-ownership', 'assume_ownership'],
    });
    expect(changed).toEqual({
      ok: true,
      value: { ...DEFAULT_SETTINGS, acceptedIntentTypes: ['validate', 'assume ownership'] },
    });
    expect(applySettings(DEFAULT_SETTINGS, { problemEnvelope: 'Identity-Profile', managedServices: [] })).toEqual({
      ok: true,
      value: { ...DEFAULT_SETTINGS, problemEnvelope: 'Identity-Profile', managedServices: [] },
    });
  });

  it.each([
    ['not an object', [], /must be a JSON object/],
    [
      'an unknown setting',
      { envelope: 'x' },
      /Unknown setting "envelope"; expected problemEnvelope, acceptedIntentTypes, managedServices/,
    ],
    [
      'another envelope',
      { problemEnvelope: 'Intent-Reference' },
      /problemEnvelope must be one of Simple-Response, Identity-Profile/,
    ],
    ['an unknown intent type', { acceptedIntentTypes: ['launch'] }, /acceptedIntentTypes must be a list of: validate/],
    ['intent types that are not a list', { acceptedIntentTypes: 'discover' }, /acceptedIntentTypes/],
    [
      'a service that is no domain name',
      { managedServices: ['a b'] },
      /managedServices must be a list of domain names/,
    ],
    ['a service that is no string', { managedServices: [1] }, /managedServices/],
  ])('refuses %s, changing nothing', (_name, changes, message) => {
    const checked = applySettings(DEFAULT_SETTINGS, changes);
    expect(checked.ok).toBe(false);
    expect(!checked.ok && checked.message).toMatch(message);
  });

  it('throws for programmatic callers', () => {
    expect(() => requireSettings(DEFAULT_SETTINGS, { acceptedIntentTypes: ['nope'] })).toThrow(
      /^invalid simulator settings: acceptedIntentTypes/,
    );
  });
});
