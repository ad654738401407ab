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
}

export type ReceiveAuthnRequestResult =
  | { ok: true; request: AuthnRequest; sp: ServiceProvider }
  | { ok: false; failure: SamlRequestFailure };

/** Short aliases used by the web layer. */
export type ReceiveOptions = ReceiveAuthnRequestOptions;
export type ReceiveMessage = InboundAuthnRequestMessage;
export type ReceiveResult = ReceiveAuthnRequestResult;
