/**
 * Typed errors with stable codes. Every failure a caller must tell apart has its own code;
 * `retryable` says whether the same job may succeed when tried again (network, PACS down)
 * or never will (bad input). The worker turns non-retryable errors into BullMQ's
 * UnrecoverableError at its boundary (src/worker/).
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'LISTEN_FAILED'
  | 'DICOMWEB_UNREACHABLE'
  | 'DICOMWEB_HTTP_ERROR'
  | 'DICOMWEB_BAD_RESPONSE'
  | 'STOW_PARTIAL_FAILURE'
  | 'DICOM_PARSE_FAILED'
  | 'DICOM_ATTRIBUTE_MISSING'
  | 'SERIES_GEOMETRY_INCONSISTENT'
  | 'SERIES_NOT_FOUND'
  | 'SERIES_NOT_ACCEPTED'
  | 'PIXEL_DATA_UNSUPPORTED'
  | 'PIXEL_MODULE_INVALID'
  | 'DICOM_INPUT_TOO_LARGE'
  | 'MODEL_PACKAGE_INVALID'
  | 'MODEL_WEIGHTS_CHECKSUM_MISMATCH'
  | 'MODEL_RUN_FAILED'
  | 'SEGMENTATION_EMPTY'
  | 'SEG_INVALID'
  | 'SR_INVALID'
  | 'JOB_PAYLOAD_INVALID'
  | 'JOB_CANCELLED'
  | 'DESTINATION_UNKNOWN';

export class AinodeError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** What an operator should do next; shown with the message. */
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, opts: { retryable?: boolean; hint?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AinodeError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.hint = opts.hint;
  }

  /** One line for logs, job state and the admin: `CODE: message (hint)`. */
  oneLine(): string {
    return `${this.code}: ${this.message}${this.hint ? ` (next: ${this.hint})` : ''}`;
  }
}

export class ConfigError extends AinodeError {
  readonly variable: string;
  /** Every problem found, when there were several (the first is this error's own). */
  readonly problems: { variable: string; message: string }[];
  constructor(variable: string, message: string, more: { variable: string; message: string }[] = []) {
    super('CONFIG_INVALID', [`${variable}: ${message}`, ...more.map((p) => `${p.variable}: ${p.message}`)].join('; '), {
      retryable: false,
    });
    this.name = 'ConfigError';
    this.variable = variable;
    this.problems = [{ variable, message }, ...more];
  }

  /**
   * One error holding all of them (configuration is reported whole, not one problem a start),
   * ordered by variable so that a report reads the same whichever check found a problem first.
   */
  static all(errors: ConfigError[]): ConfigError {
    const problems = errors
      .flatMap((e) => e.problems)
      .sort((x, y) => (x.variable < y.variable ? -1 : x.variable > y.variable ? 1 : 0));
    return new ConfigError(problems[0].variable, problems[0].message, problems.slice(1));
  }
}

export function isAinodeError(e: unknown): e is AinodeError {
  return e instanceof AinodeError;
}

/** Describes any thrown value in one line, without dumping objects (which could hold patient data). */
export function describeError(e: unknown): string {
  if (e instanceof AinodeError) return e.oneLine();
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

/** A server that cannot listen (port taken, address not on this machine): coded, with what to change. */
export function listenError(e: unknown, host: string, port: number, variables: string): AinodeError {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  return new AinodeError('LISTEN_FAILED', `cannot listen on ${host}:${port} (${code})`, {
    retryable: false,
    hint: `free the port or change ${variables}`,
  });
}
