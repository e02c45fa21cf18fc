import { parseRenewArgs } from '../../../cli/renew-api-cert';
import { UsageError } from '../../../cli/usage-error';

const usage = (argv: string[], env: Record<string, string> = {}): string => {
  try {
    parseRenewArgs(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('npm run renew-api-cert: the command line', () => {
  it('renews local mode by default, when due, at 3/4 of the lifetime', () => {
    expect(parseRenewArgs([], {})).toEqual({
      help: false,
      force: false,
      json: false,
      renewAtFraction: 0.75,
      target: { kind: 'local', dataDir: '.plusgate', simulatorPort: 8444 },
    });
  });

  it('takes local mode flags, --force, --json and the fraction', () => {
    expect(
      parseRenewArgs(
        ['--data-dir', 'd', '--simulator-port', '9444', '--force', '--json', '--renew-at-fraction', '0.5'],
        {},
      ),
    ).toEqual({
      help: false,
      force: true,
      json: true,
      renewAtFraction: 0.5,
      target: { kind: 'local', dataDir: 'd', simulatorPort: 9444 },
    });
  });

  it('renews in AWS with --secret-name, the region from the flag or AWS_REGION', () => {
    expect(parseRenewArgs(['--secret-name', 'plusgate/api', '--region', 'eu-west-1'], {}).target).toEqual({
      kind: 'aws',
      secretName: 'plusgate/api',
      region: 'eu-west-1',
      selfAuthorityUrl: 'https://selfauthority.identity.plus',
    });
    expect(parseRenewArgs(['--secret-name', 'x'], { AWS_REGION: 'us-east-2' }).target).toMatchObject({
      region: 'us-east-2',
    });
  });

  it.each([
    [['--simulator-port', '0x10'], /--simulator-port: got "0x10"; expected a port number from 1 to 65535/],
    [['--simulator-port', '70000'], /--simulator-port/],
    [['--renew-at-fraction', '1'], /--renew-at-fraction: got "1"; expected a number greater than 0 and less than 1/],
    [['--secret-name', ' ', '--region', 'r'], /--secret-name is empty/],
    [['--secret-name', 'x'], /--secret-name needs --region/],
    [['--secret-name', 'x', '--region', 'r', '--data-dir', 'd'], /--data-dir is for local mode/],
    [['--region', 'r'], /--region goes with --secret-name/],
    [['--secret-name', 'x', '--region', 'r', '--self-authority-url', 'http://plain.example'], /--self-authority-url/],
    [['--frobnicate'], /frobnicate/],
    [['positional'], /positional/],
  ])('refuses %j, saying why', (argv, message) => {
    expect(usage(argv)).toMatch(message);
  });
});
