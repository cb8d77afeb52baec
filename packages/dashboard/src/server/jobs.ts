import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { Worker } from 'node:worker_threads';
import type { JobEvent, JobKind, JobState, JobSummary } from '../shared/protocol.ts';
import { DashboardError } from './errors.ts';
import { SECURITY_HEADERS } from './http-util.ts';
import type { WorkerToMain } from './worker-protocol.ts';
import { requestContext } from './page-sessions.ts';

/** The worker module that runs each kind of job. */
const WORKER_MODULES: Record<JobKind, URL> = {
  'ssd-run': new URL('./workers/ssd-run.ts', import.meta.url),
  'diffusion-train': new URL('./workers/diffusion-train.ts', import.meta.url),
  'diffusion-sample': new URL('./workers/diffusion-sample.ts', import.meta.url),
  't2i-generate': new URL('./workers/t2i-generate.ts', import.meta.url),
};

/** Jobs running at once; the machine this runs on may have two cores. */
const MAX_RUNNING_JOBS = 3;
/** Finished jobs kept for late subscribers and downloads. */
const MAX_FINISHED_JOBS = 40;
/** Non-frame events kept for replay to a subscriber that connects late. */
const MAX_HISTORY = 400;
/** After a cooperative cancel, the worker is terminated if it has not stopped within this time. */
const CANCEL_GRACE_MS = 3000;

/**
 * Starts a TypeScript worker. Node 20's workers do not apply `--import tsx` from execArgv before
 * resolving the entry, so the entry is a tiny eval'd script that registers tsx's ESM hooks
 * first and then imports the real module.
 */
export function startTypeScriptWorker(module: URL, workerData: unknown): Worker {
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap =
    `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(module.href)}); })` +
    `.catch((e) => { const { parentPort } = require('node:worker_threads');` +
    ` parentPort.postMessage({ type: 'failed', error: { code: 'INTERNAL', message: 'worker failed to load: ' + (e && e.message || e) } }); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export interface JobFile {
  readonly bytes: Uint8Array;
  readonly contentType: string;
}

export class Job {
  readonly id = randomUUID();
  state: JobState = 'running';
  error: string | undefined;
  readonly startedAt = Date.now();
  private readonly history: JobEvent[] = [];
  private latestFrame: JobEvent | undefined;
  private latestProgress: JobEvent | undefined;
  private readonly subscribers = new Set<ServerResponse>();
  private readonly congested = new WeakSet<ServerResponse>();
  readonly files = new Map<string, JobFile>();
  /** Set to 1 to ask the worker to stop at its next check (it reads the flag synchronously). */
  private readonly cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  private worker: Worker | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  private readonly finishedCallbacks: (() => void)[] = [];

  constructor(
    readonly kind: JobKind,
    readonly params: unknown,
    /** The page session that started it (cancelled with it unless `background`). */
    readonly owner: string | undefined = undefined,
    readonly background = false,
  ) {}

  start(module: URL): void {
    const worker = startTypeScriptWorker(module, { kind: this.kind, params: this.params, cancelFlag: this.cancelFlag });
    this.worker = worker;
    worker.on('message', (message: WorkerToMain) => this.onWorkerMessage(message));
    worker.on('error', (e) => this.finish('failed', `worker crashed: ${e.message}`));
    worker.on('exit', (code) => {
      if (this.state === 'running') {
        if (Atomics.load(this.cancelFlag, 0) === 1) this.finish('cancelled');
        else this.finish('failed', `worker exited unexpectedly (code ${code})`);
      }
    });
  }

  private onWorkerMessage(message: WorkerToMain): void {
    switch (message.type) {
      case 'progress':
        this.emit({ type: 'progress', progress: message.progress });
        break;
      case 'frame':
        this.emit({ type: 'frame', frame: message.frame });
        break;
      case 'result':
        this.emit({ type: 'result', result: message.result });
        break;
      case 'log':
        this.emit({ type: 'log', message: message.message });
        break;
      case 'file':
        this.files.set(message.name, { bytes: message.bytes, contentType: message.contentType });
        break;
      case 'finished':
        this.finish(Atomics.load(this.cancelFlag, 0) === 1 && message.cancelled ? 'cancelled' : 'done');
        break;
      case 'failed':
        this.finish('failed', message.error.message);
        break;
    }
  }

  /** Sends a control message (e.g. SSD "step") to the worker. */
  control(message: unknown): void {
    if (this.state !== 'running' || this.worker === undefined) {
      throw new DashboardError('CONFLICT', `job ${this.id} is ${this.state}; it takes no more controls`);
    }
    this.worker.postMessage({ type: 'control', control: message });
  }

  /** Cooperative cancel (the worker checks a shared flag), then termination after a grace period. */
  cancel(): void {
    if (this.state !== 'running') return;
    Atomics.store(this.cancelFlag, 0, 1);
    this.worker?.postMessage({ type: 'cancel' });
    this.killTimer = setTimeout(() => {
      void this.worker?.terminate();
      this.finish('cancelled');
    }, CANCEL_GRACE_MS);
    this.killTimer.unref();
  }

  /** Stops the worker at once (server shutdown). */
  async terminate(): Promise<void> {
    Atomics.store(this.cancelFlag, 0, 1);
    const worker = this.worker;
    this.finish('cancelled');
    await worker?.terminate();
  }

  onFinished(callback: () => void): void {
    if (this.state !== 'running') callback();
    else this.finishedCallbacks.push(callback);
  }

  private finish(state: JobState, error?: string): void {
    if (this.state !== 'running') return;
    this.state = state;
    this.error = error;
    if (this.killTimer) clearTimeout(this.killTimer);
    this.emit({ type: 'state', state, ...(error !== undefined ? { error } : {}) });
    for (const res of this.subscribers) res.end();
    this.subscribers.clear();
    const worker = this.worker;
    this.worker = undefined;
    // The worker said it has finished; let it exit rather than linger.
    if (worker) setTimeout(() => void worker.terminate(), 200).unref();
    for (const callback of this.finishedCallbacks.splice(0)) callback();
  }

  private emit(event: JobEvent): void {
    if (event.type === 'frame') this.latestFrame = event;
    else if (event.type === 'progress') this.latestProgress = event;
    else {
      this.history.push(event);
      if (this.history.length > MAX_HISTORY) this.history.splice(0, this.history.length - MAX_HISTORY);
    }
    for (const res of this.subscribers) this.write(res, event);
  }

  private write(res: ServerResponse, event: JobEvent): void {
    // Frames may be dropped for a slow reader (the next one supersedes them); nothing else is.
    if (event.type === 'frame' && this.congested.has(res)) return;
    const ok = res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
    if (!ok) {
      this.congested.add(res);
      res.once('drain', () => this.congested.delete(res));
    }
  }

  /** Streams this job's events as Server-Sent Events, replaying what a late subscriber missed. */
  subscribe(res: ServerResponse): void {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      Connection: 'keep-alive',
    });
    res.write(`retry: 2000\n\n`);
    for (const event of this.history) if (event.type !== 'state') this.write(res, event);
    if (this.latestProgress) this.write(res, this.latestProgress);
    if (this.latestFrame) this.write(res, this.latestFrame);
    if (this.state !== 'running') {
      this.write(res, { type: 'state', state: this.state, ...(this.error !== undefined ? { error: this.error } : {}) });
      res.end();
      return;
    }
    this.subscribers.add(res);
    res.on('close', () => this.subscribers.delete(res));
  }

  describe(): JobSummary {
    const progress = this.latestProgress?.type === 'progress' ? this.latestProgress.progress : undefined;
    return {
      id: this.id,
      kind: this.kind,
      state: this.state,
      ...(this.error !== undefined ? { error: this.error } : {}),
      files: [...this.files.keys()],
      startedAt: this.startedAt,
      background: this.background,
      ...(this.owner !== undefined ? { owner: this.owner } : {}),
      ...(progress ? { progress } : {}),
    };
  }
}

/** Owns every job of one server. */
export class JobManager {
  private readonly jobs = new Map<string, Job>();

  start(kind: JobKind, params: unknown): Job {
    const running = [...this.jobs.values()].filter((j) => j.state === 'running').length;
    if (running >= MAX_RUNNING_JOBS) {
      throw new DashboardError('CONFLICT', `${running} jobs are already running; cancel one or wait for it`);
    }
    const context = requestContext.getStore();
    const job = new Job(kind, params, context?.session, context?.background ?? false);
    this.jobs.set(job.id, job);
    job.start(WORKER_MODULES[kind]);
    job.onFinished(() => this.prune());
    return job;
  }

  get(id: string): Job {
    const job = this.jobs.get(id);
    if (!job) throw new DashboardError('NOT_FOUND', `no job '${id}'`);
    return job;
  }

  list(): Job[] {
    return [...this.jobs.values()];
  }

  /** Cancels the running jobs a page session started, except background ones; returns them. */
  cancelOrphans(session: string): Job[] {
    const orphans = [...this.jobs.values()].filter((j) => j.state === 'running' && j.owner === session && !j.background);
    for (const job of orphans) job.cancel();
    return orphans;
  }

  private prune(): void {
    const finished = [...this.jobs.values()].filter((j) => j.state !== 'running');
    for (const job of finished.slice(0, Math.max(0, finished.length - MAX_FINISHED_JOBS))) this.jobs.delete(job.id);
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.jobs.values()].map((j) => j.terminate()));
  }
}
