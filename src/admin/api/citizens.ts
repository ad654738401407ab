import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { REGISTRATION_CHANNELS, type CitizenLifecycle, type IssuedCode, type RegistrationChannel } from '../../citizens/lifecycle';
import { maskDni } from '../../citizens/nif';
import type { CitizenRepository } from '../../citizens/repository';
import type { Citizen } from '../../citizens/types';
import { PasarelaError } from '../../errors';

/**
 * The registrar's citizen services on the admin API (`/admin/api/citizens`), the same
 * CitizenLifecycle the CLI's `citizen register | upgrade | reissue-code | show` calls. A DNI/NIE
 * travels in the JSON body, never in a URL (URLs end up in proxy logs); answers carry it masked.
 */
export interface CitizenApiDeps {
  lifecycle: CitizenLifecycle;
  citizens: CitizenRepository;
}

function bad(detail: string): PasarelaError {
  return new PasarelaError('ERR_ADMIN_REQUEST', detail);
}

function str(body: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const v = body[key];
  if (v === undefined || v === null) {
    if (required) throw bad(`"${key}" is required`);
    return undefined;
  }
  if (typeof v !== 'string' || v.trim() === '') throw bad(`"${key}" must be a non-empty string`);
  return v;
}

function channelOf(v: string | undefined): RegistrationChannel {
  if (!v || !(REGISTRATION_CHANNELS as readonly string[]).includes(v)) throw bad(`"channel" is one of ${REGISTRATION_CHANNELS.join(', ')}`);
  return v as RegistrationChannel;
}

function view(c: Citizen): Record<string, unknown> {
  return { id: c.id, dni: maskDni(c.dni), registrationLevel: c.registrationLevel, registrationChannel: c.registrationChannel, reference: c.registrationRef, status: c.status, createdAt: c.createdAt };
}

function issuedView(i: IssuedCode): Record<string, unknown> {
  return { citizen: view(i.citizen), reference: i.reference, delivery: i.delivery, expiresAt: i.expiresAt.toISOString(), ...(i.code ? { activationCode: i.code } : {}) };
}

type Handler = (req: Request, res: Response) => Promise<void>;
const wrap = (h: Handler) => (req: Request, res: Response, next: NextFunction) => void h(req, res).catch(next);

/** Mounted behind the registrar role check; errors go to the admin API's problem handler. */
export function citizenRouter(d: CitizenApiDeps): Router {
  const r = express.Router();
  r.use(express.json({ limit: '16kb', strict: true }));
  const body = (req: Request): Record<string, unknown> => {
    if (!req.is('application/json') || typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) throw bad('send a JSON object');
    return req.body as Record<string, unknown>;
  };
  const ctx = (req: Request) => ({ actor: req.principal!.actor });

  r.post('/', wrap(async (req, res) => {
    const b = body(req);
    const issued = await d.lifecycle.register(
      {
        dni: str(b, 'dni', true)!,
        givenName: str(b, 'givenName', true)!,
        firstSurname: str(b, 'firstSurname', true)!,
        secondSurname: str(b, 'secondSurname', false) ?? null,
        dateOfBirth: str(b, 'dateOfBirth', true)!,
        mobile: str(b, 'mobile', true)!,
        email: str(b, 'email', false) ?? null,
        channel: channelOf(str(b, 'channel', true)),
        dniValidityDate: str(b, 'dniValidityDate', false) ?? null,
      },
      ctx(req),
    );
    res.status(201).json(issuedView(issued));
  }));

  r.post('/lookup', wrap(async (req, res) => {
    const c = await d.citizens.findByDni(str(body(req), 'dni', true)!);
    if (!c) throw new PasarelaError('ERR_CITIZEN_NOT_FOUND', 'no citizen with that DNI/NIE');
    res.json(view(c));
  }));

  r.post('/upgrade', wrap(async (req, res) => {
    const b = body(req);
    res.json(view(await d.lifecycle.upgrade(str(b, 'dni', true)!, channelOf(str(b, 'channel', true)), ctx(req))));
  }));

  r.post('/reissue-code', wrap(async (req, res) => {
    res.json(issuedView(await d.lifecycle.reissueCode(str(body(req), 'dni', true)!, ctx(req))));
  }));

  r.use((_req, _res, next) => next(new PasarelaError('ERR_NOT_FOUND', 'no such citizen service; see /admin/api/openapi.json')));
  return r;
}
