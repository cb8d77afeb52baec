import { parentPort, workerData } from 'node:worker_threads';
import type { ProgressEvent } from '../shared/protocol.ts';
import { toDashboardError } from './errors.ts';

/** Messages from a job's worker thread to the server's main thread. */
export type WorkerToMain =
  | { readonly type: 'progress'; readonly progress: ProgressEvent }
  | { readonly type: 'frame'; readonly frame: unknown }
  | { readonly type: 'result'; readonly result: unknown }
  | { readonly type: 'log'; readonly message: string }
  | { readonly type: 'file'; readonly name: string; readonly bytes: Uint8Array; readonly contentType: string }
  | { readonly type: 'finished'; readonly cancelled: boolean }
  | { readonly type: 'failed'; readonly error: { readonly code: string; readonly message: string } };

/** What a worker module gets: its parameters, a way to report, and the cancel flag. */
export interface WorkerContext<P> {
  readonly params: P;
  progress(done: number, total: number, message: string): void;
  frame(frame: unknown): void;
  result(result: unknown): void;
  log(message: string): void;
  file(name: string, bytes: Uint8Array, contentType: string): void;
  /** True once the job was cancelled; long loops check it between units of work. */
  cancelled(): boolean;
  /** Registers the handler for control messages (e.g. SSD "step"). */
  onControl(handler: (control: unknown) => void): void;
  /** Lets queued control messages in (awaits one turn of the event loop). */
  yieldToEvents(): Promise<void>;
}

/** Thrown inside a worker to stop quietly after a cancel. */
export class JobCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'JobCancelled';
  }
}

/**
 * Runs one job body inside a worker thread and reports its outcome. Errors thrown by the
 * packages become a `failed` message with the package's own code and message.
 */
export function runWorkerJob<P>(body: (context: WorkerContext<P>) => Promise<void>): void {
  const port = parentPort;
  if (!port) throw new Error('runWorkerJob must run in a worker thread');
  const data = workerData as { params: P; cancelFlag: Int32Array };
  let controlHandler: ((control: unknown) => void) | undefined;
  const post = (message: WorkerToMain, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);
  port.on('message', (message: { type: string; control?: unknown }) => {
    if (message.type === 'control') controlHandler?.(message.control);
  });
  const context: WorkerContext<P> = {
    params: data.params,
    progress: (done, total, message) => post({ type: 'progress', progress: { done, total, message } }),
    frame: (frame) => post({ type: 'frame', frame }),
    result: (result) => post({ type: 'result', result }),
    log: (message) => post({ type: 'log', message }),
    file: (name, bytes, contentType) => post({ type: 'file', name, bytes, contentType }),
    cancelled: () => Atomics.load(data.cancelFlag, 0) === 1,
    onControl: (handler) => {
      controlHandler = handler;
    },
    yieldToEvents: () => new Promise((resolve) => setImmediate(resolve)),
  };
  body(context).then(
    () => {
      post({ type: 'finished', cancelled: context.cancelled() });
      port.close();
    },
    (e: unknown) => {
      if (e instanceof JobCancelled || context.cancelled()) post({ type: 'finished', cancelled: true });
      else {
        const error = toDashboardError(e);
        post({ type: 'failed', error: { code: error.code, message: error.message } });
      }
      port.close();
    },
  );
}
