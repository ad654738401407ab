import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import type { Logger } from 'pino';
import { AuditLog } from '../../audit/log';
import { PasarelaError } from '../../errors';
import { selfCheck } from '../selfcheck';
import { detectBinding } from '../sample';
import { SpRefusedError, type TrustAdmin } from '../../trust/admin';
import type { AdminTokens } from '../tokens';
import { allow, authenticate, type JwtVerifier } from './auth';
import { openApiDocument } from './openapi';
import { problem } from './problem';
import type { IntakeDeps } from '../../broker/intake';
import type { Broker } from '../../broker/broker';

export interface AdminApiDeps {
  trustAdmin: TrustAdmin;
  tokens: AdminTokens;
  audit: AuditLog;
  jwt?: JwtVerifier;
  /** What the onboarding self-check runs on: the SSO endpoint's own intake dependencies. */
  intake: IntakeDeps & { broker: Pick<Broker, 'optionsFor'> };
  /** Largest metadata body accepted (bytes). */
  maxMetadataBytes: number;
  log: Logger;
}

const XML_TYPES = ['application/samlmetadata+xml', 'application/xml', 'text/xml'];

/** HTTP status of a service error, by its code. */
function statusOf(err: PasarelaError): number {
  if (err.code === 'ERR_NOT_FOUND') return 404;
  if (err.code === 'ERR_SP_NO_SOURCE') return 409;
  if (err.code === 'ERR_METADATA_FETCH') return 502;
  if (err.code === 'ERR_USAGE' || err.code === 'ERR_ADMIN_REQUEST') return 400;
  if (err.code === 'ERR_METADATA_TOO_LARGE' || err.code === 'ERR_XML_TOO_LARGE') return 413;
  return 422;
}

function bad(detail: string): PasarelaError {
  return new PasarelaError('ERR_ADMIN_REQUEST', detail);
}

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap = (h: Handler) => (req: Request, res: Response, next: NextFunction) => void h(req, res).catch(next);

/**
 * The admin API (`/admin/api` on the operator listener). JSON in and out; every error is
 * application/problem+json. Roles: operator (trust list), registrar (citizen services, not
 * built yet), auditor (read-only: trust list and audit trail).
 */
export function createAdminApi(d: AdminApiDeps): Router {
  const r = express.Router();
  const xmlBody = express.text({ type: XML_TYPES, limit: d.maxMetadataBytes });
  const jsonBody = express.json({ limit: '1mb', strict: true });
  const textBody = express.text({ type: 'text/plain', limit: '1mb' });

  r.get('/openapi.json', (_req, res) => {
    res.setHeader('Cache-Control', 'no-store');
    res.json(openApiDocument());
  });

  r.use(authenticate(d.tokens, d.jwt));

  r.get('/me', (req, res) => {
    res.json({ name: req.principal!.name, kind: req.principal!.kind, roles: req.principal!.roles });
  });

  // ---- trust list ----
  r.get('/sps', allow('operator', 'auditor'), wrap(async (_req, res) => {
    res.json({ items: await d.trustAdmin.list() });
  }));

  r.post('/sps', allow('operator'), xmlBody, jsonBody, wrap(async (req, res) => {
    const actor = req.principal!.actor;
    let result;
    if (typeof req.body === 'string') {
      if (req.body.trim() === '') throw bad('the body is empty: send the SP metadata document');
      result = await d.trustAdmin.importMetadata(req.body, { actor, source: `api:${req.principal!.name}`.slice(0, 255) });
    } else if (req.is('application/json')) {
      const body = req.body as { metadataUrl?: unknown; metadata?: unknown; policy?: unknown };
      if (typeof body.metadataUrl === 'string') {
        result = await d.trustAdmin.importFromUrl(body.metadataUrl, { actor, ...(body.policy !== undefined ? { policy: body.policy as object } : {}) });
      } else if (typeof body.metadata === 'string') {
        result = await d.trustAdmin.importMetadata(body.metadata, { actor, source: `api:${req.principal!.name}`.slice(0, 255), ...(body.policy !== undefined ? { policy: body.policy as object } : {}) });
      } else {
        throw bad('send {"metadataUrl": "https://…"} or {"metadata": "<md:EntityDescriptor …>"} (optionally with "policy")');
      }
    } else {
      throw bad(`send the metadata as ${XML_TYPES[0]} or a JSON object with "metadataUrl"`);
    }
    res.status(result.created ? 201 : 200).location(`/admin/api/sps/${encodeURIComponent(result.sp.entityId)}`).json(result.sp);
  }));

  r.get('/sps/:entityId', allow('operator', 'auditor'), wrap(async (req, res) => {
    res.json(await d.trustAdmin.show(String(req.params.entityId)));
  }));

  r.patch('/sps/:entityId', allow('operator'), jsonBody, wrap(async (req, res) => {
    const id = String(req.params.entityId);
    const body = (req.body ?? {}) as { policy?: unknown; status?: unknown };
    if (typeof body !== 'object' || Array.isArray(body)) throw bad('send a JSON object with "policy" and/or "status"');
    const extra = Object.keys(body).filter((k) => k !== 'policy' && k !== 'status');
    if (extra.length) throw bad(`unknown field(s) ${extra.join(', ')}: only "policy" and "status" can be changed`);
    if (body.status !== undefined && body.status !== 'active' && body.status !== 'suspended') throw bad('"status" is "active" or "suspended"');
    if (body.policy === undefined && body.status === undefined) throw bad('nothing to change: send "policy" and/or "status"');
    const actor = req.principal!.actor;
    if (body.policy !== undefined) await d.trustAdmin.updatePolicy(id, body.policy, actor);
    if (body.status === 'suspended') await d.trustAdmin.suspend(id, actor);
    if (body.status === 'active') await d.trustAdmin.resume(id, actor);
    res.json(await d.trustAdmin.show(id));
  }));

  r.delete('/sps/:entityId', allow('operator'), wrap(async (req, res) => {
    await d.trustAdmin.remove(String(req.params.entityId), req.principal!.actor);
    res.status(204).end();
  }));

  r.post('/sps/:entityId/refresh', allow('operator'), wrap(async (req, res) => {
    res.json(await d.trustAdmin.refresh(String(req.params.entityId), req.principal!.actor));
  }));

  r.post('/sps/:entityId/check', allow('operator'), jsonBody, textBody, wrap(async (req, res) => {
    const id = String(req.params.entityId);
    let binding: unknown = req.query.binding;
    let sample: unknown;
    if (typeof req.body === 'string') sample = req.body;
    else if (req.body && typeof req.body === 'object') {
      const b = req.body as { binding?: unknown; request?: unknown };
      binding = b.binding ?? binding;
      sample = b.request;
    }
    if (typeof sample !== 'string' || sample.trim() === '') {
      throw bad('send {"binding": "redirect"|"post", "request": "<URL, query string, POST body or base64 SAMLRequest>"}');
    }
    binding ??= detectBinding(sample);
    if (binding !== 'redirect' && binding !== 'post') throw bad('"binding" is "redirect" or "post"');
    await d.trustAdmin.show(id); // 404 for an SP that is not in the trust list at all
    const report = await selfCheck(d.intake, id, binding, sample);
    await d.audit.record({ type: 'sp.selfcheck', actor: req.principal!.actor, detail: { entityId: id, binding, accepted: report.accepted } });
    res.json(report);
  }));

  // ---- metadata aggregates ----
  r.get('/sources', allow('operator', 'auditor'), wrap(async (_req, res) => {
    res.json({ items: await d.trustAdmin.listSources() });
  }));

  r.post('/aggregates', allow('operator'), jsonBody, wrap(async (req, res) => {
    const b = (req.body ?? {}) as { url?: unknown; pinnedCert?: unknown; policy?: unknown };
    if (typeof b.url !== 'string' || typeof b.pinnedCert !== 'string') throw bad('send {"url": "https://…", "pinnedCert": "-----BEGIN CERTIFICATE-----…"}');
    const result = await d.trustAdmin.addAggregate(b.url, b.pinnedCert, { actor: req.principal!.actor, ...(b.policy !== undefined ? { policy: b.policy as object } : {}) });
    res.status(201).json(result);
  }));

  r.post('/aggregates/:sourceId/refresh', allow('operator'), wrap(async (req, res) => {
    res.json(await d.trustAdmin.refreshAggregate(String(req.params.sourceId), req.principal!.actor));
  }));

  // ---- audit trail ----
  r.get('/audit', allow('auditor'), wrap(async (req, res) => {
    const q = req.query;
    const limit = q.limit === undefined ? 100 : Number(q.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw bad('"limit" is an integer from 1 to 1000');
    const filter: { type?: string; citizenId?: string; requestId?: string; limit: number } = { limit };
    for (const k of ['type', 'citizenId', 'requestId'] as const) {
      const v = q[k];
      if (v !== undefined) {
        if (typeof v !== 'string') throw bad(`"${k}" is given once`);
        filter[k] = v;
      }
    }
    res.json({ items: await d.audit.list(filter) });
  }));

  // ---- citizen services (registrar): built by the lifecycle work; nothing here yet ----
  r.use('/citizens', allow('registrar'), (_req, res) => {
    problem(res, 404, 'Not Found', 'citizen registration services are not available on this broker yet', 'ERR_NOT_FOUND');
  });

  r.use((_req, res) => problem(res, 404, 'Not Found', 'no such admin API resource; see /admin/api/openapi.json', 'ERR_NOT_FOUND'));

  r.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = err as { type?: string; status?: number };
    if (e.type === 'entity.too.large') return problem(res, 413, 'Payload Too Large', `the body is larger than the ${d.maxMetadataBytes} bytes accepted`, 'ERR_METADATA_TOO_LARGE');
    if (e.type === 'entity.parse.failed') return problem(res, 400, 'Bad Request', 'the JSON body could not be read', 'ERR_ADMIN_REQUEST');
    if (e.type === 'charset.unsupported' || e.type === 'encoding.unsupported') return problem(res, 415, 'Unsupported Media Type', 'send UTF-8', 'ERR_ADMIN_REQUEST');
    if (err instanceof SpRefusedError) return problem(res, statusOf(err), 'Metadata refused', err.message, err.code, { problems: err.problems });
    if (err instanceof PasarelaError) return problem(res, statusOf(err), statusOf(err) === 404 ? 'Not Found' : 'Request refused', err.message, err.code);
    d.log.error({ err, path: req.path }, 'admin API request failed');
    problem(res, 500, 'Internal Server Error', 'the request failed; the operator log has the details', 'ERR_INTERNAL');
  });
  return r;
}
