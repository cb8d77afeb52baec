import type { IncomingMessage } from 'node:http';

/**
 * Cross-origin and DNS-rebinding defence for a server bound to loopback.
 *
 * A page on another site can make the browser send requests to 127.0.0.1 (CSRF), and a hostile
 * DNS name can be re-pointed at 127.0.0.1 so that the browser treats our server as that site's
 * own origin (DNS rebinding). Both are refused:
 * - the Host header must name the loopback address and our port (a rebinding attack carries the
 *   attacker's host name there);
 * - an Origin header, when present (browsers send it on every POST and on cross-origin fetches),
 *   must be exactly our own origin.
 */
export interface OriginPolicy {
  /** Accepted Host header values, e.g. "127.0.0.1:5178", "localhost:5178". */
  readonly hosts: ReadonlySet<string>;
  /** Accepted Origin header values, e.g. "http://127.0.0.1:5178". */
  readonly origins: ReadonlySet<string>;
}

export function loopbackPolicy(port: number): OriginPolicy {
  const hosts = [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
  return {
    hosts: new Set(hosts),
    origins: new Set(hosts.map((h) => `http://${h}`)),
  };
}

/** Returns null when the request may proceed, or the reason it is refused. */
export function checkRequestOrigin(req: IncomingMessage, policy: OriginPolicy): string | null {
  const host = (req.headers.host ?? '').toLowerCase();
  if (!policy.hosts.has(host)) return `Host '${host || '(none)'}' is not this server's loopback address`;
  const origin = req.headers.origin;
  if (origin !== undefined && !policy.origins.has(origin.toLowerCase())) {
    return `Origin '${origin}' is not this server's origin`;
  }
  // Fetch metadata: a browser marks requests that another site started.
  const site = req.headers['sec-fetch-site'];
  if (site === 'cross-site' || site === 'same-site') {
    // Navigations to the page itself (typing the URL) are 'none'; only refuse API calls so
    // that a link from elsewhere still opens the page.
    if ((req.url ?? '').startsWith('/api/')) return `request from another site (Sec-Fetch-Site: ${site})`;
  }
  return null;
}
