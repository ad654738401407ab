import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { readOutbox } from '../pin/support';

/** The registrar's commands as a newcomer runs them: `npm run cli -- …` is `tsx src/admin/cli.ts …`. */
const ROOT = path.resolve(__dirname, '../..');
const TSX = path.join(ROOT, 'node_modules/.bin/tsx');

describe('citizen commands of the CLI (a real process)', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pasarela-cli-'));
  const outbox = path.join(dir, 'outbox.jsonl');
  const configFile = path.join(dir, 'config.json');
  writeFileSync(configFile, JSON.stringify({ notify: { outboxPath: outbox } }));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const cli = (...args: string[]) => {
    const r = spawnSync(TSX, ['src/admin/cli.ts', ...args], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NODE_ENV: 'development', SQLITE_PATH: path.join(dir, 'cli.sqlite'), PASARELA_CONFIG: configFile, LOG_LEVEL: 'silent' },
    });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };

  test('register at an office prints the reference and the code; by letter only the reference (the code is in the outbox); the trail shows both', () => {
    const office = cli('citizen', 'register', '--dni', '31415926L', '--given-name', 'Ana', '--first-surname', 'Ruiz', '--birth', '1990-01-01', '--mobile', '+34611111111', '--channel', 'office');
    expect(office.err).toBe('');
    expect(office.status).toBe(0);
    expect(office.out).toMatch(/registered \*\*\*\*5926L \(advanced, pending\); reference REG-[A-Z2-9]{4}-[A-Z2-9]{4}/);
    expect(office.out).toMatch(/activation code \(hand it over on paper\): [A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{4}/);
    expect(office.out).not.toContain('31415926L');

    const letter = cli('citizen', 'register', '--dni', '27182818S', '--given-name', 'Luis', '--first-surname', 'Sanz', '--birth', '1990-01-01', '--mobile', '+34622222222', '--channel', 'letter');
    expect(letter.status).toBe(0);
    expect(letter.out).toContain('(basic, pending)');
    expect(letter.out).toContain('activation code sent by letter');
    const line = readOutbox(outbox).at(-1)!;
    expect(line.channel).toBe('letter');
    expect(letter.out).not.toContain(line.code!);

    const up = cli('citizen', 'upgrade', '--dni', '27182818S', '--channel', 'certificate');
    expect(up.out).toContain('upgraded ****2818S to an advanced registration');

    const trail = cli('audit', '--dni', '27182818S', '--from', '2000-01-01');
    expect(trail.status).toBe(0);
    for (const type of ['citizen.registered', 'activation_code.issued', 'citizen.upgraded']) expect(trail.out).toContain(type);
    expect(trail.out).not.toContain(line.code!);
    expect(trail.out).not.toContain('27182818S');
  });

  test('bad input: a clear message, exit 1, nothing registered', () => {
    const bad = cli('citizen', 'register', '--dni', '31415926A', '--given-name', 'Ana', '--first-surname', 'Ruiz', '--birth', '1990-01-01', '--mobile', '+34611111111', '--channel', 'office');
    expect(bad.status).toBe(1);
    expect(bad.err).toContain('dni: the check letter does not match the number');
    expect(bad.err).not.toMatch(/\n\s+at /); // no stack trace
    const future = cli('citizen', 'register', '--dni', '16180339T', '--given-name', 'Eva', '--first-surname', 'Gil', '--birth', '2999-01-01', '--mobile', '+34633333333', '--channel', 'video');
    expect(future.err).toContain('birth: the birth date 2999-01-01 is in the future');
    expect(cli('citizen', 'show', '--dni', '16180339T').out).toContain('no such citizen');
    const channel = cli('citizen', 'register', '--dni', '16180339T', '--channel', 'fax');
    expect(channel.err).toContain('--channel must be one of office, certificate, video, letter');
  });
});
