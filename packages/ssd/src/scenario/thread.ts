/**
 * Running a scenario on its own thread, so that `ssdsim run` and `ssdsim replay` stay
 * interruptible: the simulation (synchronous TypeScript and long WebAssembly kernel calls) runs
 * in a worker thread (thread-worker.ts) while the main thread's event loop is free to answer
 * Ctrl-C / SIGTERM (cli-kit exitOnInterrupt: temporaries removed, one stderr line, exit 130 /
 * 143; exiting terminates the worker, inside a kernel call too). Progress and warnings come back
 * as messages; an error comes back with its name and code and is rebuilt here (SsdError,
 * NandError), so the CLI's exit statuses and messages are those of an in-thread run. No upstream
 * counterpart (MQSim runs on one thread and has no interrupt handling).
 *
 * A short run stays on the main thread (runsInThread): starting a worker and loading the
 * simulation's modules into it cost ~0.1 s of a 16 GiB replay of tpcc-small's 0.45 s whole
 * process. A signal that arrives during such a run is answered when it ends (well under a second),
 * before any output is written.
 */
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { NandError, capacityBytes } from '@flashdiff/nand';
import type { NandErrorCode } from '@flashdiff/nand';
import { SsdError } from '../errors.ts';
import type { SsdErrorCode } from '../errors.ts';
import type { ScenarioReport, ScenarioRunOptions } from './run.ts';
import { scenarioGeometry } from './schema.ts';
import type { Scenario } from './schema.ts';

/** Defined by bin/build.js in the compiled CLI: the compiled thread entry, relative to this file (else thread-entry.js, through tsx). */
declare const SSDSIM_THREAD_ENTRY: string | undefined;
const THREAD_ENTRY = typeof SSDSIM_THREAD_ENTRY === 'string' ? SSDSIM_THREAD_ENTRY : './thread-entry.js';

/** What the simulation thread posts. */
export type ThreadMessage =
  | { kind: 'progress'; phase: 'precondition' | 'measure'; done: number; total: number }
  | { kind: 'warning'; message: string }
  | { kind: 'report'; report: ScenarioReport }
  | { kind: 'error'; name: string; code?: string; message: string };

/** The thread's error as the class it was thrown as (SsdError and NandError keep their codes). */
function rebuild(m: Extract<ThreadMessage, { kind: 'error' }>): Error {
  if (m.name === 'SsdError' && m.code !== undefined) return new SsdError(m.code as SsdErrorCode, m.message);
  if (m.name === 'NandError' && m.code !== undefined) return new NandError(m.code as NandErrorCode, m.message);
  const e = new Error(m.message) as Error & { code?: string };
  e.name = m.name;
  if (m.code !== undefined) e.code = m.code;
  return e;
}

/** A trace file at most this large is a short run (tpcc-small 190 KiB, wsrch-small 670 KiB: 7,000 and 24,800 requests). */
export const IN_THREAD_TRACE_BYTES = 1 << 20;
/** ... on a device of at most this many bytes (MQSim's default ssdconfig is 512 GiB). */
export const IN_THREAD_DEVICE_BYTES = 2 ** 40;

/**
 * Whether `ssdsim` runs scenario `s` on its main thread: a trace replay of a trace file of at most
 * {@link IN_THREAD_TRACE_BYTES}, on a device of at most {@link IN_THREAD_DEVICE_BYTES}, with nothing
 * or a sequential fill written first (the fill is ~0.05 s at 512 GiB; a steady state's or a random
 * fill's writes are not). Everything else runs on a worker (runScenarioThread). SSDSIM_WORKER=always
 * puts every run on a worker (to compare the two).
 */
export function runsInThread(s: Scenario, env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.SSDSIM_WORKER === 'always') return false;
  const w = s.workload;
  if (w.kind !== 'trace') return false;
  if (s.precondition.state !== 'none' && s.precondition.state !== 'sequential') return false;
  if (capacityBytes(scenarioGeometry(s)) > IN_THREAD_DEVICE_BYTES) return false;
  try {
    return statSync(w.path).size <= IN_THREAD_TRACE_BYTES;
  } catch {
    // Unreadable: the worker's run reports it, as it always has.
    return false;
  }
}

/**
 * runScenario on the main thread (a short run: runsInThread), the simulation's modules loaded
 * only now. Then one turn of the event loop before the report is handed back: a Ctrl-C or SIGTERM
 * that came during the run is answered there (exitOnInterrupt), before any output is written.
 */
export async function runScenarioHere(s: Scenario, options: Pick<ScenarioRunOptions, 'onProgress' | 'onWarning'> = {}): Promise<ScenarioReport> {
  const { runScenario } = await import('./run.ts');
  const report = runScenario(s, options);
  await new Promise<void>((resolve) => setImmediate(resolve));
  return report;
}

/** runScenario on a worker thread: the same report, progress and warnings, the same errors. */
export function runScenarioThread(s: Scenario, options: Pick<ScenarioRunOptions, 'onProgress' | 'onWarning'> = {}): Promise<ScenarioReport> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL(THREAD_ENTRY, import.meta.url), { workerData: { scenario: s } });
    let settled = false;
    const settle = (f: () => void): void => {
      if (settled) return;
      settled = true;
      f();
    };
    worker.on('message', (m: ThreadMessage) => {
      if (m.kind === 'progress') options.onProgress?.(m.phase, m.done, m.total);
      else if (m.kind === 'warning') options.onWarning?.(m.message);
      else if (m.kind === 'report') settle(() => resolve(m.report));
      else settle(() => reject(rebuild(m)));
    });
    worker.on('error', (e) => settle(() => reject(e)));
    worker.on('exit', (code) => settle(() => reject(new Error(`internal error: the simulation thread exited (${code}) without a report`))));
  });
}
