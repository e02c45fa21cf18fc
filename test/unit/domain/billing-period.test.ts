import { addMonths, periodById, periodOf, previousPeriod } from '../../../functions/domain/billing-period';
import { InvalidInputError } from '../../../functions/domain/errors';

const utc = (s: string) => new Date(s);

describe('billing periods', () => {
  it('is the calendar month in UTC by default', () => {
    const p = periodOf(utc('2026-11-26T17:00:00Z'));
    expect(p).toEqual({ id: '2026-11', start: utc('2026-11-01T00:00:00Z'), end: utc('2026-12-01T00:00:00Z') });
  });

  it('puts UTC midnight in the period that starts then, and the instant before in the previous one', () => {
    expect(periodOf(utc('2026-12-01T00:00:00.000Z')).id).toBe('2026-12');
    expect(periodOf(utc('2026-11-30T23:59:59.999Z')).id).toBe('2026-11');
  });

  it('ignores local time zones (an instant late on Nov 30 in New York is December in UTC)', () => {
    expect(periodOf(utc('2026-11-30T20:00:00-05:00')).id).toBe('2026-12');
  });

  it('crosses December into January', () => {
    const dec = periodOf(utc('2026-12-31T23:59:59Z'));
    expect(dec.end).toEqual(utc('2027-01-01T00:00:00Z'));
    expect(periodOf(dec.end).id).toBe('2027-01');
    expect(previousPeriod(periodById('2027-01')).id).toBe('2026-12');
  });

  it('honours an anchor day: periods run from day d to day d of the next month', () => {
    expect(periodOf(utc('2026-11-14T23:59:59Z'), 15).id).toBe('2026-10');
    expect(periodOf(utc('2026-11-15T00:00:00Z'), 15)).toEqual({
      id: '2026-11',
      start: utc('2026-11-15T00:00:00Z'),
      end: utc('2026-12-15T00:00:00Z'),
    });
  });

  it('with an anchor day, early January belongs to the period that started in December', () => {
    expect(periodOf(utc('2027-01-03T00:00:00Z'), 10)).toEqual({
      id: '2026-12',
      start: utc('2026-12-10T00:00:00Z'),
      end: utc('2027-01-10T00:00:00Z'),
    });
  });

  it('handles the leap day and February month ends', () => {
    expect(periodOf(utc('2028-02-29T12:00:00Z')).id).toBe('2028-02');
    expect(periodById('2028-02').end).toEqual(utc('2028-03-01T00:00:00Z'));
    expect(periodOf(utc('2028-02-29T12:00:00Z'), 28)).toEqual({
      id: '2028-02',
      start: utc('2028-02-28T00:00:00Z'),
      end: utc('2028-03-28T00:00:00Z'),
    });
  });

  it('keeps years below 100 as written (Date.UTC would read 0050 as 1950)', () => {
    expect(periodById('0050-02').start.getUTCFullYear()).toBe(50);
    expect(periodById('0099-12').end).toEqual(new Date('0100-01-01T00:00:00Z'));
  });

  it.each(['2026-13', '2026-00', '26-11', '2026-1', '2026/11', '', 'now'])(
    'rejects period id %p with a message',
    (id) => {
      expect(() => periodById(id)).toThrow(InvalidInputError);
      expect(() => periodById(id)).toThrow(/YYYY-MM/);
    },
  );

  it.each([0, 29, 31, 1.5, NaN])('rejects anchor day %p', (day) => {
    expect(() => periodOf(new Date(), day)).toThrow(/from 1 to 28/);
  });

  it('adds months clamping to the end of shorter months', () => {
    expect(addMonths(utc('2026-01-31T10:00:00Z'), 1)).toEqual(utc('2026-02-28T10:00:00Z'));
    expect(addMonths(utc('2026-11-01T00:00:00Z'), 25)).toEqual(utc('2028-12-01T00:00:00Z'));
  });
});
