'use strict';
// wsgate under faults: (1) kill -9 of wsgate while a client receives a
// steady stream, then a restart: the client reconnects with the cursor of
// the last frame it saw and ends with every message exactly once, in
// order; (2) the same across a Redis restart; (3) a client that never
// reads is closed with 4008 and wsgate's memory returns to where it was;
// (4) SIGTERM closes every client with 1001.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { startStack } = require('./lib/stack');
const {
  newUser, request, assertOk, waitFor,
} = require('./lib/http');
const { WsJson, RawWs } = require('./lib/rawws');

const MAX_OUTPUT = 65536;
const BIG_TEXT = 60000;
const CONF = '[auth]\nlogin_max_addr = 100000\n[send]\nsend_max = 100000\n' +
  `[limits]\nmax_text = ${BIG_TEXT}\n[poll]\npresence_grace = 1\n` +
  `[ws]\nmax_output = ${MAX_OUTPUT}\n`;
const WAIT_MS = 10000;
const STREAM_N = 150;          // messages in a stream
const STREAM_GAP_MS = 20;      // between two sends of the stream
const FAULT_AFTER = 40;        // the fault comes once the client has this many
const RSS_SLACK_KIB = 4 * 1024;

let s;
let wsgateDown = false;
let redisDown = false;
const open = new Set();
const followers = new Set();

before(async () => {
  s = await startStack({ conf: CONF });
});

after(async () => {
  for (const f of followers) f.stop = true;
  for (const c of open) c.close();
  if (s && redisDown) await s.startRedis().catch(() => {});
  if (s && wsgateDown) await s.startWsgate().catch(() => {});
  if (s) await s.stop();
});

// ---------------------------------------------------------------- helpers

async function metrics() {
  const res = await request(s.adminUrl, 'GET', '/metrics', { timeout: 3000 });
  assert.equal(res.status, 200, `metrics: ${res.status} ${res.text}`);
  const m = {};
  for (const line of res.text.split('\n')) {
    const mm = /^(wsgate_\w+(?:\{[^}]*\})?) (\d+)$/.exec(line.trim());
    if (mm) m[mm[1]] = Number(mm[2]);
  }
  return m;
}

function waitMetrics(pred, what, timeout = WAIT_MS) {
  let last = null;
  return waitFor(async () => {
    last = await metrics();
    return pred(last) ? last : null;
  }, { timeout, interval: 25, what: `${what} (last metrics: ${JSON.stringify(last)})` });
}

function wsgatePid() {
  return Number(fs.readFileSync(path.join(s.dir, 'wsgate.pid'), 'utf8').trim());
}

function rssKiB(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  assert.ok(m, `VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

async function socket(c, opts = {}) {
  const ws = await WsJson.open(s.wsUrl, { token: c.token, ...opts });
  open.add(ws);
  await ws.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: `hello for ${c.user}` });
  return ws;
}

/** A client the way a page runs one: one socket; every frame with a
 * cursor moves its cursor; when the socket goes away it reconnects (every
 * 50 ms while refused) with ?cursor= of the last frame it saw. Keeps every
 * msg event it was given, duplicates included, so the test sees them.
 * cursor: where the first connection starts (none: from now). */
function follow(c, cursor) {
  const f = {
    stop: false, events: [], cursor, connects: 0, closes: [], errors: [], ws: null, done: null,
  };
  followers.add(f);
  f.done = (async () => {
    const deadline = Date.now() + 120000;
    while (!f.stop && Date.now() < deadline) {
      let ws;
      try {
        ws = await WsJson.open(s.wsUrl, { token: c.token, cursor: f.cursor, timeout: 3000 });
      } catch (e) {
        f.errors.push(e.status ? `HTTP ${e.status}` : e.code || e.message);
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      f.connects += 1;
      f.ws = ws;
      open.add(ws);
      ws.onMsg = (m) => {
        if (typeof m.cursor === 'string') f.cursor = m.cursor;
        if (m.type === 'msg') f.events.push(m);
      };
      // Messages that came with the open itself.
      for (const m of ws.msgs) ws.onMsg(m);
      await ws.waiters.wait(() => f.stop || ws.closeInfo !== null, { timeout: 600000 });
      if (ws.closeInfo) f.closes.push(ws.closeInfo.code);
      ws.close();
      open.delete(ws);
    }
  })();
  return f;
}

/** Sends `n` DMs from a to b over HTTP, one every STREAM_GAP_MS; each is
 * retried with its cid until accepted (503 while Redis is down, or a
 * refused connection), so each is stored exactly once. */
function stream(a, b, n, prefix) {
  const st = { sent: 0, retries: 0, errors: [], done: null };
  st.done = (async () => {
    for (let i = 0; i < n; i += 1) {
      const deadline = Date.now() + 30000;
      for (;;) {
        let res = null;
        try {
          res = await a.send({ to: b.user, text: `${prefix} ${i}`, cid: `${prefix}-${i}` });
        } catch (e) {
          st.errors.push(e.message);
        }
        if (res && res.status === 200) break;
        if (res) st.errors.push(`${res.status} ${res.text.slice(0, 100)}`);
        st.retries += 1;
        if (Date.now() > deadline) throw new Error(`send ${prefix} ${i} never accepted: ${st.errors.slice(-3)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      st.sent = i + 1;
      await new Promise((r) => setTimeout(r, STREAM_GAP_MS));
    }
  })();
  return st;
}

/** Every message of the stream exactly once, in order; (chan, id) never
 * twice. */
function assertExactlyOnce(f, prefix, n, context) {
  const mine = f.events.filter((e) => String(e.text).startsWith(`${prefix} `));
  const got = mine.map((e) => e.text);
  const want = Array.from({ length: n }, (_, i) => `${prefix} ${i}`);
  const dups = got.filter((t, i) => got.indexOf(t) !== i);
  assert.deepEqual(dups, [], `${context}: no message twice (connects ${f.connects}, closes ${f.closes})`);
  const missing = want.filter((t) => !got.includes(t));
  assert.deepEqual(missing, [], `${context}: no message missing`);
  assert.deepEqual(got, want, `${context}: in order`);
  const keys = f.events.map((e) => `${e.chan}#${e.id}`);
  assert.equal(new Set(keys).size, keys.length, `${context}: (chan, id) unique`);
  assert.equal(f.events.filter((e) => e.type === 'reset').length, 0, `${context}: no reset`);
}

// ---------------------------------------------------------------- tests

test('slow consumer: a client that never reads is closed with 4008; wsgate\'s memory returns', async (t) => {
  const alice = await newUser(s.url, 'sca');
  const bob = await newUser(s.url, 'scb');
  const pid = wsgatePid();
  const big = (i, tag = '') => `${tag}${String(i).padStart(6, '0')} ${'x'.repeat(BIG_TEXT - 7 - tag.length)}`;

  // Warm up: a few big messages through a reading client, so the baseline
  // includes what wsgate keeps once it has handled messages of this size.
  // One at a time: two such events at once are already over max_output.
  const warm = await socket(bob);
  for (let i = 0; i < 5; i += 1) {
    assertOk(await alice.send({ to: bob.user, text: big(i, 'w') }), 200, 'warm');
    await warm.waitMsg((m) => m.type === 'msg' && String(m.text).startsWith(`w00000${i} `),
      { timeout: WAIT_MS, what: `warm-up message ${i}` });
  }
  warm.close();
  open.delete(warm);
  await waitMetrics((m) => m.wsgate_connections === 0, 'warm-up socket gone');
  const rss0 = rssKiB(pid);
  const m0 = await metrics();

  const raw = await RawWs.connect(s.wsPort, { token: bob.token });
  open.add(raw);
  await raw.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: 'hello' });
  raw.pause();   // never reads from now on

  let sent = 0;
  let closedAt = null;
  const cap = 1000;   // kernel buffers on loopback can take several MB
  while (sent < cap) {
    assertOk(await alice.send({ to: bob.user, text: big(sent) }), 200, `big ${sent}`);
    sent += 1;
    if (sent % 10 === 0) {
      const m = await metrics();
      if (m.wsgate_slow_consumer_closes_total > m0.wsgate_slow_consumer_closes_total) {
        closedAt = sent;
        break;
      }
    }
  }
  if (!closedAt) {
    // Its queue past max_output / 2 holds its delivery (nothing more is
    // queued); held for 5 s without draining, it is closed.
    await waitMetrics((m) => m.wsgate_slow_consumer_closes_total > m0.wsgate_slow_consumer_closes_total,
      'the held, non-reading client closed as a slow consumer', 15000).catch(() => {});
    const m = await metrics();
    if (m.wsgate_slow_consumer_closes_total > m0.wsgate_slow_consumer_closes_total) closedAt = sent;
  }
  assert.ok(closedAt, `wsgate_slow_consumer_closes_total did not grow after ${sent} messages of ${BIG_TEXT} bytes ` +
    `to a client that does not read (max_output ${MAX_OUTPUT})\n${s.logs()}`);
  const rssPeak = rssKiB(pid);

  // Now read what is there: complete events in order, then the close.
  raw.resume();
  await raw.waitEnded({ timeout: WAIT_MS, what: 'the server to end the slow connection' });
  const texts = raw.msgs.filter((m) => m.type === 'msg').map((m) => m.text.slice(0, 6));
  const want = Array.from({ length: texts.length }, (_, i) => String(i).padStart(6, '0'));
  assert.deepEqual(texts, want, 'what the slow client got is a gap-free prefix of what was sent');
  const last = raw.frames[raw.frames.length - 1];
  if (raw.closeFrame) {
    assert.equal(raw.closeFrame.code, 4008, `close code: ${raw.describe()}`);
    assert.equal(last, raw.closeFrame, `the close is the last frame: ${raw.describe()}`);
  } else {
    t.diagnostic(`no close frame reached the slow client (it read ${texts.length} of ${closedAt} messages ` +
      'late); the metric and the closed socket count');
  }
  raw.close();
  open.delete(raw);

  // Memory back to where it was (bounded wait: the allocator may return it
  // a moment later). Under AddressSanitizer freed memory is held in its
  // quarantine on purpose, so RSS says nothing there; the leak checker
  // covers that build instead.
  if (process.env.SB_SANITIZER_DIR) {
    t.diagnostic(`sanitizer build: RSS check skipped (baseline ${rss0} KiB, peak ${rssPeak} KiB)`);
    return;
  }
  let rss1 = 0;
  await waitFor(() => {
    rss1 = rssKiB(pid);
    return rss1 <= rss0 + RSS_SLACK_KIB;
  }, { timeout: WAIT_MS, interval: 100, what: 'RSS back to baseline' }).catch(() => {
    assert.fail(`wsgate RSS ${rss1} KiB, baseline ${rss0} KiB (peak ${rssPeak} KiB): more than ` +
      `${RSS_SLACK_KIB} KiB above it after the slow consumer was closed`);
  });
  t.diagnostic(`RSS baseline ${rss0} KiB, peak ${rssPeak} KiB, after ${rss1} KiB; closed after ${closedAt} ` +
    `messages, ${texts.length} read late`);
});

test('a client whose backlog is larger than max_output catches up by resuming (the replay is paced, not a 4008)', async () => {
  const alice = await newUser(s.url, 'bla');
  const bob = await newUser(s.url, 'blb');
  const b0 = await socket(bob);
  const c0 = b0.msgs.find((m) => m.type === 'hello').cursor;
  b0.close();
  open.delete(b0);
  // 40 events of ~4 KB: about 160 KiB missed, more than max_output (64 KiB);
  // a tab that was asleep for a while with the default limits is the same.
  const n = 40;
  for (let i = 0; i < n; i += 1) {
    assertOk(await alice.send({ to: bob.user, text: `bl ${String(i).padStart(3, '0')} ${'z'.repeat(4000)}` }), 200, 'send');
  }
  const m0 = await metrics();
  const f = follow(bob, c0);
  const mine = () => f.events.filter((e) => String(e.text).startsWith('bl '));
  try {
    await waitFor(() => mine().length >= n || f.closes.length >= 3, {
      timeout: 20000, interval: 50, what: `the backlog of ${n} events`,
    });
  } catch (e) {
    throw new Error(`${e.message}; client: connects ${f.connects}, closes ${JSON.stringify(f.closes)}, ` +
      `errors ${JSON.stringify(f.errors.slice(-3))}, got ${mine().length}\n${s.logs()}`);
  } finally {
    f.stop = true;
    if (f.ws) f.ws.close();
    await f.done;
  }
  const m1 = await metrics();
  assert.deepEqual(f.closes.filter((c) => c === 4008), [],
    `a client that reads is not closed as a slow consumer while its backlog is replayed: closes ` +
    `${JSON.stringify(f.closes)}, got ${mine().length} of ${n} events in ${f.connects} connection(s), ` +
    `wsgate_slow_consumer_closes_total ${m0.wsgate_slow_consumer_closes_total} → ${m1.wsgate_slow_consumer_closes_total}`);
  assert.deepEqual(mine().map((e) => e.text.slice(0, 6)),
    Array.from({ length: n }, (_, i) => `bl ${String(i).padStart(3, '0')}`), 'every missed event once, in order');
});

test('kill -9 of wsgate mid-stream, restart: the client resumes from its cursor, every message once, in order', async () => {
  const alice = await newUser(s.url, 'k9a');
  const bob = await newUser(s.url, 'k9b');
  const f = follow(bob);
  await waitFor(() => f.connects === 1 && f.cursor, { timeout: WAIT_MS, what: 'the client connected' });
  const st = stream(alice, bob, STREAM_N, 'k9');
  const mine = () => f.events.filter((e) => String(e.text).startsWith('k9 ')).length;
  await waitFor(() => mine() >= FAULT_AFTER, {
    timeout: WAIT_MS * 2, what: `${FAULT_AFTER} messages before the kill`,
  });

  await s.killWsgate();
  wsgateDown = true;
  await waitFor(() => f.closes.length >= 1, { timeout: WAIT_MS, what: 'the client to notice' });
  const during = st.sent;
  await s.startWsgate();
  wsgateDown = false;

  await st.done;
  assert.ok(during < STREAM_N, 'the kill happened while the stream was going on');
  const m = await metrics();
  assert.ok(m.wsgate_replays_total >= 1, `the new wsgate replayed from the client's cursor: ${JSON.stringify(m)}`);
  await waitFor(() => mine() >= STREAM_N, {
    timeout: WAIT_MS * 2, interval: 50,
    what: `all ${STREAM_N} messages (client has ${mine()}, connects ${f.connects}, errors ${f.errors.slice(-3)})`,
  }).catch((e) => { throw new Error(`${e.message}\n${s.logs()}`); });
  // A bounded moment more for anything that would come twice: one more
  // message after the last, and it must be the next thing.
  assertOk(await alice.send({ to: bob.user, text: 'k9end' }), 200, 'end marker');
  await waitFor(() => f.events.some((e) => e.text === 'k9end'), { timeout: WAIT_MS, what: 'end marker' });
  f.stop = true;
  if (f.ws) f.ws.close();
  await f.done;
  assert.ok(f.connects >= 2, `the client reconnected (connects ${f.connects})`);
  assertExactlyOnce(f, 'k9', STREAM_N, 'kill -9 and restart');
});

test('Redis restarted mid-stream: the client ends with every message once, in order; wsgate keeps the socket', async () => {
  const alice = await newUser(s.url, 'rra');
  const bob = await newUser(s.url, 'rrb');
  const f = follow(bob);
  await waitFor(() => f.connects === 1 && f.cursor, { timeout: WAIT_MS, what: 'the client connected' });
  const st = stream(alice, bob, STREAM_N, 'rr');
  const mine = () => f.events.filter((e) => String(e.text).startsWith('rr ')).length;
  await waitFor(() => mine() >= FAULT_AFTER, {
    timeout: WAIT_MS * 2, what: `${FAULT_AFTER} messages before the restart`,
  });

  await s.stopRedis();
  redisDown = true;
  await waitMetrics((m) => m.wsgate_redis_up === 0, 'wsgate to see Redis down');
  const during = st.sent;
  await s.startRedis();
  redisDown = false;
  await waitMetrics((m) => m.wsgate_redis_up === 1, 'wsgate to reconnect to Redis', 20000);

  await st.done;
  assert.ok(during < STREAM_N, 'the restart happened while the stream was going on');
  assert.ok(st.retries > 0, 'the sender saw Redis down (retried at least once)');
  await waitFor(() => mine() >= STREAM_N, {
    timeout: WAIT_MS * 2, interval: 50,
    what: `all ${STREAM_N} messages (client has ${mine()}, connects ${f.connects}, closes ${f.closes})`,
  }).catch((e) => { throw new Error(`${e.message}\n${s.logs()}`); });
  assertOk(await alice.send({ to: bob.user, text: 'rrend' }), 200, 'end marker');
  await waitFor(() => f.events.some((e) => e.text === 'rrend'), { timeout: WAIT_MS, what: 'end marker' });
  f.stop = true;
  const closesBeforeStop = [...f.closes];
  if (f.ws) f.ws.close();
  await f.done;
  assertExactlyOnce(f, 'rr', STREAM_N, 'Redis restart');
  assert.deepEqual(closesBeforeStop, [], 'wsgate kept the socket through the Redis restart');
  assert.equal(f.connects, 1, 'no reconnect was needed');
});

test('SIGTERM closes every client with 1001 and wsgate exits promptly', async () => {
  const bob = await newUser(s.url, 'stb');
  const a = await socket(bob);
  const b = await socket(bob);
  const raw = await RawWs.connect(s.wsPort, { token: bob.token });
  open.add(raw);
  await raw.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: 'hello' });
  const pid = wsgatePid();

  const t0 = Date.now();
  const stopping = s.stopWsgate();
  wsgateDown = true;
  for (const ws of [a, b]) {
    const ci = await ws.waitClosed({ timeout: WAIT_MS, what: 'close on SIGTERM' });
    assert.equal(ci.code, 1001, `close code on SIGTERM: ${JSON.stringify(ci)}`);
  }
  const rc = await raw.waitClose({ timeout: WAIT_MS });
  assert.equal(rc.code, 1001, raw.describe());
  assert.equal(rc.framesAfterClose, 0);
  await stopping;
  await waitFor(() => {
    try { process.kill(pid, 0); return false; } catch { return true; }
  }, { timeout: WAIT_MS, what: 'wsgate to exit' });
  const took = Date.now() - t0;
  assert.ok(took < 6000, `wsgate exited ${took} ms after SIGTERM (drain is bounded)`);
  const log = fs.readFileSync(path.join(s.dir, 'wsgate.log'), 'utf8');
  assert.ok(!/ignored SIGTERM|SIGKILL/.test(log), 'no SIGKILL needed');
  await assert.rejects(WsJson.open(s.wsUrl, { token: bob.token, timeout: 2000 }), 'no new connections after SIGTERM');

  await s.startWsgate();
  wsgateDown = false;
  const again = await socket(bob);
  again.close();
  open.delete(again);
  raw.close();
  open.delete(raw);
});

test('SIGTERM with a client that does not read: wsgate still exits within its drain bound', async () => {
  const alice = await newUser(s.url, 'sfa');
  const bob = await newUser(s.url, 'sfb');
  const raw = await RawWs.connect(s.wsPort, { token: bob.token });
  open.add(raw);
  await raw.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: 'hello' });
  raw.pause();
  for (let i = 0; i < 20; i += 1) assertOk(await alice.send({ to: bob.user, text: `f ${i} ${'y'.repeat(30000)}` }), 200, 'send');
  const pid = wsgatePid();
  const t0 = Date.now();
  await s.stopWsgate();
  wsgateDown = true;
  await waitFor(() => {
    try { process.kill(pid, 0); return false; } catch { return true; }
  }, { timeout: WAIT_MS, what: 'wsgate to exit' });
  const took = Date.now() - t0;
  assert.ok(took < 6000, `wsgate exited ${took} ms after SIGTERM with a stuck client`);
  raw.close();
  open.delete(raw);
  await s.startWsgate();
  wsgateDown = false;
});
