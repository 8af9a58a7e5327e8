/** Runs `ainode` (the real CLI, bin/ainode.js) as a child process and collects its JSON log lines. */
import { spawn, type ChildProcess } from 'child_process';
import * as path from 'path';
import { mallocTuningEnv } from '../../src/observability/memory';

export const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');
export const AINODE_BIN = path.join(REPO_ROOT, 'bin', 'ainode.js');

export interface AinodeProcess {
  child: ChildProcess;
  lines: string[];
  waitForLog(pattern: RegExp, timeoutMs: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * The process runs as the deployment files run it: with MALLOC_TUNING (a test's `env` may override
 * it). `via: 'npx'` starts it the way the README does (`npx ainode ...` in the checkout).
 */
export function spawnAinode(
  args: string[],
  env: Record<string, string>,
  opts: { via?: 'node' | 'npx' } = {},
): AinodeProcess {
  const [cmd, argv] =
    opts.via === 'npx' ? ['npx', ['--no-install', 'ainode', ...args]] : [process.execPath, [AINODE_BIN, ...args]];
  const child = spawn(cmd, argv, {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '/root', ...mallocTuningEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: opts.via === 'npx',
  });
  // npx runs ainode as its own child: signals go to the whole group.
  const kill = (signal: NodeJS.Signals): void =>
    void (opts.via === 'npx' && child.pid ? process.kill(-child.pid, signal) : child.kill(signal));
  const lines: string[] = [];
  const waiters: { pattern: RegExp; resolve: (l: string) => void }[] = [];
  const onData = (buf: Buffer): void => {
    for (const line of buf.toString('utf8').split('\n')) {
      if (!line) continue;
      lines.push(line);
      if (process.env.AINODE_TEST_VERBOSE) process.stderr.write(`[ainode ${child.pid}] ${line}\n`);
      for (const w of [...waiters]) if (w.pattern.test(line)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(line));
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => ((exitCode = code), resolve(code))),
  );
  return {
    child,
    lines,
    waitForLog(pattern, timeoutMs) {
      const hit = lines.find((l) => pattern.test(l));
      if (hit) return Promise.resolve(hit);
      return new Promise((resolve, reject) => {
        const t = setTimeout(
          () =>
            reject(
              new Error(
                `no log line matching ${pattern} within ${timeoutMs} ms; last lines:\n${lines.slice(-15).join('\n')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({ pattern, resolve: (l) => (clearTimeout(t), resolve(l)) });
        exited.then(
          (code) => (
            clearTimeout(t),
            reject(
              new Error(
                `ainode exited (${code}) before logging ${pattern}; last lines:\n${lines.slice(-15).join('\n')}`,
              ),
            )
          ),
        );
      });
    },
    async stop(signal = 'SIGTERM') {
      if (exitCode !== undefined) return exitCode;
      kill(signal);
      const timer = setTimeout(() => kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
