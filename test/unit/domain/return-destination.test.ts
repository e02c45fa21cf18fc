import { normalizeOrigin, resolveReturnDestination } from '../../../functions/domain/return-destination';

const own = 'https://auth.example.com';
const allowed = ['https://app.example.com', 'https://localhost:3000'];
const resolve = (raw: unknown) => resolveReturnDestination(raw, own, allowed);

describe('return destinations', () => {
  it('gives nothing when no return was asked for', () => {
    expect(resolve(undefined)).toBeUndefined();
    expect(resolve('')).toBeUndefined();
  });

  it.each([
    ['https://app.example.com/home?x=1#top', 'https://app.example.com/home?x=1#top'],
    ['https://APP.example.com:443/a', 'https://app.example.com/a'],
    ['https://auth.example.com/whoami', 'https://auth.example.com/whoami'],
    ['/whoami?x=1', 'https://auth.example.com/whoami?x=1'],
    ['https://localhost:3000/', 'https://localhost:3000/'],
  ])('accepts %s', (raw, href) => {
    expect(resolve(raw)).toBe(href);
  });

  it.each([
    ['https://evil.example/', /not an allowed return origin/],
    ['//evil.example', /not a valid URL/],
    ['//evil.example/path', /not a valid URL/],
    ['/\\evil.example', /backslash/],
    ['javascript:alert(1)', /https URL, not javascript:/],
    ['data:text/html,hi', /https URL, not data:/],
    ['https://app.example.com.evil.example/', /not an allowed return origin/],
    ['https://app.example.com@evil.example/', /user name or password/],
    ['https://user:pw@app.example.com/', /user name or password/],
    ['http://app.example.com/', /https URL, not http:/],
    ['https://app.example.com/\r\nSet-Cookie: a=b', /control characters/],
    ['relative/path', /not a valid URL/],
    [`https://app.example.com/${'a'.repeat(1200)}`, /at most 1200/],
  ])('refuses %s', (raw, message) => {
    expect(() => resolve(raw)).toThrow(message);
  });

  it('keeps percent-encoded CR/LF encoded (harmless in a Location header)', () => {
    expect(resolve('https://app.example.com/%0d%0a')).toBe('https://app.example.com/%0d%0a');
  });

  it('refuses a list of values', () => {
    expect(() => resolve(['https://app.example.com/'])).toThrow(/single URL/);
  });

  it('normalises origins and rejects things that are not origins', () => {
    expect(normalizeOrigin('https://Example.com:443/')).toBe('https://example.com');
    expect(() => normalizeOrigin('https://example.com/path')).toThrow(/not an https origin/);
    expect(() => normalizeOrigin('ftp://example.com')).toThrow(/not an https origin/);
    expect(() => normalizeOrigin('http://example.com')).toThrow(/not an https origin/);
    expect(() => normalizeOrigin('nonsense')).toThrow(/not an origin/);
  });
});
