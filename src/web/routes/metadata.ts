import express, { type Router } from 'express';
import type { BrokerKeys } from '../../config/keys';
import { LOA, NAMEID_FORMAT, type LoaLevel, type SignatureAlgorithmUri } from '../../saml/constants';
import { buildIdpMetadata } from '../../saml/metadata';

export interface MetadataDeps {
  entityId: string;
  ssoUrls: { redirect: string; post: string };
  keys: BrokerKeys;
  supportedLoas: LoaLevel[];
  validityHours: number;
  algorithm: SignatureAlgorithmUri;
  now?: () => Date;
}

/** Our signed metadata, built once and rebuilt when half its validity has passed. */
export function metadataRouter(deps: MetadataDeps): Router {
  const router = express.Router();
  const now = deps.now ?? (() => new Date());
  let cached: { xml: string; builtAt: number } | undefined;
  const validityMs = deps.validityHours * 3_600_000;

  const current = async (): Promise<string> => {
    const t = now().getTime();
    if (!cached || t - cached.builtAt > validityMs / 2) {
      const xml = await buildIdpMetadata(
        {
          entityId: deps.entityId,
          ssoUrls: deps.ssoUrls,
          signingCerts: [deps.keys.signing.certB64, ...(deps.keys.nextSigningCertB64 ? [deps.keys.nextSigningCertB64] : [])],
          encryptionCerts: [deps.keys.encryption.certB64, ...(deps.keys.nextEncryptionCertB64 ? [deps.keys.nextEncryptionCertB64] : [])],
          validUntil: new Date(t + validityMs),
          cacheDurationSeconds: 3600,
          loas: deps.supportedLoas.map((l) => LOA[l]),
          nameIdFormats: [NAMEID_FORMAT.persistent, NAMEID_FORMAT.transient, NAMEID_FORMAT.unspecified],
        },
        { key: deps.keys.metadataSigning, algorithm: deps.algorithm },
      );
      cached = { xml, builtAt: t };
    }
    return cached.xml;
  };

  router.get('/metadata', async (_req, res) => {
    const xml = await current();
    res.setHeader('Cache-Control', 'public, max-age=3600');
    res.type('application/samlmetadata+xml').send(xml);
  });
  return router;
}
