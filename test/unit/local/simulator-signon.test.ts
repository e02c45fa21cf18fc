import { withQueryParameter } from '../../../local/simulator-signon';

describe('withQueryParameter', () => {
  it.each([
    ['https://a.example/return', 'https://a.example/return?identity-plus-intent=r1'],
    ['https://a.example/return?state=x%20y+z', 'https://a.example/return?state=x%20y+z&identity-plus-intent=r1'],
    ['https://a.example/return?', 'https://a.example/return?identity-plus-intent=r1'],
    ['https://a.example/return?a=1&', 'https://a.example/return?a=1&identity-plus-intent=r1'],
    ['https://a.example/return?a=1#top', 'https://a.example/return?a=1&identity-plus-intent=r1#top'],
    ['https://a.example/return#top?no', 'https://a.example/return?identity-plus-intent=r1#top?no'],
  ])('adds the parameter to %j, keeping its query as written', (url, expected) => {
    expect(withQueryParameter(url, 'identity-plus-intent', 'r1')).toBe(expected);
  });

  it('escapes the value', () => {
    expect(withQueryParameter('https://a.example/', 'p', 'a&b=c')).toBe('https://a.example/?p=a%26b%3Dc');
  });
});
