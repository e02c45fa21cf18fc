import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ReportStore } from '../../../functions/adapters/report-store';
import { ReportStoreError } from '../../../functions/domain/errors';
import { InvalidInputError } from '../../../functions/domain/errors';
import type { PeriodRecordsPort, UserRecord } from '../../../functions/domain/report';
import { closedPeriodOf, createPeriodCloseHandler } from '../../../functions/handlers/period-close-app';

type Sent = { name: string; input: Record<string, any> };

/** S3 double: records every command; answers like S3; can fail one action. */
class FakeS3 {
  sent: Sent[] = [];
  objects = new Map<string, Buffer>();
  parts = new Map<number, Buffer>();
  constructor(private readonly failOn?: string) {}
  async send(command: { constructor: { name: string }; input: any }): Promise<any> {
    const name = command.constructor.name.replace(/Command$/, '');
    this.sent.push({ name, input: command.input });
    if (name === this.failOn) throw Object.assign(new Error('boom'), { name: 'SlowDown' });
    switch (name) {
      case 'PutObject':
        this.objects.set(command.input.Key, Buffer.from(command.input.Body));
        return { ETag: '"e"' };
      case 'CreateMultipartUpload':
        return { UploadId: 'up-1' };
      case 'UploadPart':
        this.parts.set(command.input.PartNumber, Buffer.from(command.input.Body));
        return { ETag: `"p${command.input.PartNumber}"`, ChecksumCRC32: `c${command.input.PartNumber}` };
      case 'CompleteMultipartUpload': {
        const numbers: number[] = command.input.MultipartUpload.Parts.map((p: { PartNumber: number }) => p.PartNumber);
        this.objects.set(command.input.Key, Buffer.concat(numbers.map((n) => this.parts.get(n)!)));
        return {};
      }
      default:
        return {};
    }
  }
}

async function* chunks(lines: string[]): AsyncGenerator<string> {
  yield* lines;
}

describe('ReportStore', () => {
  it('writes a body that fits one part with a single PutObject', async () => {
    const s3 = new FakeS3();
    const store = new ReportStore({ client: s3 as never, bucket: 'b', partBytes: 100 });
    expect(await store.putStream('k.csv', chunks(['a,b\r\n', '1,2\r\n']), 'text/csv')).toEqual({
      key: 'k.csv',
      bytes: 10,
      parts: 1,
    });
    expect(s3.sent.map((s) => s.name)).toEqual(['PutObject']);
    expect(s3.sent[0]!.input).toMatchObject({ Bucket: 'b', Key: 'k.csv', ContentType: 'text/csv' });
    expect(s3.objects.get('k.csv')?.toString()).toBe('a,b\r\n1,2\r\n');
  });

  it('streams a larger body as a multipart upload of bounded parts, with CRC32 checksums', async () => {
    const s3 = new FakeS3();
    const store = new ReportStore({ client: s3 as never, bucket: 'b', partBytes: 30 });
    const lines = Array.from({ length: 20 }, (_, i) => `row-${String(i).padStart(2, '0')}\r\n`); // 8 bytes each
    const stored = await store.putStream('big.csv', chunks(lines), 'text/csv');
    expect(stored).toEqual({ key: 'big.csv', bytes: 160, parts: 5 });
    expect(s3.sent.map((s) => s.name)).toEqual([
      'CreateMultipartUpload',
      'UploadPart',
      'UploadPart',
      'UploadPart',
      'UploadPart',
      'UploadPart',
      'CompleteMultipartUpload',
    ]);
    expect(s3.sent[0]!.input).toMatchObject({ ChecksumAlgorithm: 'CRC32', ContentType: 'text/csv' });
    expect([...s3.parts.values()].every((p) => p.length <= 32)).toBe(true);
    expect(s3.sent.at(-1)?.input.MultipartUpload.Parts[0]).toEqual({
      PartNumber: 1,
      ETag: '"p1"',
      ChecksumCRC32: 'c1',
    });
    expect(s3.objects.get('big.csv')?.toString()).toBe(lines.join(''));
  });

  it('aborts the multipart upload when a part fails, and says which object', async () => {
    const s3 = new FakeS3('UploadPart');
    const store = new ReportStore({ client: s3 as never, bucket: 'b', partBytes: 10 });
    const err = await store.putStream('big.csv', chunks(['0123456789', 'abc']), 'text/csv').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ReportStoreError);
    expect((err as Error).message).toBe('could not write s3://b/big.csv (UploadPart: SlowDown)');
    expect(s3.sent.map((s) => s.name)).toEqual(['CreateMultipartUpload', 'UploadPart', 'AbortMultipartUpload']);
  });

  it("aborts the multipart upload when the source fails, keeping the source's error", async () => {
    const s3 = new FakeS3();
    const store = new ReportStore({ client: s3 as never, bucket: 'b', partBytes: 4 });
    async function* failing() {
      yield '12345';
      throw new Error('ledger went away');
    }
    await expect(store.putStream('k', failing(), 'text/csv')).rejects.toThrow('ledger went away');
    expect(s3.sent.map((s) => s.name)).toEqual(['CreateMultipartUpload', 'UploadPart', 'AbortMultipartUpload']);
    expect(s3.objects.size).toBe(0);
  });

  it('uses the S3 commands of the SDK', () => {
    // The double dispatches on the command class names; pin them to the SDK's.
    expect(
      [
        PutObjectCommand,
        CreateMultipartUploadCommand,
        UploadPartCommand,
        CompleteMultipartUploadCommand,
        AbortMultipartUploadCommand,
      ].map((c) => c.name),
    ).toEqual([
      'PutObjectCommand',
      'CreateMultipartUploadCommand',
      'UploadPartCommand',
      'CompleteMultipartUploadCommand',
      'AbortMultipartUploadCommand',
    ]);
  });
});

describe('the period a period-close run exports', () => {
  const justAfter = (iso: string) => Date.parse(iso) + 60_000;

  it('is the period before the one the scheduled time falls in', () => {
    expect(closedPeriodOf({ time: '2026-12-01T00:30:00Z' }, 1, justAfter('2026-12-01T00:30:00Z')).id).toBe('2026-11');
    expect(closedPeriodOf({ time: '2027-01-01T00:30:00Z' }, 1, justAfter('2027-01-01T00:30:00Z')).id).toBe('2026-12'); // December into January
    expect(closedPeriodOf({ time: '2028-03-01T00:30:00Z' }, 1, justAfter('2028-03-01T00:30:00Z'))).toMatchObject({
      id: '2028-02',
      end: new Date('2028-03-01T00:00:00Z'),
    });
  });

  it('follows the billing anchor day', () => {
    const p = closedPeriodOf({ time: '2026-12-15T00:30:00Z' }, 15, justAfter('2026-12-15T00:30:00Z'));
    expect(p).toEqual({
      id: '2026-11',
      start: new Date('2026-11-15T00:00:00Z'),
      end: new Date('2026-12-15T00:00:00Z'),
    });
  });

  it('comes from the event, not the clock: a retry hours later exports the same period', () => {
    expect(closedPeriodOf({ time: '2026-12-01T00:30:00Z' }, 1, Date.parse('2027-01-03T00:00:00Z')).id).toBe('2026-11');
  });

  it('can be given by hand, once it has ended', () => {
    expect(closedPeriodOf({ period: '2026-10' }, 1, Date.parse('2026-11-26T00:00:00Z')).id).toBe('2026-10');
    expect(() => closedPeriodOf({ period: '2026-11' }, 1, Date.parse('2026-11-26T00:00:00Z'))).toThrow(
      /period 2026-11 ends 2026-12-01T00:00:00.000Z: it can be exported once it has ended/,
    );
    expect(() => closedPeriodOf({ period: 'last month' }, 1, Date.now())).toThrow(InvalidInputError);
    expect(() => closedPeriodOf({ time: 'yesterday' }, 1, Date.now())).toThrow(
      /event time must be an ISO-8601 instant/,
    );
  });
});

describe('period close', () => {
  const record = (userId: string, over: Partial<UserRecord> = {}): UserRecord => ({
    userId,
    period: '2026-11',
    firstSeenAt: '2026-11-04T09:00:00.000Z',
    lastSeenAt: '2026-11-04T09:00:00.000Z',
    authCount: 1,
    devices: [`serial-${userId}`],
    ...over,
  });
  const ledger: PeriodRecordsPort = {
    records: () => {
      throw new Error('period close reads in user order');
    },
    async *recordsByUser(periodId: string) {
      if (periodId !== '2026-11') return;
      yield record('local:a');
      yield record('org:b', { expiresAt: 1 });
      yield record('org:c', { name: '=1+1', admitted: false });
    },
  };

  it("writes the closed period's CSV, then its report, under reports/<period>/", async () => {
    const s3 = new FakeS3();
    const logged: Array<Record<string, unknown>> = [];
    const run = createPeriodCloseHandler({
      records: ledger,
      store: new ReportStore({ client: s3 as never, bucket: 'reports-bucket' }),
      billingAnchorDay: 1,
      pricePerUserYear: 0.9,
      now: () => Date.parse('2026-12-01T00:30:05Z'),
      log: (_m, f) => logged.push({ ...f }),
    });
    const result = await run({ time: '2026-12-01T00:30:00Z' });
    expect(result).toMatchObject({
      period: '2026-11',
      uniqueUsers: 2,
      admittedUsers: 1,
      notAdmittedUsers: 1,
      estimatedCost: 0.15, // both billed users
    });
    expect(s3.sent.map((s) => [s.name, s.input.Key, s.input.ContentType])).toEqual([
      ['PutObject', 'reports/2026-11/users.csv', 'text/csv; charset=utf-8'],
      ['PutObject', 'reports/2026-11/report.json', 'application/json; charset=utf-8'],
    ]);
    const csv = s3.objects.get('reports/2026-11/users.csv')!.toString().split('\r\n');
    expect(csv).toHaveLength(4); // header, 2 users, final CRLF
    expect(csv[0]).toBe('userId,name,email,firstSeenAt,lastSeenAt,authCount,devices,admitted,service');
    expect(csv[1]).toMatch(/^local:a,.*,true,$/);
    expect(csv[2]).toContain(`"'=1+1"`);
    expect(csv[2]).toMatch(/,false,$/);
    const report = JSON.parse(s3.objects.get('reports/2026-11/report.json')!.toString());
    expect(report).toMatchObject({
      period: '2026-11',
      periodComplete: true,
      uniqueUsers: 2,
      admittedUsers: 1,
      notAdmittedUsers: 1,
      uniqueDevices: 2,
      currency: 'USD',
    });
    expect(logged[0]).toMatchObject({
      period: '2026-11',
      uniqueUsers: 2,
      admittedUsers: 1,
      notAdmittedUsers: 1,
      expiredIgnored: 1,
    });
  });

  it('writes the same CSV bytes when run again for the same period (idempotent)', async () => {
    const s3 = new FakeS3();
    const deps = {
      records: ledger,
      store: new ReportStore({ client: s3 as never, bucket: 'b' }),
      billingAnchorDay: 1,
      pricePerUserYear: 0.9,
    };
    await createPeriodCloseHandler({ ...deps, now: () => Date.parse('2026-12-01T00:31:00Z') })({
      time: '2026-12-01T00:30:00Z',
    });
    const first = s3.objects.get('reports/2026-11/users.csv');
    await createPeriodCloseHandler({ ...deps, now: () => Date.parse('2026-12-02T09:00:00Z') })({
      time: '2026-12-01T00:30:00Z',
    });
    expect(s3.objects.get('reports/2026-11/users.csv')).toEqual(first);
  });

  it('writes no report when the CSV could not be written', async () => {
    const s3 = new FakeS3('PutObject');
    const run = createPeriodCloseHandler({
      records: ledger,
      store: new ReportStore({ client: s3 as never, bucket: 'b' }),
      billingAnchorDay: 1,
      pricePerUserYear: 0.9,
      now: () => Date.parse('2026-12-01T01:00:00Z'),
    });
    await expect(run({ time: '2026-12-01T00:30:00Z' })).rejects.toThrow(ReportStoreError);
    expect(s3.sent.map((s) => s.input.Key)).toEqual(['reports/2026-11/users.csv']);
  });
});
