/**
 * The simulation thread of `ssdsim run` / `ssdsim replay` (started by thread.ts): runs the one
 * scenario it is given (workerData) through runScenario and posts progress (at most every 100 ms),
 * warnings and then the report, or the error with its name and code so the main thread can
 * rebuild it. No upstream counterpart (MQSim runs its simulation on its only thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { runScenario } from './run.ts';
import type { Scenario } from './schema.ts';
import type { ThreadMessage } from './thread.ts';

const port = parentPort!;
const post = (m: ThreadMessage): void => port.postMessage(m);
const { scenario } = workerData as { scenario: Scenario };
let lastProgress = -Infinity;
try {
  const report = runScenario(scenario, {
    onProgress: (phase, done, total) => {
      const now = performance.now();
      if (now - lastProgress < 100 && done < total) return;
      lastProgress = now;
      post({ kind: 'progress', phase, done, total });
    },
    onWarning: (message) => post({ kind: 'warning', message }),
  });
  post({ kind: 'report', report });
} catch (e) {
  const err = e as { name?: unknown; code?: unknown; message?: unknown };
  post({
    kind: 'error',
    name: typeof err?.name === 'string' ? err.name : 'Error',
    ...(typeof err?.code === 'string' ? { code: err.code } : {}),
    message: typeof err?.message === 'string' ? err.message : String(e),
  });
}
