import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { NandClock } from '../src/index.ts';
import { FaultRandom } from '../src/random.ts';
import type { NandTimingParams } from '../src/index.ts';

// NandClock.copybackRun must leave every die, channel and total exactly as the 2·count calls
// read(), program(), read(), program() … it stands for: it has a closed form for whole-ns
// timings, so the cases below mix whole and fractional latencies, issue times that are ahead of
// and behind the die, and a channel kept busy by another die.

function state(clock: NandClock, dies: number): unknown {
  return {
    busy: Array.from(clock.dieBusy),
    free: Array.from({ length: dies }, (_, d) => clock.dieFreeAt(d)),
    last: clock.lastCompletion,
    elapsed: clock.elapsed,
    now: clock.now,
  };
}

describe('NandClock.copybackRun', () => {
  const DIES = 2;
  const CHANNELS = 1;
  const cases: { name: string; params: NandTimingParams; bytes: number }[] = [
    { name: 'default whole-ns timings', params: { tR: 50_000, tPROG: 600_000, tBERS: 3_000_000, transferPerByte: 2.5 }, bytes: 4224 },
    { name: 'half-ns transfer (odd record size × 2.5)', params: { tR: 50_000, tPROG: 600_000, tBERS: 3_000_000, transferPerByte: 2.5 }, bytes: 2113 },
    { name: 'fractional latencies', params: { tR: 0.1, tPROG: 0.7, tBERS: 3, transferPerByte: 0.3 }, bytes: 33 },
    { name: 'zero latencies', params: { tR: 0, tPROG: 0, tBERS: 0, transferPerByte: 0 }, bytes: 100 },
    { name: 'a transfer longer than the program', params: { tR: 10, tPROG: 5, tBERS: 100, transferPerByte: 1 }, bytes: 64 },
  ];
  for (const { name, params, bytes } of cases) {
    test(`equals read + program per page: ${name}`, () => {
      // The package's own seeded generator (sfc32), as a plain float source for the cases.
      const generator = new FaultRandom(7, 0);
      const random = (): number => generator.nextFloat();
      const run = new NandClock(params, DIES, CHANNELS);
      const calls = new NandClock(params, DIES, CHANNELS);
      for (let round = 0; round < 200; round++) {
        const action = random();
        if (action < 0.2) {
          // the host issues later (sometimes a fractional time)
          const at = calls.now + Math.floor(random() * 2_000_000) + (random() < 0.3 ? 0.25 : 0);
          run.issueAt(at);
          calls.issueAt(at);
        } else if (action < 0.4) {
          // the other die keeps the shared channel busy
          const other = random() < 0.5 ? 1 : 0;
          if (random() < 0.5) {
            run.read(other, 0, bytes);
            calls.read(other, 0, bytes);
          } else {
            run.program(other, 0, bytes);
            calls.program(other, 0, bytes);
          }
        } else if (action < 0.45) {
          run.erase(0);
          calls.erase(0);
        } else {
          const count = Math.floor(random() * 70);
          let done = calls.lastCompletion;
          for (let i = 0; i < count; i++) {
            calls.read(0, 0, bytes);
            done = calls.program(0, 0, bytes);
          }
          const returned = run.copybackRun(0, 0, bytes, count);
          if (count > 0) assert.equal(returned, done, `round ${round}: completion of a run of ${count}`);
        }
        assert.deepEqual(state(run, DIES), state(calls, DIES), `round ${round}`);
      }
    });
  }

  test('a run far out in time (sums near 2^53) still matches', () => {
    const params = { tR: 50_000, tPROG: 600_000, tBERS: 3_000_000, transferPerByte: 2.5 };
    const run = new NandClock(params, 1, 1);
    const calls = new NandClock(params, 1, 1);
    const at = 2 ** 53 - 5_000_000_000;
    run.issueAt(at);
    calls.issueAt(at);
    for (let i = 0; i < 40; i++) {
      calls.read(0, 0, 4224);
      calls.program(0, 0, 4224);
    }
    run.copybackRun(0, 0, 4224, 40);
    assert.deepEqual(state(run, 1), state(calls, 1));
  });
});
