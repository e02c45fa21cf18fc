import { decide, satisfiesRolePolicy, unavailableDecision, userKey } from '../../../functions/domain/decision';
import type { IdentityProfile, InquiryAnswer } from '../../../functions/domain/identity-plus';

const SERIAL = '476701752658536845';
const anyRole = { allowedRoles: [] };
const members = { allowedRoles: ['member', 'org. administrator'] };

function profile(outcome: string, extra: Partial<IdentityProfile> = {}): InquiryAnswer {
  return { kind: 'profile', profile: { outcome, serviceRoles: [], customFields: {}, ...extra } };
}
function problem(outcome: string): InquiryAnswer {
  return { kind: 'problem', outcome, message: 'words' };
}

describe('decide', () => {
  it('allows OK 0001 with a role under a role policy', () => {
    const d = decide(
      profile('OK 0001 Subject anonymous certificate valid', { serviceRoles: ['member'] }),
      members,
      SERIAL,
    );
    expect(d).toMatchObject({ decision: 'allow', reason: 'cleared', roles: ['member'], redFlag: false, alarm: false });
    expect(d.outcome).toBe('OK 0001 Subject anonymous certificate valid');
  });

  it('allows OK 0002 and keys the user on the bound local user', () => {
    const d = decide(
      profile('OK 0002 Subject anonymous certificate valid and user uid associated', {
        serviceRoles: ['org. administrator'],
        localUserId: 'erin-local',
        organizationalReference: 'ref-1',
        organizationalName: 'Erin',
        organizationalEmail: 'erin@example.com',
      }),
      members,
      SERIAL,
    );
    expect(d.decision).toBe('allow');
    expect(d.reason).toBe('cleared-local-user');
    expect(d.user).toEqual({
      id: 'local:erin-local',
      name: 'Erin',
      email: 'erin@example.com',
      localUserId: 'erin-local',
      organizationalReference: 'ref-1',
    });
  });

  it('allows a valid certificate without roles when the deployment requires none', () => {
    expect(decide(profile('OK 0001 x'), anyRole, SERIAL).decision).toBe('allow');
  });

  it('denies a valid certificate without a required role (no-role)', () => {
    const d = decide(profile('OK 0001 x', { serviceRoles: ['guest'] }), members, SERIAL);
    expect(d).toMatchObject({ decision: 'deny', reason: 'no-role', roles: ['guest'] });
  });

  it.each([
    [['Member'], 'member'],
    [['  ORG. Administrator '], 'org. administrator'],
  ])('matches roles case-insensitively and trimmed, as the Identity Plus gateway does: %j', (held) => {
    const d = decide(profile('OK 0001 x', { serviceRoles: held }), members, SERIAL);
    expect(d).toMatchObject({ decision: 'allow', roles: held });
  });

  it('does not match a role that differs in more than case and surrounding space', () => {
    const d = decide(profile('OK 0001 x', { serviceRoles: ['members', 'org.administrator'] }), members, SERIAL);
    expect(d.reason).toBe('no-role');
  });

  it('denies a valid certificate with an empty role list under a role policy', () => {
    expect(decide(profile('OK 0001 x'), members, SERIAL).reason).toBe('no-role');
  });

  it.each([
    ['PB 0000', 'deny', 'no-certificate', false],
    ['PB 0001', 'deny', 'no-certificate', false],
    ['PB 0002', 'validate', 'certificate-expired', false],
    ['PB 0003', 'validate', 'needs-validation', false],
    ['PB 0004', 'deny', 'revoked', true],
    ['PB 0005', 'deny', 'intruder', true],
    ['PB 0006', 'deny', 'unknown-certificate', false],
    ['PB 0007', 'deny', 'crypto-failure', false],
    ['PB 0008', 'deny', 'authorization-expired', false],
  ])('maps %s to %s (%s)', (code, decision, reason, redFlag) => {
    const d = decide(problem(`${code} some words`), anyRole, SERIAL);
    expect(d).toMatchObject({ decision, reason, redFlag, alarm: false, roles: [] });
    expect(d.outcome).toBe(`${code} some words`);
  });

  it('classifies by the code even when the problem comes in an Identity-Profile', () => {
    expect(decide(profile('PB 0003 needs validation', { serviceRoles: ['member'] }), members, SERIAL)).toMatchObject({
      decision: 'validate',
      roles: [],
    });
  });

  it('classifies by the code, not the words', () => {
    expect(decide(problem('PB 0004 Subject anonymous certificate valid'), anyRole, SERIAL).reason).toBe('revoked');
  });

  it.each(Array.from({ length: 13 }, (_, i) => `ER ${String(i).padStart(4, '0')}`))(
    'fails closed on request error %s',
    (code) => {
      expect(decide(problem(`${code} x`), anyRole, SERIAL)).toMatchObject({
        decision: 'error',
        reason: 'request-error',
        alarm: false,
      });
    },
  );

  it.each(['ER 1100', 'ER 1101', 'ER 1102', 'ER 1103', 'ER 1104', 'ER 1105', 'ER 1106'])(
    'fails closed and raises an alarm on API certificate problem %s',
    (code) => {
      expect(decide(problem(`${code} x`), anyRole, SERIAL)).toMatchObject({
        decision: 'error',
        reason: 'api-certificate-problem',
        alarm: true,
      });
    },
  );

  it.each(['ER 0013', 'ER 1107', 'PB 0009', 'OK 0000', 'OK 0100', 'XX 0001', 'garbage'])(
    'fails closed on unknown code %s',
    (code) => {
      expect(decide(problem(`${code} x`), anyRole, SERIAL)).toMatchObject({
        decision: 'error',
        reason: 'unexpected-outcome',
      });
    },
  );

  it('fails closed on an OK code that came without a profile', () => {
    expect(decide(problem('OK 0001 valid'), anyRole, SERIAL).decision).toBe('error');
  });

  it('gives the unavailable decision as a fail-closed error', () => {
    expect(unavailableDecision()).toMatchObject({ decision: 'error', reason: 'identity-plus-unavailable' });
  });
});

describe('userKey', () => {
  it('prefers the local user id', () => {
    expect(userKey({ localUserId: 'u1', organizationalReference: 'r1' }, SERIAL)).toBe('local:u1');
  });
  it('uses the bound local user name when the profile carries no id', () => {
    expect(userKey({ localUserName: 'erin', organizationalReference: 'r1' }, SERIAL)).toBe('local:erin');
  });
  it('falls back to the organisational reference', () => {
    expect(userKey({ localUserId: '  ', organizationalReference: 'r1' }, SERIAL)).toBe('org:r1');
  });
  it('falls back to the device serial for an anonymous device', () => {
    expect(userKey({}, SERIAL)).toBe(`serial:${SERIAL}`);
  });
});

describe('satisfiesRolePolicy', () => {
  it('matches organisation roles with their prefix exactly', () => {
    expect(satisfiesRolePolicy(['org. administrator'], { allowedRoles: ['org. administrator'] })).toBe(true);
    expect(satisfiesRolePolicy(['administrator'], { allowedRoles: ['org. administrator'] })).toBe(false);
  });
});
