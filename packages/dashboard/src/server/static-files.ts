import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';
import { SECURITY_HEADERS } from './http-util.ts';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * Page policy: scripts and styles only from this origin; images also from blob:/data: (the
 * page draws generated PNGs); fetch/SSE only back to this origin.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Serves the built client; unknown paths without an extension get index.html. */
export async function serveStatic(req: IncomingMessage, res: ServerResponse, buildDir: string): Promise<boolean> {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const url = new URL(req.url ?? '/', 'http://localhost');
  let relative: string;
  try {
    relative = decodeURIComponent(url.pathname);
  } catch {
    return false;
  }
  if (relative.endsWith('/')) relative += 'index.html';
  const path = normalize(join(buildDir, relative));
  if (!path.startsWith(buildDir.endsWith(sep) ? buildDir : buildDir + sep)) return false; // path traversal
  let file = path;
  try {
    const s = await stat(file);
    if (s.isDirectory()) file = join(file, 'index.html');
  } catch {
    if (extname(relative) !== '') return false;
    file = join(buildDir, 'index.html');
  }
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch {
    return false;
  }
  const type = MIME[extname(file)] ?? 'application/octet-stream';
  // Vite puts a content hash in asset names, so those may be cached for ever; the page not.
  const immutable = file.includes(`${sep}assets${sep}`);
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': bytes.length,
    'Cache-Control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    ...(type.startsWith('text/html') ? { 'Content-Security-Policy': CONTENT_SECURITY_POLICY } : {}),
  });
  res.end(req.method === 'HEAD' ? undefined : bytes);
  return true;
}
