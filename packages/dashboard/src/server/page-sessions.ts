/**
 * Page sessions. Each loaded page picks a random id, sends it with every request
 * (X-Flashdiff-Session) and holds a presence stream open (GET /api/sessions/:id/presence,
 * Server-Sent Events). When a page goes away (tab closed or reloaded) and no stream of its id
 * comes back within ORPHAN_GRACE_MS, its jobs are cancelled, except those started as background
 * jobs (X-Flashdiff-Background: 1), and its uploads are deleted.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { DashboardError } from './errors.ts';
import { SECURITY_HEADERS } from './http-util.ts';

/** How long a page may be gone (a reload takes a moment) before its jobs count as orphans. */
export const ORPHAN_GRACE_MS = 5000;

export interface RequestContext {
  /** The page session the request came from, if it said. */
  readonly session: string | undefined;
  /** The page asked for the job it starts to outlive the page. */
  readonly background: boolean;
}

/** The context of the request being handled: JobManager.start reads who started a job from it. */
export const requestContext = new AsyncLocalStorage<RequestContext>();

const SESSION_ID = /^[A-Za-z0-9_-]{8,64}$/;

export function sessionIdOf(raw: string | undefined | null): string | undefined {
  if (raw === undefined || raw === null || raw === '') return undefined;
  if (!SESSION_ID.test(raw)) throw new DashboardError('BAD_REQUEST', `session id '${raw.slice(0, 80)}' is not 8 to 64 letters, digits, - or _`);
  return raw;
}

export function contextOf(req: IncomingMessage): RequestContext {
  const header = (name: string): string | undefined => {
    const v = req.headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  return { session: sessionIdOf(header('x-flashdiff-session')), background: header('x-flashdiff-background') === '1' };
}

export class PageSessions {
  private readonly streams = new Map<string, number>();
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly onOrphaned: (session: string) => void,
    readonly graceMs = ORPHAN_GRACE_MS,
  ) {}

  /** Holds the page's presence stream open until the page goes away. */
  attach(id: string, res: ServerResponse): void {
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive' });
    res.write(`retry: 1000\n\nevent: hello\ndata: {"session":${JSON.stringify(id)},"graceMs":${this.graceMs}}\n\n`);
    this.streams.set(id, (this.streams.get(id) ?? 0) + 1);
    const pending = this.timers.get(id);
    if (pending) {
      clearTimeout(pending);
      this.timers.delete(id);
    }
    // A comment line now and then keeps proxies and idle timeouts from closing the stream.
    const keepAlive = setInterval(() => res.write(': alive\n\n'), 15_000);
    keepAlive.unref();
    res.on('close', () => {
      clearInterval(keepAlive);
      const left = (this.streams.get(id) ?? 1) - 1;
      if (left > 0) {
        this.streams.set(id, left);
        return;
      }
      this.streams.delete(id);
      const timer = setTimeout(() => {
        this.timers.delete(id);
        if (!this.streams.has(id)) this.onOrphaned(id);
      }, this.graceMs);
      timer.unref();
      this.timers.set(id, timer);
    });
  }

  isPresent(id: string): boolean {
    return this.streams.has(id);
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
