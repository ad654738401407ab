import express, { type Router } from 'express';
import { achievedLoa, variantSatisfies } from '../../broker/policy';
import { revive } from '../../broker/broker';
import { validateDniNie, maskDni } from '../../citizens/nif';
import { setCsp } from '../../web/context';
import type { AuthnKit } from '../../web/kit';
import { permanentePage } from '../../web/views';
import { subjectFromCitizen, type Authenticator } from '../types';

export const SELECTED_IDP_PERMANENTE = 'SEGSOC';

/** Cl@ve Permanente: DNI/NIE + password (the SMS one-time code step comes with issue 3). */
export const permanente: Authenticator = {
  id: 'permanente',
  router(kit: AuthnKit): Router {
    const router = express.Router({ mergeParams: true });
    const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });

    router.get('/', async (req, res) => {
      const loaded = await kit.loadTxn(req, res, 'permanente');
      if (!loaded) return;
      setCsp(res);
      res.setHeader('Cache-Control', 'no-store');
      res.type('html').send(permanentePage(kit.page(req, res), { txnId: loaded.txn.id }));
    });

    router.post('/', form, kit.csrfProtection, async (req, res) => {
      const loaded = await kit.loadTxn(req, res, 'permanente');
      if (!loaded) return;
      const { txn, sp } = loaded;
      const body = req.body as Record<string, unknown>;
      const username = typeof body.username === 'string' ? body.username : '';
      const password = typeof body.password === 'string' ? body.password : '';
      const ctx = kit.page(req, res);
      const show = (status: number, error: string, info?: string) => {
        setCsp(res);
        res.setHeader('Cache-Control', 'no-store');
        res.status(status).type('html').send(permanentePage(ctx, { txnId: txn.id, username, error, info }));
      };
      if (!username || !password) return show(400, ctx.t('field.required'));
      const dni = validateDniNie(username);
      if (!dni.ok) return show(400, ctx.t('permanente.invalid_dni', { reason: dni.reason }));

      const outcome = await kit.citizens.verifyPassword(dni.value, password);
      if (!outcome.ok) {
        kit.log.info({ event: 'auth.permanente.failed', reason: outcome.reason, who: maskDni(dni.value), txn: txn.id }, 'password rejected');
        if (outcome.reason === 'locked') return show(401, ctx.t('permanente.locked'));
        if (outcome.reason === 'inactive') return show(401, ctx.t('permanente.inactive'));
        return show(401, ctx.t('permanente.bad'));
      }
      const citizen = outcome.citizen;
      const request = revive(txn);
      const variant = 'permanente.password';
      const level = achievedLoa(kit.loaPolicy, variant, citizen.registrationLevel);
      if (!level || !variantSatisfies(kit.loaPolicy, variant, citizen.registrationLevel, request.requestedLoa, sp.policy.minLoa)) {
        const loa = request.requestedLoa.classRefs.join(' ');
        return show(403, ctx.t('permanente.insufficient', { level: citizen.registrationLevel, loa }));
      }
      await kit.finish(req, res, txn.id, {
        method: 'permanente',
        variant,
        subject: subjectFromCitizen(citizen),
        achievedLoa: level,
        authnInstant: kit.now(),
        selectedIdP: SELECTED_IDP_PERMANENTE,
      });
    });
    return router;
  },
};
