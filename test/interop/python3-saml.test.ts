import path from 'node:path';
import { interopSuite } from './suite';

/**
 * python3-saml 1.12 (Debian python3-onelogin-saml2) as the SP, strict, configured as
 * docs/recipes/python3-saml.md says (test/interop/python3-saml/sp_settings.py): /metadata
 * checked with validate_metadata_sign, authnRequestsSigned, wantMessagesSigned,
 * wantAssertionsSigned, wantNameId, RSA-SHA256/SHA-256, eIDAS LoA with comparison minimum.
 * Redirect natively; POST built with OneLogin_Saml2_Authn_Request + OneLogin_Saml2_Utils.add_sign.
 */
interopSuite({
  title: 'python3-saml (Debian python3-onelogin-saml2), strict, as the SP, against the broker process',
  stack: 'python3-saml',
  command: '/usr/bin/python3',
  args: [path.join(__dirname, 'python3-saml', 'driver.py')],
  probe: { command: '/usr/bin/python3', args: ['-c', 'import onelogin.saml2.auth, xmlsec'] },
  packages: 'python3-onelogin-saml2 xmlsec1',
  bindings: ['redirect', 'post'],
  refusals: {
    // python3-saml has no replay cache: the application's check from its README (driver.py).
    replay: /replay: assertion \S+ was already processed \(application check\)/,
    otherSp: /invalid_response: The InResponseTo of the Response: \S+, does not match the ID of the AuthNRequest sent by the SP/,
    tampered: /invalid_response: Signature validation failed\. SAML Response rejected/,
  },
  eidasProfileRefusal: /invalid_response: Invalid SAML Response\. Not match the saml-schema-protocol-2\.0\.xsd/,
});
