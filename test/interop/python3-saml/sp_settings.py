"""python3-saml (Debian python3-onelogin-saml2 1.12) SP settings for Pasarela.

This is the configuration docs/recipes/python3-saml.md shows; driver.py (the interop test)
uses it as is. Keep the two in sync.
"""
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.utils import OneLogin_Saml2_Utils


def idp_settings_from_metadata(metadata_url, metadata_cert_pem):
    """Fetch Pasarela's /metadata, check its signature with the metadata-signing certificate, parse it."""
    xml = OneLogin_Saml2_IdPMetadataParser.get_metadata(metadata_url)
    # validate_metadata_sign returns False (or raises, with raise_exceptions) unless the signature verifies.
    if not OneLogin_Saml2_Utils.validate_metadata_sign(xml, cert=metadata_cert_pem, raise_exceptions=True):
        raise ValueError("the IdP metadata signature does not verify")
    # Either binding; the SSO URL is the same.
    return OneLogin_Saml2_IdPMetadataParser.parse(xml)


def sp_settings(entity_id, acs_url, sp_cert_pem, sp_key_pem, idp, loa, want_encrypted=False):
    """Settings dict for OneLogin_Saml2_Settings / OneLogin_Saml2_Auth; `idp` from idp_settings_from_metadata()."""
    settings = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": entity_id,
            "assertionConsumerService": {"url": acs_url, "binding": C.BINDING_HTTP_POST},
            "NameIDFormat": C.NAMEID_PERSISTENT,
            # One key pair signs the AuthnRequests and decrypts the assertions.
            "x509cert": sp_cert_pem,
            "privateKey": sp_key_pem,
        },
        "security": {
            "authnRequestsSigned": True,
            "wantMessagesSigned": True,
            "wantAssertionsSigned": True,
            "wantAssertionsEncrypted": want_encrypted,
            "wantNameId": True,
            "wantAttributeStatement": True,
            "signatureAlgorithm": C.RSA_SHA256,
            "digestAlgorithm": C.SHA256,
            # eIDAS level of assurance, comparison minimum; the response must say which one was reached.
            "requestedAuthnContext": [loa],
            "requestedAuthnContextComparison": "minimum",
            # 1.12 has no rejectDeprecatedAlgorithm (added in 1.13): SHA-1 in a response is not refused by the library.
        },
    }
    settings["idp"] = idp["idp"]
    return settings
