import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';
import { SAML, generateServiceProviderMetadata, ValidateInResponseTo, type Profile } from '@node-saml/node-saml';
import { InMemoryCacheProvider } from '@node-saml/node-saml/lib/in-memory-cache-provider';
import type { Logger } from 'pino';
import { makeSelfSignedRsa, pemToB64 } from '../pki/self-signed';
import { LOA } from '../saml/constants';
import { parseXml, textOf } from '../saml/xml';
import { setCsp, pageContext } from '../web/context';
import { html } from '../web/html';
import { layout } from '../web/views';

/**
 * The demo SP at /demo: a real SAML SP (node-saml, the library many Node SPs use) with its own
 * keys, so a newcomer sees the whole flow — signed AuthnRequest out, signed Response verified —
 * without writing a line. It is an ordinary entry in the trust list.
 */
export interface DemoSp {
  entityId: string;
  metadataXml: string;
  router: Router;
}

export function createDemoSp(opts: { baseUrl: string; ssoUrl: string; idpCertPem: string; keysDir: string; log: Logger }): DemoSp {
  const dir = path.join(opts.keysDir, 'demo-sp');
  const keyFile = path.join(dir, 'sp.key');
  const certFile = path.join(dir, 'sp.crt');
  if (!existsSync(keyFile) || !existsSync(certFile)) {
    mkdirSync(dir, { recursive: true });
    const kc = makeSelfSignedRsa('Pasarela demo SP');
    writeFileSync(keyFile, kc.keyPem, { mode: 0o600 });
    writeFileSync(certFile, kc.certPem);
  }
  const keyPem = readFileSync(keyFile, 'utf8');
  const certPem = readFileSync(certFile, 'utf8');
  const entityId = `${opts.baseUrl}/demo/metadata`;
  const callbackUrl = `${opts.baseUrl}/demo/acs`;
  const cacheProvider = new InMemoryCacheProvider({ keyExpirationPeriodMs: 30 * 60_000 });

  const saml = (loa: string, forceAuthn: boolean) =>
    new SAML({
      entryPoint: opts.ssoUrl,
      issuer: entityId,
      callbackUrl,
      audience: entityId,
      idpCert: pemToB64(opts.idpCertPem),
      privateKey: keyPem,
      signatureAlgorithm: 'sha256',
      identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
      authnContext: [loa],
      racComparison: 'minimum',
      forceAuthn,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: true,
      validateInResponseTo: ValidateInResponseTo.always,
      cacheProvider,
      acceptedClockSkewMs: 60_000,
      providerName: 'demo;Pasarela demo',
    });

  const metadataXml = generateServiceProviderMetadata({
    issuer: entityId,
    callbackUrl,
    publicCerts: certPem,
    // node-saml only writes the signing KeyDescriptor when it also holds the private key.
    privateKey: keyPem,
    identifierFormat: 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent',
    wantAssertionsSigned: true,
  });

  const router = express.Router();
  const levels: Array<'low' | 'substantial' | 'high'> = ['low', 'substantial', 'high'];

  router.get('/demo', (req, res) => {
    setCsp(res);
    const ctx = pageContext(req, res);
    const d = DEMO_TEXT[ctx.lang];
    res.type('html').send(
      layout(
        ctx,
        d.title,
        html`<h1>${d.title}</h1>
<p>${d.intro}</p>
<form method="get" action="/demo/login">
<fieldset><legend>${d.loa}</legend>
${levels.map((k, i) => html`<p><input type="radio" id="loa-${k}" name="loa" value="${k}"${i === 0 ? html` checked` : ''}> <label for="loa-${k}" style="display:inline">${ctx.t(`loa.${k}`)}</label></p>`)}
</fieldset>
<p><input type="checkbox" id="force" name="force" value="1"> <label for="force" style="display:inline">${d.force}</label></p>
<p><button type="submit">${d.login}</button></p>
</form>`,
      ),
    );
  });

  router.get('/demo/login', async (req, res) => {
    const key = typeof req.query.loa === 'string' && req.query.loa in LOA ? (req.query.loa as keyof typeof LOA) : 'low';
    const url = await saml(LOA[key], req.query.force === '1').getAuthorizeUrlAsync('demo', undefined, {});
    res.redirect(302, url);
  });

  router.post('/demo/acs', express.urlencoded({ extended: false, limit: '600kb' }), async (req, res) => {
    setCsp(res);
    const ctx = pageContext(req, res);
    try {
      const { profile } = await saml(LOA.low, false).validatePostResponseAsync(req.body as Record<string, string>);
      if (!profile) throw new Error('no profile in the response');
      const { classRef, attributes } = describe(profile);
      const d = DEMO_TEXT[ctx.lang];
      res.type('html').send(
        layout(
          ctx,
          d.loggedIn,
          html`<h1>${d.loggedIn}</h1>
<p>${d.achieved} <strong id="loa">${classRef}</strong></p>
<p>NameID (${profile.nameIDFormat}): <code id="nameid">${profile.nameID}</code></p>
<table id="attributes"><caption>${d.attributes}</caption><thead><tr><th scope="col">${d.name}</th><th scope="col">${d.value}</th></tr></thead><tbody>
${attributes.map(([n, v]) => html`<tr><th scope="row">${n}</th><td>${v}</td></tr>`)}
</tbody></table>
<p><a href="/demo">${d.again}</a></p>`,
        ),
      );
    } catch (err) {
      opts.log.info({ event: 'demo.acs.rejected', err: (err as Error).message }, 'demo SP rejected a response');
      const d = DEMO_TEXT[ctx.lang];
      res.status(400).type('html').send(
        layout(ctx, d.notLoggedIn, html`<h1>${d.notLoggedIn}</h1><p id="reason" lang="en">${(err as Error).message}</p><p><a href="/demo">${d.again}</a></p>`),
      );
    }
  });

  router.get('/demo/metadata', (_req, res) => {
    res.type('application/samlmetadata+xml').send(metadataXml);
  });

  return { entityId, metadataXml, router };
}

/** AuthnContextClassRef and attributes of a validated assertion (read from node-saml's verified assertion XML). */
function describe(profile: Profile): { classRef: string; attributes: Array<[string, string]> } {
  const xml = profile.getAssertionXml?.() ?? '';
  const doc = parseXml(xml);
  const ref = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'AuthnContextClassRef')[0];
  const attributes: Array<[string, string]> = [];
  const attrs = doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'Attribute');
  for (let i = 0; i < attrs.length; i++) {
    const a = attrs[i]!;
    const values = a.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'AttributeValue');
    const texts: string[] = [];
    for (let j = 0; j < values.length; j++) texts.push(textOf(values[j]!));
    attributes.push([a.getAttribute('FriendlyName') || a.getAttribute('Name') || '', texts.join(', ')]);
  }
  return { classRef: ref ? textOf(ref) : '', attributes };
}

/** The demo SP's own words, in the page's language (its `lang` must say what the page is written in). */
const DEMO_TEXT = {
  es: {
    title: 'Servicio de demostración',
    intro: 'Esta página es un proveedor de servicio SAML aparte (node-saml) inscrito en la lista de confianza de Pasarela. Elija el nivel de seguridad que pedirá.',
    loa: 'Nivel de seguridad',
    force: 'Pedir identificación de nuevo (ForceAuthn)',
    login: 'Identificarse con Pasarela',
    loggedIn: 'Identificación completada',
    achieved: 'Nivel de seguridad alcanzado:',
    attributes: 'Atributos',
    name: 'Nombre',
    value: 'Valor',
    again: 'Empezar de nuevo',
    notLoggedIn: 'Identificación no completada',
  },
  en: {
    title: 'Demo service provider',
    intro: "This page is a separate SAML service provider (node-saml) registered in Pasarela's trust list. Pick the level of assurance it asks for.",
    loa: 'Level of assurance',
    force: 'Ask to sign in again (ForceAuthn)',
    login: 'Sign in through Pasarela',
    loggedIn: 'Signed in',
    achieved: 'Level of assurance achieved:',
    attributes: 'Attributes',
    name: 'Name',
    value: 'Value',
    again: 'Start again',
    notLoggedIn: 'Not signed in',
  },
} as const;
