// A remount (recover() with no power cut) gives back exactly what the host last wrote or trimmed,
// also when a collection in place (no free unit left: gcThreshold 1 on a 6-block die) runs in the
// middle of a host write or TRIM. The in-place collection programs the pages it moves with new
// sequence numbers; the host's page or TRIM record must be programmed with a number newer than
// those, or the mount scan (highest sequence number wins) brings back the data it replaced or
// trimmed.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNandDevice } from '@flashdiff/nand';
import type { NandGeometry } from '@flashdiff/nand';
import { Ftl } from '../src/index.ts';

const sixBlocks: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 4, blocksPerDie: 6, diesPerChannel: 1, channels: 1 };

/** xorshift32 in [0, 1): the workload's draws. */
function generator(seed: number): () => number {
  let x = Math.imul(seed, 2654435761) >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

/**
 * Random writes (a fill byte per write) and TRIMs of one page (one operation in ten: on this tiny
 * device the TRIM records a remount keeps valid can fill it, and the writes then end in NO_SPACE);
 * a remount after each, checked against a shadow map.
 */
function run(seed: number, operations: number, metadataOnly: boolean): { inPlace: number } {
  const ftl = new Ftl(createNandDevice({ geometry: sixBlocks, metadataOnly }), { gcThreshold: 1, overProvisioning: 0.25, seed });
  const shadow = new Map<number, number>();
  const draw = generator(seed);
  const out = new Uint8Array(sixBlocks.pageSize);
  for (let i = 0; i < operations; i++) {
    const lba = Math.floor(draw() * ftl.userPages);
    let what: string;
    if (draw() < 0.1) {
      ftl.trim(lba, 1);
      shadow.delete(lba);
      what = `trim ${lba}`;
    } else {
      const fill = (i % 250) + 1;
      ftl.write(lba, new Uint8Array(sixBlocks.pageSize).fill(fill));
      shadow.set(lba, fill);
      what = `write ${lba}`;
    }
    ftl.recover();
    ftl.checkConsistency();
    for (let x = 0; x < ftl.userPages; x++) {
      const result = ftl.read(x, out);
      const want = shadow.get(x);
      if (want === undefined) assert.equal(result, 'unmapped', `seed ${seed}, operation ${i} (${what}): logical page ${x} was trimmed or never written, but reads mapped (${out[0]})`);
      else if (!metadataOnly) assert.equal(out[0], want, `seed ${seed}, operation ${i} (${what}): logical page ${x} reads an older write`);
      else assert.equal(result, 'mapped', `seed ${seed}, operation ${i} (${what}): logical page ${x} lost`);
    }
  }
  return { inPlace: ftl.counters.inPlaceGcRuns };
}

describe('remount after collections in place', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    test(`seed ${seed}: every LBA reads its last write or TRIM after each remount`, () => {
      const { inPlace } = run(seed, 80, false);
      assert.ok(inPlace > 0, 'the workload collects in place');
    });
  }
  test('the same on the metadata-only device (mapped / unmapped)', () => {
    for (const seed of [1, 3, 5]) assert.ok(run(seed, 80, true).inPlace > 0);
  });
});
