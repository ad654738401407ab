import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { AdminConfig } from '../config';
import type { AdminRole } from '../../db/operator-entities';
import { ADMIN_ROLES, type AdminTokens } from '../tokens';
import { problem } from './problem';

/** Who is calling the admin API. */
export interface Principal {
  kind: 'api-key' | 'jwt';
  /** Token name, or the JWT's `sub`. */
  name: string;
  roles: AdminRole[];
  /** For the audit trail: `admin:key:<name>` or `admin:jwt:<sub>`. */
  actor: string;
}

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
  }
}

export type JwtVerifier = (token: string) => Promise<Principal>;

/**
 * JWTs from the operator's identity provider, verified with jose against the configured JWKS
 * URL, or the JWKS its issuer names in `/.well-known/openid-configuration`. `iss` (when
 * configured), `aud` (when configured), `exp` and `nbf` are enforced; the role claim must name
 * at least one admin role.
 */
export function jwtVerifier(cfg: AdminConfig['jwt'], fetchTimeoutMs = 5000): JwtVerifier | undefined {
  if (!cfg.jwksUrl && !cfg.issuer) return undefined;
  let keys: JWTVerifyGetKey | undefined = cfg.jwksUrl ? createRemoteJWKSet(new URL(cfg.jwksUrl), { timeoutDuration: fetchTimeoutMs }) : undefined;
  const discover = async (): Promise<JWTVerifyGetKey> => {
    if (keys) return keys;
    const res = await fetch(`${cfg.issuer!.replace(/\/+$/, '')}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(fetchTimeoutMs) });
    if (!res.ok) throw new Error(`issuer discovery answered HTTP ${res.status}`);
    const body = (await res.json()) as { jwks_uri?: unknown };
    if (typeof body.jwks_uri !== 'string') throw new Error('issuer discovery document has no jwks_uri');
    keys = createRemoteJWKSet(new URL(body.jwks_uri), { timeoutDuration: fetchTimeoutMs });
    return keys;
  };
  return async (token) => {
    const { payload } = await jwtVerify(token, await discover(), {
      ...(cfg.issuer ? { issuer: cfg.issuer } : {}),
      ...(cfg.audience ? { audience: cfg.audience } : {}),
      algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'],
      requiredClaims: ['exp'],
      clockTolerance: 30,
    });
    const roles = rolesOf(payload, cfg.roleClaim);
    const sub = typeof payload.sub === 'string' && payload.sub !== '' ? payload.sub : 'unknown';
    return { kind: 'jwt', name: sub, roles, actor: `admin:jwt:${sub}` };
  };
}

function rolesOf(payload: JWTPayload, claim: string): AdminRole[] {
  const raw = payload[claim];
  const list = typeof raw === 'string' ? raw.split(/\s+/) : Array.isArray(raw) ? raw.filter((r): r is string => typeof r === 'string') : [];
  return list.filter((r): r is AdminRole => (ADMIN_ROLES as readonly string[]).includes(r));
}

function unauthorized(res: Response, detail: string, error = 'invalid_token'): void {
  res.setHeader('WWW-Authenticate', `Bearer realm="pasarela-admin", error="${error}"`);
  problem(res, 401, 'Unauthorized', detail, 'ERR_ADMIN_UNAUTHORIZED');
}

/** Bearer authentication: an API key (`pasarela_…`) or a JWT. Sets req.principal. */
export function authenticate(tokens: AdminTokens, jwt: JwtVerifier | undefined): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const header = req.headers.authorization ?? '';
    const m = /^Bearer\s+([A-Za-z0-9._~+/=-]+)\s*$/i.exec(header);
    if (!m) return unauthorized(res, 'send an API key or a JWT as "Authorization: Bearer <token>"', 'invalid_request');
    const token = m[1]!;
    const looksJwt = token.split('.').length === 3;
    const verify = async (): Promise<Principal | string> => {
      if (!looksJwt) {
        const t = await tokens.verify(token);
        return t ? { kind: 'api-key', name: t.name, roles: [t.role], actor: `admin:key:${t.name}` } : 'the API key is unknown or revoked';
      }
      if (!jwt) return 'JWTs are not accepted here: no admin.jwt.jwksUrl or admin.jwt.issuer is configured';
      try {
        return await jwt(token);
      } catch (err) {
        if (err instanceof joseErrors.JWTExpired) return 'the JWT has expired';
        if (err instanceof joseErrors.JWTClaimValidationFailed) return `the JWT's "${err.claim}" claim is not accepted (${err.reason})`;
        if (err instanceof joseErrors.JWSSignatureVerificationFailed || err instanceof joseErrors.JWKSNoMatchingKey) return 'the JWT signature does not verify against the configured keys';
        if (err instanceof joseErrors.JOSEError) return `the JWT is not accepted (${err.code})`;
        return `the JWT could not be verified (${(err as Error).message})`;
      }
    };
    verify().then(
      (p) => {
        if (typeof p === 'string') return unauthorized(res, p);
        if (p.roles.length === 0) return problem(res, 403, 'Forbidden', `the token carries no admin role (${ADMIN_ROLES.join(', ')})`, 'ERR_ADMIN_FORBIDDEN');
        req.principal = p;
        next();
      },
      (err: unknown) => next(err),
    );
  };
}

/** Let through callers holding one of these roles; 403 for the others. */
export function allow(...roles: AdminRole[]): RequestHandler {
  return (req, res, next) => {
    const p = req.principal;
    if (p && p.roles.some((r) => roles.includes(r))) return next();
    problem(res, 403, 'Forbidden', `this needs the ${roles.join(' or ')} role; the token has ${p?.roles.join(', ') || 'none'}`, 'ERR_ADMIN_FORBIDDEN');
  };
}
