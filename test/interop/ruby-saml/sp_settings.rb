# ruby-saml 1.13 (Debian ruby-saml) SP settings for Pasarela.
#
# This is the configuration docs/recipes/ruby-saml.md shows; driver.rb (the interop test) uses it
# as is. Keep the two in sync.
require 'net/http'
require 'onelogin/ruby-saml'

module PasarelaSp
  POST = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST'.freeze
  REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect'.freeze

  # Fetch Pasarela's /metadata and check its signature with the metadata-signing certificate
  # (IdpMetadataParser itself does not check signatures).
  def self.verified_idp_metadata(metadata_url, metadata_cert_pem)
    xml = Net::HTTP.get(URI(metadata_url))
    cert = OpenSSL::X509::Certificate.new(metadata_cert_pem)
    doc = XMLSecurity::SignedDocument.new(xml)
    raise 'the IdP metadata signature does not verify' unless doc.validate_document_with_cert(cert, false)
    xml
  end

  # binding: :redirect or :post (the AuthnRequest binding; ruby-saml signs POST requests enveloped).
  def self.settings(idp_metadata_xml:, entity_id:, acs_url:, cert_pem:, key_pem:, loa:, binding: :redirect, want_encrypted: false)
    sso_binding = binding == :post ? POST : REDIRECT
    settings = OneLogin::RubySaml::IdpMetadataParser.new.parse(idp_metadata_xml, sso_binding: [sso_binding])
    settings.idp_sso_service_binding = sso_binding
    settings.compress_request = false if binding == :post # POST carries plain base64
    settings.sp_entity_id = entity_id
    settings.assertion_consumer_service_url = acs_url
    settings.assertion_consumer_service_binding = POST
    settings.name_identifier_format = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent'
    # One key pair signs the AuthnRequests and decrypts the assertions.
    settings.certificate = cert_pem
    settings.private_key = key_pem
    # eIDAS level of assurance, comparison minimum.
    settings.authn_context = loa
    settings.authn_context_comparison = 'minimum'
    settings.soft = false # errors raise OneLogin::RubySaml::ValidationError
    settings.security[:authn_requests_signed] = true
    settings.security[:want_assertions_signed] = true
    settings.security[:want_assertions_encrypted] = want_encrypted
    settings.security[:want_name_id] = true
    settings.security[:signature_method] = XMLSecurity::Document::RSA_SHA256
    settings.security[:digest_method] = XMLSecurity::Document::SHA256
    settings
  end

  # Strict response check: signature (IdP certificate from the metadata), InResponseTo = our request,
  # audience, destination, recipient, times.
  def self.response(saml_response, settings, request_id)
    OneLogin::RubySaml::Response.new(saml_response, settings: settings, matches_request_id: request_id, allowed_clock_drift: 60)
  end
end
