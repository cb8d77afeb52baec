// Host write allocation schemes (issue 17): round robin over the dies, or static channel-first
// striping by LBA (MQSim's CWDP with one plane per die).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createNandDevice } from '@flashdiff/nand';
import { Ftl, isSsdError, resolveFtlOptions } from '../src/index.ts';

const geometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 16, blocksPerDie: 16, diesPerChannel: 2, channels: 4 };

function dieOf(ftl: Ftl, lba: number): number {
  return Math.floor(ftl.physicalPage(lba) / (geometry.pagesPerBlock * geometry.blocksPerDie));
}

describe('host write allocation', () => {
  for (const wasmKernel of [true, false]) {
    test(`cwdp: LBA l goes to channel l mod 4, die ⌊l / 4⌋ mod 2 within it, through GC and rewrites (${wasmKernel ? 'the kernel' : 'TypeScript'})`, () => {
      const ftl = new Ftl(createNandDevice({ geometry, metadataOnly: true }), { hostAllocation: 'cwdp', wasmKernel });
      assert.equal(ftl.wasmKernelActive, wasmKernel, 'a static allocation runs in the kernel (kernel/ftl/mapping.ts staticHostDie)');
      for (let round = 0; round < 6; round++) {
        for (let lba = 0; lba < ftl.userPages; lba += 1 + (round % 3)) ftl.write(lba);
      }
      for (let lba = 0; lba < ftl.userPages; lba++) {
        assert.equal(dieOf(ftl, lba), (lba % 4) * 2 + (Math.floor(lba / 4) % 2), `lba ${lba}`);
      }
      assert.ok(ftl.counters.gcRuns > 0);
      ftl.checkConsistency();
    });
  }

  test('round robin (the default): consecutive writes of one LBA visit every die', () => {
    const ftl = new Ftl(createNandDevice({ geometry, metadataOnly: true }));
    const dies = new Set<number>();
    for (let i = 0; i < 8; i++) {
      ftl.write(5);
      dies.add(dieOf(ftl, 5));
    }
    assert.equal(dies.size, 8);
  });

  test('an unknown scheme, or cwdp with superblock units, is INVALID_CONFIG', () => {
    assert.throws(() => resolveFtlOptions({ hostAllocation: 'pcwx' as 'cwdp' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /hostAllocation/.test(e.message));
    assert.throws(() => resolveFtlOptions({ hostAllocation: 'cwdp', gcUnit: 'superblock' }), (e: unknown) => isSsdError(e, 'INVALID_CONFIG') && /superblock|block/.test(e.message));
  });
});
