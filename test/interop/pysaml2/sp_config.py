"""pysaml2 (Debian python3-pysaml2 7.0.1) SP configuration for Pasarela.

This is the configuration docs/recipes/pysaml2.md shows; driver.py (the interop test) uses it
as is. Keep the two in sync.
"""
from saml2 import BINDING_HTTP_POST
from saml2.saml import NAMEID_FORMAT_PERSISTENT
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256


def sp_config(entity_id, acs_url, key_file, cert_file, enc_key_file=None, enc_cert_file=None,
              idp_metadata_url=None, idp_metadata_cert=None):
    """A pysaml2 SP config dict. Without idp_metadata_url it is enough to write the SP's metadata."""
    conf = {
        "entityid": entity_id,
        "xmlsec_binary": "/usr/bin/xmlsec1",
        # Our signing key (AuthnRequests) and, for encrypted assertions, our decryption key.
        "key_file": key_file,
        "cert_file": cert_file,
        "accepted_time_diff": 60,
        # Cl@ve attributes (SelectedIdP, RegisterType, ...) are not in pysaml2's maps; keep them by Name.
        "allow_unknown_attributes": True,
        "service": {
            "sp": {
                "name": "pysaml2 SP",
                "endpoints": {
                    "assertion_consumer_service": [(acs_url, BINDING_HTTP_POST)],
                },
                # Here, inside service.sp: at the top level pysaml2 7.0.1 ignores them for an SP and
                # signs with RSA-SHA1, which Pasarela refuses.
                "signing_algorithm": SIG_RSA_SHA256,
                "digest_algorithm": DIGEST_SHA256,
                "authn_requests_signed": True,
                "want_response_signed": True,
                "want_assertions_signed": True,
                # Only answers to our own outstanding requests (InResponseTo) are accepted.
                "allow_unsolicited": False,
                "name_id_format": [NAMEID_FORMAT_PERSISTENT],
                "name_id_policy_format": NAMEID_FORMAT_PERSISTENT,
                "name_id_format_allow_create": True,
            },
        },
    }
    if enc_key_file:
        conf["encryption_keypairs"] = [{"key_file": enc_key_file, "cert_file": enc_cert_file}]
    if idp_metadata_url:
        conf["metadata"] = {
            "remote": [{
                "url": idp_metadata_url,
                # The metadata-signing certificate: pysaml2 refuses the metadata unless its signature verifies.
                "cert": idp_metadata_cert,
                # Our metadata is a signed EntityDescriptor; pysaml2 looks for EntitiesDescriptor unless told.
                "node_name": "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
            }],
        }
    return conf


def requested_authn_context(loa):
    """RequestedAuthnContext for an eIDAS LoA (http://eidas.europa.eu/LoA/low|substantial|high), comparison minimum."""
    from saml2.samlp import RequestedAuthnContext
    from saml2.saml import AuthnContextClassRef
    return RequestedAuthnContext(authn_context_class_ref=[AuthnContextClassRef(text=loa)], comparison="minimum")
