import { DEFAULT_PROXY_CA_DIR, parseProxyCertArgs } from '../../../cli/proxy-cert';
import { UsageError } from '../../../cli/usage-error';
import { proxyNameProblem } from '../../../local/proxy-ca';

const usage = (argv: string[]): string => {
  try {
    parseProxyCertArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('npm run proxy-cert: the command line', () => {
  it("writes into local mode's proxy CA folder for a year by default", () => {
    expect(parseProxyCertArgs(['--name', 'nginx-prod'])).toEqual({
      help: false,
      name: 'nginx-prod',
      out: DEFAULT_PROXY_CA_DIR,
      days: 365,
      force: false,
    });
    expect(DEFAULT_PROXY_CA_DIR).toBe('.plusgate/proxy-ca');
  });

  it('takes --out, --days (up to 398) and --force', () => {
    expect(parseProxyCertArgs(['--name', 'edge.1', '--out', '/srv/ca', '--days', '398', '--force'])).toEqual({
      help: false,
      name: 'edge.1',
      out: '/srv/ca',
      days: 398,
      force: true,
    });
    expect(parseProxyCertArgs(['--name', 'a', '--days', '1']).days).toBe(1);
  });

  it('answers --help without asking for a name', () => {
    expect(parseProxyCertArgs(['-h']).help).toBe(true);
    expect(parseProxyCertArgs(['--help']).help).toBe(true);
  });

  it.each([
    [[], /--name is required/],
    [['--name', ''], /--name: the proxy name is empty/],
    [['--name', '../etc/passwd'], /--name: proxy name "..\/etc\/passwd" is not allowed/],
    [['--name', 'a/b'], /is not allowed/],
    [['--name', '.hidden'], /is not allowed/],
    [['--name', 'trailing-'], /is not allowed/],
    [['--name', 'with space'], /is not allowed/],
    [['--name', 'x'.repeat(65)], /is not allowed/],
    [['--name', 'proxy-ca'], /taken by the CA's own files/],
    [['--name', 'TrustStore'], /taken by the CA's own files/],
    [['--name', 'n', '--days', '0'], /--days: got "0"; expected a whole number of days from 1 to 398/],
    [['--name', 'n', '--days', '399'], /--days: got "399"/],
    [['--name', 'n', '--days', '1.5'], /--days: got "1.5"/],
    [['--name', 'n', '--days', '-3'], /--days/],
    [['--name', 'n', '--out', ' '], /--out is empty/],
    [['--name', 'n', '--bogus'], /Unknown option '--bogus'/],
    [['--name', 'n', 'extra'], /Unexpected argument 'extra'/],
    [['--name'], /--name <value>' argument missing/],
  ])('refuses %j, naming the problem', (argv, message) => {
    expect(usage(argv)).toMatch(message);
  });

  it('names every problem at once', () => {
    const message = usage(['--name', 'a/b', '--days', '1000']);
    expect(message).toMatch(/--name/);
    expect(message).toMatch(/--days/);
  });
});

describe('proxy names', () => {
  it.each(['nginx-prod', 'a', 'Edge_01', 'traefik.eu-west-1', 'x'.repeat(64)])('accepts %s', (name) => {
    expect(proxyNameProblem(name)).toBeUndefined();
  });
});
