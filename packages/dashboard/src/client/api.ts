import type { ApiErrorBody, JobEvent, JobState, ProgressEvent } from '../shared/protocol.ts';

/** An error answered by the server (or a network failure), with the server's code. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

type Body = unknown;

/**
 * This page's session id, sent with every request: the server cancels the jobs a page started
 * (and deletes its uploads) when the page has been gone for a few seconds, unless a job was
 * started as a background job (see openPresence).
 */
export const PAGE_SESSION: string = crypto.randomUUID();

/** Holds the page's presence stream open: its closing (tab closed, reload) tells the server the page went away. */
export function openPresence(): EventSource {
  return new EventSource(`api/sessions/${PAGE_SESSION}/presence`);
}

async function parseError(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = (await response.json()) as ApiErrorBody;
    if (body?.error) {
      code = body.error.code;
      message = body.error.message;
    }
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(response.status, code, message);
}

export interface SendOptions {
  /** Start the job as a background job: it keeps running when this page is closed. */
  readonly background?: boolean;
}

async function send(method: string, path: string, body?: Body, query?: Record<string, string>, options: SendOptions = {}): Promise<Response> {
  const url = new URL(path, window.location.href);
  for (const [k, v] of Object.entries(query ?? {})) url.searchParams.set(k, v);
  const init: RequestInit = { method, headers: { 'X-Flashdiff-Session': PAGE_SESSION, ...(options.background ? { 'X-Flashdiff-Background': '1' } : {}) } };
  if (body instanceof Blob || body instanceof ArrayBuffer || body instanceof Uint8Array) {
    init.body = body as BodyInit;
    (init.headers as Record<string, string>)['Content-Type'] = 'application/octet-stream';
  } else if (body !== undefined) {
    init.body = JSON.stringify(body);
    (init.headers as Record<string, string>)['Content-Type'] = 'application/json';
  }
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'NETWORK', `cannot reach the dashboard server (${(e as Error).message}); is npm start still running?`);
  }
  if (!response.ok) throw await parseError(response);
  return response;
}

/** Calls a JSON API route. */
export async function api<T>(method: string, path: string, body?: Body, query?: Record<string, string>, options?: SendOptions): Promise<T> {
  const response = await send(method, path, body, query, options);
  return (await response.json()) as T;
}

/** Fetches bytes (downloads). */
export async function apiBytes(path: string, query?: Record<string, string>): Promise<Blob> {
  return (await send('GET', path, undefined, query)).blob();
}

export interface JobHandlers {
  onProgress?(progress: ProgressEvent): void;
  onFrame?(frame: unknown): void;
  onResult?(result: unknown): void;
  onLog?(message: string): void;
  /** Called once with the final state. */
  onEnd?(state: JobState, error?: string): void;
}

/** Follows a job's Server-Sent Events until it ends; returns a function that stops listening. */
export function followJob(id: string, handlers: JobHandlers): () => void {
  const source = new EventSource(`api/jobs/${encodeURIComponent(id)}/events`);
  let ended = false;
  const end = (state: JobState, error?: string): void => {
    if (ended) return;
    ended = true;
    source.close();
    handlers.onEnd?.(state, error);
  };
  const parse = (e: MessageEvent): JobEvent => JSON.parse(e.data as string) as JobEvent;
  source.addEventListener('progress', (e) => {
    const event = parse(e as MessageEvent);
    if (event.type === 'progress') handlers.onProgress?.(event.progress);
  });
  source.addEventListener('frame', (e) => {
    const event = parse(e as MessageEvent);
    if (event.type === 'frame') handlers.onFrame?.(event.frame);
  });
  source.addEventListener('result', (e) => {
    const event = parse(e as MessageEvent);
    if (event.type === 'result') handlers.onResult?.(event.result);
  });
  source.addEventListener('log', (e) => {
    const event = parse(e as MessageEvent);
    if (event.type === 'log') handlers.onLog?.(event.message);
  });
  source.addEventListener('state', (e) => {
    const event = parse(e as MessageEvent);
    if (event.type === 'state' && event.state !== 'running') end(event.state, event.error);
  });
  source.onerror = () => {
    // EventSource reconnects by itself; check whether the job is gone or finished.
    if (ended) return;
    api<{ state: JobState; error?: string }>('GET', `api/jobs/${encodeURIComponent(id)}`).then(
      (job) => {
        if (job.state !== 'running') end(job.state, job.error);
      },
      // A server that does not answer is lost, not a cancelled job: say so.
      (err: unknown) => end('failed', err instanceof ApiError && err.code === 'NETWORK' ? 'lost the dashboard server (is npm start still running?); the job’s state is unknown' : `lost the job's event stream: ${(err as Error).message}`),
    );
  };
  return () => {
    ended = true;
    source.close();
  };
}

export function cancelJob(id: string): Promise<unknown> {
  return api('POST', `api/jobs/${encodeURIComponent(id)}/cancel`);
}

export function base64ToBytes(text: string): Uint8Array {
  const binary = atob(text);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** Decodes base64 into a typed array view of the given kind (little-endian, as the server wrote it). */
export function base64ToUint16(text: string): Uint16Array {
  const bytes = base64ToBytes(text);
  return new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 1);
}

export function base64ToUint32(text: string): Uint32Array {
  const bytes = base64ToBytes(text);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength >> 2);
}

/** Triggers a browser download of a blob. */
export function saveBlob(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
