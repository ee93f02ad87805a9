import { Readable } from 'node:stream';
import type { Attachment } from '@parley/contracts';
import {
  AppError,
  badRequest,
  cutBetweenCharacters,
  isStaff,
  newId,
  notFound,
  type Principal,
  payloadTooLarge,
} from '@parley/kernel';
import { FileNotFoundError, type FileStorage } from '../files/file-storage.ts';
import { SNIFF_BYTES, sniffMimeType } from '../files/sniff.ts';
import type { AttachmentsRepository } from '../repositories/attachments-repository.ts';
import { STAFF_WORKED_TYPES } from './access.ts';
import { toAttachment } from './mappers.ts';

export interface UploadLimits {
  uploadTypes: readonly string[];
}

export interface Download {
  name: string;
  mimeType: string;
  size: number;
  content: Readable;
}

/** Attachments: stored through the FileStorage port, typed by their bytes, served to the right people only. */
export class UploadService {
  constructor(
    private readonly storage: FileStorage,
    private readonly attachments: AttachmentsRepository,
    private readonly limits: UploadLimits,
  ) {}

  /**
   * `truncated` tells, after the stream ended, whether it was cut at the size limit. `onlyFile` settles
   * once the rest of the request has been read: it rejects when the request held more than this file.
   */
  async upload(
    principal: Principal,
    fileName: string,
    content: Readable,
    truncated: () => boolean,
    onlyFile: () => Promise<void>,
  ): Promise<Attachment> {
    const head = await readHead(content, SNIFF_BYTES);
    // No bytes means no type to sniff: the file is missing, it is not one of a kind we refuse.
    if (head.length === 0) {
      throw badRequest('The file is empty.', [{ path: 'file', message: 'must not be empty' }]);
    }
    const mimeType = sniffMimeType(head);
    if (!mimeType || !this.limits.uploadTypes.includes(mimeType)) {
      content.resume();
      throw new AppError(
        415,
        'unsupported_media_type',
        `This kind of file is not accepted (${mimeType ?? 'unknown'}).`,
      );
    }
    const id = newId('att');
    const storageKey = `attachments/${id.slice(4, 6)}/${id}`;
    const whole = Readable.from(prepend(head, content));
    let size: number;
    try {
      ({ size } = await this.storage.put(storageKey, whole));
      if (truncated()) throw payloadTooLarge('The file is larger than uploads may be.');
      // What follows the file can only be read once the file has been: the stored copy is removed again.
      await onlyFile();
    } catch (error) {
      await this.storage.delete(storageKey);
      throw error;
    }
    const row = await this.attachments.insert({
      id,
      uploaderId: principal.userId,
      name: cleanName(fileName),
      mimeType,
      size,
      storageKey,
    });
    return toAttachment({ id: row.id, name: row.name, mimeType: row.mimeType, size: row.size });
  }

  /**
   * The uploader, members of a conversation it was sent to, and staff when it was sent to a conversation
   * they work without joining (they read its messages, so the attachments there are theirs to open too);
   * everyone else gets 404.
   */
  async download(principal: Principal, id: string): Promise<Download> {
    const row = await this.attachments.findById(id);
    const allowed =
      row !== undefined &&
      (row.uploaderId === principal.userId ||
        (await this.attachments.sentToMemberOf(id, principal.userId)) ||
        (isStaff(principal.role) &&
          (await this.attachments.sentToConversationOfType(id, STAFF_WORKED_TYPES))));
    if (!row || !allowed) throw notFound('There is no such upload.');
    try {
      return {
        name: row.name,
        mimeType: row.mimeType,
        size: row.size,
        content: await this.storage.get(row.storageKey),
      };
    } catch (error) {
      if (error instanceof FileNotFoundError) throw notFound('There is no such upload.');
      throw error;
    }
  }
}

/** Reads until `count` bytes (or the end) without losing what comes after. */
async function readHead(stream: Readable, count: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  while (length < count) {
    const chunk: Buffer | null = stream.read();
    if (chunk === null) {
      if (stream.readableEnded) break;
      // Destroyed before we listened (the client's body broke off while the part was handed over): no
      // event will come any more, so waiting for one would hang the request.
      if (stream.errored) throw stream.errored;
      if (stream.destroyed) throw new Error('The upload stream closed before it ended.');
      const ended = await new Promise<boolean>((resolve, reject) => {
        const cleanup = () => {
          stream.off('readable', onReadable);
          stream.off('end', onEnd);
          stream.off('error', onError);
        };
        const onReadable = () => {
          cleanup();
          resolve(false);
        };
        const onEnd = () => {
          cleanup();
          resolve(true);
        };
        const onError = (error: Error) => {
          cleanup();
          reject(error);
        };
        stream.once('readable', onReadable);
        stream.once('end', onEnd);
        stream.once('error', onError);
      });
      if (ended) break;
      continue;
    }
    chunks.push(chunk);
    length += chunk.length;
  }
  return Buffer.concat(chunks);
}

async function* prepend(head: Buffer, rest: Readable): AsyncGenerator<Buffer> {
  if (head.length > 0) yield head;
  for await (const chunk of rest) yield chunk as Buffer;
}

function cleanName(name: string): string {
  const base = name.split(/[\\/]/).at(-1) ?? '';
  // Control characters would end up in Content-Disposition headers and logs.
  const cleaned = [...base]
    .filter((c) => c.charCodeAt(0) >= 32 && c.charCodeAt(0) !== 127)
    .join('')
    .trim();
  return cutBetweenCharacters(cleaned, 200) || 'file';
}
