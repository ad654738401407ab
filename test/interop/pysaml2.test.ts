import path from 'node:path';
import { interopSuite } from './suite';

/**
 * pysaml2 7.0.1 (Debian python3-pysaml2) as the SP, configured as docs/recipes/pysaml2.md says
 * (test/interop/pysaml2/sp_config.py): metadata from /metadata with its `cert` check,
 * want_response_signed, want_assertions_signed, authn_requests_signed, no unsolicited
 * responses, persistent NameID, eIDAS LoA with comparison minimum, both request bindings.
 */
interopSuite({
  title: 'pysaml2 (Debian python3-pysaml2) as the SP, against the broker process',
  stack: 'pysaml2',
  command: '/usr/bin/python3',
  args: [path.join(__dirname, 'pysaml2', 'driver.py')],
  probe: { command: '/usr/bin/python3', args: ['-c', 'import saml2.client; import shutil, sys; sys.exit(0 if shutil.which("xmlsec1") else 1)'] },
  packages: 'python3-pysaml2 xmlsec1',
  bindings: ['redirect', 'post'],
  refusals: {
    // pysaml2's own outstanding-queries check: the answered request is no longer outstanding.
    replay: /UnsolicitedResponse: Unsolicited response: /,
    otherSp: /UnsolicitedResponse: Unsolicited response: /,
    tampered: /SignatureError: Failed to verify signature/,
  },
  eidasProfileRefusal: /ValueError: Type and value do not match: PersonIdentifierType:<class 'str'>:ES\/ES\/12345678Z/,
});
