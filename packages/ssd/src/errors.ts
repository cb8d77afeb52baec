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
  /**
   * The WebAssembly kernel stopped mid-operation (a trap: an `unreachable()` its caller's checks
   * should have ruled out, an access outside its memory); the message names the operation. A bug,
   * not bad input: the simulator's tables are left as the kernel had them, so discard it.
   */
  'KERNEL_ABORT',
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

/**
 * Rethrows what a WebAssembly kernel call threw: a trap (WebAssembly.RuntimeError) as an SsdError
 * KERNEL_ABORT naming `operation` (the trap kept as its cause), anything else as it was. Called in
 * the catch around each kernel entry point (the kernel boundary), so that no raw RuntimeError
 * reaches a user.
 */
export function rethrowKernelAbort(operation: string, e: unknown): never {
  if (e instanceof WebAssembly.RuntimeError) {
    throw new SsdError(
      'KERNEL_ABORT',
      `the WebAssembly kernel stopped during ${operation} (${e.message}); the checks before it should have left this to TypeScript, so this is a bug in the simulator — the simulator's state is undefined now; please report it with the scenario or command (a scenario with ftl.wasmKernel: false runs without the kernel)`,
      { cause: e },
    );
  }
  throw e;
}

/** True when `e` is an SsdError, optionally with the given code. */
export function isSsdError(e: unknown, code?: SsdErrorCode): e is SsdError {
  return e instanceof SsdError && (code === undefined || e.code === code);
}
