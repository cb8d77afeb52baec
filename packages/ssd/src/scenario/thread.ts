/**
 * Running a scenario on its own thread, so that `ssdsim run` and `ssdsim replay` stay
 * interruptible: the simulation (synchronous TypeScript and long WebAssembly kernel calls) runs
 * in a worker thread (thread-worker.ts) while the main thread's event loop is free to answer
 * Ctrl-C / SIGTERM (cli-kit exitOnInterrupt: temporaries removed, one stderr line, exit 130 /
 * 143; exiting terminates the worker, inside a kernel call too). Progress and warnings come back
 * as messages; an error comes back with its name and code and is rebuilt here (SsdError,
 * NandError), so the CLI's exit statuses and messages are those of an in-thread run. No upstream
 * counterpart (MQSim runs on one thread and has no interrupt handling).
 */
import { Worker } from 'node:worker_threads';
import { NandError } from '@flashdiff/nand';
import type { NandErrorCode } from '@flashdiff/nand';
import { SsdError } from '../errors.ts';
import type { SsdErrorCode } from '../errors.ts';
import type { ScenarioReport, ScenarioRunOptions } from './run.ts';
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
