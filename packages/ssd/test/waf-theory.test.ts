// Uniform random writes after preconditioning: FIFO victim selection follows the Lambert-W
// formula WA = α / (α + W₀(−α·e^(−α))) (α = physical / user pages), greedy stays at or below it.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SsdSimulator, lambertWaf } from '../src/index.ts';
import type { GcPolicy } from '../src/index.ts';

// One die, 2048 blocks × 32 pages: big enough that the few open/reserve blocks barely change the
// effective OP, small enough to run in about a second per point.
const geometry = { pageSize: 4096, spareSize: 64, pagesPerBlock: 32, blocksPerDie: 2048, diesPerChannel: 1, channels: 1 };

function measure(op: number, gcPolicy: GcPolicy): number {
  const sim = new SsdSimulator({ geometry, ftl: { overProvisioning: op, gcPolicy }, workload: { kind: 'uniform', seed: 7 } });
  sim.precondition();
  sim.run(2 * sim.userPages); // warm-up: reach the steady state
  sim.startMeasurement();
  return sim.run(3 * sim.userPages).waf;
}

describe('WAF under uniform random writes vs the Lambert-W formula', () => {
  for (const op of [0.07, 0.125, 0.2, 0.28, 0.5]) {
    test(`OP ${op}: FIFO within 3% of Lambert-W, greedy at or below it`, () => {
      const theory = lambertWaf(op);
      const fifo = measure(op, 'fifo');
      const greedy = measure(op, 'greedy');
      assert.ok(Math.abs(fifo - theory) / theory < 0.03, `FIFO WAF ${fifo.toFixed(3)} vs Lambert-W ${theory.toFixed(3)}`);
      assert.ok(greedy <= theory, `greedy WAF ${greedy.toFixed(3)} above Lambert-W ${theory.toFixed(3)}`);
      assert.ok(greedy < fifo, `greedy ${greedy.toFixed(3)} should beat FIFO ${fifo.toFixed(3)}`);
    });
  }

  test('the formula reproduces the FACTS table', () => {
    const table: [number, number][] = [[0.07, 7.82], [0.125, 4.68], [0.2, 3.19], [0.28, 2.48], [0.5, 1.72]];
    for (const [op, wa] of table) assert.ok(Math.abs(lambertWaf(op) - wa) < 0.006, `OP ${op}: ${lambertWaf(op)}`);
  });
});
