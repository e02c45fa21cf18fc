/**
 * The reports bucket in S3, where period close writes each closed period's report and user list. Text is
 * streamed in with a bounded buffer: a body that fits one part is one PutObject, a larger one a multipart
 * upload of `partBytes` parts (aborted on failure, so no invisible parts are left to pay for).
 */
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  type CompletedPart,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  type S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { ReportStoreError } from '../domain/errors';
import type { ReportStorePort, StoredObject } from '../domain/report';

/** Options of {@link ReportStore}. */
export interface ReportStoreOptions {
  /** An S3 client (only `send` is used). */
  readonly client: Pick<S3Client, 'send'>;
  readonly bucket: string;
  /** Bytes buffered per part: memory stays at about this much. At least 5 MiB for real S3. @default 8 MiB */
  readonly partBytes?: number;
}

/** What a streamed write wrote. */
/** Writes report objects into one bucket. */
export class ReportStore implements ReportStorePort {
  readonly #client: Pick<S3Client, 'send'>;
  readonly #bucket: string;
  readonly #partBytes: number;

  constructor(options: ReportStoreOptions) {
    this.#client = options.client;
    this.#bucket = options.bucket;
    this.#partBytes = options.partBytes ?? 8 * 1024 * 1024;
    if (!Number.isInteger(this.#partBytes) || this.#partBytes < 1)
      throw new RangeError(`partBytes must be a whole number > 0, got ${this.#partBytes}`);
  }

  /** Writes one small object (replacing the current version; the bucket keeps the old ones). */
  async put(key: string, body: string, contentType: string): Promise<StoredObject> {
    const data = Buffer.from(body, 'utf8');
    await this.#call(key, 'PutObject', () =>
      this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: data, ContentType: contentType })),
    );
    return { key, bytes: data.length, parts: 1 };
  }

  /** Streams text into one object holding at most about one part in memory; throws ReportStoreError. */
  async putStream(key: string, chunks: AsyncIterable<string>, contentType: string): Promise<StoredObject> {
    const bucket = this.#bucket;
    let buffered: Buffer[] = [];
    let bufferedBytes = 0;
    let total = 0;
    let uploadId: string | undefined;
    const parts: CompletedPart[] = [];

    const flushPart = async () => {
      if (uploadId === undefined) {
        // CRC32 end to end: the SDK checksums every part, and the completion names each part's checksum.
        const created = await this.#call(key, 'CreateMultipartUpload', () =>
          this.#client.send(
            new CreateMultipartUploadCommand({
              Bucket: bucket,
              Key: key,
              ContentType: contentType,
              ChecksumAlgorithm: 'CRC32',
            }),
          ),
        );
        if (!created.UploadId) throw new ReportStoreError(`S3 gave no upload id for s3://${bucket}/${key}`);
        uploadId = created.UploadId;
      }
      const upload = {
        Bucket: bucket,
        Key: key,
        UploadId: uploadId,
        PartNumber: parts.length + 1,
        Body: Buffer.concat(buffered, bufferedBytes),
      };
      buffered = [];
      bufferedBytes = 0;
      const uploaded = await this.#call(key, 'UploadPart', () =>
        this.#client.send(new UploadPartCommand({ ...upload, ChecksumAlgorithm: 'CRC32' })),
      );
      parts.push({ PartNumber: upload.PartNumber, ETag: uploaded.ETag, ChecksumCRC32: uploaded.ChecksumCRC32 });
    };

    try {
      for await (const chunk of chunks) {
        const data = Buffer.from(chunk, 'utf8');
        buffered.push(data);
        bufferedBytes += data.length;
        total += data.length;
        if (bufferedBytes >= this.#partBytes) await flushPart();
      }
      if (uploadId === undefined) {
        // It all fit in one part: a plain PutObject, no multipart bookkeeping.
        const body = Buffer.concat(buffered, bufferedBytes);
        await this.#call(key, 'PutObject', () =>
          this.#client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: contentType })),
        );
        return { key, bytes: total, parts: 1 };
      }
      if (bufferedBytes > 0) await flushPart();
      const completion = { Bucket: bucket, Key: key, UploadId: uploadId, MultipartUpload: { Parts: parts } };
      await this.#call(key, 'CompleteMultipartUpload', () =>
        this.#client.send(new CompleteMultipartUploadCommand(completion)),
      );
      return { key, bytes: total, parts: parts.length };
    } catch (err) {
      if (uploadId !== undefined) {
        // Parts of an unfinished upload are stored (and billed) until aborted; best effort, the first error wins.
        const abort = new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId });
        await this.#client.send(abort).catch(() => undefined);
      }
      throw err;
    }
  }

  /** Runs one S3 call, turning its failure into a ReportStoreError that keeps the cause. */
  async #call<T>(key: string, action: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (cause) {
      const name = cause instanceof Error ? cause.name : 'Error';
      throw new ReportStoreError(`could not write s3://${this.#bucket}/${key} (${action}: ${name})`, { cause });
    }
  }
}
