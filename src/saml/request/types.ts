import type { ServiceProvider, TrustRegistry } from '../../trust/types';
import type { BindingLimits } from '../bindings';
import type { AuthnRequest, SamlRequestFailure } from '../types';

export type InboundAuthnRequestMessage = { binding: 'redirect'; rawQuery: string } | { binding: 'post'; form: Record<string, unknown> };

export interface ReceiveAuthnRequestOptions {
  trust: Pick<TrustRegistry, 'get'>;
  /** Replay cache: true when the key was stored by this call (first sighting), as `store.setIfAbsent`. */
  replay: (key: string, ttlMs: number) => Promise<boolean>;
  now: Date;
  clockSkewSeconds: number;
  maxRequestAgeSeconds: number;
  /** Our SSO endpoint per binding; an AuthnRequest's Destination must equal the one it arrived at. */
  ssoUrls: { redirect: string; post: string };
  limits?: BindingLimits;
  /**
   * Told the outcome of every named check as the pipeline runs (the onboarding self-check uses
   * it; the SSO endpoint does not). With `collect`, the checks answered to the SP all run even
   * after one fails, so that the report lists each; the result is still the first failure.
   */
  trace?: { step(check: IntakeCheck): void; collect?: boolean };
}

/** One named check of the intake and its outcome. */
export interface IntakeCheck {
  /** Stable name, e.g. `signature`, `destination`. */
  check: string;
  ok: boolean;
  code?: string;
  message?: string;
}

export type ReceiveAuthnRequestResult =
  | { ok: true; request: AuthnRequest; sp: ServiceProvider }
  | { ok: false; failure: SamlRequestFailure };

/** Short aliases used by the web layer. */
export type ReceiveOptions = ReceiveAuthnRequestOptions;
export type ReceiveMessage = InboundAuthnRequestMessage;
export type ReceiveResult = ReceiveAuthnRequestResult;
