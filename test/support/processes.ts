import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, type WriteStream } from 'node:fs';
import { freePort } from './ports';

/**
 * Foreground daemons for the interop tests (Apache httpd, shibd, `php -S`): each one in its own
 * process group (so its workers and CGI children go with it), its stdout/stderr in a log file,
 * stopped by group with SIGTERM then SIGKILL. Every group still alive when the jest worker
 * exits is killed too; and since a worker killed by a signal runs no exit handler, each daemon
 * runs under a small sh watchdog that kills its group when our end of its stdin pipe closes
 * (that is, when this process is gone, however it went). A failed or interrupted run leaves
 * nothing behind.
 */

/**
 * sh -c WATCHDOG sh <command> <args...>: runs the command with stdin from /dev/null, waits for
 * it and exits with its status; a background reader on the original stdin kills the whole
 * process group at EOF. TERM/INT are caught (not ignored, which the command would inherit) so
 * that stop()'s SIGTERM to the group reaches the command while sh waits for it to finish.
 */
const WATCHDOG = [
  'exec 3<&0',
  'trap : TERM INT',
  '"$@" </dev/null &',
  'child=$!',
  '( read _ <&3; kill -KILL 0 ) &',
  'watcher=$!',
  'exec 3<&-',
  'while :; do wait "$child"; code=$?; kill -0 "$child" 2>/dev/null || break; done',
  'kill "$watcher" 2>/dev/null',
  'exit "$code"',
].join('\n');

export interface DaemonOptions {
  /** Name used in error messages ("apache", "shibd", ...). */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** stdout and stderr go here. */
  logFile: string;
  uid?: number;
  gid?: number;
}

export interface Daemon {
  name: string;
  pid: number;
  /** Resolves with the exit code (or the signal) when the process ends. */
  exited: Promise<string>;
  /** true once the process has ended. */
  readonly done: boolean;
  /** SIGTERM to the whole group, SIGKILL after `graceMs`; resolves when the leader has exited. */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<number>();
let exitHookInstalled = false;

function killGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const pid of live) killGroup(pid, 'SIGKILL');
  });
}

export function startDaemon(opts: DaemonOptions): Daemon {
  installExitHook();
  const out: WriteStream = createWriteStream(opts.logFile, { flags: 'a' });
  const child: ChildProcess = spawn('/bin/sh', ['-c', WATCHDOG, 'sh', opts.command, ...opts.args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    detached: true,
    // stdin: the watchdog's lifeline, never written to, closed only by our death.
    stdio: ['pipe', 'pipe', 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
  });
  child.stdout!.pipe(out, { end: false });
  child.stderr!.pipe(out, { end: false });
  let done = false;
  const exited = new Promise<string>((resolve) => {
    child.on('error', (err) => {
      done = true;
      out.write(`\n[${opts.name}: ${err.message}]\n`);
      resolve(`error: ${err.message}`);
    });
    child.on('exit', (code, signal) => {
      done = true;
      child.stdin?.destroy();
      if (child.pid) live.delete(child.pid);
      resolve(signal ? `signal ${signal}` : `exit code ${code}`);
    });
  });
  const pid = child.pid ?? -1;
  if (pid > 0) live.add(pid);
  return {
    name: opts.name,
    pid,
    exited,
    get done() {
      return done;
    },
    async stop(graceMs = 5000) {
      if (pid <= 0) return;
      killGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => killGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
      // Workers that outlived their leader (Apache children, CGI scripts) go too.
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
      out.end();
    },
  };
}

export { freePort };

/** The last `lines` lines of a file, or a note that it does not exist. */
export function tail(file: string, lines = 60): string {
  if (!existsSync(file)) return `(${file} does not exist)`;
  const all = readFileSync(file, 'utf8').trimEnd().split('\n');
  return all.slice(-lines).join('\n');
}

/**
 * Poll `probe` until it returns true; fail fast when the daemon exits, and after `timeoutMs`.
 * The error carries `logs()` (error_log, shibd.log ...) so a failing start says why.
 */
export async function waitUntilReady(
  daemon: Daemon,
  probe: () => Promise<boolean>,
  logs: () => string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    if (daemon.done) {
      throw new Error(`${daemon.name} exited during start-up (${await daemon.exited})\n${logs()}`);
    }
    try {
      if (await probe()) return;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await daemon.stop(1000);
  throw new Error(`${daemon.name} not ready after ${timeoutMs} ms${lastError ? ` (last probe: ${lastError})` : ''}\n${logs()}`);
}

/** Fill `{{NAME}}` placeholders; `{{#NAME}}…{{/NAME}}` keeps its body only when NAME is truthy. Unknown names throw. */
export function fillTemplate(template: string, vars: Record<string, string | boolean | undefined>): string {
  const sections = template.replace(/\{\{#([A-Z_]+)\}\}\n?([\s\S]*?)\{\{\/\1\}\}\n?/g, (_m, name: string, body: string) => {
    if (!(name in vars)) throw new Error(`template section {{#${name}}} has no value`);
    return vars[name] ? body : '';
  });
  return sections.replace(/\{\{([A-Z_]+)\}\}/g, (_m, name: string) => {
    const v = vars[name];
    if (typeof v !== 'string') throw new Error(`template placeholder {{${name}}} has no value`);
    return v;
  });
}
