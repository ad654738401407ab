import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Run the `xmlsec1` CLI (1.2.x, OpenSSL backend) on documents written to a temp dir: an
 * independent C implementation of XML-DSig / XML-Enc to check our output against.
 *
 *   const r = await xmlsecVerify(xml, { certPem, node: 'assertion' });
 *   expect(r.ok).toBe(true);        // r.stderr says why when not
 */

export interface XmlsecResult {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** ID attributes of the SAML elements we sign or verify (xmlsec1 has no schema to know them). */
export const SAML_ID_ATTRS = [
  'urn:oasis:names:tc:SAML:2.0:protocol:Response',
  'urn:oasis:names:tc:SAML:2.0:assertion:Assertion',
  'urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest',
  'urn:oasis:names:tc:SAML:2.0:protocol:LogoutRequest',
  'urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse',
  'urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor',
];

/** XPath (local-name based) of the signature to verify, for the usual cases. */
export const SIGNATURE_OF = {
  response: "/*[local-name()='Response']/*[local-name()='Signature']",
  assertion: "//*[local-name()='Assertion']/*[local-name()='Signature']",
  metadata: "/*[local-name()='EntityDescriptor']/*[local-name()='Signature']",
  request: "/*[local-name()='AuthnRequest']/*[local-name()='Signature']",
} as const;

/**
 * Run xmlsec1 with `args`; `files` (name -> content) are written to a fresh temp dir first and
 * `{dir}` in any argument is replaced by its path. The dir is removed afterwards.
 */
export async function runXmlsec1(
  args: string[],
  files: Record<string, string | Buffer>,
  readBack?: string,
): Promise<XmlsecResult & { output?: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'pasarela-xmlsec-'));
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    const argv = args.map((a) => a.split('{dir}').join(dir));
    const result = await new Promise<XmlsecResult>((resolve) => {
      execFile('xmlsec1', argv, { timeout: 20_000, maxBuffer: 8 * 1024 * 1024 }, (err, stdout, stderr) => {
        const code = err ? (typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number' ? Number(err.code) : null) : 0;
        resolve({ ok: !err, code, stdout: String(stdout), stderr: String(stderr) || (err ? err.message : '') });
      });
    });
    if (readBack && result.ok) {
      return { ...result, output: await readFile(join(dir, readBack), 'utf8') };
    }
    return result;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export interface VerifyOptions {
  /** The signer's certificate (PEM). */
  certPem: string;
  /** Which signature: a SIGNATURE_OF key or an XPath. Default: the first Signature in the document. */
  node?: keyof typeof SIGNATURE_OF | { xpath: string };
  /**
   * 'pubkey' (default): verify with the key of `certPem` only, ignoring certificates in
   * KeyInfo (`--enabled-key-data` without x509). 'trusted': `certPem` is a trusted root and
   * the certificate in KeyInfo must chain to it.
   */
  trust?: 'pubkey' | 'trusted';
  idAttrs?: string[];
}

/** `xmlsec1 --verify` of one enveloped signature with same-document references only. */
export function xmlsecVerify(xml: string, opts: VerifyOptions): Promise<XmlsecResult> {
  const args = ['--verify', '--enabled-reference-uris', 'same-doc'];
  for (const id of opts.idAttrs ?? SAML_ID_ATTRS) args.push(`--id-attr:ID`, id);
  if ((opts.trust ?? 'pubkey') === 'pubkey') {
    args.push('--enabled-key-data', 'rsa,ecdsa,key-name', '--pubkey-cert-pem', '{dir}/cert.pem');
  } else {
    args.push('--enabled-key-data', 'x509', '--trusted-pem', '{dir}/cert.pem');
  }
  if (opts.node) args.push('--node-xpath', typeof opts.node === 'string' ? SIGNATURE_OF[opts.node] : opts.node.xpath);
  args.push('{dir}/doc.xml');
  return runXmlsec1(args, { 'doc.xml': xml, 'cert.pem': opts.certPem });
}

/** `xmlsec1 --decrypt` of the first EncryptedData with the recipient's private key; returns the resulting document. */
export function xmlsecDecrypt(xml: string, privateKeyPem: string): Promise<XmlsecResult & { output?: string }> {
  return runXmlsec1(
    ['--decrypt', '--privkey-pem', '{dir}/key.pem', '--output', '{dir}/out.xml', '{dir}/doc.xml'],
    { 'doc.xml': xml, 'key.pem': privateKeyPem },
    'out.xml',
  );
}
