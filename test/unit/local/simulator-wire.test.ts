import type { SimulatedIdentity } from '../../../local/simulator-state';
import {
  PROFILE_KEYS,
  SIMULATOR_OUTCOMES,
  associatedProfile,
  forcedOutcome,
  identityProfile,
  inquiryAnswer,
  intentReference,
  isOkOutcome,
  needsValidation,
  outcomeCode,
  problemResponse,
  referenceNumber,
} from '../../../local/simulator-wire';

const OK_0001 = 'OK 0001 Subject anonymous certificate valid';

describe('Identity-Profile', () => {
  it('answers every standard field, in order, with reputation defaults for a fresh identity', () => {
    const profile = identityProfile({ outcome: OK_0001, roles: ['member'] });
    expect(Object.entries(profile)).toEqual([
      ['outcome', OK_0001],
      ['service-roles', ['member']],
      ['trust-score', 1],
      ['sites-frequented', 1],
      ['average-identity-age', 0],
      ['max-identity-age', 0],
      ['local-trust', 0],
      ['local-intrusions', 0],
      ['trust-sponsors', []],
    ]);
  });

  it('maps every field of an identity to its wire key, custom fields first', () => {
    const identity: SimulatedIdentity = {
      outcome: 'OK 0002 Subject anonymous certificate valid and user uid associated',
      roles: ['org. administrator'],
      organizationalReference: 'ref',
      organizationalName: 'Alice',
      organizationalEmail: 'alice@example.com',
      localUserId: 'alice-1',
      localUserName: 'alice',
      trustScore: 5,
      sitesFrequented: 7,
      averageIdentityAge: 100,
      maxIdentityAge: 200,
      localTrust: 2,
      localIntrusions: 1,
      trustSponsors: ['bob'],
      customFields: { 'cost-center': 'R&D' },
    };
    expect(Object.entries(identityProfile(identity))).toEqual([
      ['cost-center', 'R&D'],
      ['outcome', identity.outcome],
      ['service-roles', ['org. administrator']],
      ['organizational-reference', 'ref'],
      ['organizational-name', 'Alice'],
      ['organizational-email', 'alice@example.com'],
      ['local-user-id', 'alice-1'],
      ['local-user-name', 'alice'],
      ['trust-score', 5],
      ['sites-frequented', 7],
      ['average-identity-age', 100],
      ['max-identity-age', 200],
      ['local-trust', 2],
      ['local-intrusions', 1],
      ['trust-sponsors', ['bob']],
    ]);
  });

  it('lists exactly the standard keys it answers, so custom fields can be checked against them', () => {
    const full = identityProfile({
      outcome: OK_0001,
      roles: [],
      organizationalReference: 'r',
      organizationalName: 'n',
      organizationalEmail: 'e',
      localUserId: 'u',
      localUserName: 'u',
    });
    expect([...PROFILE_KEYS]).toEqual(Object.keys(full));
  });

  it('answers OK 0002 for OK 0001 when a local user id or name is bound, but not for an empty one', () => {
    expect(identityProfile({ outcome: OK_0001, roles: [], localUserId: 'u' }).outcome).toBe(
      SIMULATOR_OUTCOMES.VALID_BOUND,
    );
    expect(identityProfile({ outcome: OK_0001, roles: [], localUserName: 'u' }).outcome).toBe(
      SIMULATOR_OUTCOMES.VALID_BOUND,
    );
    expect(identityProfile({ outcome: OK_0001, roles: [], localUserId: '' }).outcome).toBe(OK_0001);
  });

  it('answers roles in a managed service, no local user and OK 0001, to an inquiry on its behalf', () => {
    const identity: SimulatedIdentity = {
      outcome: 'OK 0002 Subject anonymous certificate valid and user uid associated',
      roles: ['member'],
      serviceRoles: { 'managed.example': ['org. member'] },
      localUserId: 'u',
      localUserName: 'u',
      organizationalName: 'Alice',
    };
    expect(identityProfile(identity, { service: 'managed.example' })).toEqual({
      outcome: OK_0001,
      'service-roles': ['org. member'],
      'organizational-name': 'Alice',
      'trust-score': 1,
      'sites-frequented': 1,
      'average-identity-age': 0,
      'max-identity-age': 0,
      'local-trust': 0,
      'local-intrusions': 0,
      'trust-sponsors': [],
    });
    expect(identityProfile(identity, { service: 'other.example' })['service-roles']).toEqual([]);
    expect(identityProfile(identity, { service: 'toString' })['service-roles']).toEqual([]);
  });

  it('does not share arrays with the identity', () => {
    const identity = { outcome: OK_0001, roles: ['member'], trustSponsors: ['s'] };
    const profile = identityProfile(identity);
    expect(profile['service-roles']).not.toBe(identity.roles);
    expect(profile['trust-sponsors']).not.toBe(identity.trustSponsors);
  });
});

describe('inquiry answers', () => {
  it('answers an Identity-Profile for an OK identity', () => {
    expect(inquiryAnswer({ outcome: OK_0001, roles: [] })).toEqual({
      'Identity-Profile': expect.objectContaining({ outcome: OK_0001 }),
    });
  });

  it('answers PB 0006 with words for an unknown serial', () => {
    expect(inquiryAnswer(undefined)).toEqual({
      'Simple-Response': {
        outcome: 'PB 0006 Unknown Identity Plus anonymous certificate',
        message: 'The certificate is not known to Identity Plus.',
      },
    });
  });

  it('answers the identity’s own problem outcome with the words for its code', () => {
    const outcome = 'PB 0003 Identity Plus anonymous certificate needs validation';
    expect(inquiryAnswer({ outcome, roles: [] })).toEqual({
      'Simple-Response': { outcome, message: 'The certificate must be validated by its owner before it can be used.' },
    });
  });

  it('answers a problem outcome inside an Identity-Profile with the reputation fields, when told to', () => {
    const outcome = 'PB 0004 Revoked Identity Plus anonymous certificate';
    expect(
      inquiryAnswer({ outcome, roles: ['member'], localIntrusions: 2, trustScore: 0 }, 'Identity-Profile'),
    ).toEqual({
      'Identity-Profile': {
        outcome,
        'trust-score': 0,
        'sites-frequented': 1,
        'average-identity-age': 0,
        'max-identity-age': 0,
        'local-trust': 0,
        'local-intrusions': 2,
        'trust-sponsors': [],
      },
    });
    expect(inquiryAnswer(undefined, 'Identity-Profile')).toEqual({
      'Identity-Profile': { outcome: 'PB 0006 Unknown Identity Plus anonymous certificate' },
    });
  });

  it('answers an OK identity with its profile whichever envelope problems take', () => {
    expect(inquiryAnswer({ outcome: OK_0001, roles: [] }, 'Identity-Profile')['Identity-Profile']).toMatchObject({
      outcome: OK_0001,
      'service-roles': [],
    });
  });

  it('answers generic words for a problem code it has none for', () => {
    expect(inquiryAnswer({ outcome: 'PB 0008 Authorization expired', roles: [] })).toEqual({
      'Simple-Response': { outcome: 'PB 0008 Authorization expired', message: 'The certificate cannot be accepted.' },
    });
  });
});

describe('other answers', () => {
  it('answers an intent reference acknowledged', () => {
    expect(intentReference('abc')).toEqual({ 'Intent-Reference': { value: 'abc', outcome: 'OK 0000 Acknowledged' } });
  });

  it('answers a reference number acknowledged', () => {
    expect(referenceNumber('r1')).toEqual({ 'Reference-Number': { outcome: 'OK 0000 Acknowledged', value: 'r1' } });
  });

  it('answers a bound identity with its profile and OK 0100', () => {
    const answer = associatedProfile({ outcome: OK_0001, roles: ['member'], localUserId: 'u', localUserName: 'u' });
    expect(answer['Identity-Profile']).toMatchObject({
      outcome: 'OK 0100 Subject user successfully associated to Identity Plus identity',
      'service-roles': ['member'],
      'local-user-id': 'u',
      'local-user-name': 'u',
    });
  });

  it('answers a refused request with its code, the words of the code and the message, and the forced outcome of a fault', () => {
    expect(problemResponse({ code: 'ER 0011', message: 'why' })).toEqual({
      'Simple-Response': { outcome: 'ER 0011 Incomplete Message Error', message: 'why' },
    });
    expect(forcedOutcome('ER 1104 Over the limit')['Simple-Response']).toMatchObject({
      outcome: 'ER 1104 Over the limit',
    });
  });
});

describe('outcome codes', () => {
  it('classifies by the code, never the words', () => {
    expect(outcomeCode('PB 0003 anything at all')).toBe('PB 0003');
    expect(isOkOutcome('OK 0002 x')).toBe(true);
    expect(isOkOutcome('PB 0001 OK')).toBe(false);
    expect(needsValidation('PB 0002 expired')).toBe(true);
    expect(needsValidation('PB 0003 needs validation')).toBe(true);
    expect(needsValidation('PB 0004 needs validation')).toBe(false);
  });
});
