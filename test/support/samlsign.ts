import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * OpenSAML's `samlsign` (Debian opensaml-tools): the Shibboleth project's own C++ XML-DSig
 * stack (xml-security-c), a second independent verifier beside xmlsec1.
 *
 *   expect((await samlsignVerify(xml, certPem)).ok).toBe(true);            // the root's signature
 *   expect((await samlsignVerify(xml, certPem, assertionId)).ok).toBe(true); // the element with that ID
 */
export async function samlsignVerify(xml: string, certPem: string, id?: string): Promise<{ ok: boolean; output: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pasarela-samlsign-'));
  try {
    await writeFile(join(dir, 'doc.xml'), xml);
    await writeFile(join(dir, 'cert.pem'), certPem);
    const args = ['-f', join(dir, 'doc.xml'), '-c', join(dir, 'cert.pem'), ...(id ? ['-id', id] : [])];
    return await new Promise((resolve) => {
      execFile('samlsign', args, { timeout: 20_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
        resolve({ ok: !err, output: `${String(stderr)}${err && !stderr ? err.message : ''}`.trim() || String(stdout).slice(0, 200) });
      });
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
