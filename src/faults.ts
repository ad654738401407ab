import { PasarelaError } from './errors';
import { STATUS } from './saml/constants';

/**
 * Backing services that can go away under a running broker (Redis, PostgreSQL). Their failures
 * become one typed error each, so the web layer answers 503 (and, when the SP's ACS is already
 * validated, a signed Responder error to it) instead of a 500, and /metrics counts them.
 */
export type Backend = 'store' | 'database';

export const STORE_UNAVAILABLE = 'ERR_STORE_UNAVAILABLE';
export const DATABASE_UNAVAILABLE = 'ERR_DB_UNAVAILABLE';

/** The SAML status an SP gets when a backing service fails mid-login: our fault, not its. */
export const UNAVAILABLE_STATUS = { status: STATUS.responder } as const;

export function storeUnavailable(cause: unknown): PasarelaError {
  const why = cause instanceof Error ? cause.message : String(cause);
  return new PasarelaError(STORE_UNAVAILABLE, `the session store (Redis) is unavailable: ${why}`, { ...UNAVAILABLE_STATUS, cause });
}

/** Connection-level failures of the PostgreSQL driver (pg) and of typeorm's pool: not SQL errors. */
const PG_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EPIPE', 'EAI_AGAIN']);
// SQLSTATE class 08 (connection exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now), 53300 (too many connections).
const PG_SQLSTATE = /^(08...|57P0[1-3]|53300)$/;
const PG_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|connect ECONNREFUSED|Query read timeout|the database system is (starting up|shutting down)/i;

/** Which backing service (if any) this error says is unreachable. */
export function unavailableBackend(err: unknown): Backend | undefined {
  if (err instanceof PasarelaError) {
    if (err.code === STORE_UNAVAILABLE) return 'store';
    if (err.code === DATABASE_UNAVAILABLE) return 'database';
  }
  // typeorm wraps driver errors (QueryFailedError keeps `driverError`); look one level down too.
  for (const e of [err, (err as { driverError?: unknown } | null)?.driverError, (err as { cause?: unknown } | null)?.cause]) {
    if (!e || typeof e !== 'object') continue;
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (PG_CONNECTION_CODES.has(code) || PG_SQLSTATE.test(code))) return 'database';
    const message = (e as { message?: unknown }).message;
    if (typeof message === 'string' && PG_MESSAGES.test(message)) return 'database';
  }
  return undefined;
}

/** Resolve with `p`, or with `fallback` after `ms` (probes that must never hang /readyz). */
export function withTimeout<T>(p: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.catch(() => fallback),
    new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(fallback), ms);
      timer.unref();
    }),
  ]).finally(() => clearTimeout(timer));
}
