/** The closed set of error codes of @flashdiff/dashboard, each with the HTTP status it maps to. */
export const DASHBOARD_ERROR_STATUS = {
  /** A request body or parameter is malformed or out of range. */
  BAD_REQUEST: 400,
  /** The request's Origin or Host header is not this server's own (cross-origin / DNS rebinding). */
  FORBIDDEN: 403,
  /** No such route, job, image, file or checkpoint. */
  NOT_FOUND: 404,
  /** The path exists, under other methods. */
  METHOD_NOT_ALLOWED: 405,
  /** A request body stopped arriving before it was complete. */
  TIMEOUT: 408,
  /** The request is valid but conflicts with the current state (e.g. a finished job). */
  CONFLICT: 409,
  /** An upload is larger than the server accepts, or there are too many uploads at once. */
  TOO_LARGE: 413,
  /** The server's disk, or the image written to, is full: nothing of the request was kept. */
  NO_SPACE: 507,
  /** A package API the request needs is not available (yet). */
  UNAVAILABLE: 501,
  /** The package under the request failed; the message is the package's own. */
  OPERATION_FAILED: 422,
  /** Building the client bundle failed. */
  BUILD_FAILED: 500,
  /** Anything else: a bug. */
  INTERNAL: 500,
} as const;

export type DashboardErrorCode = keyof typeof DASHBOARD_ERROR_STATUS;

/** The one error class of this package; `code` says what happened and fixes the HTTP status. */
export class DashboardError extends Error {
  readonly code: DashboardErrorCode;
  constructor(code: DashboardErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'DashboardError';
    this.code = code;
  }
  get status(): number {
    return DASHBOARD_ERROR_STATUS[this.code];
  }
}

export function isDashboardError(e: unknown, code?: DashboardErrorCode): e is DashboardError {
  return e instanceof DashboardError && (code === undefined || e.code === code);
}

/**
 * Turns anything thrown by a package into a DashboardError. Package errors carry a `code`
 * (SsdError, Yaffs2Error, DiffusionError, NandError); they are the user's problem (bad input,
 * full image), not the server's, so they map to OPERATION_FAILED with the package's message.
 */
export function toDashboardError(e: unknown): DashboardError {
  if (e instanceof DashboardError) return e;
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) {
      return new DashboardError('OPERATION_FAILED', `${e.name} ${code}: ${e.message}`, { cause: e });
    }
    return new DashboardError('INTERNAL', e.message, { cause: e });
  }
  return new DashboardError('INTERNAL', String(e));
}
