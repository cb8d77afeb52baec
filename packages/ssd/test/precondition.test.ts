// Preconditioning states: occupancy, sequential vs random fill, steady state and its criterion.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SsdSimulator } from '../src/index.ts';
import { preconditionSimulator, steadyStateReached } from '../src/precondition.ts';

const geometry = { pageSize: 4096, spareSize: 128, pagesPerBlock: 16, blocksPerDie: 32, diesPerChannel: 1, channels: 2 };
const sim = () => new SsdSimulator({ geometry, ftl: { overProvisioning: 0.25 }, snapshotEvery: 0 });

function mapped(s: SsdSimulator): number[] {
  const out: number[] = [];
  for (let lba = 0; lba < s.userPages; lba++) if (s.ftl.read(lba) === 'mapped') out.push(lba);
  return out;
}

describe('preconditioning', () => {
  test('sequential to an occupancy: the first LBAs valid, WAF 1', () => {
    const s = sim();
    const r = preconditionSimulator(s, { state: 'sequential', occupancy: 0.5, seed: 1 });
    const valid = Math.round(0.5 * s.userPages);
    assert.equal(r.validPages, valid);
    assert.deepEqual(mapped(s), Array.from({ length: valid }, (_, i) => i));
    assert.equal(r.hostPageWrites, valid);
    assert.equal(r.waf, 1);
    s.ftl.checkConsistency();
  });
  test('full sequential fill is the simulator precondition (every LBA once)', () => {
    const s = sim();
    const r = preconditionSimulator(s, { state: 'sequential', occupancy: 1, seed: 1 });
    assert.equal(r.hostPageWrites, s.userPages);
    assert.equal(mapped(s).length, s.userPages);
  });
  test('random to an occupancy: as many valid pages, spread over the LBA space, seeded', () => {
    const a = sim();
    const r = preconditionSimulator(a, { state: 'random', occupancy: 0.7, seed: 3 });
    const lbas = mapped(a);
    assert.equal(lbas.length, r.validPages);
    assert.equal(r.validPages, Math.round(0.7 * a.userPages));
    assert.ok(lbas.at(-1)! > r.validPages, 'not just the first LBAs');
    const b = sim();
    preconditionSimulator(b, { state: 'random', occupancy: 0.7, seed: 3 });
    assert.deepEqual(mapped(b), lbas);
    const c = sim();
    preconditionSimulator(c, { state: 'random', occupancy: 0.7, seed: 4 });
    assert.notDeepEqual(mapped(c), lbas);
  });
  test('steady state: overwrites until the window WAF settles; the criterion is reported', () => {
    const s = sim();
    const r = preconditionSimulator(s, { state: 'steady', occupancy: 0.9, seed: 1, steady: { windowWrites: 200, rounds: 5, tolerance: 0.1, maxWrites: 40_000 } });
    assert.ok(r.steady);
    assert.equal(r.steady.settled, true);
    assert.ok(steadyStateReached(r.steady.windowWaf, 5, 0.1));
    assert.equal(steadyStateReached(r.steady.windowWaf.slice(0, -1), 5, 0.1), false, 'stops at the first settled window');
    assert.match(r.steady.criterion, /last 5 windows of 200/);
    assert.ok(r.waf > 1, 'GC ran');
    assert.equal(r.hostPageWrites, r.validPages + r.steady.overwrites);
    assert.equal(mapped(s).length, r.validPages);
    // The measured window starts after it: the run's WAF counts only the run.
    const report = s.run(1000);
    assert.equal(report.hostPageWrites, 1000);
    s.ftl.checkConsistency();
  });
  test('steady state gives up after maxWrites and says so', () => {
    const s = sim();
    const r = preconditionSimulator(s, { state: 'steady', occupancy: 0.9, seed: 1, steady: { windowWrites: 100, rounds: 50, tolerance: 0.01, maxWrites: 1000 } });
    assert.equal(r.steady!.settled, false);
    assert.equal(r.steady!.overwrites, 1000);
  });
  test('the steady-state test: flat windows pass, a trend or a spread fails', () => {
    assert.equal(steadyStateReached([2, 2, 2, 2, 2], 5, 0.1), true);
    assert.equal(steadyStateReached([1.6, 1.7, 1.8, 1.9, 2.0], 5, 0.1), false);
    assert.equal(steadyStateReached([2, 2.5, 2, 2.5, 2], 5, 0.1), false);
    assert.equal(steadyStateReached([2, 2], 5, 0.1), false);
  });
  test('none: nothing written', () => {
    const s = sim();
    const r = preconditionSimulator(s, { state: 'none', occupancy: 1, seed: 1 });
    assert.equal(r.hostPageWrites, 0);
    assert.equal(mapped(s).length, 0);
  });
});
