import { PasarelaError } from '../../errors';
import type { ServiceProvider, TrustRegistry } from '../../trust/types';
import { NS, STATUS } from '../constants';
import { childElements, isElement, textOf } from '../xml';
import type { LightElement } from '../request-tree';
import { REQUEST_TEXT_LIMITS, tooLong } from './limits';

/**
 * Trust lookup: the Issuer is read from the received document (before anything is verified,
 * so comments and elements inside it are refused), then looked up in the trust list.
 */

export function readIssuerForLookup(root: LightElement): string {
  const first = childElements(root)[0];
  if (!first || !isElement(first, NS.saml, 'Issuer')) {
    throw new PasarelaError(
      'ERR_REQUEST_ISSUER_MISSING',
      'AuthnRequest has no saml:Issuer as its first child element; it must carry the SP entityID (SAML profiles §4.1.4.1).',
    );
  }
  const issuer = textOf(first).trim();
  if (issuer === '') throw new PasarelaError('ERR_REQUEST_ISSUER_MISSING', 'AuthnRequest saml:Issuer is empty; it must carry the SP entityID.');
  if (issuer.length > REQUEST_TEXT_LIMITS.issuer) throw tooLong('saml:Issuer', REQUEST_TEXT_LIMITS.issuer, issuer.length);
  return issuer;
}

export function lookupServiceProvider(trust: Pick<TrustRegistry, 'get'>, issuer: string): ServiceProvider {
  const found = trust.get(issuer);
  if (!found) {
    throw new PasarelaError(
      'ERR_REQUEST_UNKNOWN_SP',
      `Issuer "${issuer}" is not a registered service provider; ask the operator to add its metadata to the trust list.`,
      { status: STATUS.requester, subStatus: STATUS.requestDenied },
    );
  }
  return found;
}
