import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { AuthnResult } from '../authn/types';
import type { BrokerKeys, Secrets } from '../config/keys';
import { PasarelaError } from '../errors';
import { SIG_ALG, STATUS } from '../saml/constants';
import { buildErrorResponse, buildResponse } from '../saml/response';
import type { AcsEndpoint, AuthnRequest, MethodId, SigningOptions } from '../saml/types';
import type { KeyValueStore } from '../store/types';
import type { LoginOutcome } from '../metrics';
import { uriLevel } from '../saml/loa';
import type { ServiceProvider, TrustRegistry } from '../trust/types';
import { pairwiseId, releaseAttributes, transientId } from './attributes';
import { methodOptions, satisfies, type LoaPolicy, type MethodOption } from './policy';
import { SessionStore, type SsoSession } from './session';
import { TransactionStore, type LoginTransaction } from './transaction';

/** What the web layer posts back to the SP: an auto-submitting form to an ACS from the SP's metadata. */
export interface PostBack {
  acs: string;
  samlResponse: string;
  relayState?: string;
}

export type StartDecision =
  | { kind: 'respond'; post: PostBack; outcome: 'sso' | 'error'; code: string }
  | { kind: 'interact'; txn: LoginTransaction }
  /** Too many new logins from this client address or for this SP: come back later. */
  | { kind: 'refuse'; reason: 'address' | 'sp'; retryAfterSeconds: number };

export interface RateLimit {
  max: number;
  windowSeconds: number;
}

export interface BrokerOptions {
  entityId: string;
  methods: MethodId[];
  loaPolicy: LoaPolicy;
  assertionLifetimeSeconds: number;
  transactionTtlSeconds: number;
  /** Life of a transaction until the citizen picks a method. */
  pendingTransactionTtlSeconds?: number;
  /** How long an expired login is kept so its page can still send the citizen back to the SP with AuthnFailed. */
  expiredTransactionGraceSeconds?: number;
  /** New transactions per client address and per SP (counted in the store, so across nodes). */
  transactionLimits?: { perAddress: RateLimit; perSp: RateLimit };
  sessionTtlSeconds: number;
}

export interface BrokerDeps {
  options: BrokerOptions;
  keys: BrokerKeys;
  secrets: Secrets;
  trust: Pick<TrustRegistry, 'get'>;
  store: KeyValueStore;
  log: Logger;
  now?: () => Date;
  /** Told of every answer to an SP (metrics.ts pasarela_logins_total). */
  onOutcome?: (o: LoginOutcome) => void;
}

interface ErrorSpec {
  status: string;
  subStatus?: string;
  message: string;
}

/**
 * The login transaction and the SSO session: sits between saml/ (which parsed and verified the
 * request) and authn/ (which authenticates the citizen), like node-oidc-provider's interactions.
 */
export class Broker {
  readonly transactions: TransactionStore;
  readonly sessions: SessionStore;
  private readonly now: () => Date;

  constructor(private readonly deps: BrokerDeps) {
    this.now = deps.now ?? (() => new Date());
    this.transactions = new TransactionStore(
      deps.store,
      deps.options.transactionTtlSeconds * 1000,
      (deps.options.pendingTransactionTtlSeconds ?? deps.options.transactionTtlSeconds) * 1000,
      (deps.options.expiredTransactionGraceSeconds ?? 0) * 1000,
    );
    this.sessions = new SessionStore(deps.store, deps.options.sessionTtlSeconds * 1000);
  }

  get options(): BrokerOptions {
    return this.deps.options;
  }

  /** A verified AuthnRequest arrives: reuse the SSO session, answer NoPassive/NoAuthnContext, or start an interaction. */
  async start(request: AuthnRequest, sp: ServiceProvider, sessionId: string | undefined, clientAddress?: string): Promise<StartDecision> {
    const options = this.optionsFor(request, sp);
    if (!options.some((o) => o.enabled)) {
      return this.respondError(request, sp, {
        status: STATUS.responder,
        subStatus: STATUS.noAuthnContext,
        message: `No authentication method can satisfy the request (${describeLoa(request)}): ${describeUnavailable(options)}`,
      });
    }
    const session = await this.sessions.get(sessionId, this.now());
    if (session && !request.forceAuthn && this.sessionSatisfies(session, request, sp)) {
      const post = await this.respondSuccess(request, sp, session);
      this.deps.onOutcome?.({ method: session.method, loa: session.achievedLoa, sp: sp.entityId, outcome: 'sso' });
      return { kind: 'respond', post, outcome: 'sso', code: 'sso_reused' };
    }
    if (request.isPassive) {
      return this.respondError(request, sp, {
        status: STATUS.responder,
        subStatus: STATUS.noPassive,
        message: session
          ? 'IsPassive was requested but the existing session does not satisfy the request (LoA, method or ForceAuthn), so the citizen would have to interact'
          : 'IsPassive was requested and there is no single sign-on session',
      });
    }
    const refused = await this.overTransactionLimits(sp.entityId, clientAddress);
    if (refused) {
      this.deps.onOutcome?.({ method: 'none', loa: requestedLevel(request), sp: sp.entityId, outcome: 'refused' });
      return refused;
    }
    const txn = await this.transactions.create(request, this.now());
    return { kind: 'interact', txn };
  }

  /** Count one new transaction for the address and the SP; the refusal when either is over its limit. */
  private async overTransactionLimits(spEntityId: string, clientAddress: string | undefined): Promise<Extract<StartDecision, { kind: 'refuse' }> | null> {
    const limits = this.deps.options.transactionLimits;
    if (!limits) return null;
    const counters: Array<['address' | 'sp', string, RateLimit]> = [['sp', spEntityId, limits.perSp]];
    if (clientAddress) counters.unshift(['address', clientAddress, limits.perAddress]);
    for (const [reason, who, limit] of counters) {
      const window = Math.floor(this.now().getTime() / (limit.windowSeconds * 1000));
      const key = `txnrate:${reason}:${createHash('sha256').update(who).digest('base64url').slice(0, 22)}:${window}`;
      const n = await this.deps.store.increment(key, limit.windowSeconds * 1000);
      if (n > limit.max) {
        if (n === limit.max + 1) this.deps.log.warn({ event: 'saml.transactions.limited', reason, sp: spEntityId, max: limit.max }, 'too many new login transactions');
        const retryAfterSeconds = Math.max(1, Math.ceil(((window + 1) * limit.windowSeconds * 1000 - this.now().getTime()) / 1000));
        return { kind: 'refuse', reason, retryAfterSeconds };
      }
    }
    return null;
  }

  /** The chooser's view of a transaction: every configured method, enabled or with the reason it is not. */
  optionsFor(request: Pick<AuthnRequest, 'requestedLoa' | 'excludedMethods'>, sp: ServiceProvider): MethodOption[] {
    return methodOptions({
      methods: this.deps.options.methods,
      policy: this.deps.options.loaPolicy,
      requested: request.requestedLoa,
      spAllowedMethods: sp.policy.allowedMethods,
      excludedMethods: request.excludedMethods,
      floor: sp.policy.minLoa,
    });
  }

  /** A session is reused only when its LoA satisfies the new request and its method is allowed there. */
  sessionSatisfies(session: SsoSession, request: AuthnRequest, sp: ServiceProvider): boolean {
    if (!satisfies(session.achievedLoa, request.requestedLoa, sp.policy.minLoa)) return false;
    if (sp.policy.allowedMethods && !sp.policy.allowedMethods.includes(session.method)) return false;
    return !request.excludedMethods.includes(session.method);
  }

  /** Look a transaction up together with its SP (which may have been removed from the trust list since). */
  async load(txnId: string): Promise<{ txn: LoginTransaction; sp: ServiceProvider } | null> {
    const txn = await this.transactions.get(txnId, this.now());
    if (!txn) return null;
    const sp = this.deps.trust.get(txn.spEntityId);
    return sp ? { txn, sp } : null;
  }

  /** The trusted SP of this entityID, if it still is. */
  trustedSp(entityId: string): ServiceProvider | undefined {
    return this.deps.trust.get(entityId);
  }

  /** A login that expired within its grace period and whose SP is still trusted: it can still be answered with AuthnFailed. */
  async loadExpired(txnId: string): Promise<{ txn: LoginTransaction; sp: ServiceProvider } | null> {
    const txn = await this.transactions.getExpired(txnId, this.now());
    if (!txn) return null;
    const sp = this.deps.trust.get(txn.spEntityId);
    return sp ? { txn, sp } : null;
  }

  /**
   * An authenticator succeeded. Consumes the transaction (once), opens a fresh SSO session and
   * builds the Response. If the achieved LoA does not satisfy the request (the method should not
   * have been offered), the SP gets NoAuthnContext rather than an over-claimed assertion.
   */
  async complete(
    txnId: string,
    result: AuthnResult,
    previousSessionId: string | undefined,
  ): Promise<{ post: PostBack; session?: SsoSession; spEntityId?: string } | null> {
    const txn = await this.transactions.take(txnId, this.now());
    if (!txn) return null;
    const sp = this.deps.trust.get(txn.spEntityId);
    if (!sp) return null;
    const request = revive(txn);
    if (!satisfies(result.achievedLoa, request.requestedLoa, sp.policy.minLoa)) {
      const d = await this.respondError(request, sp, {
        status: STATUS.responder,
        subStatus: STATUS.noAuthnContext,
        message: `The authentication reached LoA ${result.achievedLoa}, which does not satisfy ${describeLoa(request)}`,
      }, result.method);
      return { post: d.post };
    }
    const session = await this.sessions.create(result, this.now(), previousSessionId);
    const post = await this.respondSuccess(request, sp, session);
    this.deps.onOutcome?.({ method: result.method, loa: result.achievedLoa, sp: sp.entityId, outcome: 'success' });
    this.deps.log.info(
      { event: 'login.success', sp: sp.entityId, method: result.method, variant: result.variant, loa: result.achievedLoa, txn: txn.id },
      'login completed',
    );
    return { post, session, spEntityId: sp.entityId };
  }

  /** The citizen gave up, or a method failed for good: the SP gets an error Response. */
  async fail(txnId: string, spec: ErrorSpec): Promise<PostBack | null> {
    // An expired login can still be answered with an error: that is the citizen's way back to the SP.
    const txn = await this.transactions.take(txnId, this.now(), { expired: 'allow' });
    if (!txn) return null;
    const sp = this.deps.trust.get(txn.spEntityId);
    if (!sp) return null;
    return (await this.respondError(revive(txn), sp, spec, txn.method ?? 'none')).post;
  }

  private signingFor(sp: ServiceProvider, forAssertion: boolean): SigningOptions {
    const encrypt = forAssertion && sp.policy.encryptAssertion && sp.encryptionCert;
    return {
      key: this.deps.keys.signing,
      algorithm: sp.policy.signatureAlgorithm,
      signResponse: forAssertion ? sp.policy.signResponse : true,
      signAssertion: forAssertion ? sp.policy.signAssertion : false,
      encryptTo: encrypt ? { certPem: sp.encryptionCert!.certPem, key: sp.encryptionCert!.key } : undefined,
    };
  }

  private async respondSuccess(request: AuthnRequest, sp: ServiceProvider, session: SsoSession): Promise<PostBack> {
    const classRef = satisfies(session.achievedLoa, request.requestedLoa, sp.policy.minLoa);
    const { attributes, missingRequired } = releaseAttributes({
      subject: session.subject,
      selectedIdP: session.selectedIdP,
      claveRelayState: request.claveRelayState,
      requested: request.requestedAttributes,
      policyReleased: sp.policy.releasedAttributes,
    });
    if (!classRef || missingRequired.length > 0) {
      const d = await this.respondError(request, sp, {
        status: STATUS.responder,
        subStatus: classRef ? STATUS.requestDenied : STATUS.noAuthnContext,
        message: classRef
          ? `Required attribute(s) not available for this citizen or not released to this SP: ${missingRequired.join(', ')}`
          : `The session's LoA ${session.achievedLoa} does not satisfy ${describeLoa(request)}`,
      });
      return d.post;
    }
    const now = this.now();
    const format = request.nameIdFormat;
    const profile = responseProfile(sp.policy, request);
    let xml: string;
    try {
      xml = await buildResponse(
        {
          issuer: this.deps.options.entityId,
          destination: request.acs.location,
          inResponseTo: request.id,
          audience: sp.entityId,
          now,
          assertionLifetimeSeconds: this.deps.options.assertionLifetimeSeconds,
          nameId: {
            format,
            value: format === 'transient' ? transientId() : pairwiseId(this.deps.secrets.pairwise, sp.entityId, session.subject.dni),
            nameQualifier: format === 'persistent' ? this.deps.options.entityId : undefined,
            spNameQualifier: format === 'persistent' ? sp.entityId : undefined,
          },
          authnInstant: new Date(session.authnInstant),
          sessionIndex: session.sessionIndex,
          achievedLoa: classRef,
          attributes: profile.typedAttributes ? attributes : attributes.map(({ eidasType: _typed, ...plain }) => plain),
          oneTimeUse: profile.oneTimeUse,
        },
        this.signingFor(sp, true),
      );
    } catch (err) {
      // A value the response cannot carry (it should have been refused at intake): the SP gets an
      // error it can act on, never a 500 after the citizen has already logged in.
      if (!(err instanceof PasarelaError)) throw err;
      const d = await this.respondError(request, sp, {
        status: STATUS.responder,
        message: `The response could not be built: ${err.message}`,
      });
      return d.post;
    }
    return postBack(request.acs, xml, request.relayState);
  }

  private async respondError(request: AuthnRequest, sp: ServiceProvider, spec: ErrorSpec, method = 'none'): Promise<Extract<StartDecision, { kind: 'respond' }>> {
    const post = await this.errorPost(
      { spEntityId: sp.entityId, acs: request.acs, inResponseTo: request.id, relayState: request.relayState },
      spec,
    );
    this.deps.log.info({ event: 'login.error', sp: sp.entityId, status: spec.subStatus ?? spec.status, reason: spec.message }, 'error response');
    this.deps.onOutcome?.({ method, loa: requestedLevel(request), sp: sp.entityId, outcome: statusName(spec.subStatus ?? spec.status) });
    return { kind: 'respond', post, outcome: 'error', code: spec.subStatus ?? spec.status };
  }

  /** A signed error Response for a trusted SP and ACS (also used for request-validation failures). */
  async errorPost(
    to: { spEntityId: string; acs: AcsEndpoint; inResponseTo: string; relayState?: string },
    spec: ErrorSpec,
  ): Promise<PostBack> {
    const sp = this.deps.trust.get(to.spEntityId);
    const xml = await buildErrorResponse(
      {
        issuer: this.deps.options.entityId,
        destination: to.acs.location,
        inResponseTo: to.inResponseTo,
        now: this.now(),
        status: spec.status,
        subStatus: spec.subStatus,
        message: spec.message,
      },
      {
        key: this.deps.keys.signing,
        algorithm: sp?.policy.signatureAlgorithm ?? SIG_ALG.rsaSha256,
      },
    );
    return postBack(to.acs, xml, to.relayState);
  }
}

/**
 * What the response looks like for this SP: eIDAS stacks expect eIDAS-typed attribute values
 * and OneTimeUse; generic SAML stacks reject both (pysaml2 cannot read the xsi:types,
 * python3-saml and ruby-saml fail schema validation on them, Shibboleth SP and AD FS refuse
 * OneTimeUse by default). `auto` decides per request: eIDAS extensions mean an eIDAS SP.
 */
export function responseProfile(
  policy: Pick<ServiceProvider['policy'], 'profile' | 'oneTimeUse'>,
  request: Pick<AuthnRequest, 'eidasExtensions'>,
): { eidas: boolean; typedAttributes: boolean; oneTimeUse: boolean } {
  const eidas = policy.profile === 'eidas' || (policy.profile === 'auto' && request.eidasExtensions);
  return { eidas, typedAttributes: eidas, oneTimeUse: policy.oneTimeUse ?? eidas };
}

function postBack(acs: AcsEndpoint, xml: string, relayState: string | undefined): PostBack {
  return { acs: acs.location, samlResponse: Buffer.from(xml, 'utf8').toString('base64'), relayState };
}

export function revive(txn: LoginTransaction): AuthnRequest {
  return { ...txn.request, issueInstant: new Date(txn.request.issueInstant) };
}

function describeLoa(request: Pick<AuthnRequest, 'requestedLoa'>): string {
  return `${request.requestedLoa.comparison} ${request.requestedLoa.classRefs.join(' ')}`;
}

function describeUnavailable(options: MethodOption[]): string {
  return options.map((o) => `${o.method}: ${o.reason ?? 'available'}`).join('; ');
}

/** The first level the request names (metrics label), or "unspecified". */
function requestedLevel(request: AuthnRequest): string {
  for (const uri of request.requestedLoa.classRefs) {
    const level = uriLevel(uri);
    if (level) return level;
  }
  return 'unspecified';
}

/** urn:oasis:names:tc:SAML:2.0:status:NoPassive -> NoPassive (a bounded metrics label). */
function statusName(uri: string): string {
  return uri.slice(uri.lastIndexOf(':') + 1) || 'error';
}
