import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { makeSelfSignedRsa } from '../../src/pki/self-signed';
import { requireBinary, TEMPLATES, type ApacheSite } from './apache';
import { fillTemplate } from './processes';

/**
 * mod_auth_mellon SPs in one Apache site, from the templates in test/interop/apache/
 * (mellon-sp.conf, mellon-sp-metadata.xml; docs/recipes/mellon.md is the same configuration).
 * Each SP lives under /<name>/ with its endpoints at /<name>/mellon/ and its protected page at
 * /<name>/env. Mellon takes MellonAuthnContextClassRef from the endpoint's location, so the LoA
 * is per SP: one SP per (LoA, encryption) pair.
 */

export type Loa = 'low' | 'substantial' | 'high';
const LOAS: Loa[] = ['low', 'substantial', 'high'];

export interface MellonSp {
  name: string;
  entityId: string;
  /** http://127.0.0.1:<port>/<name> */
  baseUrl: string;
  /** The protected page. */
  pageUrl: string;
  dir: string;
  metadataXml: string;
  encrypt: boolean;
  loa: Loa;
  /** The certificate lasso checks Pasarela's metadata signature against. */
  idpSigningCert: string;
}

function b64(certPem: string): string {
  return certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
}

/**
 * Keys and metadata of one SP. One RSA key signs the requests and, when `encrypt`, decrypts
 * the assertions (mellon hands lasso a single private key).
 */
export function mellonSp(site: ApacheSite, name: string, opts: { encrypt: boolean; loa: Loa; idpSigningCert?: string }): MellonSp {
  requireBinary('/usr/lib/apache2/modules/mod_auth_mellon.so', 'libapache2-mod-auth-mellon');
  const dir = path.join(site.dir, name);
  mkdirSync(dir, { recursive: true });
  const keys = makeSelfSignedRsa(`mellon SP ${name}`, { days: 30 });
  writeFileSync(path.join(dir, 'sp.key'), keys.keyPem, { mode: 0o600 });
  writeFileSync(path.join(dir, 'sp.crt'), keys.certPem);
  const baseUrl = `${site.baseUrl}/${name}`;
  const entityId = `${baseUrl}/mellon/metadata`;
  const metadataXml = fillTemplate(readFileSync(path.join(TEMPLATES, 'apache/mellon-sp-metadata.xml'), 'utf8'), {
    ENTITY_ID: entityId,
    BASE_URL: baseUrl,
    CERT: b64(keys.certPem),
    ENCRYPT: opts.encrypt,
  });
  writeFileSync(path.join(dir, 'sp-metadata.xml'), metadataXml);
  return {
    name,
    entityId,
    baseUrl,
    pageUrl: `${baseUrl}/env`,
    dir,
    metadataXml,
    encrypt: opts.encrypt,
    loa: opts.loa,
    idpSigningCert: opts.idpSigningCert ?? path.join(site.dir, 'idp-metadata-signing.crt'),
  };
}

/** The Apache configuration of these SPs (one filled mellon-sp.conf each). */
export function mellonSiteConfig(site: ApacheSite, sps: MellonSp[]): string {
  const template = readFileSync(path.join(TEMPLATES, 'apache/mellon-sp.conf'), 'utf8');
  return sps
    .map((sp) => {
      // The requested level and every higher one: mellon refuses any ClassRef not listed.
      const refs = LOAS.slice(LOAS.indexOf(sp.loa)).map((l) => `    MellonAuthnContextClassRef http://eidas.europa.eu/LoA/${l}`);
      return fillTemplate(template, {
        NAME: sp.name,
        DIR: site.dir,
        SP: sp.dir,
        SECURE_COOKIE: 'Off',
        IDP_SIGNING_CERT: sp.idpSigningCert,
        CLASS_REFS: refs.join('\n'),
      });
    })
    .join('\n');
}
