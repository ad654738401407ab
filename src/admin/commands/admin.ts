import { parseArgs } from 'node:util';
import { PasarelaError } from '../../errors';
import { AdminTokens } from '../tokens';
import { withCliContext } from './context';

export const ADMIN_USAGE = `  npm run cli -- admin token create --role operator|registrar|auditor [--name <label>]
      (prints the API key once; only its hash is stored)
  npm run cli -- admin token list
  npm run cli -- admin token revoke <id|name>`;

function usage(detail: string): never {
  throw new PasarelaError('ERR_USAGE', `${detail}\nusage:\n${ADMIN_USAGE}`);
}

/** `admin token …` commands; returns the exit code. */
export async function adminCommand(action: string | undefined, args: string[]): Promise<number> {
  if (action !== 'token') usage(`unknown admin command "${action ?? ''}"`);
  const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { role: { type: 'string' }, name: { type: 'string' } } });
  const [sub, target] = positionals;
  return withCliContext(async ({ ds, actor }) => {
    const tokens = new AdminTokens(ds);
    if (sub === 'create') {
      if (!values.role) usage('admin token create needs --role');
      const { token, info } = await tokens.create(values.role, values.name, actor);
      console.error(`created ${info.role} token "${info.name}" (id ${info.id}); it is shown once, store it now:`);
      console.log(token);
      return 0;
    }
    if (sub === 'list') {
      for (const t of await tokens.list()) console.log(`${t.id}\t${t.role}\t${t.name}\tcreated ${t.createdAt}${t.revokedAt ? `\trevoked ${t.revokedAt}` : ''}`);
      return 0;
    }
    if (sub === 'revoke' && target) {
      const t = await tokens.revoke(target, actor);
      console.log(`revoked ${t.role} token "${t.name}" (id ${t.id})`);
      return 0;
    }
    return usage('admin token create|list|revoke');
  });
}
