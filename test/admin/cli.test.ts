import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { LOA, NAMEID_FORMAT } from '../../src/saml/constants';
import { REPO_ROOT } from '../support/broker-process';
import { redirectRequest, rsaSigner } from '../support/sp-requests';
import { fixtureServer, spXml, type FixtureServer } from './support';

/**
 * `npm run cli -- sp …` and `admin token …` as real processes (tsx src/admin/cli.ts, as the npm
 * script runs it) on a SQLite file of their own: the same TrustAdmin the API uses.
 */
describe('the operator CLI as a process', () => {
  let dir: string;
  let fixtures: FixtureServer;
  let env: NodeJS.ProcessEnv;
  const signer = rsaSigner('cli SP');
  const entityId = 'https://cli-sp.test/md';

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pasarela-cli-'));
    fixtures = await fixtureServer();
    const configPath = path.join(dir, 'config.json');
    writeFileSync(configPath, JSON.stringify({ methods: { enabled: ['pin', 'permanente'] }, trust: { metadataDir: path.join(dir, 'md') }, notify: { outboxPath: path.join(dir, 'outbox.jsonl') } }));
    env = { PATH: process.env.PATH, HOME: process.env.HOME, SQLITE_PATH: path.join(dir, 'cli.sqlite'), KEYS_DIR: path.join(dir, 'keys'), PASARELA_CONFIG: configPath, DEMO: 'false', PASARELA_PAIRWISE_SECRET: 'p'.repeat(40), PASARELA_CSRF_SECRET: 'c'.repeat(40), LOG_LEVEL: 'silent' };
  });
  afterAll(async () => {
    await fixtures.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const cli = (...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      const child = spawn(path.join(REPO_ROOT, 'node_modules', '.bin', 'tsx'), [path.join(REPO_ROOT, 'src', 'admin', 'cli.ts'), ...args], { cwd: REPO_ROOT, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  const file = (name: string, content: string): string => {
    const f = path.join(dir, name);
    writeFileSync(f, content);
    return f;
  };

  test('admin token create prints the key once; list shows it without the key; revoke by name', async () => {
    const created = await cli('admin', 'token', 'create', '--role', 'auditor', '--name', 'cli-auditor');
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^pasarela_[A-Za-z0-9_-]{43}$/);
    expect(created.stderr).toMatch(/created auditor token "cli-auditor".*shown once/);
    const listed = await cli('admin', 'token', 'list');
    expect(listed.stdout).toMatch(/\tauditor\tcli-auditor\tcreated /);
    expect(listed.stdout).not.toContain(token);
    expect((await cli('admin', 'token', 'revoke', 'cli-auditor')).stdout).toMatch(/revoked auditor token "cli-auditor"/);
    expect((await cli('admin', 'token', 'list')).stdout).toMatch(/cli-auditor\tcreated .*\trevoked /);
    const bad = await cli('admin', 'token', 'create', '--role', 'root');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/role "root": expected one of operator, registrar, auditor/);
  });

  test('sp import (file and URL), list, suspend, resume, refresh with a failure kept visible, check, remove', async () => {
    const refused = await cli('sp', 'import', file('nokey.xml', spXml({ entityId: 'https://nokey.test/md', certPem: null })));
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/metadata refused:\n {2}- .*must sign its requests but its metadata has no signing key/);

    fixtures.set('/md.xml', spXml({ entityId, certPem: signer.certPem, acs: 'https://cli-sp.test/acs' }));
    const imported = await cli('sp', 'import', '--url', `${fixtures.url}/md.xml`);
    expect([imported.code, imported.stdout.trim()]).toEqual([0, `imported ${entityId} (1 ACS, 1 signing key(s))`]);
    expect((await cli('sp', 'list')).stdout).toMatch(new RegExp(`^${entityId}\\tactive\\turl:[0-9a-f-]+\\thttps://cli-sp.test/acs refresh=ok$`, 'm'));

    expect((await cli('sp', 'suspend', entityId)).stdout.trim()).toBe(`${entityId}: suspended`);
    expect(JSON.parse((await cli('sp', 'show', entityId)).stdout)).toMatchObject({ entityId, status: 'suspended' });
    expect((await cli('sp', 'resume', entityId)).stdout.trim()).toBe(`${entityId}: active`);

    fixtures.set('/md.xml', 'not xml at all');
    const failed = await cli('sp', 'refresh', entityId);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/metadata refused:\n {2}- XML is not well-formed: text before the root element/);
    const shown = JSON.parse((await cli('sp', 'show', entityId)).stdout) as { acs: string[]; refresh: { status: string; lastError: string } };
    expect(shown.acs).toEqual(['https://cli-sp.test/acs']);
    expect(shown.refresh.status).toBe('failed');

    const query = redirectRequest({ signer, issuer: entityId, destination: 'http://localhost:8080/saml/sso', acsUrl: 'https://cli-sp.test/acs', loa: LOA.low, nameIdFormat: NAMEID_FORMAT.persistent });
    const checked = await cli('sp', 'check', entityId, '--request', file('request.txt', `http://localhost:8080/saml/sso?${query}`));
    expect(checked.stdout).toMatch(/^ok {2}signature$/m);
    expect(checked.stdout).toMatch(/accepted: the SSO endpoint would start a login \(https:\/\/cli-sp\.test\/acs\)/);
    expect(checked.code).toBe(0);
    const wrongDest = redirectRequest({ signer, issuer: entityId, destination: 'https://elsewhere.test/sso', acsUrl: 'https://cli-sp.test/acs', loa: LOA.low });
    const refusedCheck = await cli('sp', 'check', entityId, '--request', file('bad.txt', wrongDest));
    expect(refusedCheck.code).toBe(1);
    expect(refusedCheck.stdout).toMatch(/^FAIL destination: /m);

    expect((await cli('sp', 'remove', entityId)).stdout.trim()).toBe(`removed ${entityId}`);
    const gone = await cli('sp', 'show', entityId);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toContain(`no service provider ${entityId} in the trust list`);
  }, 90_000); // about 25 CLI processes: 23 s alone on this host, over 30 s beside other suites
});
