import pino, { type Logger } from 'pino';

/**
 * JSON logs. Secrets and identifiers that must never reach a log are redacted by path as a
 * second line of defence; code logs masked DNIs (citizens/nif maskDni) and never passwords.
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'pasarela' },
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
  });
}

export type { Logger };
