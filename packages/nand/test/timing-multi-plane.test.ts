// Multi-plane commands on the NandClock against hand-computed completion times
// (tR 50 µs, tPROG 600 µs, tBERS 3 ms, 2.5 ns per byte: one 2048 + 64-byte page moves in 5280 ns).
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MultiPlaneGrouping, NandClock } from '../src/index.ts';

const timing = { tR: 50_000, tPROG: 600_000, tBERS: 3_000_000, transferPerByte: 2.5 };
const BYTES = 2048 + 64;
const T = 5280;

/** Two dies on one channel. */
const clock = (): NandClock => new NandClock(timing, 2, 1);

describe('multi-plane commands (NandClock)', () => {
  test('a two-plane program: two transfers, one tPROG', () => {
    const c = clock();
    assert.equal(c.programMultiPlane(0, 0, BYTES, 2), 2 * T + 600_000); // 610,560 ns
    assert.equal(c.dieFreeAt(0), 610_560);
    assert.equal(c.dieBusy[0], 610_560);
    // the same two pages one plane at a time: the second waits for the first tPROG
    const d = clock();
    d.program(0, 0, BYTES);
    assert.equal(d.program(0, 0, BYTES), 2 * (T + 600_000)); // 1,210,560 ns
  });

  test('a four-plane read: one tR, then four transfers out', () => {
    const c = clock();
    assert.equal(c.readMultiPlane(0, 0, BYTES, 4), 50_000 + 4 * T); // 71,120 ns
    assert.equal(c.lastCompletion, 71_120);
  });

  test('a multi-plane erase costs one tBERS', () => {
    const c = clock();
    assert.equal(c.eraseMultiPlane(1, 4), 3_000_000);
    assert.equal(c.dieFreeAt(0), 0);
  });

  test('another die on the channel transfers after the multi-plane command\'s transfers', () => {
    const c = clock();
    c.programMultiPlane(0, 0, BYTES, 2); // bus 0 … 10,560
    assert.equal(c.program(1, 0, BYTES), 3 * T + 600_000); // bus 10,560 … 15,840; done 615,840
    assert.equal(c.elapsed, 615_840);
  });

  test('one plane is exactly read / program / erase', () => {
    const a = clock();
    const b = clock();
    for (const at of [0, 1000, 700_000]) {
      a.issueAt(at);
      b.issueAt(at);
      assert.equal(a.programMultiPlane(0, 0, BYTES, 1), b.program(0, 0, BYTES));
      assert.equal(a.readMultiPlane(1, 0, BYTES, 1), b.read(1, 0, BYTES));
      assert.equal(a.eraseMultiPlane(1, 1), b.erase(1));
    }
    assert.deepEqual(Array.from(a.dieBusy), Array.from(b.dieBusy));
    assert.equal(a.elapsed, b.elapsed);
  });
});

describe('MultiPlaneGrouping', () => {
  const grouped = (): { c: NandClock; g: MultiPlaneGrouping } => {
    const c = clock();
    const g = new MultiPlaneGrouping(c, 2, 2);
    c.sink = g;
    return { c, g };
  };

  test('programs on two planes of a die at one issue time become one command', () => {
    const { c, g } = grouped();
    g.setPlanes(0, 0);
    c.program(0, 0, BYTES);
    assert.equal(c.lastCompletion, T + 600_000);
    g.setPlanes(0, 1);
    c.program(0, 0, BYTES);
    assert.equal(c.lastCompletion, 2 * T + 600_000); // 610,560: as programMultiPlane(…, 2)
    assert.equal(c.dieBusy[0], 610_560);
    // plane 1 again: a new command once the die is free
    c.program(0, 0, BYTES);
    assert.equal(c.lastCompletion, 610_560 + T + 600_000);
    assert.deepEqual([g.multiPlaneCommands, g.multiPlaneOperations], [1, 2]);
  });

  test('a later issue time, another kind, or the same plane opens a new command', () => {
    const { c, g } = grouped();
    g.setPlanes(0, 0);
    c.program(0, 0, BYTES); // 0 … 605,280
    c.issueAt(1000);
    g.setPlanes(0, 1);
    c.program(0, 0, BYTES); // waits for the die: bus 605,280 … 610,560, done 1,210,560
    assert.equal(c.lastCompletion, 1_210_560);
    g.setPlanes(1, 1);
    c.read(0, 0, BYTES); // a read after a program: its own command
    assert.equal(c.lastCompletion, 1_210_560 + 50_000 + T);
    assert.equal(g.multiPlaneCommands, 0);
  });

  test('operations queued behind a busy die join into one command when it is free (as MQSim\'s TSU gathers them)', () => {
    const { c, g } = grouped();
    g.setPlanes(0, 0);
    c.program(0, 0, BYTES); // 0 … 605,280
    c.issueAt(1000);
    c.program(0, 0, BYTES); // waits: dispatched at 605,280
    g.setPlanes(0, 1);
    c.issueAt(2000);
    c.program(0, 0, BYTES); // arrived before that dispatch: joins it
    assert.equal(c.lastCompletion, 605_280 + 2 * T + 600_000); // 1,215,840
    assert.equal(c.dieBusy[0], 605_280 + 2 * T + 600_000);
    assert.deepEqual([g.multiPlaneCommands, g.multiPlaneOperations], [1, 2]);
  });

  test('reads on two planes at one issue time: one tR, two transfers; erases: one tBERS', () => {
    const { c, g } = grouped();
    g.setPlanes(0, 0);
    c.read(1, 0, BYTES);
    g.setPlanes(1, 0);
    c.read(1, 0, BYTES);
    assert.equal(c.lastCompletion, 50_000 + 2 * T);
    c.issueAt(100_000);
    g.setPlanes(0, 0);
    c.erase(0);
    g.setPlanes(0, 1);
    c.erase(0);
    assert.equal(c.lastCompletion, 3_100_000);
    assert.equal(c.dieBusy[0], 3_000_000);
    assert.deepEqual([g.multiPlaneCommands, g.multiPlaneOperations], [2, 4]);
  });
});
