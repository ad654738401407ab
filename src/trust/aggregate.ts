import { X509Certificate } from 'node:crypto';
import { XMLSerializer } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { PasarelaError } from '../errors';
import { NS } from '../saml/constants';
import { childElements, isElement, parseXml } from '../saml/xml';

/**
 * A signed metadata aggregate (eduGAIN-style md:EntitiesDescriptor): its signature must verify
 * against the operator's pinned certificate, the signature must cover the whole document (a
 * Reference to the root, nothing else), and the root must carry a validUntil in the future.
 * Only what the signature covers is used: the entities are read from xml-crypto's signed
 * reference (re-parsed with the broker's parser), never from the document as received, so no
 * unsigned element can be slipped in beside the signed ones (signature wrapping).
 */

export interface AggregateEntity {
  entityId: string;
  /** The EntityDescriptor on its own, with validUntil set to the earlier of its own and the aggregate's. */
  xml: string;
}

export interface VerifiedAggregate {
  validUntil: Date;
  entities: AggregateEntity[];
}

export interface AggregateOptions {
  pinnedCertPem: string;
  now?: Date;
  maxBytes: number;
}

function fail(code: string, message: string, cause?: unknown): never {
  throw new PasarelaError(code, `metadata aggregate: ${message}`, { cause });
}

function wrapParse(xml: string, maxBytes: number): Document {
  try {
    // Aggregates nest EntitiesDescriptors and carry deep mdui/mdattr extensions: a little more depth.
    return parseXml(xml, { maxBytes, maxDepth: 96 });
  } catch (err) {
    if (err instanceof PasarelaError) return fail(err.code, err.message, err);
    throw err;
  }
}

function validUntilOf(el: Element): Date | undefined {
  const v = el.getAttribute('validUntil');
  if (v === null || v === '') return undefined;
  const d = new Date(/(Z|[+-]\d{2}:\d{2})$/.test(v) ? v : `${v}Z`);
  if (Number.isNaN(d.getTime())) return fail('ERR_METADATA_VALID_UNTIL', `${el.localName}/@validUntil "${v}" is not an xs:dateTime`);
  return d;
}

export function verifyAggregate(xml: string, options: AggregateOptions): VerifiedAggregate {
  const now = options.now ?? new Date();
  let pinned: X509Certificate;
  try {
    pinned = new X509Certificate(options.pinnedCertPem);
  } catch (err) {
    return fail('ERR_AGGREGATE_PIN', `the pinned certificate cannot be read (${(err as Error).message})`, err);
  }
  const received = wrapParse(xml, options.maxBytes);
  const root = received.documentElement;
  if (!isElement(root, NS.md, 'EntitiesDescriptor')) {
    return fail('ERR_AGGREGATE_ROOT', `root element is {${root.namespaceURI ?? ''}}${root.localName}; expected md:EntitiesDescriptor`);
  }
  const sigs = childElements(root).filter((c) => isElement(c, NS.ds, 'Signature'));
  if (sigs.length === 0) return fail('ERR_AGGREGATE_UNSIGNED', 'the aggregate is not signed (no ds:Signature on its root)');
  if (sigs.length > 1) return fail('ERR_AGGREGATE_SIGNATURE', 'the aggregate root carries more than one ds:Signature');

  const verifier = new SignedXml({ publicCert: pinned.toString(), getCertFromKeyInfo: () => null });
  let ok = false;
  try {
    verifier.loadSignature(sigs[0]!);
    ok = verifier.checkSignature(xml);
  } catch (err) {
    return fail('ERR_AGGREGATE_SIGNATURE', `the signature does not verify against the pinned certificate "${pinned.subject}" (${(err as Error).message})`, err);
  }
  if (!ok) return fail('ERR_AGGREGATE_SIGNATURE', `the signature does not verify against the pinned certificate "${pinned.subject}"`);
  const refs = verifier.getReferences();
  const rootId = root.getAttribute('ID') ?? '';
  if (refs.length !== 1 || !(refs[0]!.uri === '' || (rootId !== '' && refs[0]!.uri === `#${rootId}`))) {
    return fail('ERR_AGGREGATE_SIGNATURE', 'the signature must cover the whole aggregate (one Reference to its root)');
  }
  const signed = verifier.getSignedReferences();
  if (signed.length !== 1) return fail('ERR_AGGREGATE_SIGNATURE', 'the signature must cover the whole aggregate');
  const doc = wrapParse(signed[0]!, options.maxBytes);
  const signedRoot = doc.documentElement;
  if (!isElement(signedRoot, NS.md, 'EntitiesDescriptor')) return fail('ERR_AGGREGATE_SIGNATURE', 'the signed part is not the EntitiesDescriptor');

  const validUntil = validUntilOf(signedRoot);
  if (!validUntil) return fail('ERR_AGGREGATE_VALID_UNTIL', 'the aggregate has no validUntil; a signed aggregate without an end of validity is not accepted');
  if (validUntil.getTime() <= now.getTime()) {
    return fail('ERR_METADATA_EXPIRED', `the aggregate expired at ${validUntil.toISOString()} (validUntil); the publisher has not refreshed it`);
  }

  const serializer = new XMLSerializer();
  const entities: AggregateEntity[] = [];
  const walk = (el: Element, until: Date): void => {
    for (const c of childElements(el)) {
      if (isElement(c, NS.md, 'EntitiesDescriptor')) {
        const own = validUntilOf(c);
        walk(c, own && own < until ? own : until);
      } else if (isElement(c, NS.md, 'EntityDescriptor')) {
        if (!childElements(c).some((x) => isElement(x, NS.md, 'SPSSODescriptor'))) continue; // IdPs, AAs: not ours to trust
        const own = validUntilOf(c);
        c.setAttribute('validUntil', (own && own < until ? own : until).toISOString());
        entities.push({ entityId: c.getAttribute('entityID') ?? '', xml: serializer.serializeToString(c) });
      }
    }
  };
  walk(signedRoot, validUntil);
  return { validUntil, entities };
}
