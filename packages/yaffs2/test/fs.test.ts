import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Yaffs2 } from '../src/index.ts';
import { bytes, formatted, prng, smallDevice } from './helpers.ts';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('file-system operations', () => {
  test('mkdir, readdir, write at offsets with holes, read, stat', () => {
    const { fs } = formatted(16);
    fs.mkdir('/a');
    fs.mkdir('/a/b');
    const fd = fs.open('/a/b/f', { create: true });
    fs.write(fd, text('xyz'), 5000); // hole 0…4999
    fs.write(fd, text('AB'), 1);
    fs.close(fd);
    const data = fs.readFile('/a/b/f');
    assert.equal(data.length, 5003);
    assert.deepEqual([...data.subarray(0, 4)], [0, 65, 66, 0]);
    assert.ok(data.subarray(3, 5000).every((v) => v === 0));
    assert.equal(new TextDecoder().decode(data.subarray(5000)), 'xyz');
    assert.deepEqual(fs.readdir('/a').map((e) => [e.name, e.type]), [['b', 'directory']]);
    assert.equal(fs.stat('/a/b/f').size, 5003);
    assert.deepEqual(fs.check(), []);
  });

  test('errno-like errors: ENOENT, EEXIST, ENOTDIR, EISDIR, ENOTEMPTY, ENAMETOOLONG, EINVAL', () => {
    const { fs } = formatted(16);
    fs.mkdir('/d');
    fs.writeFile('/d/f', text('1'));
    assert.throws(() => fs.readFile('/nope'), { code: 'ENOENT' });
    assert.throws(() => fs.mkdir('/d'), { code: 'EEXIST' });
    assert.throws(() => fs.mkdir('/d/f/x'), { code: 'ENOTDIR' });
    assert.throws(() => fs.readFile('/d'), { code: 'EISDIR' });
    assert.throws(() => fs.rmdir('/d'), { code: 'ENOTEMPTY' });
    assert.throws(() => fs.unlink('/d'), { code: 'EISDIR' });
    assert.throws(() => fs.mkdir('/' + 'n'.repeat(256)), { code: 'ENAMETOOLONG' });
    assert.throws(() => fs.symlink('t'.repeat(160), '/s'), { code: 'ENAMETOOLONG' });
    assert.throws(() => fs.rename('/d', '/d/inside'), { code: 'EINVAL' });
    assert.throws(() => fs.open('/d/f', { create: true, exclusive: true }), { code: 'EEXIST' });
  });

  test('truncate down then up reads zeros past the old end; survives a scan remount', () => {
    const { device, fs } = formatted(16);
    const data = bytes(10_000, 1);
    fs.writeFile('/f', data);
    fs.truncate('/f', 3000);
    fs.truncate('/f', 7000);
    const expect = new Uint8Array(7000);
    expect.set(data.subarray(0, 3000));
    assert.deepEqual(fs.readFile('/f'), expect);
    fs.sync();
    const again = Yaffs2.mount(device, { checkpoint: false });
    assert.equal(again.stats.mountedFrom, 'scan');
    assert.deepEqual(again.readFile('/f'), expect);
  });

  test('unlink, rmdir, symlink, readlink, hard links (nlink, unlink of the original keeps the data)', () => {
    const { device, fs } = formatted(16);
    fs.writeFile('/orig', text('shared'));
    fs.link('/orig', '/alias');
    assert.equal(fs.stat('/alias').nlink, 2);
    fs.symlink('orig', '/sym');
    fs.symlink('missing/target', '/dangling');
    assert.equal(fs.readlink('/dangling'), 'missing/target');
    assert.equal(new TextDecoder().decode(fs.readFile('/sym')), 'shared');
    fs.unlink('/orig');
    assert.equal(new TextDecoder().decode(fs.readFile('/alias')), 'shared');
    assert.equal(fs.stat('/alias').nlink, 1);
    fs.mkdir('/e');
    fs.rmdir('/e');
    assert.deepEqual(fs.readdir('/').map((e) => e.name), ['alias', 'dangling', 'sym']);
    fs.unmount();
    const again = Yaffs2.mount(device, { checkpoint: false });
    assert.deepEqual(again.readdir('/').map((e) => e.name), ['alias', 'dangling', 'sym']);
    assert.equal(new TextDecoder().decode(again.readFile('/alias')), 'shared');
    assert.deepEqual(again.check(), []);
  });

  test('rename replaces the target atomically (shadowing header) and survives a scan', () => {
    const { device, fs } = formatted(16);
    fs.writeFile('/a', text('new'));
    fs.writeFile('/b', text('old'));
    fs.rename('/a', '/b');
    assert.deepEqual(fs.readdir('/').map((e) => e.name), ['b']);
    fs.sync();
    const again = Yaffs2.mount(device, { checkpoint: false });
    assert.equal(new TextDecoder().decode(again.readFile('/b')), 'new');
    assert.deepEqual(again.readdir('/').map((e) => e.name), ['b']);
  });

  test('blockInfo reports allocation, sequence numbers, stale chunks and erase counts per block', () => {
    const { fs } = formatted(8, { checkpoint: false });
    fs.writeFile('/a', bytes(70 * 2048, 1)); // more than one block of chunks
    const infos = Array.from({ length: fs.blockCount }, (_, b) => fs.blockInfo(b));
    const used = infos.filter((i) => i.state === 'full' || i.state === 'allocating');
    assert.ok(used.some((i) => i.state === 'full') && used.some((i) => i.state === 'allocating'));
    const sequences = used.map((i) => i.sequence).sort((x, y) => x - y);
    assert.ok(sequences[0]! >= 0x1000 && sequences[1]! > sequences[0]!, 'each block gets the next sequence number');
    const full = used.find((i) => i.state === 'full')!;
    assert.equal(full.pagesWritten, 64);
    // All data chunks are live; at most the object header written at create time is stale.
    assert.ok(full.pagesLive >= 63 && full.pagesLive <= 64, `live ${full.pagesLive}`);
    fs.writeFile('/a', bytes(10, 2)); // rewriting leaves the old chunks stale
    const after = fs.blockInfo(full.block);
    assert.ok(after.pagesLive < after.pagesWritten || after.state === 'empty');
    assert.ok(infos.every((i) => i.eraseCount >= 1 && !i.bad));
    assert.throws(() => fs.blockInfo(fs.blockCount), { code: 'EINVAL' });
  });

  test('statfs falls as data is written and ENOSPC comes before the reserve is touched', () => {
    const { fs } = formatted(12, { reservedBlocks: 3, checkpoint: false });
    const before = fs.statfs();
    fs.writeFile('/x', bytes(100_000, 2));
    const after = fs.statfs();
    assert.ok(after.freeBytes < before.freeBytes - 90_000);
    let written = 0;
    assert.throws(() => {
      for (let i = 0; i < 1000; i++) {
        fs.writeFile(`/fill${i}`, bytes(50_000, i));
        written++;
      }
    }, { code: 'ENOSPC' });
    assert.ok(written > 3);
    assert.ok(fs.statfs().erasedBlocks >= 1, 'the reserve was not consumed by user data');
    // Deleting makes room again (GC reclaims).
    for (let i = 0; i < written; i++) fs.unlink(`/fill${i}`);
    fs.writeFile('/again', bytes(50_000, 99));
    assert.deepEqual(fs.check(), []);
  });
});

describe('garbage collection, wear and bad blocks', () => {
  test('rewriting one file many times triggers GC and keeps every byte; wear is spread', () => {
    const { device, fs } = formatted(12, { checkpoint: false });
    let last: Uint8Array = new Uint8Array(0);
    for (let round = 0; round < 60; round++) {
      last = bytes(40_000 + round * 100, round);
      fs.writeFile('/hot', last);
      fs.writeFile(`/cold${round % 3}`, bytes(3000, 1000 + round));
    }
    assert.ok(fs.stats.gcBlocksCollected + fs.stats.blockErases > 10);
    assert.deepEqual(fs.readFile('/hot'), last);
    assert.deepEqual(fs.check(), []);
    let min = Infinity;
    let max = 0;
    for (let b = 0; b < 12; b++) {
      min = Math.min(min, device.eraseCount(b));
      max = Math.max(max, device.eraseCount(b));
    }
    assert.ok(max - min <= Math.max(4, max / 2), `erase counts ${min}…${max}`);
  });

  test('a program failure retires the block after moving its live chunks; data intact', () => {
    const { device, fs } = formatted(16, { checkpoint: false });
    fs.writeFile('/a', bytes(20_000, 3));
    // The next programs land in the current allocation block: fail one of them.
    let failedPage = -1;
    for (let page = 0; page < 16 * 64; page++) {
      if (device.readPage(page, undefined, new Uint8Array(64)).erased && page % 64 !== 0) {
        failedPage = page;
        break;
      }
    }
    device.faults.failProgram(failedPage);
    fs.writeFile('/b', bytes(30_000, 4));
    fs.gc();
    assert.equal(fs.stats.programFailures, 1);
    assert.equal(fs.stats.blocksRetired, 1);
    assert.ok(device.isBad(Math.floor(failedPage / 64)));
    assert.deepEqual(fs.readFile('/a'), bytes(20_000, 3));
    assert.deepEqual(fs.readFile('/b'), bytes(30_000, 4));
    fs.unmount();
    const again = Yaffs2.mount(device, { checkpoint: false });
    assert.deepEqual(again.readFile('/a'), bytes(20_000, 3));
    assert.deepEqual(again.readFile('/b'), bytes(30_000, 4));
  });

  test('mtd layout: raw bit errors are corrected by the data ECC and counted', () => {
    const device = smallDevice(16, 'mtd', { seed: 7, bitErrorRate: { base: 2e-6, perCycle: 0 } });
    const fs = Yaffs2.format(device, { layout: 'mtd' });
    const data = bytes(200_000, 5);
    fs.writeFile('/f', data);
    let reads = 0;
    for (let i = 0; i < 5; i++) {
      assert.deepEqual(fs.readFile('/f'), data);
      reads++;
    }
    assert.ok(fs.stats.dataEccCorrected + fs.stats.tagEccCorrected > 0, 'no correction seen');
    assert.equal(reads, 5);
  });
});

describe('mount: scan and checkpoint', () => {
  test('random operations against a model; checkpoint and scan mounts agree with it', () => {
    const { device, fs: first } = formatted(24);
    let fs = first;
    const model = new Map<string, Uint8Array>();
    const r = prng(42);
    for (let step = 0; step < 300; step++) {
      const name = `/f${Math.floor(r() * 12)}`;
      const op = r();
      if (op < 0.5) {
        const cur = model.get(name) ?? new Uint8Array(0);
        const at = Math.floor(r() * (cur.length + 3000));
        const chunk = bytes(1 + Math.floor(r() * 5000), step);
        const fd = fs.open(name, { create: true });
        fs.write(fd, chunk, at);
        fs.close(fd);
        const next = new Uint8Array(Math.max(cur.length, at + chunk.length));
        next.set(cur);
        next.set(chunk, at);
        model.set(name, next);
      } else if (op < 0.65 && model.has(name)) {
        const cur = model.get(name)!;
        const size = Math.floor(r() * (cur.length + 2000));
        fs.truncate(name, size);
        const next = new Uint8Array(size);
        next.set(cur.subarray(0, Math.min(size, cur.length)));
        model.set(name, next);
      } else if (op < 0.75 && model.has(name)) {
        fs.unlink(name);
        model.delete(name);
      } else if (op < 0.85 && model.has(name)) {
        const to = `/f${Math.floor(r() * 12)}`;
        fs.rename(name, to);
        if (to !== name) {
          model.set(to, model.get(name)!);
          model.delete(name);
        }
      } else if (op < 0.93) {
        fs.unmount();
        fs = Yaffs2.mount(device, {});
        assert.equal(fs.stats.mountedFrom, 'checkpoint', JSON.stringify({ step, s: fs.statfs() }));
      } else {
        fs.sync();
        const scanned = Yaffs2.mount(device, { checkpoint: false, readOnly: true });
        assert.equal(scanned.stats.mountedFrom, 'scan');
        assert.deepEqual(scanned.readdir('/'), fs.readdir('/'));
      }
      if (step % 50 === 49) assert.deepEqual(fs.check(), []);
    }
    fs.sync();
    for (const mode of [true, false]) {
      const m = Yaffs2.mount(device, { checkpoint: mode });
      const names = m.readdir('/').map((e) => `/${e.name}`).sort();
      assert.deepEqual(names, [...model.keys()].sort());
      for (const [name, data] of model) assert.deepEqual(m.readFile(name), data, name);
    }
  });

  test('a corrupt checkpoint falls back to the scan; any write invalidates the checkpoint', () => {
    const { device, fs } = formatted(16);
    fs.writeFile('/keep', text('kept'));
    fs.unmount();
    // Flip a data byte inside the checkpoint chunk (found by its tags' sequence number 0x21).
    let cp = -1;
    const spare = new Uint8Array(64);
    for (let b = 0; b < 16 && cp < 0; b++) {
      device.readPage(b * 64, undefined, spare);
      if (spare[0] === 0x21 && spare[1] === 0 && spare[2] === 0 && spare[3] === 0) cp = b;
    }
    assert.ok(cp >= 0, 'no checkpoint block found');
    const m1 = Yaffs2.mount(device, {});
    assert.equal(m1.stats.mountedFrom, 'checkpoint');
    m1.writeFile('/new', text('n'));
    assert.equal(m1.stats.checkpointsInvalidated, 1);
    // Power "cut" here (no unmount): the next mount must scan and see /new.
    const m2 = Yaffs2.mount(device, {});
    assert.equal(m2.stats.mountedFrom, 'scan');
    assert.equal(new TextDecoder().decode(m2.readFile('/new')), 'n');
  });
});
