import { interopSuite } from './suite';
import { NodeSamlStack } from './node-saml/stack';

/**
 * @node-saml/node-saml as the SP, with exactly the options docs/recipes/node-saml.md lists
 * (test/interop/node-saml/sp.ts): signatureAlgorithm and digestAlgorithm sha256, persistent
 * NameID, eIDAS LoA with racComparison minimum, wantAssertionsSigned, wantAuthnResponseSigned,
 * validateInResponseTo always; requests by Redirect, by HTTP-POST with skipRequestCompression
 * (plain base64) and by HTTP-POST deflated (node-saml's default).
 */
interopSuite({
  title: '@node-saml/node-saml as the SP, against the broker process',
  stack: 'node-saml',
  inProcess: () => new NodeSamlStack(),
  bindings: ['redirect', 'post', 'post-deflated'],
  refusals: {
    // node-saml's own InResponseTo cache: an answered request is removed from it.
    replay: /InResponseTo is not valid/,
    otherSp: /InResponseTo is not valid/,
    tampered: /^Invalid document signature$/,
  },
  // node-saml removes the request ID from its cache whenever a response for it fails validation.
  failureSpendsRequest: true,
});
