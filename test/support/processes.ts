/** Helpers for tests that drive real processes: free ports, `npm start` as a child, the real curl. */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import * as path from 'node:path';

export const REPO_ROOT = path.resolve(__dirname, '../..');

/** `N` values of `T` as a tuple type, so `const [a, b] = await freePorts(2)` types `a` and `b` as numbers. */
type Tuple<T, N extends number, Acc extends T[] = []> = number extends N
  ? T[]
  : Acc['length'] extends N
    ? Acc
    : Tuple<T, N, [...Acc, T]>;

/** `count` ports the OS says are free right now (bound and released). */
export async function freePorts<N extends number>(count: N): Promise<Tuple<number, N>> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import('node:net').Server>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as import('node:net').AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  if (ports.length !== count) throw new Error(`freePorts: asked for ${count} ports, got ${ports.length}`);
  return ports as Tuple<number, N>;
}

/** The ports of one local mode run. */
export interface LocalModePorts {
  readonly gateway: number;
  readonly simulator: number;
  readonly dynamodb: number;
  readonly service: number;
}

/** `npm start` flags for a data folder and ports of a test's own. */
export function localModeArgs(dataDir: string, ports: LocalModePorts): string[] {
  return [
    '--data-dir',
    dataDir,
    '--gateway-port',
    String(ports.gateway),
    '--simulator-port',
    String(ports.simulator),
    '--dynamodb-port',
    String(ports.dynamodb),
    '--service-port',
    String(ports.service),
  ];
}

export interface RunningProcess {
  readonly child: ChildProcess;
  output(): string;
  /** Sends SIGINT to the whole process group (npm → tsx → node) and resolves with the exit code. */
  interrupt(): Promise<number | null>;
}

/**
 * Starts `npm start -- <args>` and resolves once it prints `readyLine`; `env` adds environment variables
 * (e.g. a deployment setting the handlers read) to the child's.
 */
export function startNpm(
  args: readonly string[],
  readyLine: string,
  timeoutMs = 60_000,
  env: Readonly<Record<string, string>> = {},
): Promise<RunningProcess> {
  return startProcess('npm', ['start', '--silent', '--', ...args], readyLine, timeoutMs, env);
}

/** Local mode started by {@link startLocalMode}: its data folder, ports and process. */
export interface LocalModeRun {
  readonly dataDir: string;
  readonly ports: LocalModePorts;
  readonly process: RunningProcess;
  /** Interrupts it and deletes its data folder. */
  stop(): Promise<void>;
}

/**
 * `npm start -- <extraArgs>` with a fresh temporary data folder (named from `prefix`) on free ports, resolved
 * once it is ready.
 */
export async function startLocalMode(
  prefix: string,
  extraArgs: readonly string[] = ['--quiet'],
  options: { timeoutMs?: number; env?: Readonly<Record<string, string>> } = {},
): Promise<LocalModeRun> {
  const dataDir = mkdtempSync(path.join(tmpdir(), prefix));
  const [gateway, simulator, dynamodb, service] = await freePorts(4);
  const ports = { gateway, simulator, dynamodb, service };
  const started = await startNpm(
    [...localModeArgs(dataDir, ports), ...extraArgs],
    'plusgate local ready',
    options.timeoutMs,
    options.env,
  );
  return {
    dataDir,
    ports,
    process: started,
    stop: async () => {
      await started.interrupt();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Starts `command args` in its own process group and resolves once it prints `readyLine`. */
export async function startProcess(
  command: string,
  args: readonly string[],
  readyLine: string,
  timeoutMs = 60_000,
  env: Readonly<Record<string, string>> = {},
): Promise<RunningProcess> {
  const child = spawn(command, args, {
    cwd: REPO_ROOT,
    detached: true,
    env: { ...process.env, FORCE_COLOR: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${command} did not print "${readyLine}" in ${timeoutMs} ms:\n${output}`)),
      timeoutMs,
    );
    const check = () => {
      if (output.includes(readyLine)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited with ${code} before it was ready:\n${output}`));
    });
  });
  return {
    child,
    output: () => output,
    interrupt: async () => {
      try {
        process.kill(-child.pid!, 'SIGINT');
      } catch {
        /* already gone */
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          /* gone */
        }
      }, 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/**
 * Every TCP port a process and its descendants (npm → tsx → node) listen on, from /proc (Linux): the
 * listening sockets whose inodes the processes hold open. Finds the ports nobody chose too (port 0).
 */
export function listeningPorts(rootPid: number): number[] {
  const inodes = new Set<string>();
  for (const pid of processTree(rootPid)) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    for (const fd of fds) {
      try {
        const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
        if (inode) inodes.add(inode);
      } catch {
        /* closed meanwhile */
      }
    }
  }
  const ports = new Set<number>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let rows: string[];
    try {
      rows = readFileSync(table, 'utf8').split('\n').slice(1);
    } catch {
      continue; // no IPv6
    }
    for (const row of rows) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const fields = row.trim().split(/\s+/);
      const [, local, , state, , , , , , inode] = fields;
      if (state === '0A' && inode !== undefined && inodes.has(inode) && local) {
        ports.add(Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16));
      }
    }
  }
  return [...ports].sort((a, b) => a - b);
}

/** `rootPid` and every process below it. */
function processTree(rootPid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // pid (comm) state ppid …; comm may hold spaces and parentheses, so read after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const tree = [rootPid];
  for (let i = 0; i < tree.length; i++) tree.push(...(children.get(tree[i] as number) ?? []));
  return tree;
}

export interface CurlResult {
  /** curl's exit code (0 = an HTTP answer arrived; 35/52/56 = TLS refused or connection closed). */
  readonly exitCode: number;
  readonly status: number;
  readonly redirects: number;
  readonly effectiveUrl: string;
  readonly location: string;
  readonly body: string;
}

/**
 * curl as a demo person, with their certificate and key from the dev PKI folder `pkiDir`, trusting its CA;
 * `person` null sends no client certificate.
 */
export function curlAs(
  pkiDir: string,
  person: string | null,
  url: string,
  extra: readonly string[] = [],
): Promise<CurlResult> {
  const cert = person
    ? ['--cert', path.join(pkiDir, `${person}.pem`), '--key', path.join(pkiDir, `${person}.key`)]
    : [];
  return curl(['--cacert', path.join(pkiDir, 'ca.pem'), ...cert, ...extra, url]);
}

/** The simulator's admin API (`/__admin/<route>`), over mutual TLS with our API certificate; POSTs `body` when given. */
export function simulatorAdmin(
  pkiDir: string,
  simulatorPort: number,
  route: string,
  body?: unknown,
): Promise<CurlResult> {
  const write =
    body === undefined ? [] : ['-X', 'POST', '-H', 'content-type: application/json', '--data', JSON.stringify(body)];
  return curlAs(pkiDir, 'api', `https://localhost:${simulatorPort}/__admin/${route}`, write);
}

/** Runs the real curl binary; never throws for HTTP or TLS failures, reports them instead. */
export function curl(args: readonly string[]): Promise<CurlResult> {
  const marker = '\n__CURL__';
  return new Promise((resolve) => {
    execFile(
      'curl',
      [
        '-s',
        '--max-time',
        '20',
        '-w',
        `${marker}%{http_code} %{num_redirects} %{url_effective} %{redirect_url}`,
        ...args,
      ],
      { maxBuffer: 10 * 1024 * 1024 },
      (error, stdout) => {
        const at = stdout.lastIndexOf(marker);
        const [status, redirects, effectiveUrl, location] = stdout.slice(at + marker.length).split(' ');
        resolve({
          exitCode: error ? Number((error as { code?: number }).code ?? 1) : 0,
          status: Number(status),
          redirects: Number(redirects),
          effectiveUrl: effectiveUrl ?? '',
          location: location ?? '',
          body: stdout.slice(0, at),
        });
      },
    );
  });
}
