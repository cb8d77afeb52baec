/**
 * The device conformance suite: every behaviour the NandDevice contract promises, run against
 * each store (conformance.test.ts instantiates it for RamStore and ImageFileStore).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NAND_CONTRACT_CODES, RamStore, createNandDevice, hammingEcc, isNandError, totalBlocks, totalPages } from '../src/index.ts';
import type { FaultOptions, NandDeviceOptions, NandGeometry, SimulatedNand } from '../src/index.ts';
import { LARGE_PAGE, SMALL, allBytes, seededBytes, throwsNand } from './helpers.ts';
import type { StoreHarness } from './helpers.ts';

export function conformanceSuite(harness: StoreHarness): void {
  describe(`NAND device conformance on ${harness.name}`, () => {
    after(() => harness.cleanup());

    function device(geometry: NandGeometry = SMALL, options: Omit<NandDeviceOptions, 'geometry' | 'store'> = {}): SimulatedNand {
      // A harness without a store factory lets createNandDevice make the store (the kernel device).
      if (harness.create === null) return createNandDevice({ geometry, metadataOnly: true, ...options });
      return createNandDevice({ geometry, store: harness.create(geometry), ...options });
    }
    /** Closes the device and opens the same chip again with the same options. */
    function reopen(nand: SimulatedNand, options: Omit<NandDeviceOptions, 'geometry' | 'store'> = {}): SimulatedNand {
      nand.close();
      return createNandDevice({ geometry: nand.geometry, store: harness.reopen(nand.store), ...options });
    }
    /**
     * The data a page should read back: what was programmed, or all 0xFF on a metadata-only
     * backend (its pages keep spare bytes only; the contract says data reads 0xFF there).
     */
    function expectData(actual: Uint8Array, programmed: Uint8Array, message?: string): void {
      if (harness.metadataOnly === true) assert.ok(allBytes(actual, 0xff), message ?? 'metadata-only: data reads 0xFF');
      else assert.deepEqual(actual, programmed, message);
    }
    function page(nand: SimulatedNand, p: number): { data: Uint8Array; spare: Uint8Array; result: ReturnType<SimulatedNand['readPage']> } {
      const data = new Uint8Array(nand.geometry.pageSize);
      const spare = new Uint8Array(nand.geometry.spareSize);
      const result = nand.readPage(p, data, spare);
      return { data, spare, result };
    }

    describe('reads and programs', () => {
      test('an erased page reads all 0xFF and reports erased', () => {
        const nand = device();
        const { data, spare, result } = page(nand, 17);
        assert.ok(allBytes(data, 0xff) && allBytes(spare, 0xff));
        assert.equal(result.erased, true);
        assert.equal(result.ecc, 'unchecked');
        nand.close();
      });

      test('a programmed page reads back its data and spare; short spare is padded with 0xFF', () => {
        const nand = device();
        const data = seededBytes(1, 512);
        nand.programPage(9, data, new Uint8Array([0x12, 0x34, 0x56]));
        const read = page(nand, 9);
        expectData(read.data, data);
        assert.deepEqual(Array.from(read.spare.subarray(0, 4)), [0x12, 0x34, 0x56, 0xff]);
        assert.ok(allBytes(read.spare.subarray(3), 0xff));
        assert.equal(read.result.erased, false);
        nand.close();
      });

      test('null data leaves the data area erased while the spare is programmed', () => {
        const nand = device();
        nand.programPage(0, null, new Uint8Array([7]));
        const read = page(nand, 0);
        assert.ok(allBytes(read.data, 0xff));
        assert.equal(read.spare[0], 7);
        assert.equal(read.result.erased, false);
        nand.close();
      });

      test('short read buffers receive a prefix; either buffer may be omitted', () => {
        const nand = device();
        const data = seededBytes(2, 512);
        nand.programPage(3, data, seededBytes(3, 16));
        const prefix = new Uint8Array(100);
        nand.readPage(3, prefix);
        expectData(prefix, data.subarray(0, 100));
        const spare = new Uint8Array(4);
        nand.readPage(3, undefined, spare);
        assert.deepEqual(spare, seededBytes(3, 16).subarray(0, 4));
        nand.close();
      });

      test('pages may be skipped within a block (ascending order only)', () => {
        const nand = device();
        nand.programPage(8 + 2, seededBytes(4, 512), new Uint8Array(0));
        nand.programPage(8 + 6, seededBytes(5, 512), new Uint8Array(0));
        assert.equal(page(nand, 8 + 4).result.erased, true);
        expectData(page(nand, 8 + 6).data, seededBytes(5, 512));
        nand.close();
      });

      test('erase sets every byte to 0xFF, counts a P/E cycle, and lets page 0 be programmed again', () => {
        const nand = device();
        for (let p = 16; p < 24; p++) nand.programPage(p, seededBytes(p, 512), seededBytes(p + 100, 16));
        assert.equal(nand.eraseCount(2), 0);
        nand.eraseBlock(2);
        assert.equal(nand.eraseCount(2), 1);
        for (let p = 16; p < 24; p++) {
          const read = page(nand, p);
          assert.ok(allBytes(read.data, 0xff) && allBytes(read.spare, 0xff), `page ${p} erased`);
          assert.equal(read.result.erased, true);
        }
        nand.programPage(16, seededBytes(99, 512), new Uint8Array(0));
        expectData(page(nand, 16).data, seededBytes(99, 512));
        nand.close();
      });
    });

    describe('contract violations throw typed errors and change nothing', () => {
      /** Runs `violate`, expects `code`, and checks counters, clock, operation count and page 1 of block 0 are untouched. */
      function expectUnchanged(nand: SimulatedNand, violate: () => unknown, code: Parameters<typeof throwsNand>[1]): void {
        const before = {
          programs: nand.stats.pagePrograms, erases: nand.stats.blockErases, reads: nand.stats.pageReads,
          elapsed: nand.timing.elapsed, operations: nand.faults.operations,
          page1: page(nand, 1).data,
        };
        const readsAfterSnapshot = nand.stats.pageReads;
        throwsNand(violate, code);
        assert.equal(nand.stats.pagePrograms, before.programs);
        assert.equal(nand.stats.blockErases, before.erases);
        assert.equal(nand.stats.pageReads, readsAfterSnapshot);
        assert.equal(nand.faults.operations, before.operations);
        assert.ok(nand.timing.elapsed >= before.elapsed);
        assert.deepEqual(page(nand, 1).data, before.page1);
        try {
          violate();
        } catch (error) {
          assert.ok(isNandError(error) && error.isContractViolation === NAND_CONTRACT_CODES.has(code));
        }
      }

      test('PROGRAM_TWICE: a page is programmed at most once between erases', () => {
        const nand = device();
        const data = seededBytes(10, 512);
        nand.programPage(1, data, new Uint8Array([1]));
        expectUnchanged(nand, () => nand.programPage(1, seededBytes(11, 512), new Uint8Array([2])), 'PROGRAM_TWICE');
        const read = page(nand, 1);
        expectData(read.data, data);
        assert.equal(read.spare[0], 1);
        nand.close();
      });

      test('PROGRAM_OUT_OF_ORDER: going back within a block is refused; the skipped page stays erased', () => {
        const nand = device();
        nand.programPage(1, seededBytes(12, 512), new Uint8Array(0));
        nand.programPage(5, seededBytes(13, 512), new Uint8Array(0));
        expectUnchanged(nand, () => nand.programPage(3, seededBytes(14, 512), new Uint8Array(0)), 'PROGRAM_OUT_OF_ORDER');
        assert.equal(page(nand, 3).result.erased, true);
        nand.programPage(6, seededBytes(15, 512), new Uint8Array(0)); // ascending still fine
        // other blocks are independent
        nand.programPage(8, seededBytes(16, 512), new Uint8Array(0));
        nand.close();
      });

      test('BAD_BLOCK: no program or erase on a marked-bad block; the marker sits in pages 0 and 1', () => {
        const nand = device(LARGE_PAGE);
        nand.programPage(1, seededBytes(17, 2048), new Uint8Array(0));
        assert.equal(nand.isBad(3), false);
        nand.markBad(3);
        nand.markBad(3); // no-op
        assert.equal(nand.isBad(3), true);
        expectUnchanged(nand, () => nand.programPage(3 * 8 + 2, seededBytes(18, 2048), new Uint8Array(0)), 'BAD_BLOCK');
        expectUnchanged(nand, () => nand.eraseBlock(3), 'BAD_BLOCK');
        // default marker: spare byte 0 of the block's first and second page, 0x00 (anything but 0xFF)
        assert.notEqual(page(nand, 3 * 8).spare[0], 0xff);
        assert.notEqual(page(nand, 3 * 8 + 1).spare[0], 0xff);
        assert.equal(page(nand, 3 * 8 + 2).spare[0], 0xff);
        nand.close();
      });

      test('OUT_OF_RANGE: pages and blocks outside the geometry, and non-integers', () => {
        const nand = device();
        const pages = totalPages(SMALL);
        const blocks = totalBlocks(SMALL);
        for (const p of [-1, pages, 1.5, Number.NaN]) {
          expectUnchanged(nand, () => nand.readPage(p, new Uint8Array(512)), 'OUT_OF_RANGE');
          expectUnchanged(nand, () => nand.programPage(p, null, new Uint8Array(0)), 'OUT_OF_RANGE');
        }
        for (const b of [-1, blocks, 0.5]) {
          expectUnchanged(nand, () => nand.eraseBlock(b), 'OUT_OF_RANGE');
          expectUnchanged(nand, () => nand.isBad(b), 'OUT_OF_RANGE');
          expectUnchanged(nand, () => nand.markBad(b), 'OUT_OF_RANGE');
          expectUnchanged(nand, () => nand.eraseCount(b), 'OUT_OF_RANGE');
        }
        nand.close();
      });

      test('BUFFER_SIZE: data must be exactly pageSize; spare at most spareSize', () => {
        const nand = device();
        expectUnchanged(nand, () => nand.programPage(2, new Uint8Array(511), new Uint8Array(0)), 'BUFFER_SIZE');
        expectUnchanged(nand, () => nand.programPage(2, new Uint8Array(513), new Uint8Array(0)), 'BUFFER_SIZE');
        expectUnchanged(nand, () => nand.programPage(2, null, new Uint8Array(17)), 'BUFFER_SIZE');
        nand.programPage(2, null, new Uint8Array(16)); // exactly spareSize is fine, and page 2 was untouched
        nand.close();
      });
    });

    if (harness.metadataOnly === true) {
      test('metadata-only: ECC is not run — reads report unchecked and the spare is the caller\'s', () => {
        const nand = device(LARGE_PAGE, { ecc: { code: hammingEcc, spareOffset: 40 } });
        const spare = seededBytes(23, 64);
        nand.programPage(0, seededBytes(20, 2048), spare);
        const read = page(nand, 0);
        assert.equal(read.result.ecc, 'unchecked');
        assert.deepEqual(read.spare, spare);
        assert.ok(allBytes(read.data, 0xff));
        nand.close();
      });
    } else describe('on-device Hamming ECC', () => {
      const ecc = { code: hammingEcc, spareOffset: 40 };

      test('parity lands at the ECC offset over the caller\'s spare, 3 bytes per 256-byte sector', () => {
        const nand = device(LARGE_PAGE, { ecc });
        const data = seededBytes(20, 2048);
        nand.programPage(0, data, new Uint8Array(64).fill(0x11));
        const read = page(nand, 0);
        assert.equal(read.result.ecc, 'ok');
        const expected = new Uint8Array(3);
        for (let s = 0; s < 8; s++) {
          hammingEcc.encode(data, s * 256, expected, 0);
          assert.deepEqual(read.spare.subarray(40 + 3 * s, 43 + 3 * s), expected);
        }
        assert.ok(allBytes(read.spare.subarray(0, 40), 0x11));
        assert.equal(read.spare[39], 0x11);
        nand.close();
      });

      test('raw bit errors are corrected by ECC and counted; the stored page is never changed', () => {
        const faults: FaultOptions = { seed: 7, bitErrorRate: { base: 2e-5, perCycle: 0 } };
        const nand = device(LARGE_PAGE, { ecc, faults });
        const data = seededBytes(21, 2048);
        nand.programPage(8, data, new Uint8Array(0));
        let corrected = 0;
        for (let i = 0; i < 400; i++) {
          const read = page(nand, 8);
          if (read.result.ecc === 'corrected') {
            corrected++;
            assert.deepEqual(read.data, data);
            assert.ok(read.result.correctedBits >= 1);
          } else if (read.result.ecc === 'ok') {
            assert.deepEqual(read.data, data);
          }
        }
        assert.ok(corrected > 10, `expected corrected reads, got ${corrected}`);
        assert.ok(nand.stats.eccCorrectedBits >= corrected);
        // A device without faults over the same chip sees the clean page.
        const clean = reopen(nand, { ecc });
        const read = page(clean, 8);
        assert.equal(read.result.ecc, 'ok');
        assert.deepEqual(read.data, data);
        clean.close();
      });

      test('many raw errors in one sector come back uncorrectable and are counted', () => {
        const nand = device(LARGE_PAGE, { ecc, faults: { seed: 3, bitErrorRate: { base: 2e-3, perCycle: 0 } } });
        nand.programPage(0, seededBytes(22, 2048), new Uint8Array(0));
        let uncorrectable = 0;
        for (let i = 0; i < 50; i++) {
          const result = nand.readPage(0, new Uint8Array(2048));
          if (result.ecc === 'uncorrectable') {
            uncorrectable++;
            assert.ok(result.uncorrectableSectors >= 1);
          }
        }
        assert.ok(uncorrectable > 0);
        assert.equal(nand.stats.eccUncorrectableReads, uncorrectable);
        nand.close();
      });
    });

    describe('faults', () => {
      test('factory bad blocks are in the table and marked in the spare of pages 0 and 1', () => {
        const nand = device(LARGE_PAGE, { faults: { factoryBadBlocks: [2, 5] } });
        for (let block = 0; block < 8; block++) assert.equal(nand.isBad(block), block === 2 || block === 5);
        for (const block of [2, 5]) {
          assert.equal(page(nand, block * 8).spare[0], 0x00);
          assert.equal(page(nand, block * 8 + 1).spare[0], 0x00);
          throwsNand(() => nand.eraseBlock(block), 'BAD_BLOCK');
        }
        nand.close();
      });

      test('factoryBadBlockRate: same seed, same blocks; never block 0; about the rate', () => {
        const geometry = { ...SMALL, blocksPerDie: 256 };
        const badSet = (seed: number): number[] => {
          const nand = device(geometry, { faults: { seed, factoryBadBlockRate: 0.1 } });
          const bad = [];
          for (let b = 0; b < totalBlocks(geometry); b++) if (nand.isBad(b)) bad.push(b);
          nand.close();
          return bad;
        };
        const first = badSet(42);
        assert.deepEqual(badSet(42), first);
        assert.notDeepEqual(badSet(43), first);
        assert.ok(!first.includes(0));
        assert.ok(first.length > 25 && first.length < 80, `got ${first.length} of 512`);
      });

      test('programFailureRate: seeded failures; a failed page counts as programmed', () => {
        const run = (): number[] => {
          const nand = device(SMALL, { faults: { seed: 5, programFailureRate: 0.2 } });
          const failed: number[] = [];
          for (let p = 0; p < totalPages(SMALL); p++) {
            try {
              nand.programPage(p, seededBytes(p, 512), new Uint8Array(0));
            } catch (error) {
              assert.ok(isNandError(error, 'PROGRAM_FAILED'));
              failed.push(p);
            }
          }
          assert.equal(nand.stats.programFailures, failed.length);
          if (failed.length > 0) throwsNand(() => nand.programPage(failed[0], null, new Uint8Array(0)), 'PROGRAM_TWICE');
          nand.close();
          return failed;
        };
        const failed = run();
        assert.deepEqual(run(), failed);
        assert.ok(failed.length > 10 && failed.length < 50, `got ${failed.length} of 128`);
      });

      test('eraseFailureRate: seeded failures; the block keeps its erase count', () => {
        const nand = device(SMALL, { faults: { seed: 9, eraseFailureRate: 0.3 } });
        let failures = 0;
        for (let i = 0; i < 100; i++) {
          const block = i % 16;
          const before = nand.eraseCount(block);
          try {
            nand.eraseBlock(block);
            assert.equal(nand.eraseCount(block), before + 1);
          } catch (error) {
            assert.ok(isNandError(error, 'ERASE_FAILED'));
            assert.equal(nand.eraseCount(block), before);
            failures++;
          }
        }
        assert.equal(nand.stats.eraseFailures, failures);
        assert.ok(failures > 10 && failures < 60);
        nand.close();
      });

      test('failProgram / failErase are one-shot', () => {
        const nand = device();
        nand.faults.failProgram(10);
        nand.faults.failErase(1);
        throwsNand(() => nand.programPage(10, seededBytes(30, 512), new Uint8Array(0)), 'PROGRAM_FAILED');
        throwsNand(() => nand.eraseBlock(1), 'ERASE_FAILED');
        nand.eraseBlock(1);
        nand.programPage(10, seededBytes(30, 512), new Uint8Array(0));
        expectData(page(nand, 10).data, seededBytes(30, 512));
        nand.close();
      });

      test('endurance: once the erase count reaches the limit, erases and programs fail (wear-out)', () => {
        const nand = device(SMALL, { faults: { endurance: 3 } });
        for (let i = 0; i < 3; i++) {
          nand.programPage(8, null, new Uint8Array([i]));
          nand.eraseBlock(1);
        }
        assert.equal(nand.eraseCount(1), 3);
        throwsNand(() => nand.programPage(8, null, new Uint8Array([9])), 'PROGRAM_FAILED');
        throwsNand(() => nand.eraseBlock(1), 'ERASE_FAILED');
        nand.eraseBlock(2); // other blocks still fine
        nand.close();
      });

      test('raw bit errors grow with wear and appear in the read copy only', () => {
        const faults: FaultOptions = { seed: 11, bitErrorRate: { base: 0, perCycle: 1e-5 } };
        const nand = device(SMALL, { faults });
        const data = seededBytes(31, 512);
        const flipsAfter = (cycles: number, block: number): number => {
          for (let i = 0; i < cycles; i++) nand.eraseBlock(block);
          const p = block * 8;
          // Metadata-only pages keep no data bytes: there the flips show in the spare copy.
          const meta = harness.metadataOnly === true;
          const expected = meta ? data.subarray(0, 16) : data;
          nand.programPage(p, data, meta ? expected : new Uint8Array(0));
          let flips = 0;
          const out = new Uint8Array(expected.length);
          for (let r = 0; r < (meta ? 200 * 32 : 200); r++) {
            if (meta) nand.readPage(p, undefined, out);
            else nand.readPage(p, out);
            for (let i = 0; i < out.length; i++) for (let x = out[i] ^ expected[i]; x !== 0; x &= x - 1) flips++;
          }
          return flips;
        };
        assert.equal(flipsAfter(0, 3), 0); // no wear, no errors
        const light = flipsAfter(5, 4);
        const heavy = flipsAfter(100, 5);
        assert.ok(light > 0 && heavy > 5 * light, `light ${light}, heavy ${heavy}`);
        const clean = reopen(nand);
        expectData(page(clean, 5 * 8).data, data);
        if (harness.metadataOnly === true) assert.deepEqual(page(clean, 5 * 8).spare.subarray(0, 16), data.subarray(0, 16));
        clean.close();
      });
    });

    describe('power loss', () => {
      test('a cut during a program leaves the page programmed but corrupt (some 0 bits still 1, data and spare)', () => {
        const nand = device();
        const first = seededBytes(40, 512);
        const second = seededBytes(41, 512);
        const spare = seededBytes(42, 16);
        nand.faults.cutPowerAfter(2);
        nand.programPage(0, first, spare);
        throwsNand(() => nand.programPage(1, second, spare), 'POWER_LOSS');
        assert.equal(nand.faults.powerIsOn, false);
        throwsNand(() => nand.readPage(0), 'POWER_OFF');
        throwsNand(() => nand.programPage(2, null, new Uint8Array(0)), 'POWER_OFF');
        throwsNand(() => nand.eraseBlock(3), 'POWER_OFF');
        throwsNand(() => nand.sync(), 'POWER_OFF');
        nand.reboot();
        assert.equal(nand.faults.powerIsOn, true);
        expectData(page(nand, 0).data, first);
        const cut = page(nand, 1);
        assert.equal(cut.result.erased, false);
        assert.notDeepEqual(cut.data, second);
        assert.notDeepEqual(cut.spare, spare);
        for (let i = 0; i < 512; i++) assert.equal(cut.data[i] | second[i], cut.data[i], 'only intended 0 bits may be left at 1');
        for (let i = 0; i < 16; i++) assert.equal(cut.spare[i] | spare[i], cut.spare[i]);
        throwsNand(() => nand.programPage(1, second, spare), 'PROGRAM_TWICE');
        nand.programPage(2, second, spare);
        nand.close();
      });

      test('a cut during an erase leaves the block neither erased nor intact, needing erase', () => {
        const nand = device(SMALL, { faults: { seed: 4 } });
        const contents: Uint8Array[] = [];
        for (let p = 8; p < 16; p++) {
          contents.push(seededBytes(p, 512));
          nand.programPage(p, contents[p - 8], seededBytes(p + 50, 16));
        }
        nand.faults.cutPowerAfter(1);
        throwsNand(() => nand.eraseBlock(1), 'POWER_LOSS');
        nand.reboot();
        let intact = 0;
        let erased = 0;
        let damaged = 0;
        for (let p = 8; p < 16; p++) {
          const read = page(nand, p);
          if (read.result.erased) erased++;
          else if (read.data.every((v, i) => v === contents[p - 8][i])) intact++;
          else damaged++;
        }
        assert.ok(damaged >= 1, 'the last programmed page is damaged');
        assert.equal(erased + intact + damaged, 8);
        assert.ok(erased < 8 && intact < 8);
        assert.equal(nand.eraseCount(1), 0);
        // the remaining programmed pages hold the next-page pointer: page 15 cannot be programmed
        throwsNand(() => nand.programPage(15, null, new Uint8Array(0)), 'PROGRAM_TWICE');
        nand.eraseBlock(1);
        for (let p = 8; p < 16; p++) assert.equal(page(nand, p).result.erased, true);
        nand.close();
      });

      test('same seed, same damage', () => {
        const damage = (): Uint8Array => {
          const nand = device(SMALL, { faults: { seed: 77, powerCutAfter: 1 } });
          throwsNand(() => nand.programPage(0, seededBytes(60, 512), seededBytes(61, 16)), 'POWER_LOSS');
          nand.reboot();
          const read = harness.metadataOnly === true ? page(nand, 0).spare : page(nand, 0).data;
          nand.close();
          return read;
        };
        assert.deepEqual(damage(), damage());
      });

      test('cut at every point: everything completed before the cut survives reboot and reopen', () => {
        const workload = (nand: SimulatedNand): void => {
          for (let p = 0; p < 6; p++) nand.programPage(p, seededBytes(p, 512), seededBytes(p + 20, 16));
          nand.eraseBlock(0);
          for (let p = 0; p < 3; p++) nand.programPage(p, seededBytes(p + 40, 512), new Uint8Array(0));
          nand.programPage(9, seededBytes(9, 512), new Uint8Array(0));
        };
        const dry = device();
        workload(dry);
        const operations = dry.faults.operations;
        dry.close();
        assert.equal(operations, 11);
        for (let cutAt = 1; cutAt <= operations; cutAt++) {
          const nand = device();
          nand.faults.cutPowerAfter(cutAt);
          throwsNand(() => workload(nand), 'POWER_LOSS');
          assert.equal(nand.faults.operations, cutAt);
          const again = reopen(nand);
          // every operation before the cut is there, exactly
          const done = cutAt - 1;
          if (cutAt === 7) {
            // the erase itself was cut: block 0 needs erase, other blocks are untouched
            assert.equal(page(again, 9).result.erased, true);
            again.eraseBlock(0);
          } else if (done >= 7) {
            for (let p = 0; p < Math.min(3, done - 7); p++) expectData(page(again, p).data, seededBytes(p + 40, 512));
            for (let p = 3; p < 8; p++) assert.equal(page(again, p).result.erased, true, `cut ${cutAt}: page ${p} erased`);
          } else {
            for (let p = 0; p < Math.min(6, done); p++) expectData(page(again, p).data, seededBytes(p, 512), `cut ${cutAt}: page ${p}`);
          }
          again.close();
        }
      });
    });

    describe('persistence and statistics', () => {
      test('write, close, reopen, read back: pages, erase counts and bad blocks', () => {
        const nand = device(LARGE_PAGE);
        nand.eraseBlock(1);
        nand.eraseBlock(1);
        for (let p = 8; p < 12; p++) nand.programPage(p, seededBytes(p, 2048), seededBytes(p + 1, 64));
        nand.markBad(6);
        const again = reopen(nand);
        for (let p = 8; p < 12; p++) {
          const read = page(again, p);
          expectData(read.data, seededBytes(p, 2048));
          assert.deepEqual(read.spare, seededBytes(p + 1, 64));
        }
        assert.equal(again.eraseCount(1), 2);
        assert.equal(again.isBad(6), true);
        throwsNand(() => again.programPage(10, null, new Uint8Array(0)), 'PROGRAM_TWICE');
        throwsNand(() => again.programPage(9 + 0, null, new Uint8Array(0)), 'PROGRAM_TWICE');
        again.programPage(12, null, new Uint8Array(0));
        again.close();
      });

      test('counters: reads, programs, erases, bytes and per-block arrays; reset keeps erase counts', () => {
        const nand = device();
        nand.programPage(8, null, new Uint8Array(0));
        nand.programPage(9, null, new Uint8Array(0));
        nand.readPage(8);
        nand.eraseBlock(1);
        nand.readPage(0);
        const s = nand.stats;
        assert.deepEqual([s.pagePrograms, s.pageReads, s.blockErases], [2, 2, 1]);
        assert.equal(s.bytesWritten, 2 * 528);
        assert.equal(s.bytesRead, 2 * 528);
        assert.deepEqual([s.programsPerBlock[1], s.readsPerBlock[1], s.readsPerBlock[0], s.erasesPerBlock[1]], [2, 1, 1, 1]);
        s.reset();
        assert.deepEqual([s.pagePrograms, s.pageReads, s.blockErases, s.bytesRead, s.programsPerBlock[1]], [0, 0, 0, 0, 0]);
        assert.equal(nand.eraseCount(1), 1);
        nand.close();
      });

      test('after close every operation throws POWER_OFF', () => {
        const nand = device();
        nand.close();
        throwsNand(() => nand.readPage(0), 'POWER_OFF');
        throwsNand(() => nand.programPage(0, null, new Uint8Array(0)), 'POWER_OFF');
        throwsNand(() => nand.reboot(), 'POWER_OFF');
      });
    });

    describe('metadata fast path (programSpareWords, copyback, copybackRun)', () => {
      if (harness.metadataOnly !== true) {
        test('a device keeping page data offers no metadata fast path', () => {
          const nand = device();
          assert.equal(nand.programSpareWords, undefined);
          assert.equal(nand.copyback, undefined);
          assert.equal(nand.copybackRun, undefined);
          nand.close();
        });
        return;
      }
      /** The general device over a fresh metadata-only store, same options: the reference. */
      function reference(geometry: NandGeometry = SMALL, options: Omit<NandDeviceOptions, 'geometry' | 'store'> = {}): SimulatedNand {
        return createNandDevice({ geometry, store: new RamStore(geometry, { metadataOnly: true }), ...options, forceGeneric: true });
      }
      function spareOf(words: readonly number[]): Uint8Array {
        const bytes = new Uint8Array(16);
        const view = new DataView(bytes.buffer);
        words.forEach((w, i) => view.setUint32(4 * i, w >>> 0, true));
        return bytes;
      }
      function wordsFor(seed: number): [number, number, number, number] {
        const b = seededBytes(seed, 16);
        const v = new DataView(b.buffer);
        return [v.getUint32(0, true), v.getUint32(4, true), v.getUint32(8, true), v.getUint32(12, true)];
      }
      /** Everything observable about two devices: spares and erased flags of every page, counters, clock. */
      function assertSameDevice(fast: SimulatedNand, general: SimulatedNand): void {
        const pages = totalPages(fast.geometry);
        for (let p = 0; p < pages; p++) {
          const a = page(fast, p);
          const b = page(general, p);
          assert.deepEqual(a.spare, b.spare, `page ${p} spare`);
          assert.equal(a.result.erased, b.result.erased, `page ${p} erased`);
        }
        const fs = fast.stats;
        const gs = general.stats;
        for (const key of ['pageReads', 'pagePrograms', 'blockErases', 'bytesRead', 'bytesWritten', 'programFailures'] as const) {
          assert.equal(fs[key], gs[key], key);
        }
        assert.deepEqual(fs.readsPerBlock, gs.readsPerBlock);
        assert.deepEqual(fs.programsPerBlock, gs.programsPerBlock);
        assert.equal(fast.timing.elapsed, general.timing.elapsed);
        assert.equal(fast.timing.lastCompletion, general.timing.lastCompletion);
        assert.deepEqual(fast.timing.dieBusy, general.timing.dieBusy);
        assert.equal(fast.faults.operations, general.faults.operations);
      }

      test('the metadata-only device offers the fast path; forceGeneric does not', () => {
        const nand = device();
        assert.equal(typeof nand.programSpareWords, 'function');
        assert.equal(typeof nand.copyback, 'function');
        assert.equal(typeof nand.copybackRun, 'function');
        assert.equal(reference().programSpareWords, undefined);
        // With no store given, its tables are in a TableMemory and the kernel runs the fast methods.
        if (harness.create === null) assert.ok(nand.metadataKernel?.memory.memory instanceof WebAssembly.Memory, 'the kernel device');
        else assert.equal(nand.metadataKernel ?? null, null);
        nand.close();
      });

      test('programSpareWords is programPage with the words as little-endian spare bytes', () => {
        const fast = device();
        const general = reference();
        for (const p of [0, 1, 5, 8, 9, 63, 120]) {
          const words = wordsFor(p);
          fast.programSpareWords!(p, ...words);
          general.programPage(p, null, spareOf(words));
        }
        assertSameDevice(fast, general);
        // The bytes are the words' little-endian encodings.
        assert.deepEqual(page(fast, 5).spare, spareOf(wordsFor(5)));
      });

      test('copyback and copybackRun charge and store exactly as readPage + programSpareWords (same die and across dies)', () => {
        const fast = device();
        const general = reference();
        for (const nand of [fast, general]) for (let p = 0; p < 16; p++) nand.programPage(p, null, seededBytes(p, 16));
        // one copyback on the same die, one across dies (block 8 is on die 1)
        fast.copyback!(2, 24, ...wordsFor(1));
        general.readPage(2);
        general.programPage(24, null, spareOf(wordsFor(1)));
        fast.copyback!(3, 64 + 3, ...wordsFor(2));
        general.readPage(3);
        general.programPage(64 + 3, null, spareOf(wordsFor(2)));
        // a run on die 0 (sources in blocks 0 and 1, targets in block 4), then one from die 0 into die 1
        const sources = new Int32Array([0, 5, 7, 9, 11, 4, 6]);
        const runWords = new Uint32Array(4 * 7);
        for (let i = 0; i < 7; i++) runWords.set(wordsFor(100 + i), 4 * i);
        fast.timing.issueAt(1_000_000);
        general.timing.issueAt(1_000_000);
        assert.equal(fast.copybackRun!(sources, 0, 5, 32 + 1, runWords), true);
        assert.equal(fast.copybackRun!(sources, 5, 2, 72, runWords.subarray(0, 8)), true);
        for (let i = 0; i < 5; i++) {
          general.readPage(sources[i]);
          general.programPage(33 + i, null, spareOf(wordsFor(100 + i)));
        }
        for (let i = 0; i < 2; i++) {
          general.readPage(sources[5 + i]);
          general.programPage(72 + i, null, spareOf(wordsFor(100 + i)));
        }
        assertSameDevice(fast, general);
        assert.equal(fast.copybackRun!(sources, 0, 0, 40, runWords), true, 'an empty run does nothing');
        assertSameDevice(fast, general);
      });

      test('contract errors: the same codes, and nothing changes', () => {
        const nand = device(LARGE_PAGE);
        nand.programSpareWords!(3, 1, 2, 3, 4);
        const before = { programs: nand.stats.pagePrograms, reads: nand.stats.pageReads, elapsed: nand.timing.elapsed };
        throwsNand(() => nand.programSpareWords!(3, 1, 2, 3, 4), 'PROGRAM_TWICE');
        throwsNand(() => nand.programSpareWords!(2, 1, 2, 3, 4), 'PROGRAM_OUT_OF_ORDER');
        throwsNand(() => nand.programSpareWords!(-1, 1, 2, 3, 4), 'OUT_OF_RANGE');
        throwsNand(() => nand.programSpareWords!(totalPages(LARGE_PAGE), 1, 2, 3, 4), 'OUT_OF_RANGE');
        throwsNand(() => nand.programSpareWords!(1.5, 1, 2, 3, 4), 'OUT_OF_RANGE');
        throwsNand(() => nand.copyback!(totalPages(LARGE_PAGE), 9, 1, 2, 3, 4), 'OUT_OF_RANGE');
        const run = new Uint32Array(8);
        throwsNand(() => nand.copybackRun!(new Int32Array([0, 1]), 0, 2, 2, run), 'PROGRAM_OUT_OF_ORDER');
        throwsNand(() => nand.copybackRun!(new Int32Array([0, 1]), 0, 2, 7, run), 'OUT_OF_RANGE');
        assert.equal(nand.copybackRun!(new Int32Array([0, -1]), 0, 2, 8, run), false, 'a bad source: nothing done, caller goes page by page');
        throwsNand(() => nand.copybackRun!(new Int32Array([0, 1, 2]), 0, 3, 8, run), 'BUFFER_SIZE');
        assert.deepEqual([nand.stats.pagePrograms, nand.stats.pageReads, nand.timing.elapsed], [before.programs, before.reads, before.elapsed]);
        nand.markBad(5);
        throwsNand(() => nand.programSpareWords!(5 * 8 + 2, 1, 2, 3, 4), 'BAD_BLOCK');
        throwsNand(() => nand.copybackRun!(new Int32Array([0]), 0, 1, 5 * 8 + 2, run), 'BAD_BLOCK');
        // The copyback's read is charged before its program is refused, as with the two calls.
        const reads = nand.stats.pageReads;
        throwsNand(() => nand.copyback!(0, 3, 1, 2, 3, 4), 'PROGRAM_TWICE');
        assert.equal(nand.stats.pageReads, reads + 1);
        assert.equal(nand.stats.pagePrograms, before.programs);
        nand.close();
        throwsNand(() => nand.programSpareWords!(9, 1, 2, 3, 4), 'POWER_OFF');
        throwsNand(() => nand.copyback!(3, 9, 1, 2, 3, 4), 'POWER_OFF');
        assert.equal(nand.copybackRun!(new Int32Array([3]), 0, 1, 9, run), false);
        assert.equal(nand.copybackRun!(new Int32Array(0), 0, 0, 9, run), false, 'power off: a run of no pages says no');
      });

      test('armed faults and power cuts: copybackRun declines; the one-page methods behave as the general device, damage included', () => {
        const fast = device(SMALL, { faults: { seed: 12 } });
        const general = reference(SMALL, { faults: { seed: 12 } });
        for (const nand of [fast, general]) for (let p = 0; p < 6; p++) nand.programPage(p, null, seededBytes(p, 16));
        fast.faults.failProgram(9);
        general.faults.failProgram(9);
        assert.equal(fast.copybackRun!(new Int32Array([1]), 0, 1, 9, new Uint32Array(4)), false, 'nothing done while a failure is armed');
        assert.equal(fast.copybackRun!(new Int32Array(0), 0, 0, 9, new Uint32Array(0)), false, 'and a run of no pages says so');
        throwsNand(() => fast.copyback!(1, 9, ...wordsFor(3)), 'PROGRAM_FAILED');
        general.readPage(1);
        throwsNand(() => general.programPage(9, null, spareOf(wordsFor(3))), 'PROGRAM_FAILED');
        throwsNand(() => fast.programSpareWords!(9, 1, 2, 3, 4), 'PROGRAM_TWICE');
        fast.programSpareWords!(10, ...wordsFor(4));
        general.programPage(10, null, spareOf(wordsFor(4)));
        fast.faults.cutPowerAfter(2);
        general.faults.cutPowerAfter(2);
        assert.equal(fast.copybackRun!(new Int32Array([2, 3]), 0, 2, 16, new Uint32Array(8)), false, 'nothing done while a cut is armed');
        fast.programSpareWords!(16, ...wordsFor(5));
        general.programPage(16, null, spareOf(wordsFor(5)));
        throwsNand(() => fast.copyback!(2, 17, ...wordsFor(6)), 'POWER_LOSS');
        general.readPage(2);
        throwsNand(() => general.programPage(17, null, spareOf(wordsFor(6))), 'POWER_LOSS');
        fast.reboot();
        general.reboot();
        assertSameDevice(fast, general);
        assert.notDeepEqual(page(fast, 17).spare, spareOf(wordsFor(6)), 'the cut page is damaged');
      });
    });
  });
}
