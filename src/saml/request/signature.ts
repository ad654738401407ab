import type { KeyObject } from 'node:crypto';
import { PasarelaError } from '../../errors';
import type { ServiceProvider } from '../../trust/types';
import { inboundSignatureAlgorithm, keyFits, type SignatureAlgorithm } from '../algorithms';
import { SIG_ALG, STATUS } from '../constants';

/** What both bindings' signature checks share: the allow-list refusal, the SP's keys, the unsigned refusal. */

export function unsigned(sp: ServiceProvider, binding: 'redirect' | 'post'): PasarelaError {
  const how =
    binding === 'redirect'
      ? 'sign the query string (SigAlg and Signature parameters, SAML bindings §3.4.4.1)'
      : 'include an enveloped ds:Signature right after saml:Issuer';
  return new PasarelaError(
    'ERR_REQUEST_UNSIGNED',
    `AuthnRequests from "${sp.entityId}" must be signed (${sp.authnRequestsSigned ? 'AuthnRequestsSigned="true" in its metadata' : 'operator policy'}); ${how}.`,
    { status: STATUS.requester, subStatus: STATUS.requestDenied },
  );
}

function allowedAlgorithms(allowSha1: boolean): string {
  return Object.values(SIG_ALG)
    .filter((u) => inboundSignatureAlgorithm(u, allowSha1))
    .join(', ');
}

export function algorithmRefusal(uri: string, allowSha1: boolean, what: string, code: string): PasarelaError {
  const reason = /hmac/i.test(uri)
    ? 'HMAC signatures are never accepted'
    : /sha1$/i.test(uri)
      ? 'SHA-1 is refused unless the operator enables allowSha1 for this SP'
      : 'it is not on the allow-list';
  return new PasarelaError(code, `${what} "${uri}" is not accepted (${reason}). Accepted: ${allowedAlgorithms(allowSha1)}.`);
}

export function signingKeysFor(alg: SignatureAlgorithm, sp: ServiceProvider): KeyObject[] {
  if (sp.signingKeys.length === 0) {
    throw new PasarelaError(
      'ERR_REQUEST_NO_SIGNING_KEY',
      `The metadata of "${sp.entityId}" has no signing certificate, so its signed AuthnRequests cannot be verified; publish a KeyDescriptor use="signing".`,
    );
  }
  const keys = sp.signingKeys.filter((k) => keyFits(alg, k));
  if (keys.length === 0) {
    throw new PasarelaError(
      'ERR_REQUEST_NO_SIGNING_KEY',
      `No signing key in the metadata of "${sp.entityId}" fits ${alg.uri} (${alg.keyType === 'ec' ? 'an EC' : 'an RSA'} key is needed).`,
    );
  }
  return keys;
}
