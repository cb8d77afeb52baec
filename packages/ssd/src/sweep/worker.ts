/**
 * A sweep worker thread: says it is ready once its modules are loaded, then runs the scenarios it
 * is sent, one at a time, and posts each report back (or the error's message). The compiled CLI
 * starts it from its own bundled entry (bin/build.js); run from the sources, through
 * worker-entry.js, which registers tsx first.
 */
import { parentPort } from 'node:worker_threads';
import { runScenario } from '../scenario/run.ts';
import type { Scenario } from '../scenario/schema.ts';

parentPort!.on('message', (m: { index: number; scenario: Scenario }) => {
  const started = performance.now();
  try {
    const report = runScenario(m.scenario);
    parentPort!.postMessage({ index: m.index, report, error: null, wallSeconds: (performance.now() - started) / 1000 });
  } catch (e) {
    parentPort!.postMessage({ index: m.index, report: null, error: e instanceof Error ? e.message : String(e), wallSeconds: (performance.now() - started) / 1000 });
  }
});

parentPort!.postMessage({ ready: true });
