import { SIG_ALG } from '../../src/saml/constants';
import { setRsaSigning } from '../../src/saml/algorithms';
import { buildResponse } from '../../src/saml/response';
import { xmlsecVerify } from '../support/xmlsec';
import { responseInput, rsaKey } from './response-fixtures';

/** RSA signing on the pool (one process) or on the event loop (a cluster worker): the same valid signatures. */
const key = rsaKey('signing-mode');
afterAll(() => setRsaSigning('pool'));

test.each(['pool', 'inline'] as const)('%s: the Response and the Assertion verify with xmlsec1', async (mode) => {
  setRsaSigning(mode);
  const xml = await buildResponse(responseInput(), { key, algorithm: SIG_ALG.rsaSha256, signResponse: true, signAssertion: true });
  for (const node of ['response', 'assertion'] as const) {
    const r = await xmlsecVerify(xml, { certPem: key.certPem, node });
    expect({ mode, node, ok: r.ok ? true : r.stderr }).toEqual({ mode, node, ok: true });
  }
});
