/**
 * Typed errors with a stable code, in the manner of panva/jose's util/errors.
 * `status`/`subStatus` say how the error travels back to an SP when it can be trusted.
 */
export class PasarelaError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly options: { status?: string; subStatus?: string; cause?: unknown } = {},
  ) {
    super(message);
    this.name = 'PasarelaError';
  }
}

/** Bad configuration: the process stops, naming the key and what was expected. */
export class ConfigError extends PasarelaError {
  constructor(readonly key: string, expected: string) {
    super('ERR_CONFIG', `configuration key "${key}": ${expected}`);
    this.name = 'ConfigError';
  }
}
