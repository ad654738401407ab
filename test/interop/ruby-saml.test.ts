import path from 'node:path';
import { interopSuite } from './suite';

/**
 * ruby-saml 1.13 (Debian ruby-saml) as the SP, configured as docs/recipes/ruby-saml.md says
 * (test/interop/ruby-saml/sp_settings.rb): /metadata checked with
 * XMLSecurity::SignedDocument#validate_document_with_cert, then IdpMetadataParser;
 * authn_requests_signed, want_assertions_signed, want_name_id, RSA-SHA256/SHA-256, eIDAS LoA
 * with comparison minimum; Response#is_valid? with soft = false and matches_request_id.
 * Both request bindings natively (POST: idp_sso_service_binding + compress_request = false).
 */
interopSuite({
  title: 'ruby-saml (Debian ruby-saml), soft = false, as the SP, against the broker process',
  stack: 'ruby-saml',
  command: '/usr/bin/ruby',
  args: [path.join(__dirname, 'ruby-saml', 'driver.rb')],
  probe: { command: '/usr/bin/ruby', args: ['-e', 'require "onelogin/ruby-saml"'] },
  packages: 'ruby-saml',
  bindings: ['redirect', 'post'],
  refusals: {
    // ruby-saml has no replay cache: the application's check (driver.rb).
    replay: /replay: assertion \S+ was already processed \(application check\)/,
    otherSp: /ValidationError: The InResponseTo of the Response: \S+, does not match the ID of the AuthNRequest sent by the SP/,
    tampered: /ValidationError: Invalid Signature on SAML Response/,
  },
  eidasProfileRefusal: /The QName value '\{http:\/\/eidas\.europa\.eu\/attributes\/naturalperson\}PersonIdentifierType' of the xsi:type attribute does not resolve to a type definition/,
});
