import { PasarelaError } from '../../errors';
import { NS } from '../constants';
import { isElement } from '../xml';
import type { LightDocument, LightElement } from '../request-tree';
import { describe } from './dom';

/**
 * Document scan: the root must be samlp:AuthnRequest; one walk over the whole document refuses
 * duplicate IDs and nested requests and finds where XML-DSig elements sit.
 */

export function requestRoot(doc: LightDocument): LightElement {
  const root = doc.documentElement;
  if (!root || !isElement(root, NS.samlp, 'AuthnRequest')) {
    throw new PasarelaError(
      'ERR_REQUEST_NOT_AUTHNREQUEST',
      `Root element is ${root ? describe(root) : 'missing'}; expected AuthnRequest in namespace ${NS.samlp}.`,
    );
  }
  return root;
}

export interface DocumentScan {
  /** ds:Signature elements not inside another XML-DSig element, wherever they are. */
  signatures: LightElement[];
  /** ds:Signature elements inside another XML-DSig element (only KeyInfo content can hold one). */
  nestedSignatures: LightElement[];
  /** The document has comments: they are not signed (exc-c14n without comments), so a verified POST request drops them. */
  hasComments: boolean;
}

/** One walk over the whole document. */
export function scanDocument(root: LightElement): DocumentScan {
  const ids = new Set<string>();
  const signatures: LightElement[] = [];
  const nestedSignatures: LightElement[] = [];
  let hasComments = false;
  const stack: LightElement[] = [root];
  while (stack.length > 0) {
    const el = stack.pop()!;
    const attrs = el.attributes;
    for (let i = 0; i < attrs.length; i++) {
      const a = attrs[i]!;
      // xml-crypto resolves References through any attribute named ID / Id / id, whatever its namespace.
      if (a.localName === 'ID' || a.localName === 'Id' || a.localName === 'id') {
        if (ids.has(a.value)) {
          throw new PasarelaError(
            'ERR_REQUEST_DUPLICATE_ID',
            `The ID value "${a.value}" appears on more than one element; ID values must be unique in the document.`,
          );
        }
        ids.add(a.value);
      }
    }
    if (el !== root && isElement(el, NS.samlp, 'AuthnRequest')) {
      throw new PasarelaError('ERR_REQUEST_NESTED', 'An AuthnRequest must not contain another AuthnRequest.');
    }
    if (el.namespaceURI === NS.ds) {
      const parent = el.parentNode as LightElement | null;
      if (!parent || parent.namespaceURI !== NS.ds) {
        if (el.localName !== 'Signature') {
          throw new PasarelaError('ERR_REQUEST_SIGNATURE_STRUCTURE', `XML-DSig element ds:${el.localName} found outside a ds:Signature.`);
        }
        signatures.push(el);
      } else if (el.localName === 'Signature') {
        nestedSignatures.push(el);
      }
    }
    for (let c = el.lastChild; c; c = c.previousSibling) {
      if (c.nodeType === 1) stack.push(c);
      else if (c.nodeType === 8) hasComments = true;
    }
  }
  // Document order for messages and placement checks.
  return { signatures: signatures.reverse(), nestedSignatures, hasComments };
}
