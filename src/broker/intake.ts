import type { ReceiveOptions } from '../saml/request';
import type { KeyValueStore } from '../store/types';
import type { TrustRegistry } from '../trust/types';

export interface IntakeDeps {
  trust: Pick<TrustRegistry, 'get'>;
  store: KeyValueStore;
  ssoUrls: { redirect: string; post: string };
  clockSkewSeconds: number;
  maxRequestAgeSeconds: number;
  now?: () => Date;
}

/**
 * The options of the AuthnRequest intake, for the SSO endpoint and for the onboarding self-check
 * alike, so the self-check runs exactly what the endpoint runs. The one difference: the
 * self-check only looks at the replay cache (is this ID used already?) and never uses an ID up.
 */
export function intakeOptions(deps: IntakeDeps, mode: 'sso' | 'check' = 'sso', trace?: ReceiveOptions['trace']): ReceiveOptions {
  return {
    trust: deps.trust,
    replay:
      mode === 'sso'
        ? (key, ttlMs) => deps.store.setIfAbsent(`replay:${key}`, '1', ttlMs)
        : async (key) => (await deps.store.get(`replay:${key}`)) === null,
    now: (deps.now ?? (() => new Date()))(),
    clockSkewSeconds: deps.clockSkewSeconds,
    maxRequestAgeSeconds: deps.maxRequestAgeSeconds,
    ssoUrls: deps.ssoUrls,
    ...(trace ? { trace } : {}),
  };
}
