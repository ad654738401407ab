import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * jest globalSetup: build dist/ (`npx tsc -p tsconfig.build.json`, what `npm start` runs first)
 * so the process-broker tests (test/support/broker-process.ts) run today's code. Skipped when
 * dist/.build-stamp is newer than every file the build reads (src/, tsconfig*.json,
 * package.json), which saves the ~8 s on runs that changed nothing there.
 */
const ROOT = path.resolve(__dirname, '../..');
const STAMP = path.join(ROOT, 'dist', '.build-stamp');

function newestInput(): number {
  let newest = 0;
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  walk(path.join(ROOT, 'src'));
  for (const f of ['tsconfig.json', 'tsconfig.build.json', 'package.json']) newest = Math.max(newest, statSync(path.join(ROOT, f)).mtimeMs);
  return newest;
}

export default function globalSetup(): void {
  if (existsSync(STAMP) && statSync(STAMP).mtimeMs > newestInput()) return;
  const started = Date.now();
  try {
    execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`globalSetup: \`npx tsc -p tsconfig.build.json\` failed:\n${e.stdout?.toString() ?? ''}${e.stderr?.toString() ?? e.message}`);
  }
  writeFileSync(STAMP, `${new Date().toISOString()}\n`);
  process.stderr.write(`globalSetup: built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
