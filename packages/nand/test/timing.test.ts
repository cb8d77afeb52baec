import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_TIMING, createNandDevice } from '../src/index.ts';
import type { NandGeometry, SimulatedNand } from '../src/index.ts';

// Two dies, 4 blocks each, 4 pages of 2048 + 64 bytes: blocks 0–3 on die 0, blocks 4–7 on die 1.
const sharedChannel: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 4, blocksPerDie: 4, diesPerChannel: 2, channels: 1 };
const twoChannels: NandGeometry = { ...sharedChannel, diesPerChannel: 1, channels: 2 };
const timing = { tR: 50_000, tPROG: 600_000, tBERS: 3_000_000, transferPerByte: 2.5 };
const TRANSFER = (2048 + 64) * 2.5; // 5280 ns per page on the bus
const DIE1_PAGE = 4 * 4; // first page of block 4, on die 1

function device(geometry: NandGeometry, metadataOnly = false): SimulatedNand {
  return createNandDevice({ geometry, timing, metadataOnly });
}

describe('timing model (two-die example)', () => {
  test('defaults are the documented ONFI-ish latencies', () => {
    const nand = createNandDevice({ geometry: sharedChannel });
    assert.deepEqual({ ...nand.timing.params }, { ...DEFAULT_TIMING });
    assert.deepEqual({ ...DEFAULT_TIMING }, { tR: 50_000, tPROG: 600_000, tBERS: 3_000_000, transferPerByte: 2.5 });
  });

  for (const metadataOnly of [false, true]) {
    const mode = metadataOnly ? ' (metadata-only charges the full transfer too)' : '';
    test(`programs on two dies sharing a channel: transfer+tPROG and 2·transfer+tPROG${mode}`, () => {
      const nand = device(sharedChannel, metadataOnly);
      nand.programPage(0, metadataOnly ? null : new Uint8Array(2048), new Uint8Array(0));
      assert.equal(nand.timing.lastCompletion, TRANSFER + 600_000);
      nand.programPage(DIE1_PAGE, null, new Uint8Array(0));
      assert.equal(nand.timing.lastCompletion, 2 * TRANSFER + 600_000);
      assert.equal(nand.timing.elapsed, 2 * TRANSFER + 600_000);
      assert.equal(nand.timing.dieFreeAt(0), TRANSFER + 600_000);
      assert.equal(nand.timing.dieFreeAt(1), 2 * TRANSFER + 600_000);
      assert.deepEqual(Array.from(nand.timing.dieBusy), [TRANSFER + 600_000, TRANSFER + 600_000]);
    });
  }

  test('programs on dies on different channels overlap completely', () => {
    const nand = device(twoChannels);
    nand.programPage(0, null, new Uint8Array(0));
    nand.programPage(DIE1_PAGE, null, new Uint8Array(0));
    assert.equal(nand.timing.lastCompletion, TRANSFER + 600_000);
    assert.equal(nand.timing.elapsed, TRANSFER + 600_000);
  });

  test('two programs on the same die serialise: 2·(transfer+tPROG)', () => {
    const nand = device(sharedChannel);
    nand.programPage(0, null, new Uint8Array(0));
    nand.programPage(1, null, new Uint8Array(0));
    assert.equal(nand.timing.elapsed, 2 * (TRANSFER + 600_000));
  });

  test('reads: tR then transfer; a second die senses in parallel but waits for the bus', () => {
    const nand = device(sharedChannel);
    nand.readPage(0);
    assert.equal(nand.timing.lastCompletion, 50_000 + TRANSFER);
    nand.readPage(DIE1_PAGE);
    assert.equal(nand.timing.lastCompletion, 50_000 + 2 * TRANSFER);
    nand.readPage(1); // die 0 again: idle since 55 280, senses, then the bus is free
    assert.equal(nand.timing.lastCompletion, 50_000 + TRANSFER + 50_000 + TRANSFER);
  });

  test('erases use the die only: two dies overlap, one die serialises', () => {
    const nand = device(sharedChannel);
    nand.eraseBlock(0);
    nand.eraseBlock(4);
    assert.equal(nand.timing.elapsed, 3_000_000);
    nand.eraseBlock(1);
    assert.equal(nand.timing.elapsed, 6_000_000);
  });

  test('issueAt moves the host clock forward only; an idle die starts at the issue time', () => {
    const nand = device(sharedChannel);
    nand.timing.issueAt(1_000_000);
    nand.timing.issueAt(10); // never backwards
    assert.equal(nand.timing.now, 1_000_000);
    nand.programPage(0, null, new Uint8Array(0));
    assert.equal(nand.timing.lastCompletion, 1_000_000 + TRANSFER + 600_000);
    nand.timing.reset();
    assert.deepEqual([nand.timing.now, nand.timing.elapsed, nand.timing.dieBusy[0]], [0, 0, 0]);
  });

  test('custom timing params are used', () => {
    const nand = createNandDevice({ geometry: sharedChannel, timing: { tPROG: 1000, transferPerByte: 0 } });
    nand.programPage(0, null, new Uint8Array(0));
    assert.equal(nand.timing.elapsed, 1000);
  });
});

describe('channel calendar: the bus is held only for transfers', () => {
  for (const metadataOnly of [false, true]) {
    const mode = metadataOnly ? ' (metadata-only device, WebAssembly kernel where it loads)' : '';
    test(`a read queued on a busy die does not hold the channel; another die's program takes the bus at once${mode}`, () => {
      const nand = device(sharedChannel, metadataOnly);
      nand.programPage(0, null, new Uint8Array(0)); // die 0: bus [0, T], busy until T + tPROG
      nand.readPage(0); // die 0 again: senses at T + tPROG, transfers at T + tPROG + tR
      const readDone = TRANSFER + 600_000 + 50_000 + TRANSFER;
      assert.equal(nand.timing.lastCompletion, readDone);
      nand.programPage(DIE1_PAGE, null, new Uint8Array(0)); // die 1: the bus is free from T
      assert.equal(nand.timing.lastCompletion, 2 * TRANSFER + 600_000);
      assert.equal(nand.timing.elapsed, readDone);
    });

    test(`transfers fill the earliest gap long enough, and skip one that is too short${mode}`, () => {
      const nand = device(sharedChannel, metadataOnly);
      nand.readPage(0); // die 0: bus [tR, tR + T]
      nand.readPage(1); // die 0: senses after tR + T, bus [2tR + T, 2tR + 2T]
      nand.readPage(DIE1_PAGE); // die 1: sensed at tR, the bus is busy until tR + T: [tR + T, tR + 2T]
      assert.equal(nand.timing.lastCompletion, 50_000 + 2 * TRANSFER);
      nand.readPage(DIE1_PAGE + 1); // die 1: sensed at 2tR + 2T; the bus is free then
      assert.equal(nand.timing.lastCompletion, 2 * 50_000 + 3 * TRANSFER);
    });
  }

  test('many dies on one channel: the kernel and the TypeScript clock agree past the calendar size (merged bookings)', () => {
    // 16 dies share one channel; programs and reads in a seeded order book more transfers than
    // the calendar holds, so it merges; both devices must end with the same clock.
    const geometry: NandGeometry = { pageSize: 2048, spareSize: 64, pagesPerBlock: 64, blocksPerDie: 2, diesPerChannel: 16, channels: 1 };
    const general = createNandDevice({ geometry, timing, metadataOnly: false });
    const fast = createNandDevice({ geometry, timing, metadataOnly: true });
    let state = 12345;
    const next = (): number => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state >>> 8;
    };
    const written = new Array<number>(16).fill(0);
    for (let i = 0; i < 3000; i++) {
      const die = next() % 16;
      const page = die * 2 * 64 + written[die]!;
      const program = written[die]! < 64 && next() % 3 !== 0;
      for (const nand of [general, fast]) {
        if (i % 97 === 0) nand.timing.issueAt(i * 20_000);
        if (program) nand.programPage(page, null, new Uint8Array(0));
        else nand.readPage(die * 2 * 64);
      }
      if (program) written[die]!++;
      assert.equal(fast.timing.lastCompletion, general.timing.lastCompletion, `operation ${i}`);
    }
    assert.equal(fast.timing.elapsed, general.timing.elapsed);
    assert.deepEqual(Array.from(fast.timing.dieBusy), Array.from(general.timing.dieBusy));
  });
});

describe('timing presets', () => {
  test("MQSim's defaults: 75 µs read, 750 µs program, 3.8 ms erase, 333 MT/s on 8 bits", async () => {
    const { MQSIM_TIMING, TIMING_PRESETS } = await import('../src/index.ts');
    assert.deepEqual({ ...MQSIM_TIMING }, { tR: 75_000, tPROG: 750_000, tBERS: 3_800_000, transferPerByte: 1000 / 333 });
    assert.equal(TIMING_PRESETS.mqsim, MQSIM_TIMING);
    assert.equal(TIMING_PRESETS.default, DEFAULT_TIMING);
    // An 8 KiB page and its 448-byte spare move in 8640 × 1000 / 333 ns ≈ 25.9 µs.
    const nand = createNandDevice({ geometry: { pageSize: 8192, spareSize: 448, pagesPerBlock: 4, blocksPerDie: 2, diesPerChannel: 1, channels: 1 }, timing: MQSIM_TIMING });
    nand.readPage(0);
    assert.equal(nand.timing.lastCompletion, 75_000 + (8192 + 448) * (1000 / 333));
  });
});
