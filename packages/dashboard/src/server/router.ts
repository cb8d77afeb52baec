import type { IncomingMessage, ServerResponse } from 'node:http';

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

  /** Finds the route; `methodMismatch` is true when the path exists under another method. */
  match(method: string, pathname: string): { handler: RouteHandler<S>; params: Record<string, string> } | { methodMismatch: boolean } {
    let methodMismatch = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(pathname);
      if (!m) continue;
      if (route.method !== method) {
        methodMismatch = true;
        continue;
      }
      const params: Record<string, string> = {};
      route.keys.forEach((key, i) => {
        params[key] = decodeURIComponent(m[i + 1] ?? '');
      });
      return { handler: route.handler, params };
    }
    return { methodMismatch };
  }
}
