/**
 * CPU times from Linux's /proc, for the bench: a whole process (every thread), or only its
 * event-loop thread. A Node process's CPU is its event loop (the JavaScript: HTTP, the intake,
 * the response, the page), its libuv pool (the broker's RSA signatures in one process) and V8's
 * helper threads (the optimizing compiler, the garbage collector's parallel and concurrent
 * work). Telling the event loop apart shows what the signatures leave and whether a step ran
 * while V8 was still compiling (issue 9).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** utime + stime of a /proc stat file (a process's: every thread; a task's: that thread), in seconds. */
export function procCpuSeconds(statPath: string): number {
  const stat = readFileSync(statPath, 'utf8');
  // Fields after the command name (which may hold spaces): utime is the 14th field, stime the 15th.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(rest[11]) + Number(rest[12])) / clockTicks();
}

/** These processes and every process they started (cluster workers), each once. */
function withDescendants(pids: number[]): Set<number> {
  const all = new Set<number>();
  const visit = (pid: number): void => {
    if (all.has(pid)) return;
    all.add(pid);
    let children = '';
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8');
    } catch {
      return; // gone, or a kernel without CONFIG_PROC_CHILDREN: the process itself still counts
    }
    for (const c of children.split(' ')) if (c.trim()) visit(Number(c));
  };
  pids.forEach(visit);
  return all;
}

/**
 * CPU seconds of the event-loop threads (the thread whose id is the process id) of these
 * processes and of their descendants so far. A process that has exited counts as 0: read it
 * before and after a step in which none exits.
 */
export function mainThreadCpuSeconds(pids: number[]): number {
  let total = 0;
  for (const pid of withDescendants(pids)) {
    try {
      total += procCpuSeconds(`/proc/${pid}/task/${pid}/stat`);
    } catch {
      /* exited */
    }
  }
  return total;
}
