import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiErrorBody } from '../shared/protocol.ts';
import { DashboardError, toDashboardError } from './errors.ts';

/** Largest request body accepted (uploads of traces, images and files). */
export const MAX_BODY_BYTES = 256 * 1024 * 1024;
/** Largest JSON body accepted. */
export const MAX_JSON_BYTES = 1024 * 1024;

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'X-Frame-Options': 'DENY',
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, e: unknown): void {
  const error = toDashboardError(e);
  const body: ApiErrorBody = { error: { code: error.code, message: error.message } };
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, error.status, body);
}

export function sendBytes(
  res: ServerResponse,
  bytes: Uint8Array,
  contentType: string,
  downloadName?: string,
  extraHeaders: Record<string, string> = {},
): void {
  const headers: Record<string, string | number> = {
    ...SECURITY_HEADERS,
    'Content-Type': contentType,
    'Content-Length': bytes.byteLength,
    ...extraHeaders,
  };
  if (downloadName !== undefined) {
    // RFC 6266: an ASCII fallback plus the UTF-8 name (RFC 5987 encoding).
    const ascii = downloadName.replace(/[^\x20-\x7e]|["\\]/g, '_');
    headers['Content-Disposition'] = `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(downloadName)}`;
  }
  res.writeHead(200, headers);
  res.end(bytes);
}

export { SECURITY_HEADERS };

/** A request body that stops arriving for this long is abandoned (408). */
export const BODY_IDLE_TIMEOUT_MS = 30_000;

/**
 * Feeds a request body to `onChunk` as it arrives (awaiting it: backpressure), refusing more
 * than `limit` bytes (413) and a body that sends nothing for `idleMs` (408). Returns the size.
 * On an error the rest of the body is not read and the connection is closed after the answer.
 */
export async function receiveBody(
  req: IncomingMessage,
  res: ServerResponse | undefined,
  onChunk: (chunk: Buffer) => Promise<void> | void,
  limit = MAX_BODY_BYTES,
  idleMs = BODY_IDLE_TIMEOUT_MS,
): Promise<number> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  try {
    if (Number.isFinite(declared) && declared > limit) {
      throw new DashboardError('TOO_LARGE', `request body of ${declared} bytes is over the ${limit}-byte limit`);
    }
    const chunks = req[Symbol.asyncIterator]();
    let size = 0;
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const idle = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new DashboardError('TIMEOUT', `request body: nothing arrived for ${idleMs / 1000} s`)), idleMs);
      });
      let next: IteratorResult<unknown>;
      try {
        next = await Promise.race([chunks.next(), idle]);
      } finally {
        clearTimeout(timer);
      }
      if (next.done) return size;
      const buffer = next.value as Buffer;
      size += buffer.length;
      if (size > limit) throw new DashboardError('TOO_LARGE', `request body is over the ${limit}-byte limit`);
      await onChunk(buffer);
    }
  } catch (e) {
    // The unread rest of the body would otherwise keep the connection busy.
    if (res && !res.headersSent) res.setHeader('Connection', 'close');
    throw e;
  }
}

/** Reads a whole (small) request body into memory, with receiveBody's limits. */
export async function readBody(req: IncomingMessage, limit = MAX_BODY_BYTES, res?: ServerResponse): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await receiveBody(req, res, (chunk) => {
    chunks.push(chunk);
  }, limit);
  return Buffer.concat(chunks);
}

/** The media type of a Content-Type header, without parameters, lower case ("application/json"). */
export function mediaType(header: string | undefined): string {
  return (header ?? '').split(';')[0]!.trim().toLowerCase();
}

/** Reads and parses a JSON object body (400 on anything else). */
export async function readJson(req: IncomingMessage, res?: ServerResponse): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  // Compared exactly (parameters such as charset aside): "application/jsonp" is not JSON.
  if (mediaType(type) !== 'application/json') {
    // Requiring JSON also keeps plain HTML forms (which cannot send it) out.
    throw new DashboardError('BAD_REQUEST', `expected Content-Type application/json, got '${type || 'none'}'`);
  }
  const body = await readBody(req, MAX_JSON_BYTES, res);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8') || '{}');
  } catch (e) {
    throw new DashboardError('BAD_REQUEST', `request body is not JSON: ${(e as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new DashboardError('BAD_REQUEST', 'request body must be a JSON object');
  }
  return parsed as Record<string, unknown>;
}

/** Field readers that throw BAD_REQUEST naming the field. */
export const field = {
  number(o: Record<string, unknown>, name: string, fallback?: number, min = -Infinity, max = Infinity): number {
    const v = o[name] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new DashboardError('BAD_REQUEST', `${name}: expected a number, got ${JSON.stringify(v)}`);
    if (v < min || v > max) throw new DashboardError('BAD_REQUEST', `${name}: ${v} is outside [${min}, ${max}]`);
    return v;
  },
  integer(o: Record<string, unknown>, name: string, fallback?: number, min = -Infinity, max = Infinity): number {
    const v = field.number(o, name, fallback, min, max);
    if (!Number.isInteger(v)) throw new DashboardError('BAD_REQUEST', `${name}: expected an integer, got ${v}`);
    return v;
  },
  string(o: Record<string, unknown>, name: string, fallback?: string): string {
    const v = o[name] ?? fallback;
    if (typeof v !== 'string') throw new DashboardError('BAD_REQUEST', `${name}: expected a string, got ${JSON.stringify(v)}`);
    return v;
  },
  oneOf<T extends string>(o: Record<string, unknown>, name: string, allowed: readonly T[], fallback?: T): T {
    const v = field.string(o, name, fallback);
    if (!(allowed as readonly string[]).includes(v)) {
      throw new DashboardError('BAD_REQUEST', `${name}: '${v}' is not one of ${allowed.join(', ')}`);
    }
    return v as T;
  },
  boolean(o: Record<string, unknown>, name: string, fallback?: boolean): boolean {
    const v = o[name] ?? fallback;
    if (typeof v !== 'boolean') throw new DashboardError('BAD_REQUEST', `${name}: expected true or false, got ${JSON.stringify(v)}`);
    return v;
  },
};
