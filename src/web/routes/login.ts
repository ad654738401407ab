import express, { type Router } from 'express';
import type { Authenticator } from '../../authn/types';
import { STATUS } from '../../saml/constants';
import { uriLevel } from '../../saml/loa';
import type { MethodId } from '../../saml/types';
import type { AuthnKit } from '../kit';
import { renderError, renderPost } from '../render';
import { setCsp } from '../context';
import { chooserPage } from '../views';

/** The method chooser at /login/:txn and each authenticator's pages below it. */
export function loginRouter(kit: AuthnKit, authenticators: Authenticator[], sessionCookieName: string): Router {
  const router = express.Router();
  const form = express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 20 });

  router.get('/login/:txn', async (req, res) => {
    const loaded = await kit.loadTxn(req, res, 'chooser');
    if (!loaded) return;
    const { txn, sp } = loaded;
    const options = kit.broker.optionsFor(txn.request, sp);
    const session = await kit.broker.sessions.get((req.cookies as Record<string, string>)[sessionCookieName], kit.now());
    const requested = txn.request.requestedLoa;
    setCsp(res);
    res.setHeader('Cache-Control', 'no-store');
    res.type('html').send(
      chooserPage(kit.page(req, res), {
        txnId: txn.id,
        spName: sp.displayName ?? txn.request.providerName?.split(';')[1] ?? sp.entityId,
        requestedLevel: requested.classRefs.map((u) => uriLevel(u) ?? u).join(' / '),
        options,
        currentLevel: session ? session.achievedLoa : undefined,
      }),
    );
  });

  router.post('/login/:txn', form, kit.csrfProtection, async (req, res) => {
    const loaded = await kit.loadTxn(req, res, 'chooser');
    if (!loaded) return;
    const { txn, sp } = loaded;
    const method = String((req.body as Record<string, unknown>).method ?? '') as MethodId;
    const option = kit.broker.optionsFor(txn.request, sp).find((o) => o.method === method);
    // A disabled button can still be forged in a POST: the server re-checks.
    if (!option?.enabled || !authenticators.some((a) => a.id === method)) {
      res.redirect(303, `/login/${txn.id}`);
      return;
    }
    await kit.broker.transactions.save({ ...txn, method, step: undefined }, kit.now());
    res.redirect(303, `/login/${txn.id}/${method}`);
  });

  // Cancel from the chooser, or "return to the service" from an error page (also once the login expired).
  router.post('/login/:txn/cancel', form, kit.csrfProtection, async (req, res) => {
    const txnId = String(req.params.txn);
    const expired = await kit.broker.loadExpired(txnId);
    const post = await kit.broker.fail(txnId, {
      status: STATUS.responder,
      subStatus: STATUS.authnFailed,
      message: expired ? 'The login expired before the citizen completed it' : 'The citizen cancelled the authentication',
    });
    if (!post) return renderError(req, res, 410, 'error.expired');
    renderPost(req, res, post);
  });

  for (const a of authenticators) router.use(`/login/:txn/${a.id}`, a.router(kit));
  return router;
}
