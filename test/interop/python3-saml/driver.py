#!/usr/bin/python3
"""python3-saml SP driver for the interop tests: JSON lines on stdin/stdout (see ../driver.ts).

The settings are sp_settings.py (= docs/recipes/python3-saml.md). This file plays the web
application: the session holds the AuthnRequest ID (passed to process_response) and it keeps
the IDs of processed assertions (python3-saml's docs leave replay detection to the app).
"""
import base64
import json
import logging
import os
import sys
import traceback
from urllib.parse import urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

from lxml import etree  # noqa: E402
from onelogin.saml2.auth import OneLogin_Saml2_Auth  # noqa: E402
from onelogin.saml2.authn_request import OneLogin_Saml2_Authn_Request  # noqa: E402
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C  # noqa: E402
from onelogin.saml2.settings import OneLogin_Saml2_Settings  # noqa: E402
from onelogin.saml2.utils import OneLogin_Saml2_Utils  # noqa: E402

from sp_settings import idp_settings_from_metadata, sp_settings  # noqa: E402

try:
    from importlib.metadata import version
    VERSION = version("python3-saml")
except Exception:  # pragma: no cover
    VERSION = "unknown"

SPS = {}


def read(path):
    with open(path) as f:
        return f.read()


def settings_for(sp, idp, loa):
    enc = sp.get("encryption")
    # python3-saml has one SP key pair: the encrypted SP signs and decrypts with its encryption pair.
    pair = sp["signing"] if not enc else enc
    return sp_settings(sp["entityId"], sp["acsUrl"], read(pair["certFile"]), read(pair["keyFile"]), idp, loa, want_encrypted=bool(enc))


def cmd_ping(_req):
    return {"library": "python3-saml", "version": VERSION}


def cmd_metadata(req):
    sp = req["sp"]
    enc = sp.get("encryption")
    pair = sp["signing"] if not enc else enc
    placeholder_idp = {"idp": {"entityId": "https://idp.invalid/metadata", "singleSignOnService": {"url": "https://idp.invalid/sso", "binding": C.BINDING_HTTP_REDIRECT}, "x509cert": read(pair["certFile"])}}
    s = OneLogin_Saml2_Settings(sp_settings(sp["entityId"], sp["acsUrl"], read(pair["certFile"]), read(pair["keyFile"]), placeholder_idp, "http://eidas.europa.eu/LoA/low", bool(enc)), sp_validation_only=True)
    xml = s.get_sp_metadata()
    errors = s.validate_metadata(xml)
    if errors:
        raise ValueError("SP metadata invalid: %s" % errors)
    return {"xml": xml.decode("utf-8") if isinstance(xml, bytes) else xml}


def cmd_configure(req):
    sp, idp_spec = req["sp"], req["idp"]
    idp = idp_settings_from_metadata(idp_spec["metadataUrl"], read(idp_spec["metadataCertFile"]))
    if idp["idp"]["entityId"] != idp_spec["entityId"]:
        raise ValueError("unexpected IdP %s" % idp["idp"]["entityId"])
    OneLogin_Saml2_Settings(settings_for(sp, idp, "http://eidas.europa.eu/LoA/low"))  # validates the settings
    SPS[sp["name"]] = {"sp": sp, "idp": idp, "outstanding": set(), "seen_assertions": set()}
    return {"idpEntityId": idp["idp"]["entityId"]}


def request_data(acs_url, post_data=None):
    u = urlsplit(acs_url)
    return {"https": "on" if u.scheme == "https" else "off", "http_host": u.netloc, "script_name": u.path, "get_data": {}, "post_data": post_data or {}}


def cmd_login(req):
    state = SPS[req["name"]]
    sp = state["sp"]
    conf = settings_for(sp, state["idp"], req["loa"])
    variant = req.get("variant")
    if variant == "sha1":
        conf["security"].update({"signatureAlgorithm": C.RSA_SHA1, "digestAlgorithm": C.SHA1})
    elif variant == "unsigned":
        conf["security"]["authnRequestsSigned"] = False
    elif variant == "email-nameid":
        conf["sp"]["NameIDFormat"] = C.NAMEID_EMAIL_ADDRESS
    settings = OneLogin_Saml2_Settings(conf)
    if req["binding"] == "redirect":
        auth = OneLogin_Saml2_Auth(request_data(sp["acsUrl"]), settings)
        url = auth.login(return_to=req["relayState"])
        rid = auth.get_last_request_id()
        state["outstanding"].add(rid)
        return {"requestId": rid, "request": {"method": "GET", "url": url}}
    # HTTP-POST: python3-saml only sends by Redirect; build the same request with its own classes
    # and sign it (enveloped) with OneLogin_Saml2_Utils.add_sign.
    authn = OneLogin_Saml2_Authn_Request(settings)
    sec = settings.get_security_data()
    signed = authn.get_xml()
    if sec["authnRequestsSigned"]:
        signed = OneLogin_Saml2_Utils.add_sign(signed, settings.get_sp_key(), settings.get_sp_cert(),
                                              sign_algorithm=sec["signatureAlgorithm"], digest_algorithm=sec["digestAlgorithm"])
    if isinstance(signed, str):
        signed = signed.encode("utf-8")
    rid = authn.get_id()
    state["outstanding"].add(rid)
    return {"requestId": rid, "request": {"method": "POST", "url": settings.get_idp_sso_url(),
                                          "fields": {"SAMLRequest": base64.b64encode(signed).decode("ascii"), "RelayState": req["relayState"]}}}


def cmd_acs(req):
    state = SPS[req["name"]]
    sp = state["sp"]
    # The session's AuthnRequest ID, if it still holds one (it is dropped once answered).
    rid = req.get("requestId")
    rid = rid if rid in state["outstanding"] else None
    post = {"SAMLResponse": req["SAMLResponse"]}
    if req.get("RelayState") is not None:
        post["RelayState"] = req["RelayState"]
    settings = OneLogin_Saml2_Settings(settings_for(sp, state["idp"], "http://eidas.europa.eu/LoA/low"))
    auth = OneLogin_Saml2_Auth(request_data(sp["acsUrl"], post), settings)
    auth.process_response(request_id=rid)
    errors = auth.get_errors()
    if errors:
        raise ValueError("%s: %s" % (", ".join(errors), auth.get_last_error_reason()))
    if not auth.is_authenticated():
        raise ValueError("not authenticated")
    # The application's replay check (python3-saml README, "avoid replay attacks").
    aid = auth.get_last_assertion_id()
    if aid in state["seen_assertions"]:
        raise ValueError("replay: assertion %s was already processed (application check)" % aid)
    state["seen_assertions"].add(aid)
    if rid is None:
        raise ValueError("unsolicited: no AuthnRequest outstanding in this session (application check)")
    state["outstanding"].discard(rid)
    doc = etree.fromstring(auth.get_last_response_xml().encode("utf-8") if isinstance(auth.get_last_response_xml(), str) else auth.get_last_response_xml())
    ns = {"samlp": C.NS_SAMLP, "saml": C.NS_SAML}
    issuer = doc.xpath("/samlp:Response/saml:Issuer/text()", namespaces=ns)
    audiences = doc.xpath("//saml:Assertion/saml:Conditions/saml:AudienceRestriction/saml:Audience/text()", namespaces=ns)
    contexts = auth.get_last_authn_contexts()
    return {
        "nameId": auth.get_nameid(),
        "nameIdFormat": auth.get_nameid_format(),
        "attributes": auth.get_attributes(),
        "authnContextClassRef": contexts[0] if contexts else "",
        "issuer": issuer[0] if issuer else "",
        "inResponseTo": doc.get("InResponseTo"),
        "extra": {"audiences": audiences, "sessionIndex": auth.get_session_index(), "friendly": auth.get_friendlyname_attributes()},
    }


COMMANDS = {"ping": cmd_ping, "metadata": cmd_metadata, "configure": cmd_configure, "login": cmd_login, "acs": cmd_acs}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            out = {"id": req["id"], "ok": True, "result": COMMANDS[req["cmd"]](req)}
        except Exception as e:
            traceback.print_exc(file=sys.stderr)
            out = {"id": req["id"], "ok": False, "error": "%s: %s" % (type(e).__name__, e), "type": type(e).__name__}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
