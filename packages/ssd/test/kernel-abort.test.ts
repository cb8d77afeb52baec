// A trap inside the WebAssembly kernel (an unreachable() that the checks before a kernel call
// should have ruled out) reaches the caller as SsdError KERNEL_ABORT naming the operation, not as
// a raw WebAssembly.RuntimeError (src/errors.ts rethrowKernelAbort, called around each kernel
// entry point). Driven here through the kernel's own API: the kernel replay started on a replay
// that its pre-replay check (replayKernelBlocker) refuses — a pool runs out of free blocks, and
// the kernel's GC stops where src/ftl/ would throw NO_SPACE. No upstream counterpart.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { NandGeometry } from '@flashdiff/nand';
import { SsdError, SsdSimulator, fitToDevice, isSsdError, loadTrace, preconditionSimulator, rethrowKernelAbort } from '../src/index.ts';
import type { TraceRequest } from '../src/index.ts';
import type { TransactionScheduler } from '../src/scheduler.ts';
import { replayInKernel, replayKernelBlocker } from '../src/simulator/replay-kernel.ts';
import type { KernelReplayHost } from '../src/simulator/replay-kernel.ts';
import { MQSIM_HOST } from './replay-comparison.ts';

const traceDir = fileURLToPath(new URL('./fixtures/traces/', import.meta.url));
const tpcc = loadTrace(`${traceDir}mqsim-tpcc-small.trace`).requests;
const geometry: NandGeometry = { pageSize: 8192, spareSize: 448, pagesPerBlock: 256, blocksPerDie: 4 * 4, diesPerChannel: 2, channels: 2, planesPerDie: 4 };

/** The simulator's kernel replay host (private to SsdSimulator: its replay() builds it the same way). */
function hostOf(sim: SsdSimulator): KernelReplayHost {
  const inside = sim as unknown as { scheduler: TransactionScheduler; kernelReplayHost(s: TransactionScheduler): KernelReplayHost };
  return inside.kernelReplayHost(inside.scheduler);
}

describe('kernel aborts are typed', () => {
  test('the kernel replay stopped by a trap throws SsdError KERNEL_ABORT naming the replay', () => {
    const sim = new SsdSimulator({ ...MQSIM_HOST, geometry });
    preconditionSimulator(sim, { state: 'sequential', occupancy: 0.9, seed: 321 });
    const one = fitToDevice(tpcc, sim.userPages * 8192).requests;
    const requests: TraceRequest[] = [];
    for (let k = 0; k < 4; k++) for (const r of one) requests.push({ ...r, arrivalNs: r.arrivalNs + k * 2e10 });
    const host = hostOf(sim);
    // The check refuses it (so replay() would run it in TypeScript, which throws NO_SPACE or copes)…
    assert.match(String(replayKernelBlocker(host, { dataCache: false, backgroundGc: false }, requests)), /would fill die|free blocks/);
    // …and the kernel, started anyway, stops on its unreachable().
    assert.throws(
      () => replayInKernel(host, requests),
      (e: unknown) => {
        assert.ok(isSsdError(e, 'KERNEL_ABORT'), `an SsdError KERNEL_ABORT, got ${String(e)}`);
        assert.match(e.message, /the WebAssembly kernel stopped during the kernel trace replay \(\d+ requests/);
        assert.match(e.message, /unreachable/);
        assert.ok(e.cause instanceof WebAssembly.RuntimeError, 'the trap is kept as the cause');
        return true;
      },
    );
  });

  test('rethrowKernelAbort: a trap becomes KERNEL_ABORT, anything else is rethrown as it was', () => {
    const trap = new WebAssembly.RuntimeError('unreachable');
    assert.throws(() => rethrowKernelAbort('a test operation', trap), (e: unknown) => e instanceof SsdError && e.code === 'KERNEL_ABORT' && /during a test operation \(unreachable\)/.test(e.message));
    const other = new RangeError('not a trap');
    assert.throws(() => rethrowKernelAbort('a test operation', other), (e: unknown) => e === other);
    const typed = new SsdError('NO_SPACE', 'full');
    assert.throws(() => rethrowKernelAbort('a test operation', typed), (e: unknown) => e === typed);
  });
});
