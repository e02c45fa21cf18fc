import { periodById, periodOf } from '../../../functions/domain/billing-period';
import {
  ReportAccumulator,
  type UserRecord,
  estimatedCost,
  isAdmitted,
  matchesService,
  periodDays,
  reportExportKeys,
  serviceFilterOf,
} from '../../../functions/domain/report';
import { serviceIdOf } from '../../../functions/domain/service-id';
import { buildReport } from '../../support/build-report';

const NOW = new Date('2026-11-26T12:00:00Z');
const LATER = Math.floor(Date.parse('2029-01-01T00:00:00Z') / 1000);

const user = (over: Partial<UserRecord> = {}): UserRecord => ({
  userId: 'org:ref-alice',
  period: '2026-11',
  name: 'Alice',
  email: 'alice@example.com',
  firstSeenAt: '2026-11-03T08:00:00.000Z',
  lastSeenAt: '2026-11-20T08:00:00.000Z',
  authCount: 4,
  devices: ['111'],
  expiresAt: LATER,
  ...over,
});

describe('estimated cost', () => {
  it('prorates the yearly price by the days of the period over 365, rounded to cents', () => {
    expect(estimatedCost(3, 0.9, periodById('2026-11'))).toBe(0.22); // 3 × 0.9 × 30/365 = 0.2219
    expect(estimatedCost(10_000, 0.9, periodById('2026-11'))).toBe(739.73); // 739.726
    expect(estimatedCost(1000, 0.9, periodById('2026-12'))).toBe(76.44); // 31 days: 76.438
  });

  it('charges February 28 days, and 29 in a leap year', () => {
    expect(periodDays(periodById('2027-02'))).toBe(28);
    expect(periodDays(periodById('2028-02'))).toBe(29);
    expect(estimatedCost(365, 1, periodById('2027-02'))).toBe(28);
    expect(estimatedCost(365, 1, periodById('2028-02'))).toBe(29);
  });

  it('sums twelve calendar periods to the yearly price (366/365 of it in a leap year)', () => {
    const year = (y: number) =>
      Array.from({ length: 12 }, (_, m) =>
        estimatedCost(365, 1, periodById(`${y}-${String(m + 1).padStart(2, '0')}`)),
      ).reduce((a, b) => a + b, 0);
    expect(year(2027)).toBe(365);
    expect(year(2028)).toBe(366);
  });

  it('prorates periods that start on an anchor day by their own length', () => {
    // 15 Jan – 15 Feb is 31 days; 15 Feb – 15 Mar is 28 days, or 29 across a leap day.
    expect(periodDays(periodById('2027-01', 15))).toBe(31);
    expect(periodDays(periodById('2027-02', 15))).toBe(28);
    expect(periodDays(periodById('2028-02', 15))).toBe(29);
    expect(estimatedCost(365, 1, periodById('2028-02', 15))).toBe(29);
  });

  it('rounds an exact half cent up, where binary floating point would round it down', () => {
    // 13 × 0.9125 × 30 / 365 = 0.975 exactly; Math.round(13 * 0.9125 * 30 / 365 * 100) gives 97.
    expect(estimatedCost(13, 0.9125, periodById('2026-11'))).toBe(0.98);
  });

  it('is zero without users or at a zero price, and refuses nonsense', () => {
    expect(estimatedCost(0, 0.9, periodById('2026-11'))).toBe(0);
    expect(estimatedCost(50, 0, periodById('2026-11'))).toBe(0);
    expect(() => estimatedCost(-1, 0.9, periodById('2026-11'))).toThrow(RangeError);
    expect(() => estimatedCost(1.5, 0.9, periodById('2026-11'))).toThrow(RangeError);
    expect(() => estimatedCost(1, Number.NaN, periodById('2026-11'))).toThrow(RangeError);
  });
});

describe('the report of a period', () => {
  const november = periodById('2026-11');

  it('counts users, devices, authentications and the cost, with the period and currency', async () => {
    const report = await buildReport(
      november,
      [
        user(),
        user({ userId: 'local:erin-local', devices: ['222'], authCount: 1 }),
        user({ userId: 'serial:333', devices: ['333'], authCount: 2 }),
      ],
      { pricePerUserYear: 0.9, now: NOW },
    );
    expect(report).toMatchObject({
      period: '2026-11',
      periodStart: '2026-11-01T00:00:00.000Z',
      periodEnd: '2026-12-01T00:00:00.000Z',
      periodDays: 30,
      periodComplete: false,
      uniqueUsers: 3,
      uniqueDevices: 3,
      authentications: 7,
      estimatedCost: 0.22,
      currency: 'USD',
      pricePerUserYear: 0.9,
      generatedAt: NOW.toISOString(),
    });
  });

  it('bills every confirmed user and counts the admitted ones apart: 2 admitted + 1 denied by the role policy', async () => {
    const report = await buildReport(
      november,
      [
        user({ userId: 'org:ref-alice', admitted: true }),
        user({ userId: 'local:erin', admitted: true, devices: ['222'] }),
        user({ userId: 'org:ref-guest', admitted: false, devices: ['333'], authCount: 2 }),
      ],
      { pricePerUserYear: 0.9, now: NOW },
    );
    expect(report).toMatchObject({
      uniqueUsers: 3,
      admittedUsers: 2,
      notAdmittedUsers: 1,
      uniqueDevices: 3,
      authentications: 10,
      estimatedCost: estimatedCost(3, 0.9, november), // the cost of 3 users, not of the 2 admitted
    });
    expect(report.estimatedCost).toBe(0.22);
    expect(report.newUsersPerDay.reduce((s, d) => s + d.users, 0)).toBe(3); // new billed users, admitted or not
  });

  it('counts an item without the admitted flag (written before denied identities were recorded) as admitted', () => {
    const acc = new ReportAccumulator(november, { pricePerUserYear: 0.9, now: NOW });
    acc.add(user({ userId: 'old', admitted: undefined }));
    acc.add(user({ userId: 'denied', admitted: false }));
    expect(acc.result(NOW)).toMatchObject({ uniqueUsers: 2, admittedUsers: 1, notAdmittedUsers: 1 });
    expect(acc.admitted).toBe(1);
    expect([isAdmitted({}), isAdmitted({ admitted: true }), isAdmitted({ admitted: false })]).toEqual([
      true,
      true,
      false,
    ]);
  });

  it('leaves expired and other-period items out of the admitted counts too', () => {
    const acc = new ReportAccumulator(november, { pricePerUserYear: 0.9, now: NOW });
    acc.add(user({ userId: 'gone', admitted: false, expiresAt: 1 }));
    acc.add(user({ userId: 'october', admitted: true, period: '2026-10' }));
    acc.add(user({ userId: 'here', admitted: false }));
    expect(acc.result(NOW)).toMatchObject({ uniqueUsers: 1, admittedUsers: 0, notAdmittedUsers: 1 });
  });

  it('counts a user with several devices once, and a device shared by two user ids once', async () => {
    const report = await buildReport(
      november,
      [user({ devices: ['111', '222', '333'] }), user({ userId: 'local:alice', devices: ['333'] })],
      { pricePerUserYear: 0.9, now: NOW },
    );
    expect(report.uniqueUsers).toBe(2);
    expect(report.uniqueDevices).toBe(3);
  });

  it('counts a user active in two periods in each, and leaves items of another period out', () => {
    const nov = new ReportAccumulator(november, { pricePerUserYear: 0.9, now: NOW });
    const dec = new ReportAccumulator(periodById('2026-12'), { pricePerUserYear: 0.9, now: NOW });
    const inNovember = user();
    const inDecember = user({ period: '2026-12', firstSeenAt: '2026-12-02T00:00:00.000Z' });
    expect(nov.add(inNovember)).toBe('counted');
    expect(nov.add(inDecember)).toBe('other-period');
    expect(dec.add(inDecember)).toBe('counted');
    expect(nov.result(NOW).uniqueUsers).toBe(1);
    expect(dec.result(NOW).uniqueUsers).toBe(1);
  });

  it('with a service filter counts only the items recorded with that service, in every number', () => {
    const items = [
      user({ userId: 'a', service: 'billing.example.com', devices: ['1', '2'], authCount: 3 }),
      user({ userId: 'b', service: 'billing.example.com', admitted: false, devices: ['2'], authCount: 1 }),
      user({ userId: 'c', service: 'shop.example.com', devices: ['3'], authCount: 7 }),
      user({ userId: 'd', devices: ['4'], authCount: 5 }),
      user({ userId: 'e', service: 'billing.example.com', expiresAt: 1 }),
    ];
    const billing = new ReportAccumulator(november, {
      pricePerUserYear: 0.9,
      now: NOW,
      service: 'billing.example.com',
    });
    expect(items.map((item) => billing.add(item))).toEqual([
      'counted',
      'counted',
      'other-service',
      'other-service',
      'expired',
    ]);
    expect(billing.result(NOW)).toMatchObject({
      service: 'billing.example.com',
      uniqueUsers: 2,
      admittedUsers: 1,
      notAdmittedUsers: 1,
      uniqueDevices: 2,
      authentications: 4,
      estimatedCost: estimatedCost(2, 0.9, november),
    });
    expect(billing.expired).toBe(1);

    const none = buildReport(november, items, { pricePerUserYear: 0.9, now: NOW, service: '-' });
    expect(none).toMatchObject({ service: '-', uniqueUsers: 1, uniqueDevices: 1, authentications: 5 });
    const all = buildReport(november, items, { pricePerUserYear: 0.9, now: NOW });
    expect(all.uniqueUsers).toBe(4);
    expect('service' in all).toBe(false); // without a filter the report is what it always was
  });

  it('reads a service filter: a service id, lower-cased, or - for items without one; nothing else', () => {
    expect(serviceFilterOf('billing.example.com')).toBe('billing.example.com');
    expect(serviceFilterOf('Billing.Example.COM')).toBe('billing.example.com');
    expect(serviceFilterOf('-')).toBe('-');
    expect(serviceFilterOf('a')).toBe('a');
    expect(serviceFilterOf(`${'a'.repeat(63)}.${'b'.repeat(63)}`)).toBeDefined();
    for (const bad of [
      '',
      ' ',
      '--',
      '-a',
      'a-',
      '.a',
      'a.',
      'a..b',
      'a_b',
      'a b',
      'billing.example.com ',
      'https://billing.example.com',
      '\u212Aelvin.example', // the Kelvin sign lower-cases to an ASCII k
      '\u0130.example',
      'a'.repeat(64),
      `${'a.'.repeat(126)}ab`, // 254 characters
      '*',
      'none\n',
    ]) {
      expect([bad, serviceFilterOf(bad)]).toEqual([bad, undefined]);
    }
    expect(serviceIdOf('-')).toBeUndefined(); // so `-` can never name a service
    expect(matchesService({}, '-')).toBe(true);
    expect(matchesService({ service: '' }, '-')).toBe(true); // an empty value names no service
    expect(matchesService({ service: 'x' }, '-')).toBe(false);
    expect(matchesService({ service: 'x' }, 'x')).toBe(true);
    expect(matchesService({}, 'x')).toBe(false);
    expect(matchesService({ service: 'x' }, undefined)).toBe(true);
  });

  it('ignores items whose expiresAt has passed (dynalite and DynamoDB can still return them)', async () => {
    const now = Math.floor(NOW.getTime() / 1000);
    const acc = new ReportAccumulator(november, { pricePerUserYear: 0.9, now: NOW });
    expect(acc.add(user({ userId: 'a', expiresAt: now - 1 }))).toBe('expired');
    expect(acc.add(user({ userId: 'b', expiresAt: now }))).toBe('expired'); // at the instant counts as gone
    expect(acc.add(user({ userId: 'c', expiresAt: now + 1 }))).toBe('counted');
    expect(acc.add(user({ userId: 'd', expiresAt: undefined }))).toBe('counted');
    expect(acc.result(NOW)).toMatchObject({ uniqueUsers: 2, authentications: 8 });
    expect(acc.expired).toBe(2);
  });

  it('lists new users for every day of the period by the UTC day of their first sign-in, zeros included', async () => {
    const report = await buildReport(
      november,
      [
        user({ userId: 'first-instant', firstSeenAt: '2026-11-01T00:00:00.000Z' }),
        user({ userId: 'last-instant', firstSeenAt: '2026-11-30T23:59:59.999Z' }),
        user({ userId: 'late-in-new-york', firstSeenAt: '2026-11-02T03:30:00.000Z' }), // 1 Nov, 22:30 in New York
        user({ userId: 'same-day', firstSeenAt: '2026-11-02T20:00:00.000Z' }),
      ],
      { pricePerUserYear: 0.9, now: NOW },
    );
    expect(report.newUsersPerDay).toHaveLength(30);
    expect(report.newUsersPerDay[0]).toEqual({ date: '2026-11-01', users: 1 });
    expect(report.newUsersPerDay[1]).toEqual({ date: '2026-11-02', users: 2 });
    expect(report.newUsersPerDay[2]).toEqual({ date: '2026-11-03', users: 0 });
    expect(report.newUsersPerDay[29]).toEqual({ date: '2026-11-30', users: 1 });
    expect(report.newUsersPerDay.reduce((s, d) => s + d.users, 0)).toBe(report.uniqueUsers);
  });

  it('runs the days of an anchored period across December into January, and through a leap day', async () => {
    const anchored = periodOf(new Date('2026-12-31T23:00:00Z'), 15); // 15 Dec 2026 – 15 Jan 2027
    const report = await buildReport(
      anchored,
      [user({ period: anchored.id, firstSeenAt: '2027-01-01T00:00:00.000Z' })],
      { pricePerUserYear: 0.9, now: NOW },
    );
    expect(report).toMatchObject({
      period: '2026-12',
      periodStart: '2026-12-15T00:00:00.000Z',
      periodEnd: '2027-01-15T00:00:00.000Z',
      periodDays: 31,
    });
    expect(report.newUsersPerDay[0]?.date).toBe('2026-12-15');
    expect(report.newUsersPerDay[30]?.date).toBe('2027-01-14');
    expect(report.newUsersPerDay.find((d) => d.users > 0)?.date).toBe('2027-01-01');

    const leap = await buildReport(periodById('2028-02'), [], { pricePerUserYear: 0.9, now: NOW });
    expect(leap.newUsersPerDay.map((d) => d.date).slice(-2)).toEqual(['2028-02-28', '2028-02-29']);
  });

  it('still counts a user whose firstSeenAt is unreadable, on no day', async () => {
    const report = await buildReport(november, [user({ firstSeenAt: '' })], { pricePerUserYear: 0.9, now: NOW });
    expect(report.uniqueUsers).toBe(1);
    expect(report.newUsersPerDay.every((d) => d.users === 0)).toBe(true);
  });

  it('says whether the period is complete', async () => {
    expect(
      (await buildReport(november, [], { pricePerUserYear: 0.9, now: new Date('2026-11-30T23:59:59.999Z') }))
        .periodComplete,
    ).toBe(false);
    expect(
      (await buildReport(november, [], { pricePerUserYear: 0.9, now: new Date('2026-12-01T00:00:00.000Z') }))
        .periodComplete,
    ).toBe(true);
  });

  it('passes on exactly the records it counts (the CSV and the totals agree)', async () => {
    const acc = new ReportAccumulator(november, { pricePerUserYear: 0.9, now: NOW });
    const passed: string[] = [];
    for await (const r of acc.counting([
      user({ userId: 'a' }),
      user({ userId: 'b', expiresAt: 1 }),
      user({ userId: 'c', period: '2026-10' }),
      user({ userId: 'd' }),
    ])) {
      passed.push(r.userId);
    }
    expect(passed).toEqual(['a', 'd']);
    expect(acc.users).toBe(2);
  });

  it('refuses a price the estimate cannot use before reading anything', () => {
    expect(() => new ReportAccumulator(november, { pricePerUserYear: -1, now: NOW })).toThrow(RangeError);
  });

  it('names the export objects of a period', () => {
    expect(reportExportKeys('2026-11')).toEqual({
      report: 'reports/2026-11/report.json',
      users: 'reports/2026-11/users.csv',
    });
  });
});
