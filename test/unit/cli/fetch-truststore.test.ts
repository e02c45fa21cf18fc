import { PassThrough } from 'node:stream';
import {
  FETCH_LIMITS,
  FetchTruststoreError,
  LOCAL_TRUST_CHAIN_URL,
  TRUST_CHAIN_URL,
  parseFetchTruststoreArgs,
  readPasswordLine,
} from '../../../cli/fetch-truststore';
import { UsageError } from '../../../cli/usage-error';

const usage = (argv: string[], env: Record<string, string> = {}): string => {
  try {
    parseFetchTruststoreArgs(argv, env);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('npm run fetch-truststore: the command line', () => {
  it('works against local mode without a credential flag', () => {
    expect(parseFetchTruststoreArgs([], {})).toEqual({
      help: false,
      force: false,
      credentials: { kind: 'local', dataDir: '.plusgate' },
    });
    expect(
      parseFetchTruststoreArgs(
        ['--data-dir', 'd', '--out', 'x.pem', '--force', '--url', 'https://localhost:9444/t'],
        {},
      ),
    ).toEqual({
      help: false,
      force: true,
      credentials: { kind: 'local', dataDir: 'd' },
      url: 'https://localhost:9444/t',
      out: 'x.pem',
    });
  });

  it('takes a PEM pair or a PKCS#12 whose password comes from --password-env, PLUSGATE_P12_PASSWORD or the prompt', () => {
    expect(
      parseFetchTruststoreArgs(['--cert', 'c.pem', '--key', 'k.pem', '--out', 'o', '--extra-ca', 'ca.pem'], {}),
    ).toEqual({
      help: false,
      force: false,
      credentials: { kind: 'pem', certFile: 'c.pem', keyFile: 'k.pem' },
      out: 'o',
      extraCa: 'ca.pem',
    });
    const p12 = (argv: string[], env: Record<string, string>) =>
      parseFetchTruststoreArgs(['--p12', 'a.p12', '--out', 'o', ...argv], env).credentials;
    expect(p12(['--password-env', 'MY_PW'], { MY_PW: 'x', PLUSGATE_P12_PASSWORD: 'y' })).toEqual({
      kind: 'p12',
      file: 'a.p12',
      passwordEnv: 'MY_PW',
    });
    expect(p12([], { PLUSGATE_P12_PASSWORD: 'y' })).toEqual({
      kind: 'p12',
      file: 'a.p12',
      passwordEnv: 'PLUSGATE_P12_PASSWORD',
    });
    expect(p12([], {})).toEqual({ kind: 'p12', file: 'a.p12' }); // asked for at the prompt
  });

  it('never puts a password, or its value, in the parsed arguments', () => {
    const parsed = parseFetchTruststoreArgs(['--p12', 'a.p12', '--out', 'o', '--password-env', 'PW'], { PW: 's3cret' });
    expect(JSON.stringify(parsed)).not.toContain('s3cret');
    expect(usage(['--p12', 'a.p12', '--out', 'o', '--password', 's3cret'])).toMatch(/^--password is not taken/);
    expect(usage(['--p12', 'a.p12', '--out', 'o', '--password=s3cret'])).not.toContain('s3cret');
  });

  it.each([
    [['--p12', 'a', '--cert', 'c', '--key', 'k', '--out', 'o'], 'give either --p12 or --cert and --key, not both'],
    [['--cert', 'c', '--out', 'o'], '--cert and --key go together'],
    [['--key', 'k', '--out', 'o'], '--cert and --key go together'],
    [['--cert', 'c', '--key', 'k'], '--out PATH is required with --p12 or --cert'],
    [
      ['--p12', 'a', '--out', 'o', '--password-env', 'UNSET'],
      '--password-env UNSET: that environment variable is not set or is empty',
    ],
    [['--cert', 'c', '--key', 'k', '--out', 'o', '--password-env', 'PW'], '--password-env belongs to --p12'],
    [['--password-env', 'PW'], '--password-env belongs to --p12'],
    [['--cert', 'c', '--key', 'k', '--out', 'o', '--data-dir', 'd'], '--data-dir is for local mode'],
    [
      ['--url', 'http://platform.identity.plus/download/trust-chain?format=pem'],
      '--url: only https is allowed, got http:',
    ],
    [['--url', 'https://user:pw@platform.identity.plus/x'], '--url: the URL carries credentials'],
    [['--url', 'not a url'], '--url: got "not a url"; expected an absolute https URL'],
    [['--out', ' '], '--out is empty'],
    [['--extra-ca', ''], '--extra-ca is empty'],
    [['--bogus'], "Unknown option '--bogus'"],
    [['positional'], 'Unexpected argument'],
    [['--out'], "Option '--out <value>' argument missing"],
  ])('refuses %j: %s', (argv, message) => {
    expect(usage(argv, { PW: 'x' })).toContain(message);
  });

  it('lists every problem at once, on one line', () => {
    const message = usage(['--cert', 'c', '--url', 'ftp://x/']);
    expect(message).toBe(
      '--cert and --key go together; --out PATH is required with --p12 or --cert: where to write the truststore; --url: only https is allowed, got ftp:',
    );
  });

  it('--help wins over everything else', () => {
    expect(parseFetchTruststoreArgs(['--cert', 'c', '--help'], {}).help).toBe(true);
  });

  it('talks to the Identity Plus platform by default, and to local mode simulator in local mode, with the documented limits', () => {
    expect(TRUST_CHAIN_URL).toBe('https://platform.identity.plus/download/trust-chain?format=pem');
    expect(LOCAL_TRUST_CHAIN_URL).toBe('https://localhost:8444/download/trust-chain?format=pem');
    expect(FETCH_LIMITS).toEqual({ connectTimeoutMs: 5000, totalTimeoutMs: 20000, maxAnswerBytes: 1048576 });
  });
});

describe('the PKCS#12 password prompt', () => {
  type Input = PassThrough & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };

  it('reads the first line of a pipe, without a prompt or an echo', async () => {
    const input: Input = new PassThrough();
    let output = '';
    const password = readPasswordLine(input, { write: (t: string) => (output += t) });
    input.write('pass wörd\r\nnext line\n');
    await expect(password).resolves.toBe('pass wörd');
    expect(output).toBe('');
  });

  it('takes the whole pipe when it has no newline', async () => {
    const input: Input = new PassThrough();
    const password = readPasswordLine(input, { write: () => undefined });
    input.end('secret');
    await expect(password).resolves.toBe('secret');
  });

  it('on a terminal: prompts on the output, raw mode without echo, backspace, restores the terminal', async () => {
    const input: Input = new PassThrough();
    const modes: boolean[] = [];
    input.isTTY = true;
    input.setRawMode = (raw: boolean) => modes.push(raw);
    let output = '';
    const password = readPasswordLine(input, { write: (t: string) => (output += t) });
    input.write('sekx\u007fret');
    input.write('\r');
    await expect(password).resolves.toBe('sekret');
    expect(output).toBe('PKCS#12 password: \n');
    expect(modes).toEqual([true, false]);
  });

  it('on a terminal: Ctrl-C cancels', async () => {
    const input: Input = new PassThrough();
    input.isTTY = true;
    input.setRawMode = () => undefined;
    const password = readPasswordLine(input, { write: () => undefined });
    input.write('abc\u0003');
    await expect(password).rejects.toThrow(new FetchTruststoreError('cancelled at the password prompt'));
  });
});
