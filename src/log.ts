import { AsyncLocalStorage } from 'node:async_hooks';
import pino, { type Logger } from 'pino';

/**
 * The request being served (app.ts sets it after pino-http gave the request its id): every line
 * logged while serving it, through any logger (the broker's, an authenticator's), carries
 * `reqId`, the id the citizen sees on an error page and in X-Request-Id.
 */
export const requestContext = new AsyncLocalStorage<{ id: string }>();

/**
 * JSON logs. Secrets and identifiers that must never reach a log are redacted by path as a
 * second line of defence; code logs masked DNIs (citizens/nif maskDni) and never passwords.
 * To standard output, or to `destination` (tests read the lines).
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: 'pasarela' },
    mixin: () => {
      const ctx = requestContext.getStore();
      return ctx ? { reqId: ctx.id } : {};
    },
    redact: {
      paths: [
        'password',
        '*.password',
        'pin',
        '*.pin',
        'otp',
        '*.otp',
        'dni',
        '*.dni',
        'req.headers.cookie',
        'req.headers.authorization',
        'res.headers["set-cookie"]',
        'SAMLRequest',
        'SAMLResponse',
      ],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}

export type { Logger };
