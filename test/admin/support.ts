import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignedXml } from 'xml-crypto';
import { pemToB64 } from '../../src/pki/self-signed';

/** SP metadata for tests: one SPSSODescriptor, an HTTP-POST ACS, an optional signing certificate. */
export function spXml(o: {
  entityId: string;
  acs?: string;
  certPem?: string | null;
  validUntil?: Date;
  authnRequestsSigned?: boolean;
  extensions?: string;
  id?: string;
}): string {
  const acs = o.acs ?? `${new URL(o.entityId).origin}/acs`;
  const key = o.certPem
    ? `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${pemToB64(o.certPem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
    : '';
  return (
    `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${o.entityId}"` +
    `${o.validUntil ? ` validUntil="${o.validUntil.toISOString()}"` : ''}${o.id ? ` ID="${o.id}"` : ''}>` +
    `${o.extensions ? `<md:Extensions>${o.extensions}</md:Extensions>` : ''}` +
    `<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"${o.authnRequestsSigned ? ' AuthnRequestsSigned="true"' : ''}>` +
    key +
    `<md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>` +
    `<md:AssertionConsumerService index="0" Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="${acs}"/>` +
    `</md:SPSSODescriptor></md:EntityDescriptor>`
  );
}

/** An eduGAIN-style aggregate of the given EntityDescriptors (strings without XML declaration). */
export function aggregateXml(entities: string[], validUntil: Date | null, id = '_agg1'): string {
  const inner = entities.map((e) => e.replace(/ xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"/, '')).join('');
  return (
    `<md:EntitiesDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="${id}" Name="urn:test:federation"` +
    `${validUntil ? ` validUntil="${validUntil.toISOString()}"` : ''}>${inner}</md:EntitiesDescriptor>`
  );
}

/** Sign an aggregate the way federation operators do: enveloped, exclusive c14n, RSA-SHA256, over the root. */
export function signAggregate(xml: string, keyPem: string): string {
  const sig = new SignedXml({
    privateKey: keyPem,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: "/*[local-name(.)='EntitiesDescriptor']",
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
  });
  sig.computeSignature(xml, { prefix: 'ds', location: { reference: "/*[local-name(.)='EntitiesDescriptor']", action: 'prepend' } });
  return sig.getSignedXml();
}

/** A loopback HTTP server answering fixed bodies per path (metadata, JWKS), changeable between requests. */
export interface FixtureServer {
  url: string;
  set(path: string, body: string, contentType?: string): void;
  /** Requests answered or held for this path so far. */
  hits(path: string): number;
  /**
   * The next requests for this path wait until `release()`: `arrived` resolves when the first
   * one is in (a slow metadata server, to act while a refresh is downloading).
   */
  hold(path: string): { arrived: Promise<void>; release(): void };
  close(): Promise<void>;
}

export async function fixtureServer(): Promise<FixtureServer> {
  const bodies = new Map<string, { body: string; type: string }>();
  const hits = new Map<string, number>();
  const held = new Map<string, { gate: Promise<void>; arrived(): void }>();
  const server: Server = createServer(async (req, res) => {
    const url = req.url ?? '';
    hits.set(url, (hits.get(url) ?? 0) + 1);
    const h = held.get(url);
    if (h) {
      h.arrived();
      await h.gate;
    }
    const f = bodies.get(url);
    if (!f) {
      res.statusCode = 404;
      res.end('not found');
      return;
    }
    res.setHeader('content-type', f.type);
    res.end(f.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    set: (path, body, type = 'application/samlmetadata+xml') => bodies.set(path, { body, type }),
    hits: (path) => hits.get(path) ?? 0,
    hold(path) {
      let release!: () => void;
      let arrived!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const arrivedP = new Promise<void>((r) => (arrived = r));
      held.set(path, { gate, arrived });
      return {
        arrived: arrivedP,
        release: () => {
          held.delete(path);
          release();
        },
      };
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
