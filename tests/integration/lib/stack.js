'use strict';
// Integration-test harness: one private Switchboard stack (redis-server +
// lighttpd + the FastCGI programs) per call, in a fresh temporary directory
// on a free loopback port, driven through the repository's ./stack script.
//
//   const { startStack } = require('./lib/stack');
//   const s = await startStack({ conf: '[limits]\nmax_text = 64\n' });
//   const res = await fetch(s.url + '/api/auth/me');
//   await s.stop();
//
// Environment it reads:
//   SB_BUILD          build directory with fcgi/chat-auth etc. (default
//                     <repo>/build); the harness never builds
//   SB_SANITIZER_DIR  if set, ASan/UBSan reports of the programs go there
//                     (`./stack test --sanitize` sets it and checks it)
//   SB_KEEP=1         keep the temporary directory after stop()
//
// Node 18+, no dependencies.

const { execFile } = require('node:child_process');
const fs = require('node:fs');
const fsp = require('node:fs/promises');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

const REPO = path.resolve(__dirname, '..', '..', '..');
const STACK = path.join(REPO, 'stack');
const UP_TIMEOUT_MS = 60000;
const DOWN_TIMEOUT_MS = 60000;
const CLI_TIMEOUT_MS = 10000;
const PORT_TRIES = 3;

// Fast Argon2id so registering users in tests costs milliseconds.
const TEST_CONF = '[auth]\npw_opslimit = 1\npw_memlimit_kib = 8192\n';

/** A TCP port that was free on 127.0.0.1 a moment ago. */
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}

/** Runs a program; resolves { code, stdout, stderr }, never rejects on a
 * non-zero exit (the caller decides). Killed after timeoutMs. */
function run(file, args, { env, timeoutMs }) {
  return new Promise((resolve) => {
    execFile(file, args, {
      cwd: REPO, env, timeout: timeoutMs, killSignal: 'SIGKILL',
      maxBuffer: 16 * 1024 * 1024,
    }, (err, stdout, stderr) => {
      let code = 0;
      if (err) code = typeof err.code === 'number' ? err.code : (err.signal || 'error');
      if (err && err.killed) stderr += `\n(killed after ${timeoutMs} ms)`;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

// GCC's UBSan ignores log_path when linked with ASan and reports on stderr,
// which ./stack sends to lighttpd.log: copy such reports (and any ASan
// report that reached stderr) into SB_SANITIZER_DIR as ubsan.stderr.* files.
const SANITIZER_LINE = /runtime error:|ERROR: (Address|Leak)Sanitizer|SUMMARY: \w+Sanitizer/;

async function collectSanitizerOutput(dir) {
  const outDir = process.env.SB_SANITIZER_DIR;
  if (!outDir) return;
  let names = [];
  try {
    names = (await fsp.readdir(dir)).filter((n) => n.endsWith('.log') && n !== 'redis.log');
  } catch {
    return;
  }
  const found = [];
  for (const name of names) {
    const lines = (await fsp.readFile(path.join(dir, name), 'utf8')).split('\n');
    for (let i = 0; i < lines.length; i += 1) {
      if (SANITIZER_LINE.test(lines[i])) {
        found.push(`${name}: ${lines.slice(i, i + 12).join('\n')}`);
        i += 11;
      }
    }
  }
  if (found.length > 0) {
    await fsp.writeFile(path.join(outDir, `ubsan.stderr.${path.basename(dir)}`),
      `${found.join('\n---\n')}\n`);
  }
}

function tail(file, lines) {
  try {
    const text = fs.readFileSync(file, 'utf8').split('\n');
    return text.slice(-lines - 1).join('\n');
  } catch (err) {
    return `(${err.code || err.message})`;
  }
}

/** Starts a private stack. opts.conf: INI text appended to the generated
 * switchboard.conf (after the test Argon2 settings). Rejects with the
 * ./stack output and log tails if it does not come up within 60 s. */
async function startStack(opts = {}) {
  const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'sb-'));
  const build = path.resolve(process.env.SB_BUILD || path.join(REPO, 'build'));
  const confExtra = path.join(dir, 'test-extra.conf');
  await fsp.writeFile(confExtra, TEST_CONF + (opts.conf ? `\n${opts.conf}\n` : ''));

  const env = {
    ...process.env,
    SB_VAR: dir,
    SB_BUILD: build,
    SB_NO_INSTALL: '1',
    SB_NO_BUILD: '1',
    SB_CONF_EXTRA: confExtra,
  };
  if (process.env.SB_SANITIZER_DIR) {
    const sd = path.resolve(process.env.SB_SANITIZER_DIR);
    env.ASAN_OPTIONS = `log_path=${sd}/asan:detect_leaks=1:abort_on_error=0`;
    env.UBSAN_OPTIONS = `print_stacktrace=1:log_path=${sd}/ubsan`;
  }

  const s = {
    dir,
    port: 0,
    url: '',
    redisSocket: path.join(dir, 'redis.sock'),
    confPath: path.join(dir, 'switchboard.conf'),
    wsPort: 0,
    wsUrl: '',
    adminUrl: '',
    logs() {
      return `--- ${dir}/lighttpd.log\n${tail(path.join(dir, 'lighttpd.log'), 40)}\n`
        + `--- ${dir}/wsgate.log\n${tail(path.join(dir, 'wsgate.log'), 20)}\n`
        + `--- ${dir}/redis.log\n${tail(path.join(dir, 'redis.log'), 20)}\n`;
    },
    /** Stops wsgate (SIGTERM, by pid). */
    async stopWsgate() {
      const r = await s.stack('down', 'wsgate');
      if (r.code !== 0) throw new Error(`./stack down wsgate failed:\n${r.stdout}${r.stderr}`);
    },
    async startWsgate() {
      const r = await s.stack('up', 'wsgate');
      if (r.code !== 0) {
        throw new Error(`./stack up wsgate failed:\n${r.stdout}${r.stderr}\n${s.logs()}`);
      }
    },
    /** kill -9 of wsgate: no goodbye to its clients. */
    async killWsgate() {
      const pid = Number((await fsp.readFile(path.join(dir, 'wsgate.pid'), 'utf8')).trim());
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 200; i += 1) {
        try { process.kill(pid, 0); } catch { return; }
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`wsgate pid ${pid} survived SIGKILL`);
    },
    async stack(...args) {
      return run(STACK, args, { env, timeoutMs: args[0] === 'up' ? UP_TIMEOUT_MS : DOWN_TIMEOUT_MS });
    },
    async stop() {
      const r = await s.stack('down');
      await collectSanitizerOutput(dir);
      if (process.env.SB_KEEP !== '1') {
        await fsp.rm(dir, { recursive: true, force: true });
      }
      if (r.code !== 0) {
        throw new Error(`./stack down failed (${r.code}):\n${r.stdout}${r.stderr}`);
      }
    },
    async stopRedis() {
      const r = await s.stack('down', 'redis');
      if (r.code !== 0) throw new Error(`./stack down redis failed:\n${r.stdout}${r.stderr}`);
    },
    async startRedis() {
      const r = await s.stack('up', 'redis');
      if (r.code !== 0) {
        throw new Error(`./stack up redis failed:\n${r.stdout}${r.stderr}\n${s.logs()}`);
      }
    },
    async redis(...args) {
      const r = await run('redis-cli', ['-s', s.redisSocket, ...args.map(String)],
        { env, timeoutMs: CLI_TIMEOUT_MS });
      if (r.code !== 0) throw new Error(`redis-cli ${args.join(' ')} failed:\n${r.stderr}`);
      return r.stdout.trim();
    },
  };

  // The port can be taken between freePort() and lighttpd's bind: retry.
  let last = null;
  for (let attempt = 1; attempt <= PORT_TRIES; attempt += 1) {
    s.port = await freePort();
    s.url = `http://127.0.0.1:${s.port}`;
    env.SB_PORT = String(s.port);
    s.wsPort = await freePort();
    s.wsUrl = `ws://127.0.0.1:${s.wsPort}/ws`;
    env.SB_WS_PORT = String(s.wsPort);
    const admin = await freePort();
    s.adminUrl = `http://127.0.0.1:${admin}`;
    env.SB_WS_ADMIN = String(admin);
    last = await s.stack('up');
    if (last.code === 0) return s;
    const inUse = /Address already in use/.test(tail(path.join(dir, 'lighttpd.log'), 5)
      + tail(path.join(dir, 'wsgate.log'), 5));
    await s.stack('down');
    if (!inUse) break;
  }
  const msg = `./stack up failed (exit ${last.code}) in ${dir}:\n`
    + `${last.stdout}${last.stderr}\n${s.logs()}`;
  await collectSanitizerOutput(dir);
  if (process.env.SB_KEEP !== '1') await fsp.rm(dir, { recursive: true, force: true });
  throw new Error(msg);
}

module.exports = { startStack, freePort };
