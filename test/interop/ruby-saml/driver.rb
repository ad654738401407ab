#!/usr/bin/ruby
# ruby-saml SP driver for the interop tests: JSON lines on stdin/stdout (see ../driver.ts).
#
# The settings are sp_settings.rb (= docs/recipes/ruby-saml.md). This file plays the web
# application: the session holds the AuthnRequest ID (matches_request_id) and it keeps the IDs
# of processed assertions (ruby-saml leaves replay detection to the app).
require 'json'
require 'set'
$LOAD_PATH.unshift(__dir__)
require 'sp_settings'

$stdout.sync = true
SPS = {}
PLACEHOLDER_IDP = <<~XML.freeze
  <md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.invalid/metadata"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.invalid/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>
XML

def pair(sp)
  sp['encryption'] || sp['signing']
end

def settings_for(sp, idp_xml, loa, binding)
  kp = pair(sp)
  PasarelaSp.settings(idp_metadata_xml: idp_xml, entity_id: sp['entityId'], acs_url: sp['acsUrl'],
                      cert_pem: File.read(kp['certFile']), key_pem: File.read(kp['keyFile']), loa: loa,
                      binding: binding, want_encrypted: !sp['encryption'].nil?)
end

def cmd_ping(_req)
  { library: 'ruby-saml', version: OneLogin::RubySaml::VERSION }
end

def cmd_metadata(req)
  s = settings_for(req['sp'], PLACEHOLDER_IDP, 'http://eidas.europa.eu/LoA/low', :redirect)
  { xml: OneLogin::RubySaml::Metadata.new.generate(s, false) }
end

def cmd_configure(req)
  sp = req['sp']
  idp = req['idp']
  xml = PasarelaSp.verified_idp_metadata(idp['metadataUrl'], File.read(idp['metadataCertFile']))
  s = settings_for(sp, xml, 'http://eidas.europa.eu/LoA/low', :redirect)
  raise "unexpected IdP #{s.idp_entity_id}" unless s.idp_entity_id == idp['entityId']
  SPS[sp['name']] = { sp: sp, idp_xml: xml, outstanding: Set.new, seen: Set.new }
  { idpEntityId: s.idp_entity_id }
end

def cmd_login(req)
  st = SPS.fetch(req['name'])
  binding = req['binding'] == 'post' ? :post : :redirect
  s = settings_for(st[:sp], st[:idp_xml], req['loa'], binding)
  case req['variant']
  when 'sha1'
    s.security[:signature_method] = XMLSecurity::Document::RSA_SHA1
    s.security[:digest_method] = XMLSecurity::Document::SHA1
  when 'unsigned' then s.security[:authn_requests_signed] = false
  when 'email-nameid' then s.name_identifier_format = 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress'
  end
  authn = OneLogin::RubySaml::Authrequest.new
  st[:outstanding] << authn.request_id
  if binding == :redirect
    url = authn.create(s, 'RelayState' => req['relayState'])
    { requestId: authn.request_id, request: { method: 'GET', url: url } }
  else
    params = authn.create_params(s, 'RelayState' => req['relayState'])
    { requestId: authn.request_id, request: { method: 'POST', url: s.idp_sso_service_url, fields: params } }
  end
end

def cmd_acs(req)
  st = SPS.fetch(req['name'])
  rid = st[:outstanding].include?(req['requestId']) ? req['requestId'] : nil
  s = settings_for(st[:sp], st[:idp_xml], 'http://eidas.europa.eu/LoA/low', :redirect)
  resp = PasarelaSp.response(req['SAMLResponse'], s, rid)
  resp.is_valid? # soft = false: raises OneLogin::RubySaml::ValidationError with the reason
  aid = resp.assertion_id
  raise "replay: assertion #{aid} was already processed (application check)" if st[:seen].include?(aid)
  st[:seen] << aid
  raise 'unsolicited: no AuthnRequest outstanding in this session (application check)' if rid.nil?
  st[:outstanding].delete(rid)
  class_ref = resp.send(:xpath_first_from_signed_assertion, '/a:AuthnStatement/a:AuthnContext/a:AuthnContextClassRef')
  {
    nameId: resp.name_id,
    nameIdFormat: resp.name_id_format,
    attributes: resp.attributes.all,
    authnContextClassRef: class_ref ? class_ref.text : '',
    issuer: resp.issuers.first,
    inResponseTo: resp.in_response_to,
    extra: { audiences: resp.audiences, sessionIndex: resp.sessionindex, encrypted: resp.assertion_encrypted? }
  }
end

COMMANDS = { 'ping' => :cmd_ping, 'metadata' => :cmd_metadata, 'configure' => :cmd_configure, 'login' => :cmd_login, 'acs' => :cmd_acs }.freeze

$stdin.each_line do |line|
  next if line.strip.empty?
  req = JSON.parse(line)
  out = begin
    { id: req['id'], ok: true, result: send(COMMANDS.fetch(req['cmd']), req) }
  rescue StandardError => e
    # ruby-saml's schema errors carry the whole document after the reason: keep the reason.
    reason = e.message.split(/\n\s*(?:<\?xml|<samlp?:)/).first.to_s.strip[0, 1500]
    warn "#{e.class}: #{reason}\n#{e.backtrace.first(5).join("\n")}"
    { id: req['id'], ok: false, error: "#{e.class}: #{reason}", type: e.class.name }
  end
  $stdout.puts(JSON.generate(out))
end
