/**
 * One error class for the whole package, carrying a closed `code` union
 * (the fflate habit: an `as const` table of codes, one class).
 */
export const DiffusionErrorCodes = [
  'INVALID_CONFIG', // a config object has an unknown option or an out-of-range value
  'INVALID_ARGUMENT', // a function was called with arguments that break its contract
  'SHAPE_MISMATCH', // tensors or arrays do not have the shapes the operation needs
  'CHECKPOINT_CORRUPT', // a checkpoint file is truncated, malformed or inconsistent
  'CHECKPOINT_MISSING', // a checkpoint directory lacks a file it needs
  'DATA_INVALID', // an input data set (npy, png folder, labels) is malformed
  'BACKEND_UNAVAILABLE', // the requested tensor backend cannot be loaded
  'CANCELLED', // a long operation was stopped through its AbortSignal
] as const;

export type DiffusionErrorCode = (typeof DiffusionErrorCodes)[number];

export class DiffusionError extends Error {
  readonly code: DiffusionErrorCode;
  constructor(code: DiffusionErrorCode, message: string) {
    super(message);
    this.name = 'DiffusionError';
    this.code = code;
  }
}

/** Throws INVALID_CONFIG when `value` is not one of `allowed` (string-literal options fail loudly). */
export function checkOption<T extends string>(what: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new DiffusionError('INVALID_CONFIG', `${what}: unknown option ${JSON.stringify(value)} (expected one of ${allowed.join(', ')})`);
  }
  return value as T;
}

/** Throws INVALID_CONFIG when a plain-data config carries keys the reader does not know. */
export function checkKnownKeys(what: string, config: object, known: readonly string[]): void {
  for (const key of Object.keys(config)) {
    if (!known.includes(key)) throw new DiffusionError('INVALID_CONFIG', `${what}: unknown option "${key}" (known: ${known.join(', ')})`);
  }
}
