import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { DiskFileStorage } from '../src/files/disk-file-storage.ts';
import { FileNotFoundError, type FileStorage } from '../src/files/file-storage.ts';
import { sniffMimeType } from '../src/files/sniff.ts';

/** The FileStorage contract: what any adapter (data dir now, S3 later) must do. */
export function runFileStorageContract(
  name: string,
  make: () => Promise<{ storage: FileStorage; dispose: () => Promise<void> }>,
) {
  describe(`file storage contract: ${name}`, () => {
    let storage: FileStorage;
    let dispose: () => Promise<void>;
    before(async () => {
      ({ storage, dispose } = await make());
    });
    after(() => dispose());

    it('streams content in and out and reports its size', async () => {
      const { size } = await storage.put(
        'a/b/one',
        Readable.from([Buffer.from('hello '), Buffer.from('world')]),
      );
      assert.equal(size, 11);
      assert.equal(await text(await storage.get('a/b/one')), 'hello world');
    });

    it('replaces content under the same key', async () => {
      await storage.put('two', Readable.from([Buffer.from('first')]));
      await storage.put('two', Readable.from([Buffer.from('second')]));
      assert.equal(await text(await storage.get('two')), 'second');
    });

    it('rejects a missing key with FileNotFoundError and deletes idempotently', async () => {
      await storage.put('three', Readable.from([Buffer.from('x')]));
      await storage.delete('three');
      await storage.delete('three');
      await assert.rejects(storage.get('three'), FileNotFoundError);
    });

    it('leaves nothing behind when the incoming stream fails', async () => {
      const failing = new Readable({
        read() {
          this.destroy(new Error('client went away'));
        },
      });
      await assert.rejects(storage.put('four', failing));
      await assert.rejects(storage.get('four'), FileNotFoundError);
    });

    it('refuses keys that could escape the store', async () => {
      await assert.rejects(storage.put('../escape', Readable.from([Buffer.from('x')])));
      await assert.rejects(storage.get('/etc/passwd'));
    });
  });
}

runFileStorageContract('data dir', async () => {
  const root = await mkdtemp(join(tmpdir(), 'parley-files-'));
  return { storage: new DiskFileStorage(root), dispose: () => rm(root, { recursive: true, force: true }) };
});

describe('content sniffing', () => {
  it('recognizes formats by their bytes, not by any name', () => {
    assert.equal(sniffMimeType(Buffer.from('89504e470d0a1a0a', 'hex')), 'image/png');
    assert.equal(sniffMimeType(Buffer.from('ffd8ffe0', 'hex')), 'image/jpeg');
    assert.equal(sniffMimeType(Buffer.from('GIF89a....')), 'image/gif');
    assert.equal(sniffMimeType(Buffer.from('RIFF1234WEBPVP8 ')), 'image/webp');
    assert.equal(sniffMimeType(Buffer.from('%PDF-1.7\n')), 'application/pdf');
    assert.equal(sniffMimeType(Buffer.from('plain words\nand lines, ünïcödé ✓')), 'text/plain');
    assert.equal(sniffMimeType(Buffer.from([0x4d, 0x5a, 0x90, 0x00, 0x03])), null);
    assert.equal(sniffMimeType(Buffer.from('text with a \u0001 control')), null);
    assert.equal(sniffMimeType(Buffer.alloc(0)), null);
  });

  it('accepts text whose sample ends inside a multi-byte character', () => {
    const sample = Buffer.from('ééé').subarray(0, 5);
    assert.equal(sniffMimeType(sample), 'text/plain');
  });
});
