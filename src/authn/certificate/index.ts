import { createHash } from 'node:crypto';
import express, { type Request, type Response, type Router } from 'express';
import { revive } from '../../broker/broker';
import { achievedLoa, variantSatisfies } from '../../broker/policy';
import { maskDni } from '../../citizens/nif';
import { uriLevel } from '../../saml/loa';
import { BROWSER_COOKIE, setCsp } from '../../web/context';
import type { MessageKey } from '../../web/i18n';
import type { AuthnKit } from '../../web/kit';
import type { LoaLevel } from '../../saml/constants';
import type { Authenticator, AuthnResult } from '../types';
import { HANDLE_PATTERN, handleKey, parseLoginResult } from './handle';
import { certificateProblemPage, certificateStartPage } from './views';

export { certificateConfigSchema, certificateSettings, type CertificateSettings } from './config';
export { certificateHostUrl, loadCertificateTrust, revocationCheckerFrom, startCertificateHost, type CertificateHost, type CertificateHostOptions } from './host';

export const SELECTED_IDP_CERTIFICATE = 'AFIRMA';
export const CERTIFICATE_VARIANTS = { dnie: 'certificate.dnie', qualified: 'certificate.qualified' } as const;

export interface CertificateAuthenticatorOptions {
  /** Public base URL of the certificate host (`certificateHostUrl(settings)`). */
  hostUrl: string;
}

/** Binds the certificate step to the browser that chose it on the main host (the per-browser id cookie). */
function browserTag(req: Request): string {
  const bid = String((req.cookies as Record<string, string> | undefined)?.[BROWSER_COOKIE] ?? '');
  return createHash('sha256').update(`certificate\u0000${bid}`).digest('base64url').slice(0, 32);
}

/**
 * DNIe and other qualified certificates: the main-host half. `/` explains the step and links to
 * the certificate host (which asks for the client certificate); `/return` takes the one-time
 * result back, checks it belongs to this login and this browser, computes the LoA from the policy
 * (DNIe -> high, other qualified certificates -> substantial by default) and finishes the login.
 * No Cl@ve registration is needed.
 */
export function createCertificateAuthenticator(opts: CertificateAuthenticatorOptions): Authenticator {
  const hostUrl = opts.hostUrl.replace(/\/+$/, '');
  return {
    id: 'certificate',
    router(kit: AuthnKit): Router {
      const router = express.Router({ mergeParams: true });

      const problem = (req: Request, res: Response, status: number, message: string, txnId: string) => {
        const ctx = kit.page(req, res);
        setCsp(res);
        res.setHeader('Cache-Control', 'no-store');
        res
          .status(status)
          .type('html')
          .send(
            certificateProblemPage(ctx, {
              message,
              chooserHref: `/login/${txnId}`,
              retryHref: `/login/${txnId}/certificate`,
              referenceId: String(req.id),
            }),
          );
      };

      router.get('/', async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'certificate');
        if (!loaded) return;
        const { txn, sp } = loaded;
        await kit.broker.transactions.save({ ...txn, step: { ...(txn.step ?? {}), certificateBrowser: browserTag(req) } }, kit.now());
        const request = revive(txn);
        const reaches = (variant: string) => variantSatisfies(kit.loaPolicy, variant, 'none', request.requestedLoa, sp.policy.minLoa) !== null;
        const ctx = kit.page(req, res);
        const onlyDnie = reaches(CERTIFICATE_VARIANTS.dnie) && !reaches(CERTIFICATE_VARIANTS.qualified);
        const requested = request.requestedLoa.classRefs.map((u) => uriLevel(u) ?? u)[0];
        const loaName = requested === 'low' || requested === 'substantial' || requested === 'high' ? ctx.t(`loa.${requested}`) : (requested ?? '');
        setCsp(res);
        res.setHeader('Cache-Control', 'no-store');
        res.type('html').send(
          certificateStartPage(ctx, {
            txnId: txn.id,
            hostHref: `${hostUrl}/login/${encodeURIComponent(txn.id)}/certificate/tls?lang=${ctx.lang}`,
            onlyDnieFor: onlyDnie ? loaName : undefined,
          }),
        );
      });

      router.get('/return', async (req, res) => {
        const loaded = await kit.loadTxn(req, res, 'certificate');
        if (!loaded) return;
        const { txn, sp } = loaded;
        const ctx = kit.page(req, res);
        // Only the browser that started the certificate step may bring the result back (checked
        // before taking the handle, so another browser cannot burn it).
        if (txn.step?.certificateBrowser !== browserTag(req)) {
          kit.log.warn({ event: 'auth.certificate.other_browser', txn: txn.id }, 'certificate result brought by another browser');
          return problem(req, res, 403, ctx.t('certificate.other_browser'), txn.id);
        }
        const handle = typeof req.query.handle === 'string' ? req.query.handle : '';
        const raw = HANDLE_PATTERN.test(handle) ? await kit.store.take(handleKey(handle)) : null;
        const result = raw ? parseLoginResult(raw) : null;
        if (!result || result.txnId !== txn.id) {
          if (result) kit.log.warn({ event: 'auth.certificate.handle_mismatch', txn: txn.id }, 'certificate result of another login');
          return problem(req, res, 410, ctx.t('certificate.handle_invalid'), txn.id);
        }

        const variant = CERTIFICATE_VARIANTS[result.kind];
        const level = achievedLoa(kit.loaPolicy, variant, 'none');
        const request = revive(txn);
        if (!level || !variantSatisfies(kit.loaPolicy, variant, 'none', request.requestedLoa, sp.policy.minLoa)) {
          const loa = request.requestedLoa.classRefs.map((u) => loaLabel(ctx.t, uriLevel(u) ?? u)).join(' / ');
          kit.log.info({ event: 'auth.certificate.insufficient', variant, loa: level, txn: txn.id }, 'certificate does not reach the requested LoA');
          // The certificate is valid, so its DNI/NIE is: a registered citizen finds this in their own trail.
          const holder = await kit.citizens.findByDni(result.identity.dni);
          await kit.auditFailure(req, { method: 'certificate', reason: 'insufficient_loa', sp: sp.entityId, citizenId: holder?.id, dni: result.identity.dni });
          return problem(req, res, 403, ctx.t('certificate.insufficient', { level: level ? loaLabel(ctx.t, level) : '-', loa }), txn.id);
        }

        // Certificates carry no date of birth (unless the CA put one in subjectDirectoryAttributes);
        // a citizen registered in Cl@ve under the same DNI/NIE supplies it. Names come from the certificate.
        let dateOfBirth = result.identity.dateOfBirth;
        if (!dateOfBirth) {
          const citizen = await kit.citizens.findByDni(result.identity.dni);
          if (citizen && citizen.status !== 'deregistered') dateOfBirth = citizen.dateOfBirth;
        }
        const authn: AuthnResult = {
          method: 'certificate',
          variant,
          subject: {
            dni: result.identity.dni,
            givenName: result.identity.givenName,
            firstSurname: result.identity.firstSurname,
            secondSurname: result.identity.secondSurname,
            dateOfBirth,
          },
          achievedLoa: level,
          authnInstant: new Date(result.at),
          selectedIdP: SELECTED_IDP_CERTIFICATE,
        };
        kit.log.info({ event: 'auth.certificate.success', variant, who: maskDni(result.identity.dni), txn: txn.id }, 'certificate login');
        await kit.finish(req, res, txn.id, authn);
      });
      return router;
    },
  };
}

function loaLabel(t: (key: MessageKey) => string, level: LoaLevel | string): string {
  return level === 'low' || level === 'substantial' || level === 'high' ? t(`loa.${level}`) : level;
}
