/** The closed set of error codes thrown by @flashdiff/ssd. */
export const SSD_ERROR_CODES = [
  /** A configuration value is out of range or inconsistent (bad OP, unknown policy, spare too small…). */
  'INVALID_CONFIG',
  /** A logical page number lies outside the user capacity. */
  'OUT_OF_RANGE',
  /** A data buffer has the wrong length. */
  'BUFFER_SIZE',
  /** No free block can be produced: every block is full of valid data (or retired). */
  'NO_SPACE',
  /** The device lost power mid-operation; call `recover()` before anything else. */
  'POWER_LOSS',
  /** A page read came back uncorrectable or failed its CRC: data would be wrong. */
  'READ_FAILED',
  /** A trace line is malformed; the message names the file and line. */
  'TRACE_PARSE',
  /** A trace file cannot be read. */
  'TRACE_IO',
  /** A trace has no requests (the CLI's --allow-empty makes it a warning). */
  'TRACE_EMPTY',
  /** A trace's arrival times go backwards; the message names the line (the CLI's --sort sorts it). */
  'TRACE_ORDER',
] as const;
export type SsdErrorCode = (typeof SSD_ERROR_CODES)[number];

/** The one error class of this package; `code` says what happened. */
export class SsdError extends Error {
  readonly code: SsdErrorCode;
  constructor(code: SsdErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SsdError';
    this.code = code;
  }
}

/** True when `e` is an SsdError, optionally with the given code. */
export function isSsdError(e: unknown, code?: SsdErrorCode): e is SsdError {
  return e instanceof SsdError && (code === undefined || e.code === code);
}
