import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PasarelaError } from '../../errors';
import { buildServices } from '../../services';
import { SpRefusedError, type SpSummary } from '../../trust/admin';
import type { SpPolicy } from '../../trust/types';
import { selfCheck } from '../selfcheck';
import { detectBinding } from '../sample';
import { withCliContext } from './context';

export const SP_USAGE = `  npm run cli -- sp import <metadata.xml> [--policy <policy.json>]
  npm run cli -- sp import --url <https://sp.example/metadata> [--policy <policy.json>]
  npm run cli -- sp list
  npm run cli -- sp show <entityID> [--xml]
  npm run cli -- sp suspend|resume|remove <entityID>
  npm run cli -- sp refresh [<entityID>]        (none: every metadata URL and aggregate)
  npm run cli -- sp check <entityID> --request <file> [--binding redirect|post]
  npm run cli -- sp aggregate add --url <url> --cert <signer.pem> [--policy <policy.json>]
  npm run cli -- sp aggregate refresh <sourceId>
  npm run cli -- sp sources`;

function usage(detail: string): never {
  throw new PasarelaError('ERR_USAGE', `${detail}\nusage:\n${SP_USAGE}`);
}

function readPolicy(file: string | undefined): Partial<SpPolicy> | undefined {
  if (!file) return undefined;
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Partial<SpPolicy>;
  } catch (err) {
    throw new PasarelaError('ERR_SP_POLICY', `${file}: not a readable JSON file (${(err as Error).message})`);
  }
}

function line(sp: SpSummary): string {
  const refresh = sp.refresh ? ` refresh=${sp.refresh.status}${sp.refresh.lastError ? ` (${sp.refresh.lastError})` : ''}` : '';
  return `${sp.entityId}\t${sp.status}\t${sp.source}\t${sp.acs.join(' ')}${refresh}`;
}

/** `sp …` commands; returns the exit code. */
export async function spCommand(action: string | undefined, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      policy: { type: 'string' },
      url: { type: 'string' },
      cert: { type: 'string' },
      request: { type: 'string' },
      binding: { type: 'string' },
      xml: { type: 'boolean' },
    },
  });
  const target = positionals[0];
  try {
    if (action === 'check') return await check(target, values.request, values.binding);
    return await withCliContext(async ({ trustAdmin, actor }) => {
      switch (action) {
        case 'import': {
          const policy = readPolicy(values.policy);
          const opts = { actor, ...(policy ? { policy } : {}) };
          const r = values.url
            ? await trustAdmin.importFromUrl(values.url, opts)
            : target
              ? await trustAdmin.importMetadata(readFileSync(target, 'utf8'), { ...opts, source: `cli:${path.basename(target)}` })
              : usage('sp import needs a file or --url');
          console.log(`${r.created ? 'imported' : 'replaced'} ${r.sp.entityId} (${r.sp.acs.length} ACS, ${r.sp.signingKeys} signing key(s))`);
          return 0;
        }
        case 'list':
          for (const sp of await trustAdmin.list()) console.log(line(sp));
          return 0;
        case 'show': {
          if (!target) usage('sp show needs an entityID');
          const d = await trustAdmin.show(target);
          const { metadataXml, ...rest } = d;
          console.log(JSON.stringify(values.xml ? d : rest, null, 2));
          void metadataXml;
          return 0;
        }
        case 'suspend':
        case 'resume': {
          if (!target) usage(`sp ${action} needs an entityID`);
          const sp = action === 'suspend' ? await trustAdmin.suspend(target, actor) : await trustAdmin.resume(target, actor);
          console.log(`${sp.entityId}: ${sp.status}`);
          return 0;
        }
        case 'remove':
          if (!target) usage('sp remove needs an entityID');
          await trustAdmin.remove(target, actor);
          console.log(`removed ${target}`);
          return 0;
        case 'refresh': {
          if (target) {
            const sp = await trustAdmin.refresh(target, actor);
            console.log(`refreshed ${line(sp)}`);
            return 0;
          }
          const results = await trustAdmin.refreshAll(actor);
          for (const r of results) console.log(`${r.sourceId}\t${r.ok ? 'ok' : `failed: ${r.error}`}`);
          return results.every((r) => r.ok) ? 0 : 1;
        }
        case 'sources':
          for (const s of await trustAdmin.listSources()) {
            console.log(`${s.sourceId}\t${s.kind}\t${s.url}\t${s.status}\tlast success ${s.lastSuccessAt ?? 'never'}${s.lastError ? `\t${s.lastError}` : ''}`);
          }
          return 0;
        case 'aggregate': {
          const sub = target;
          if (sub === 'add') {
            if (!values.url || !values.cert) usage('sp aggregate add needs --url and --cert');
            const policy = readPolicy(values.policy);
            const r = await trustAdmin.addAggregate(values.url, readFileSync(values.cert, 'utf8'), { actor, ...(policy ? { policy } : {}) });
            console.log(`aggregate ${r.sourceId}: ${r.entities} entities, ${r.added} added, ${r.updated} updated, ${r.removed} removed, ${r.refused.length} refused`);
            for (const x of r.refused) console.log(`  refused ${x.entityId}: ${x.problem}`);
            return 0;
          }
          if (sub === 'refresh' && positionals[1]) {
            const r = await trustAdmin.refreshAggregate(positionals[1], actor);
            console.log(`aggregate ${r.sourceId}: ${r.entities} entities, ${r.added} added, ${r.updated} updated, ${r.removed} removed, ${r.refused.length} refused`);
            return 0;
          }
          return usage('sp aggregate add|refresh');
        }
        default:
          return usage(`unknown sp command "${action ?? ''}"`);
      }
    });
  } catch (err) {
    if (err instanceof SpRefusedError) {
      console.error('pasarela cli: metadata refused:');
      for (const p of err.problems) console.error(`  - ${p}`);
      return 1;
    }
    throw err;
  }
}

/** The onboarding self-check on a sample request in a file: the SSO endpoint's own intake, check by check. */
async function check(entityId: string | undefined, file: string | undefined, binding: string | undefined): Promise<number> {
  if (!entityId || !file) usage('sp check needs an entityID and --request <file>');
  const sample = readFileSync(file, 'utf8');
  const { loadConfig } = await import('../../config');
  const { createLogger } = await import('../../log');
  const config = loadConfig();
  const services = await buildServices(config, createLogger(process.env.LOG_LEVEL ?? 'warn'), { bootstrap: false });
  try {
    const b = binding ?? detectBinding(sample);
    if (b !== 'redirect' && b !== 'post') usage('--binding is redirect or post');
    if (!services.trust.get(entityId)) throw new PasarelaError('ERR_NOT_FOUND', `no active service provider ${entityId} in the trust list`);
    const report = await selfCheck(
      { trust: services.trust, store: services.store, ssoUrls: config.ssoUrls, clockSkewSeconds: config.saml.clockSkewSeconds, maxRequestAgeSeconds: config.saml.maxRequestAgeSeconds, broker: services.broker },
      entityId,
      b,
      sample,
    );
    for (const c of report.checks) {
      console.log(`${!c.reached ? '  -' : c.ok ? 'ok ' : 'FAIL'} ${c.check}${c.message ? `: ${c.message}` : ''}`);
    }
    console.log(report.accepted ? `accepted: the SSO endpoint would start a login (${report.outcome!.acs})` : `refused (${report.answer}): ${report.refusal!.message}`);
    return report.accepted ? 0 : 1;
  } finally {
    await services.close();
  }
}
