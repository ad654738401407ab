import 'reflect-metadata';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { CitizenRepository } from '../citizens/repository';
import { maskDni } from '../citizens/nif';
import { loadConfig } from '../config';
import { createDataSource } from '../db/data-source';
import { PasarelaError } from '../errors';
import { ADMIN_USAGE, adminCommand } from './commands/admin';
import { SP_USAGE, spCommand } from './commands/sp';
import { CITIZEN_USAGE, isCitizenCommand, runCitizenCommand } from './commands/citizen';

const USAGE = `usage:
  npm run cli -- citizen add --dni 12345678Z --given-name María --first-surname García [--second-surname López]
                            --birth 1985-04-12 --mobile +34600000000 --level basic|advanced
                            [--validity 2031-01-01] [--email x@example.org] [--password '...']
      (without --password the citizen is registered pending activation)
${CITIZEN_USAGE}
${SP_USAGE}
${ADMIN_USAGE}`;

async function main(argv: string[]): Promise<number> {
  const [area, action, ...rest] = argv;
  // Trust list and admin tokens (src/admin/commands).
  if (area === 'sp') return spCommand(action, rest);
  if (area === 'admin') return adminCommand(action, rest);
  // Citizen lifecycle commands (issue 7) parse their own options.
  if (isCitizenCommand(area, action)) return runCitizenCommand(loadConfig(), argv);
  const { values } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      dni: { type: 'string' },
      'given-name': { type: 'string' },
      'first-surname': { type: 'string' },
      'second-surname': { type: 'string' },
      birth: { type: 'string' },
      mobile: { type: 'string' },
      email: { type: 'string' },
      level: { type: 'string' },
      validity: { type: 'string' },
      password: { type: 'string' },
    },
  });
  const config = loadConfig();
  const ds = await createDataSource({ url: config.database.url, sqlitePath: path.resolve(config.root, config.database.sqlitePath) });
  try {
    if (area === 'citizen' && action === 'add') {
      const need = (k: keyof typeof values): string => {
        const v = values[k];
        if (typeof v !== 'string' || v === '') throw new PasarelaError('ERR_USAGE', `--${k} is required\n${USAGE}`);
        return v;
      };
      const level = need('level');
      if (level !== 'basic' && level !== 'advanced') throw new PasarelaError('ERR_USAGE', '--level must be basic or advanced');
      const c = await new CitizenRepository(ds).create({
        dni: need('dni'),
        givenName: need('given-name'),
        firstSurname: need('first-surname'),
        secondSurname: values['second-surname'] ?? null,
        dateOfBirth: need('birth'),
        mobile: need('mobile'),
        email: values.email ?? null,
        registrationLevel: level,
        dniValidityDate: values.validity ?? null,
        password: values.password,
      });
      console.log(`citizen ${maskDni(c.dni)} registered (${c.registrationLevel}, ${c.status})`);
      if (c.status === 'pending') console.log('no password yet: `citizen reissue-code --dni …` gives the activation code for /account/activate');
      return 0;
    }
    console.error(USAGE);
    return 2;
  } finally {
    await ds.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`pasarela cli: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
