// Starts the real `md-converter serve` on a free loopback port with a clean environment
// (as tests/integration/mdc_testserver.py does for the Python tests) and stops it.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, '..', '..', '..');
const BUILD = process.env.MDC_BUILD_DIR || path.join(ROOT, 'build');
export const BIN = path.join(BUILD, 'md-converter');
export const SHARED = process.env.MDC_SHARED_DIR || path.join(path.dirname(ROOT), 'shared');
export const MICRO = path.join(SHARED, 'whisper-ref', 'models', 'ggml-micro-random.bin');
export const FIXTURES = path.join(SHARED, 'fixtures', 'audio');

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Starts a server; env adds settings.  Resolves to {url, port, stop(), log()}. */
export async function startServer(env = {}) {
  const port = await freePort();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mdc-sdk-'));
  const tmp = path.join(work, 'tmp');
  fs.mkdirSync(tmp);
  const logPath = path.join(work, 'server.log');
  const out = fs.openSync(logPath, 'w');
  const fullEnv = {
    PATH: '/usr/bin:/bin',
    HOST: '127.0.0.1',
    PORT: String(port),
    WHISPER_MODEL: MICRO,
    WHISPER_THREADS: '1',
    TMPDIR: tmp,
    ...env,
  };
  for (const k of ['ASAN_OPTIONS', 'UBSAN_OPTIONS', 'LSAN_OPTIONS', 'TSAN_OPTIONS'])
    if (process.env[k]) fullEnv[k] = process.env[k];
  const proc = spawn(BIN, ['serve'], { env: fullEnv, cwd: work, stdio: ['ignore', out, out] });
  const log = () => fs.readFileSync(logPath, 'utf8');
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited ${proc.exitCode}:\n${log()}`);
    try {
      const r = await fetch(`${url}/health`);
      if (r.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`server not healthy after 15 s:\n${log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const stop = async () => {
    if (proc.exitCode === null) {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 15000);
      await exited;
      clearTimeout(t);
    }
    fs.closeSync(out);
    fs.rmSync(work, { recursive: true, force: true });
  };
  return { url, port, stop, log, tmp };
}
