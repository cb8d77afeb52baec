import type { IncomingMessage, ServerResponse } from 'node:http';
import { DashboardError } from './errors.ts';

export interface RouteContext<S> {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly url: URL;
  readonly params: Readonly<Record<string, string>>;
  readonly state: S;
}

export type RouteHandler<S> = (context: RouteContext<S>) => Promise<void> | void;

interface Route<S> {
  readonly method: string;
  readonly pattern: RegExp;
  readonly keys: readonly string[];
  readonly handler: RouteHandler<S>;
}

/** A minimal method + path router; `:name` segments become params. */
export class Router<S> {
  private readonly routes: Route<S>[] = [];

  add(method: string, path: string, handler: RouteHandler<S>): this {
    const keys: string[] = [];
    const source = path
      .split('/')
      .map((segment) => {
        if (segment.startsWith(':')) {
          keys.push(segment.slice(1));
          return '([^/]+)';
        }
        return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      })
      .join('/');
    this.routes.push({ method, pattern: new RegExp(`^${source}$`), keys, handler });
    return this;
  }

  /**
   * Finds the route; `methodMismatch` is true when the path exists under another method, and
   * `allowed` lists those methods (the 405 answer's Allow header). A parameter with bad
   * %-encoding is the client's error: BAD_REQUEST (400), not a server fault.
   */
  match(method: string, pathname: string): { handler: RouteHandler<S>; params: Record<string, string> } | { methodMismatch: boolean; allowed: string[] } {
    const allowed: string[] = [];
    for (const route of this.routes) {
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      if (route.method !== method) {
        allowed.push(route.method);
        continue;
      }
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        try {
          params[key] = decodeURIComponent(m[i + 1] ?? '');
        } catch {
          throw new DashboardError('BAD_REQUEST', `${pathname}: malformed %-encoding in '${key}'`);
        }
      });
      return { handler: route.handler, params };
    }
    return { methodMismatch: allowed.length > 0, allowed };
  }
}
