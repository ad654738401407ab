import { PasarelaError } from '../../errors';
import type { ServiceProvider } from '../../trust/types';
import { decodePost, decodeRedirect, type DecodedPost, type DecodedRedirect } from '../bindings';
import { STATUS } from '../constants';
import type { AcsEndpoint, SamlRequestFailure } from '../types';
import { parseRequestXml } from '../xml';
import type { LightElement } from '../request-tree';
import { selectAcs } from './acs';
import { checkTrustedRequest } from './checks';
import { MAX_MESSAGE_LENGTH } from './limits';
import { requestRoot, scanDocument } from './scan';
import { unsigned } from './signature';
import { verifyPostSignature } from './signature-post';
import { verifyRedirectSignature } from './signature-redirect';
import { readAuthnRequest, type ParsedAuthnRequest } from './structure';
import { traced } from './trace';
import { lookupServiceProvider, readIssuerForLookup } from './trust';
import type { InboundAuthnRequestMessage, ReceiveAuthnRequestOptions, ReceiveAuthnRequestResult } from './types';

/**
 * Intake of an SP's AuthnRequest: binding decode, one parse, a structural allow-list on the
 * parsed DOM (no schema validator per call), trust lookup, signature verification against the
 * SP's metadata keys only, ACS selection, then the checks whose failures may be answered with
 * a SAML error Response because the SP and the ACS are trusted.
 *
 * One stage per file, in the order they run:
 *   scan.ts                 root element, duplicate IDs, nested requests, where XML-DSig elements sit
 *   trust.ts                Issuer (read before anything is verified) -> trust-list entry
 *   signature-redirect.ts   HTTP-Redirect: one verify over the raw query octets
 *   signature-post.ts       HTTP-POST: the ds:Signature allow-list, then the enveloped signature on
 *                           this same DOM (one exc-c14n of each part, one digest, one verify)
 *   structure.ts            the allow-list walk over the request and the extraction of its values
 *   acs.ts                  the ACS, only from the SP's metadata
 *   checks.ts               the respondable checks: Destination, time, NameIDPolicy, LoA, attributes
 *   (replay)                last, so that a request refused for another reason does not burn its ID
 */

export { selectAcs } from './acs';
export { CLAVE_EXCLUSION_ATTRIBUTES, SUPPORTED_ATTRIBUTES } from './checks';
export { REQUEST_TEXT_LIMITS } from './limits';
export { parseSamlInstant } from './structure';
export type {
  IntakeCheck,
  InboundAuthnRequestMessage,
  ReceiveAuthnRequestOptions,
  ReceiveAuthnRequestResult,
  ReceiveMessage,
  ReceiveOptions,
  ReceiveResult,
} from './types';

export async function receiveAuthnRequest(
  msg: InboundAuthnRequestMessage,
  opts: ReceiveAuthnRequestOptions,
): Promise<ReceiveAuthnRequestResult> {
  const t = opts.trace;
  // Stage 1: nothing is trusted yet. Failures here go to an error page, never to the SP.
  let decoded: DecodedRedirect | DecodedPost;
  let sp: ServiceProvider;
  let parsed: ParsedAuthnRequest;
  let acs: AcsEndpoint;
  try {
    decoded = traced(t, 'binding', () => (msg.binding === 'redirect' ? decodeRedirect(msg.rawQuery, opts.limits) : decodePost(msg.form, opts.limits)));
    const d = decoded;
    const root = traced(t, 'xml', () => requestRoot(parseRequestXml(d.xml, { maxBytes: opts.limits?.maxXmlBytes })));
    const scan = traced(t, 'document', () => scanDocument(root));
    const signatures = scan.signatures;
    const issuer = traced(t, 'issuer', () => readIssuerForLookup(root));
    sp = traced(t, 'trust-list', () => lookupServiceProvider(opts.trust, issuer));
    const trusted = sp;
    const signatureRequired = sp.policy.requireSignedRequests || sp.authnRequestsSigned;
    traced(t, 'signature', () => verifySignatureOf(d, root, signatures, scan, trusted, signatureRequired));
    parsed = traced(t, 'structure', () => readAuthnRequest(root));
    if (parsed.issuer !== issuer) {
      // Cannot happen with an enveloped signature over the root; kept as a tripwire.
      throw new PasarelaError('ERR_REQUEST_SIGNED_ISSUER_MISMATCH', 'The signed AuthnRequest names a different Issuer than the received one.');
    }
    const p = parsed;
    acs = traced(t, 'acs', () => selectAcs(trusted.acs, p));
  } catch (err) {
    if (err instanceof PasarelaError) return { ok: false, failure: toFailure(err) };
    throw err;
  }

  // Stage 2: the SP is trusted and the ACS is one of its metadata endpoints: failures may be answered there.
  const respondTo: NonNullable<SamlRequestFailure['respondTo']> = {
    spEntityId: sp.entityId,
    acs,
    inResponseTo: parsed.id,
    ...(decoded.relayState !== undefined ? { relayState: decoded.relayState } : {}),
  };
  try {
    const request = checkTrustedRequest(parsed, decoded, sp, acs, opts);
    // Replay last: a request refused for another reason must not burn its ID.
    const ttlMs = (opts.maxRequestAgeSeconds + 2 * opts.clockSkewSeconds) * 1000;
    const first = await opts.replay(`req:${parsed.issuer}:${parsed.id}`, ttlMs);
    const id = parsed.id;
    traced(t, 'replay', () => {
      if (!first) {
        throw new PasarelaError('ERR_REQUEST_REPLAY', `AuthnRequest ID "${id}" was already received; every AuthnRequest needs a fresh ID.`, {
          status: STATUS.requester,
          subStatus: STATUS.requestDenied,
        });
      }
    });
    return { ok: true, request, sp };
  } catch (err) {
    if (err instanceof PasarelaError) return { ok: false, failure: { ...toFailure(err), respondTo } };
    throw err;
  }
}

/** The binding's signature: over the raw query octets (Redirect) or enveloped on this DOM (POST); only metadata keys verify. */
function verifySignatureOf(
  decoded: DecodedRedirect | DecodedPost,
  root: LightElement,
  signatures: LightElement[],
  scan: ReturnType<typeof scanDocument>,
  sp: ServiceProvider,
  signatureRequired: boolean,
): void {
  if (decoded.binding === 'redirect') {
    if (signatures.length > 0) {
      throw new PasarelaError(
        'ERR_REQUEST_REDIRECT_ENVELOPED_SIGNATURE',
        'An HTTP-Redirect AuthnRequest must not contain a ds:Signature; sign the query string (SigAlg and Signature parameters) instead.',
      );
    }
    if (decoded.signature) verifyRedirectSignature(decoded.signature, sp);
    else if (signatureRequired) throw unsigned(sp, 'redirect');
  } else {
    if (signatures.length > 1) {
      throw new PasarelaError(
        'ERR_REQUEST_SIGNATURE_COUNT',
        `AuthnRequest contains ${signatures.length} ds:Signature elements; exactly one enveloped signature over the AuthnRequest is accepted.`,
      );
    }
    const signature = signatures[0];
    // On success the root is the signed node itself (Signature and unsigned comments removed).
    if (signature) verifyPostSignature(root, signature, scan, sp);
    else if (signatureRequired) throw unsigned(sp, 'post');
  }
}

function toFailure(err: PasarelaError): SamlRequestFailure {
  return {
    code: err.code,
    message: err.message.length > MAX_MESSAGE_LENGTH ? `${err.message.slice(0, MAX_MESSAGE_LENGTH - 1)}…` : err.message,
    status: err.options.status ?? STATUS.requester,
    ...(err.options.subStatus !== undefined ? { subStatus: err.options.subStatus } : {}),
  };
}
