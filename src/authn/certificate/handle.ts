import type { CertificateIdentity } from '../../pki/identity';
import type { AnchorKind } from '../../pki/validate';

/**
 * The one-time result the certificate host hands to the main host: stored under a random handle
 * (2 minutes by default), bound to the login transaction, taken exactly once.
 */
export interface CertificateLoginResult {
  v: 1;
  txnId: string;
  kind: AnchorKind;
  identity: CertificateIdentity;
  /** The issuing CA's distinguished name and the leaf serial, for the audit log. */
  issuer: string;
  serial: string;
  /** When the certificate was validated (the AuthnInstant). */
  at: string;
}

export const HANDLE_PATTERN = /^[A-Za-z0-9_-]{32}$/;

export function handleKey(handle: string): string {
  return `certauth:${handle}`;
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

/** Parse what the store holds; null for anything that is not a result we wrote. */
export function parseLoginResult(raw: string): CertificateLoginResult | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof v !== 'object' || v === null) return null;
  const r = v as Record<string, unknown>;
  const id = r.identity as Record<string, unknown> | undefined;
  if (r.v !== 1 || !isString(r.txnId) || (r.kind !== 'dnie' && r.kind !== 'qualified') || !isString(r.issuer) || !isString(r.serial) || !isString(r.at)) {
    return null;
  }
  if (!id || !isString(id.dni) || !isString(id.givenName) || !isString(id.firstSurname)) return null;
  if (id.secondSurname !== null && !isString(id.secondSurname)) return null;
  if (id.dateOfBirth !== undefined && !isString(id.dateOfBirth)) return null;
  return r as unknown as CertificateLoginResult;
}

/** A registration flow id of /account/register (issue 7), opened by the main host before the TLS hop. */
export const REGISTRATION_FLOW_PATTERN = /^[A-Za-z0-9_-]{32}$/;

export function registrationFlowKey(flow: string): string {
  return `acctreg:${flow}`;
}

/** What a registration's certificate result is bound to (in place of a login transaction id). */
export function registrationBinding(flow: string): string {
  return `account-register:${flow}`;
}

/** What a certificate result for /account/recover or /account/deregister is bound to (the account flow, `acct:<flow>` in the store). */
export function accountCertificateBinding(flow: string): string {
  return `account-certificate:${flow}`;
}

/** An account flow id (/account/activate, password, recover, deregister), `acct:<flow>` in the store. */
export const ACCOUNT_FLOW_PATTERN = /^[A-Za-z0-9_-]{20,64}$/;

export function accountFlowKey(flow: string): string {
  return `acct:${flow}`;
}
