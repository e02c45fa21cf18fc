import { daysLeft, planRenewal, renewalDueAt } from '../../../functions/domain/api-cert-renewal';

const DAY = 86_400_000;
const year = { notBefore: new Date('2026-01-01T00:00:00Z'), notAfter: new Date('2027-01-01T00:00:00Z') };

describe('API certificate renewal timing', () => {
  it('is due once the configured share of the lifetime has passed', () => {
    expect(renewalDueAt(year, 0.75).toISOString()).toBe('2026-10-01T18:00:00.000Z');
    expect(renewalDueAt(year, 0.5).toISOString()).toBe('2026-07-02T12:00:00.000Z');
  });

  it('refuses a fraction outside (0, 1)', () => {
    for (const bad of [0, 1, -0.1, 1.5, Number.NaN]) expect(() => renewalDueAt(year, bad)).toThrow(RangeError);
  });

  it('counts whole days left, negative after expiry', () => {
    expect(daysLeft(year, new Date('2026-12-31T00:00:00Z'))).toBe(1);
    expect(daysLeft(year, new Date('2026-12-31T00:00:01Z'))).toBe(0);
    expect(daysLeft(year, new Date(year.notAfter.getTime() + 2 * DAY))).toBe(-2);
  });

  it('does not renew before the mark and says when it will', () => {
    const plan = planRenewal(year, 0.75, new Date('2026-09-30T00:00:00Z'));
    expect(plan).toMatchObject({ renew: false, daysLeft: 93 });
    expect(plan.reason).toBe('not due: renewal is due 2026-10-01, at 75% of the lifetime (93 days left)');
  });

  it('renews from the mark on', () => {
    const plan = planRenewal(year, 0.75, new Date('2026-10-01T18:00:00Z'));
    expect(plan.renew).toBe(true);
    expect(plan.reason).toMatch(/^75% of the certificate's lifetime has passed \(due 2026-10-01, 91 days left\)$/);
    expect(planRenewal(year, 0.75, new Date('2027-02-01T00:00:00Z')).renew).toBe(true);
  });

  it('renews when forced, however early', () => {
    const plan = planRenewal(year, 0.75, new Date('2026-01-02T00:00:00Z'), true);
    expect(plan).toMatchObject({ renew: true, reason: 'renewal forced (364 days left)' });
  });
});
