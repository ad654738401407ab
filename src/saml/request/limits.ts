import { PasarelaError } from '../../errors';

/** The longest AuthnRequest ID accepted. */
export const MAX_ID_LENGTH = 256;
/**
 * Caps on the free text a request carries into the login transaction (kept in the store for
 * its whole life): without them one request parks up to 256 KiB there (issue: 1,000 requests
 * with a 240 KiB ProviderName held 520 MiB for 30 minutes).
 */
export const REQUEST_TEXT_LIMITS = {
  /** Cl@ve ProviderName is "<sp code>;<application>", e.g. "s0711001h_a04013511;MiApp". */
  providerName: 256,
  /** Our trust list stores entityIDs up to 1024 characters. */
  issuer: 1024,
  requestedAttributes: 32,
  attributeName: 256,
  friendlyName: 128,
  valuesPerAttribute: 4,
  attributeValue: 256,
} as const;
/** Failure messages echo parts of the request; an error page never carries more than this. */
export const MAX_MESSAGE_LENGTH = 1000;

export function tooLong(what: string, max: number, actual: number): PasarelaError {
  return new PasarelaError('ERR_REQUEST_TOO_LONG', `${what} is ${actual} characters long; at most ${max} are accepted.`);
}
