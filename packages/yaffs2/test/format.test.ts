import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as zlib from 'node:zlib';
import {
  calcTagEcc,
  correctTagEcc,
  decodeHeader,
  emptyTags,
  encodeHeader,
  encodeName,
  packTags,
  unpackTags,
  ObjectType,
} from '../src/index.ts';

const fixtureImage = zlib.gunzipSync(fs.readFileSync(new URL('./fixtures/mkyaffs2image-tree.img.gz', import.meta.url)));
const RECORD = 2048 + 64;

describe('packed tags 2 and tag ECC', () => {
  test('our packing reproduces every spare mkyaffs2image wrote, byte for byte', () => {
    const tags = emptyTags();
    let checked = 0;
    for (let at = 0; at + RECORD <= fixtureImage.length; at += RECORD) {
      const spare = Uint8Array.from(fixtureImage.subarray(at + 2048, at + RECORD));
      unpackTags(spare.slice(), 0, tags);
      if (tags.erased) continue;
      assert.equal(tags.eccResult, 'ok');
      const ours = new Uint8Array(64).fill(0xff);
      packTags(ours, 0, tags.sequenceNumber, tags.objectId, tags.chunkId, tags.byteCount, null);
      assert.deepEqual(ours, spare, `spare of page ${at / RECORD}`);
      checked++;
    }
    assert.ok(checked > 100, `only ${checked} chunks checked`);
  });

  test('every single-bit flip in the 16 tag bytes is corrected; two flips are detected', () => {
    const spare = new Uint8Array(28);
    packTags(spare, 0, 0x1234, 300, 7, 1500, null);
    const original = spare.slice();
    for (let bit = 0; bit < 128; bit++) {
      const s = original.slice();
      s[bit >> 3] ^= 1 << (bit & 7);
      const t = unpackTags(s, 0, emptyTags());
      assert.equal(t.eccResult, 'fixed');
      assert.deepEqual([t.sequenceNumber, t.objectId, t.chunkId, t.byteCount], [0x1234, 300, 7, 1500]);
    }
    const s = original.slice();
    s[0] ^= 1;
    s[9] ^= 4;
    assert.equal(unpackTags(s, 0, emptyTags()).eccResult, 'unfixed');
  });

  test('a flipped bit in the stored ECC counts as corrected and leaves the tags alone', () => {
    const data = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
    const ecc = calcTagEcc(data, 0, 16);
    const r = correctTagEcc(data, 0, 16, { ...ecc, lineParity: ecc.lineParity ^ 1 });
    assert.equal(r, 1);
    assert.deepEqual([...data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]);
  });

  test('Linux extra header info round-trips through the tags', () => {
    const spare = new Uint8Array(64).fill(0xff);
    packTags(spare, 2, 0x1001, 400, 0, 0, { parentId: 300, objectType: ObjectType.file, isShrink: true, shadows: false, fileSizeOrEquiv: 12345 });
    const t = unpackTags(spare, 2, emptyTags());
    assert.equal(t.extraAvailable, true);
    assert.equal(t.objectId, 400);
    assert.equal(t.chunkId, 0);
    assert.equal(t.extraParentId, 300);
    assert.equal(t.extraObjectType, ObjectType.file);
    assert.equal(t.extraIsShrink, true);
    assert.equal(t.extraFileSizeOrEquiv, 12345);
  });
});

describe('object header', () => {
  test('encode/decode round trip at the documented offsets', () => {
    const chunk = new Uint8Array(2048);
    encodeHeader(
      {
        type: ObjectType.symlink,
        parentId: 257,
        name: encodeName('名前'),
        mode: 0o120777,
        uid: 1000,
        gid: 100,
        atime: 11,
        mtime: 22,
        ctime: 33,
        fileSize: 0,
        equivId: 0,
        alias: encodeName('../target'),
        rdev: 0,
        shadows: 0,
        isShrink: false,
      },
      chunk,
    );
    const v = new DataView(chunk.buffer);
    assert.equal(v.getUint32(0, true), 2);
    assert.equal(v.getUint32(4, true), 257);
    assert.equal(v.getUint32(268, true), 0o120777);
    assert.equal(v.getUint32(284, true), 22);
    assert.equal(new TextDecoder().decode(chunk.subarray(300, 309)), '../target');
    assert.equal(chunk[512], 0xff);
    const h = decodeHeader(chunk);
    assert.equal(new TextDecoder().decode(h.name), '名前');
    assert.equal(h.uid, 1000);
    assert.equal(h.isShrink, false);
  });

  test('a name over 255 bytes is refused with ENAMETOOLONG', () => {
    assert.throws(
      () => encodeHeader({ type: 1, parentId: 1, name: new Uint8Array(256).fill(65), mode: 0, uid: 0, gid: 0, atime: 0, mtime: 0, ctime: 0, fileSize: 0, equivId: 0, alias: new Uint8Array(0), rdev: 0, shadows: 0, isShrink: false }, new Uint8Array(2048)),
      { code: 'ENAMETOOLONG' },
    );
  });

  test('mkyaffs2image headers: chunk id 0, byte count 0xFFFF, ids from 257, unset size words on directories', () => {
    const tags = emptyTags();
    const ids: number[] = [];
    for (let at = 0; at + RECORD <= fixtureImage.length; at += RECORD) {
      unpackTags(fixtureImage.slice(at + 2048, at + 2048 + 28), 0, tags);
      if (tags.erased || tags.chunkId !== 0) continue;
      assert.equal(tags.byteCount, 0xffff);
      ids.push(tags.objectId);
      const h = decodeHeader(Uint8Array.from(fixtureImage.subarray(at, at + 2048)));
      if (h.type === ObjectType.directory) {
        // mkyaffs2image leaves the size words of non-files 0xFF: the high word means "32-bit size".
        assert.equal(new DataView(fixtureImage.buffer, fixtureImage.byteOffset + at).getUint32(496, true), 0xffffffff);
        assert.equal(h.fileSize, 0xffffffff);
      }
    }
    assert.equal(Math.min(...ids), 257);
  });
});
