/** The one error class of @flashdiff/cli-kit; `code` is a closed union. */
export const CLI_ERROR_CODES = [
  /** A command line the tool cannot act on: bad flag, missing argument (exit status 2). */
  'USAGE',
  /** A directory for an output file cannot be created (a path under /proc, a file in the way, no permission). */
  'CANNOT_CREATE_DIRECTORY',
  /** An output file could not be written (ENOSPC, EACCES, …); the previous file is untouched. */
  'WRITE_FAILED',
] as const;
export type CliErrorCode = (typeof CLI_ERROR_CODES)[number];

export class CliError extends Error {
  readonly code: CliErrorCode;
  constructor(code: CliErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CliError';
    this.code = code;
  }
}

export function isCliError(e: unknown, code?: CliErrorCode): e is CliError {
  return e instanceof CliError && (code === undefined || e.code === code);
}
