import { PasarelaError } from '../../errors';
import type { ServiceProvider } from '../../trust/types';
import { inboundSignatureAlgorithm, verifySignature } from '../algorithms';
import type { RedirectSignature } from '../bindings';
import { STATUS } from '../constants';
import { algorithmRefusal, signingKeysFor } from './signature';

/** HTTP-Redirect: one verify over the query octets exactly as received (SAML bindings §3.4.4.1). */

export function verifyRedirectSignature(sig: RedirectSignature, sp: ServiceProvider): void {
  const alg = inboundSignatureAlgorithm(sig.sigAlg, sp.policy.allowSha1);
  if (!alg) throw algorithmRefusal(sig.sigAlg, sp.policy.allowSha1, 'SigAlg', 'ERR_REQUEST_SIGALG');
  const keys = signingKeysFor(alg, sp);
  if (!keys.some((k) => verifySignature(alg, sig.signedOctets, k, sig.value))) {
    throw new PasarelaError(
      'ERR_REQUEST_SIGNATURE_INVALID',
      'The HTTP-Redirect signature does not verify with any signing key in the SP metadata. It must be computed over the query octets ' +
        '"SAMLRequest=<value>&RelayState=<value>&SigAlg=<value>" exactly as sent (URL-encoded, RelayState only when present).',
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }
}
