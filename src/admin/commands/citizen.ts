import path from 'node:path';
import { parseArgs } from 'node:util';
import { Between, LessThanOrEqual, MoreThanOrEqual, type FindOptionsWhere } from 'typeorm';
import { CitizenLifecycle, REGISTRATION_CHANNELS, type IssuedCode, type RegistrationChannel } from '../../citizens/lifecycle';
import { maskDni, normalizeDni } from '../../citizens/nif';
import { CitizenRepository } from '../../citizens/repository';
import type { Config } from '../../config';
import { createDataSource } from '../../db/data-source';
import { AuditEventEntity, type AuditEventRow } from '../../db/entities';
import { PasarelaError } from '../../errors';
import { createNotifier } from '../../notify';

/**
 * The registrar's side of the Cl@ve Permanente services (issue 7): `citizen register | upgrade |
 * reissue-code | show` and `audit`. The CLI's `main` hands these over before parsing its own options.
 */
export const CITIZEN_USAGE = `  npm run cli -- citizen register --dni 12345678Z --given-name María --first-surname García [--second-surname López]
                            --birth 1985-04-12 --mobile +34600000000 [--email x@example.org]
                            --channel office|certificate|video|letter [--validity 2031-01-01]
      (office/certificate: advanced; video/letter: basic. Prints the registration reference; the
       activation code only for office, where it is handed over on paper: the others send it)
  npm run cli -- citizen upgrade --dni 12345678Z --channel office|certificate
  npm run cli -- citizen reissue-code --dni 12345678Z      (the previous code stops working)
  npm run cli -- citizen show --dni 12345678Z
  npm run cli -- audit --dni 12345678Z [--from 2026-01-01] [--to 2026-12-31]`;

const ACTIONS = new Set(['register', 'upgrade', 'reissue-code', 'show']);

/** True when `argv` is one of these commands. */
export function isCitizenCommand(area: string | undefined, action: string | undefined): boolean {
  return area === 'audit' || (area === 'citizen' && action !== undefined && ACTIONS.has(action));
}

function usage(message: string): PasarelaError {
  return new PasarelaError('ERR_USAGE', `${message}\nusage:\n${CITIZEN_USAGE}`);
}

function channelOf(value: string | undefined): RegistrationChannel {
  if (!value || !(REGISTRATION_CHANNELS as readonly string[]).includes(value)) throw usage(`--channel must be one of ${REGISTRATION_CHANNELS.join(', ')}`);
  return value as RegistrationChannel;
}

/** `2026-03-01` (start of that day, UTC) or a full ISO time. */
function timeOf(name: string, value: string | undefined, endOfDay: boolean): Date | undefined {
  if (value === undefined) return undefined;
  const t = /^\d{4}-\d{2}-\d{2}$/.test(value) ? new Date(`${value}T${endOfDay ? '23:59:59.999' : '00:00:00.000'}Z`) : new Date(value);
  if (Number.isNaN(t.getTime())) throw usage(`--${name}: expected YYYY-MM-DD or an ISO time, got "${value}"`);
  return t;
}

function printIssued(what: string, issued: IssuedCode, out: (s: string) => void): void {
  const c = issued.citizen;
  out(`${what} ${maskDni(c.dni)} (${c.registrationLevel}, ${c.status}); reference ${issued.reference}`);
  const until = issued.expiresAt.toISOString().slice(0, 10);
  if (issued.code) out(`activation code (hand it over on paper): ${issued.code}  valid until ${until}`);
  else out(`activation code sent by ${issued.delivery}, valid until ${until} (development: the line in the outbox file)`);
}

/** Runs one command; returns the exit code. */
export async function runCitizenCommand(config: Config, argv: string[], out: (s: string) => void = console.log): Promise<number> {
  const [area, action, ...rest] = argv;
  const { values } = parseArgs({
    args: area === 'audit' ? [action ?? '', ...rest].filter(Boolean) : rest,
    allowPositionals: false,
    options: {
      dni: { type: 'string' },
      'given-name': { type: 'string' },
      'first-surname': { type: 'string' },
      'second-surname': { type: 'string' },
      birth: { type: 'string' },
      mobile: { type: 'string' },
      email: { type: 'string' },
      channel: { type: 'string' },
      validity: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
    },
  });
  const need = (k: keyof typeof values): string => {
    const v = values[k];
    if (typeof v !== 'string' || v === '') throw usage(`--${k} is required`);
    return v;
  };
  const ds = await createDataSource({ url: config.database.url, sqlitePath: path.resolve(config.root, config.database.sqlitePath) });
  try {
    const lifecycle = new CitizenLifecycle({
      ds,
      config: config.citizens,
      notifier: createNotifier(config),
      activateUrl: `${config.baseUrl}/account/activate`,
    });
    const ctx = { actor: `cli:${process.env.USER ?? 'registrar'}` };
    if (area === 'audit') return await printAudit(ds, need('dni'), timeOf('from', values.from, false), timeOf('to', values.to, true), out);
    switch (action) {
      case 'register': {
        const channel = channelOf(values.channel);
        const issued = await lifecycle.register(
          {
            dni: need('dni'),
            givenName: need('given-name'),
            firstSurname: need('first-surname'),
            secondSurname: values['second-surname'] ?? null,
            dateOfBirth: need('birth'),
            mobile: need('mobile'),
            email: values.email ?? null,
            channel,
            dniValidityDate: values.validity ?? null,
          },
          ctx,
        );
        printIssued('registered', issued, out);
        return 0;
      }
      case 'upgrade': {
        const c = await lifecycle.upgrade(need('dni'), channelOf(values.channel), ctx);
        out(`upgraded ${maskDni(c.dni)} to an advanced registration (${c.registrationChannel})`);
        return 0;
      }
      case 'reissue-code': {
        printIssued('new activation code for', await lifecycle.reissueCode(need('dni'), ctx), out);
        return 0;
      }
      case 'show': {
        const c = await new CitizenRepository(ds).findByDni(need('dni'));
        if (!c) {
          out('no such citizen');
          return 1;
        }
        const expiresAt = c.passwordSetAt ? new Date(new Date(c.passwordSetAt).getTime() + config.citizens.passwordValidityDays * 86_400_000) : null;
        const { id, registrationLevel, registrationChannel, registrationRef, status, failedPasswordAttempts, createdAt, passwordSetAt } = c;
        out(
          JSON.stringify(
            { id, dni: maskDni(c.dni), registrationLevel, registrationChannel, reference: registrationRef, status, failedPasswordAttempts, passwordSetAt, passwordExpiresAt: expiresAt, createdAt },
            null,
            2,
          ),
        );
        return 0;
      }
    }
    throw usage(`unknown command ${area} ${action ?? ''}`);
  } finally {
    await ds.destroy();
  }
}

/** A citizen's trail, oldest first: time, event, actor, reference id, details (never a code, password or full DNI). */
async function printAudit(ds: import('typeorm').DataSource, dniInput: string, from: Date | undefined, to: Date | undefined, out: (s: string) => void): Promise<number> {
  const dni = normalizeDni(dniInput);
  const c = await new CitizenRepository(ds).findByDni(dni);
  if (!c) {
    out(`no citizen with DNI/NIE ${maskDni(dni)}`);
    return 1;
  }
  const where: FindOptionsWhere<AuditEventRow> = { citizenId: c.id };
  if (from && to) where.at = Between(from, to);
  else if (from) where.at = MoreThanOrEqual(from);
  else if (to) where.at = LessThanOrEqual(to);
  const rows = await ds.getRepository(AuditEventEntity).find({ where, order: { at: 'ASC' }, take: 10_000 });
  out(`audit trail of ${maskDni(dni)} (${rows.length} event${rows.length === 1 ? '' : 's'})`);
  for (const r of rows) out(`${new Date(r.at).toISOString()}  ${r.type.padEnd(26)} ${(r.actor ?? '-').padEnd(16)} ${r.requestId ?? '-'}  ${r.detail}`);
  return 0;
}
