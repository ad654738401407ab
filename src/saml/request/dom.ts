import { NS } from '../constants';
import type { LightElement } from '../request-tree';

/** DOM helpers shared by the intake stages. */

export const XMLNS_NS = 'http://www.w3.org/2000/xmlns/';

/** An element as messages name it: the usual prefix for the SAML and XML-DSig namespaces, {ns} otherwise. */
export function describe(el: LightElement): string {
  const prefix =
    el.namespaceURI === NS.samlp
      ? 'samlp:'
      : el.namespaceURI === NS.saml
        ? 'saml:'
        : el.namespaceURI === NS.ds
          ? 'ds:'
          : el.namespaceURI === NS.eidas
            ? 'eidas:'
            : el.namespaceURI
              ? `{${el.namespaceURI}}`
              : '';
  return `<${prefix}${el.localName}>`;
}
