#!/usr/bin/python3
"""pysaml2 SP driver for the interop tests: JSON lines on stdin/stdout (see ../driver.ts).

One process, several SPs (by name). The SP config is sp_config.py (= docs/recipes/pysaml2.md);
this file only plays the web application around it: it keeps the outstanding requests (what a
session would hold) and forgets each one once its response has been accepted.
"""
import json
import logging
import os
import re
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

import saml2  # noqa: E402
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT  # noqa: E402
from saml2.client import Saml2Client  # noqa: E402
from saml2.config import SPConfig  # noqa: E402
from saml2.metadata import create_metadata_string  # noqa: E402
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS  # noqa: E402
from saml2.xmldsig import DIGEST_SHA1, SIG_RSA_SHA1  # noqa: E402

from sp_config import requested_authn_context, sp_config  # noqa: E402

VERSION = "unknown"
try:
    from importlib.metadata import version
    VERSION = version("pysaml2")
except Exception:  # pragma: no cover
    pass

SPS = {}


def conf_for(sp, idp=None):
    enc = sp.get("encryption") or {}
    return sp_config(
        sp["entityId"], sp["acsUrl"], sp["signing"]["keyFile"], sp["signing"]["certFile"],
        enc.get("keyFile"), enc.get("certFile"),
        idp["metadataUrl"] if idp else None, idp["metadataCertFile"] if idp else None,
    )


def cmd_ping(_req):
    return {"library": "pysaml2", "version": VERSION}


def cmd_metadata(req):
    conf = SPConfig()
    conf.load(conf_for(req["sp"]))
    xml = create_metadata_string(None, config=conf, sign=False)
    return {"xml": xml.decode("utf-8") if isinstance(xml, bytes) else xml}


def cmd_configure(req):
    sp, idp = req["sp"], req["idp"]
    conf = SPConfig()
    conf.load(conf_for(sp, idp))  # fetches /metadata and checks its signature
    client = Saml2Client(config=conf)
    idps = list(conf.metadata.identity_providers())
    if idp["entityId"] not in idps:
        raise ValueError("IdP %s not in the loaded metadata (found %s)" % (idp["entityId"], idps))
    SPS[sp["name"]] = {"client": client, "idp": idp["entityId"], "outstanding": {}}
    return {"idpEntityId": idp["entityId"]}


def form_fields(html):
    return {m.group(1): m.group(2).replace("&quot;", '"').replace("&#x27;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
            for m in re.finditer(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html)}


def cmd_login(req):
    sp = SPS[req["name"]]
    client = sp["client"]
    binding = BINDING_HTTP_REDIRECT if req["binding"] == "redirect" else BINDING_HTTP_POST
    extra = {}
    variant = req.get("variant")
    if variant == "sha1":
        extra = {"sigalg": SIG_RSA_SHA1, "digest_alg": DIGEST_SHA1}
    elif variant == "unsigned":
        extra = {"sign": False}
    elif variant == "email-nameid":
        extra = {"nameid_format": NAMEID_FORMAT_EMAILADDRESS}
    req_id, info = client.prepare_for_authenticate(
        entityid=sp["idp"],
        relay_state=req["relayState"],
        binding=binding,
        requested_authn_context=requested_authn_context(req["loa"]),
        **extra,
    )
    sp["outstanding"][req_id] = req["relayState"]
    if binding == BINDING_HTTP_REDIRECT:
        location = dict(info["headers"])["Location"]
        return {"requestId": req_id, "request": {"method": "GET", "url": location}}
    return {"requestId": req_id, "request": {"method": "POST", "url": info["url"], "fields": form_fields(info["data"])}}


def cmd_acs(req):
    sp = SPS[req["name"]]
    client = sp["client"]
    # What this browser's session holds: the ID of the request it sent (djangosaml2 keeps it in the session).
    rid = req.get("requestId")
    outstanding = {rid: sp["outstanding"][rid]} if rid in sp["outstanding"] else {}
    resp = client.parse_authn_request_response(req["SAMLResponse"], BINDING_HTTP_POST, outstanding=outstanding)
    if resp is None:
        raise ValueError("pysaml2 returned no response")
    # The application's part: this request is answered; the same response again is unsolicited.
    sp["outstanding"].pop(resp.in_response_to, None)
    identity = resp.get_identity()
    name_id = resp.name_id
    authn = resp.authn_info()
    assertion = resp.assertion
    audiences = []
    if assertion.conditions is not None:
        for ar in assertion.conditions.audience_restriction:
            audiences += [a.text for a in ar.audience]
    return {
        "nameId": name_id.text,
        "nameIdFormat": name_id.format,
        "attributes": {k: [str(v) for v in vs] for k, vs in identity.items()},
        "authnContextClassRef": authn[0][0] if authn else "",
        "issuer": resp.issuer(),
        "inResponseTo": resp.in_response_to,
        "extra": {"audiences": audiences},
    }


COMMANDS = {"ping": cmd_ping, "metadata": cmd_metadata, "configure": cmd_configure, "login": cmd_login, "acs": cmd_acs}


def main():
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        try:
            out = {"id": req["id"], "ok": True, "result": COMMANDS[req["cmd"]](req)}
        except Exception as e:  # the library's refusal, reported to the test
            traceback.print_exc(file=sys.stderr)
            out = {"id": req["id"], "ok": False, "error": "%s: %s" % (type(e).__name__, e), "type": type(e).__name__}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
