import { PasarelaError } from '../../errors';
import { BINDING } from '../constants';
import type { AcsEndpoint } from '../types';

/**
 * Choose the ACS from the SP's metadata. Only HTTP-POST endpoints qualify; a URL must match a
 * metadata location exactly. Never an endpoint the metadata does not list.
 */
export function selectAcs(
  endpoints: readonly AcsEndpoint[],
  req: { acsUrl?: string; acsIndex?: number; protocolBinding?: string },
): AcsEndpoint {
  if (req.protocolBinding !== undefined && req.protocolBinding !== BINDING.post) {
    throw new PasarelaError(
      'ERR_REQUEST_PROTOCOL_BINDING',
      `ProtocolBinding "${req.protocolBinding}" is not supported; responses are only sent with ${BINDING.post}.`,
    );
  }
  const posts = endpoints.filter((e) => e.binding === BINDING.post);
  if (req.acsUrl !== undefined && req.acsIndex !== undefined) {
    throw new PasarelaError(
      'ERR_REQUEST_ACS_AMBIGUOUS',
      'AuthnRequest carries both AssertionConsumerServiceURL and AssertionConsumerServiceIndex; send one of them (SAML core §3.4.1).',
    );
  }
  if (req.acsUrl !== undefined) {
    const hit = posts.find((e) => e.location === req.acsUrl);
    if (!hit) {
      throw new PasarelaError(
        'ERR_REQUEST_ACS_URL_UNKNOWN',
        `AssertionConsumerServiceURL "${req.acsUrl}" is not an HTTP-POST AssertionConsumerService in the SP metadata` +
          (posts.length ? ` (registered: ${posts.map((e) => e.location).join(', ')}).` : '.'),
      );
    }
    return hit;
  }
  if (req.acsIndex !== undefined) {
    const hit = endpoints.find((e) => e.index === req.acsIndex);
    if (!hit) {
      throw new PasarelaError(
        'ERR_REQUEST_ACS_INDEX_UNKNOWN',
        `AssertionConsumerServiceIndex ${req.acsIndex} does not exist in the SP metadata.`,
      );
    }
    if (hit.binding !== BINDING.post) {
      throw new PasarelaError(
        'ERR_REQUEST_ACS_INDEX_BINDING',
        `AssertionConsumerService index ${req.acsIndex} uses ${hit.binding}; responses are only sent with ${BINDING.post}.`,
      );
    }
    return hit;
  }
  const byIndex = [...posts].sort((x, y) => x.index - y.index);
  const chosen = byIndex.find((e) => e.isDefault) ?? byIndex[0];
  if (!chosen) {
    throw new PasarelaError('ERR_REQUEST_ACS_NONE', 'The SP metadata lists no HTTP-POST AssertionConsumerService to send the response to.');
  }
  return chosen;
}
