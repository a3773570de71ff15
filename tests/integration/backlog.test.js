'use strict';
// A backlog bigger than a transport's output limit (1 MiB) is still
// delivered: a client that was away while 1.2 MB of messages arrived
// resumes from its old cursor by long-poll, SSE and WebSocket and gets
// every one of them exactly once, in order, instead of being cut off as
// a slow consumer and coming back to the same cut forever. Long-poll
// answers are bounded in size (several polls carry the backlog); SSE and
// WebSocket replay at the pace the client reads (the WebSocket hello
// comes after the whole replay, also when it takes more than one read per
// channel). An SSE reader that
// stops reading altogether holds no more than the flow-control window
// and is ended after [poll] sse_stall seconds.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startStack } = require('./lib/stack');
const { newUser, assertOk, waitFor } = require('./lib/http');
const { readMetrics, pollMetrics, waitPollMetrics } = require('./lib/metrics');
const { WsJson } = require('./lib/rawws');

const STALL_S = 2;
const CONF = '[auth]\nlogin_max_addr = 100000\n[send]\nsend_max = 100000\n' +
  `[poll]\npresence_grace = 1\nsse_stall = ${STALL_S}\n` +
  '[limits]\nmax_text = 65536\nmax_body = 131072\n' +
  // wsgate cuts at 4 × max_output at once: 1.2 MB is past that, so the
  // replay must be paced, not pushed.
  '[ws]\nmax_output = 262144\n';
const N = 300;                       // 300 × ~4.1 KB ≈ 1.2 MB, half DMs, half room
const TEXT_LEN = 4000;
const WAIT_MS = 30000;

let s;
let alice;
let bob;
let room;
let cursor0;                          // alice's cursor before the backlog
const sent = { dm: [], room: [] };    // [{id, text}] in send order, per channel

// Two channels at once: a held subscriber stops in both, and its cursor
// must say exactly where in each.
before(async () => {
  s = await startStack({ conf: CONF });
  alice = await newUser(s.url, 'bla');
  bob = await newUser(s.url, 'blb');
  room = `blr${Date.now().toString(36)}`;
  assertOk(await bob.post('/api/rooms', { json: { room } }), 201, 'room');
  assertOk(await alice.post('/api/rooms/join', { json: { room } }), 204, 'join');
  const p = assertOk(await alice.get('/api/poll', { query: { timeout: 0 } }), 200, 'cursor now');
  cursor0 = p.cursor;
  for (let i = 0; i < N; i++) {
    const text = `${String(i).padStart(4, '0')} ${'x'.repeat(TEXT_LEN - 5)}`;
    const toRoom = i % 2 === 1;
    const r = assertOk(await bob.post('/api/send', { json: toRoom ? { room, text } : { to: alice.user, text } }),
      200, `send ${i}`);
    sent[toRoom ? 'room' : 'dm'].push({ id: r.id, text });
  }
});

after(async () => {
  if (s) await s.stop();
});

const bobs = (events) => events.filter((e) => e.type === 'msg' && e.from === bob.user);

/** The messages from bob among events: every one sent, exactly once, in
 * order within each channel. */
function assertAll(events, what) {
  const got = bobs(events);
  const keys = got.map((e) => `${e.chan}#${e.id}`);
  assert.equal(new Set(keys).size, keys.length, `${what}: no event twice`);
  assert.equal(got.length, N, `${what}: all ${N} messages (got ${got.length})\n${s.logs()}`);
  const dms = got.filter((e) => e.chan === `u:${alice.user.toLowerCase()}`);
  const rooms = got.filter((e) => e.room !== undefined);
  assert.deepEqual(dms.map((e) => e.mid), sent.dm.map((m) => m.id), `${what}: the DMs, in order`);
  assert.deepEqual(rooms.map((e) => e.id), sent.room.map((m) => m.id), `${what}: the room messages, in order`);
  assert.deepEqual(dms.map((e) => e.text), sent.dm.map((m) => m.text), `${what}: the DMs whole`);
  assert.deepEqual(rooms.map((e) => e.text), sent.room.map((m) => m.text), `${what}: the room messages whole`);
}

test('long-poll: a 1.2 MB backlog comes in bounded answers, every message once, in order', async () => {
  const all = [];
  let cur = cursor0;
  let answers = 0;
  const deadline = Date.now() + WAIT_MS;
  while (bobs(all).length < N) {
    assert.ok(Date.now() < deadline, `backlog by long-poll within ${WAIT_MS} ms (${all.length} events so far)\n${s.logs()}`);
    const res = await alice.get('/api/poll', { query: { cursor: cur, timeout: 5 }, timeout: 20000 });
    const body = assertOk(res, 200, `poll ${answers}`);
    assert.ok(res.text.length <= 1024 * 1024, `an answer stays under 1 MiB (${res.text.length} bytes)`);
    all.push(...body.events);
    cur = body.cursor;
    answers++;
  }
  assert.ok(answers >= 2, `the backlog took more than one answer (${answers})`);
  assertAll(all, 'long-poll');
  const rest = assertOk(await alice.get('/api/poll', { query: { cursor: cur, timeout: 0 } }), 200, 'after');
  assert.deepEqual(rest.events.filter((e) => e.type === 'msg'), [], 'nothing left after the backlog');
});

test('SSE: Last-Event-ID before a 1.2 MB backlog gets every message once, in order', async () => {
  const events = [];
  let buf = '';
  let data = [];
  const req = http.request(new URL('/api/stream', s.url), {
    headers: { authorization: `Bearer ${alice.token}`, 'last-event-id': cursor0 }, agent: false,
  });
  const done = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`SSE: ${events.length} events in ${WAIT_MS} ms\n${s.logs()}`)), WAIT_MS);
    req.on('response', (res) => {
      assert.equal(res.statusCode, 200);
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl).replace(/\r$/, '');
          buf = buf.slice(nl + 1);
          if (line === '') {
            if (data.length) events.push(JSON.parse(data.join('\n')));
            data = [];
          } else if (line.startsWith('data:')) {
            data.push(line.slice(5).replace(/^ /, ''));
          }
        }
        if (bobs(events).length >= N) {
          clearTimeout(timer);
          resolve();
        }
      });
      res.on('end', () => {
        clearTimeout(timer);
        reject(new Error(`SSE stream ended after ${events.length} events\n${s.logs()}`));
      });
    });
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
  req.end();
  try {
    await done;
  } finally {
    req.destroy();
  }
  assertAll(events, 'SSE');
});

test('WebSocket: ?cursor= before a 1.2 MB backlog gets every message once, in order, then hello', async () => {
  const m0 = await readMetrics(s.adminUrl, '/metrics');
  const ws = await WsJson.open(s.wsUrl, { token: alice.token, cursor: cursor0 });
  try {
    await ws.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: 'hello after the replay' });
    const hello = ws.msgs.findIndex((m) => m.type === 'hello');
    assertAll(ws.msgs.slice(0, hello), 'WebSocket replay');
  } finally {
    ws.close();
  }
  const m1 = await readMetrics(s.adminUrl, '/metrics');
  assert.equal(m1.wsgate_slow_consumer_closes_total, m0.wsgate_slow_consumer_closes_total,
    'a client that reads is never cut as a slow consumer');
});

test('WebSocket: a backlog of more events than one read takes (600 > 500) all comes before hello', async () => {
  const erin = await newUser(s.url, 'ble');
  const fred = await newUser(s.url, 'blf');
  const p = assertOk(await erin.get('/api/poll', { query: { timeout: 0 } }), 200, 'cursor now');
  const n = 600;
  for (let i = 0; i < n; i++) {
    assertOk(await fred.post('/api/send', { json: { to: erin.user, text: `s${i}` } }), 200, `send ${i}`);
  }
  const ws = await WsJson.open(s.wsUrl, { token: erin.token, cursor: p.cursor });
  try {
    await ws.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: 'hello after the replay' });
    const hello = ws.msgs.findIndex((m) => m.type === 'hello');
    const before = ws.msgs.slice(0, hello).filter((m) => m.type === 'msg' && m.from === fred.user);
    assert.deepEqual(before.map((m) => m.text), Array.from({ length: n }, (_, i) => `s${i}`),
      `all ${n} missed messages, in order, before hello (got ${before.length})`);
  } finally {
    ws.close();
  }
});

test('SSE: a reader that stops reading is held, then ended after sse_stall; others are served meanwhile', async () => {
  const carol = await newUser(s.url, 'stc');
  const dave = await newUser(s.url, 'std');
  const m0 = await pollMetrics(s);
  const req = http.request(new URL('/api/stream', s.url), {
    headers: { authorization: `Bearer ${carol.token}` }, agent: false,
  });
  let ended = false;
  const res = await new Promise((resolve, reject) => {
    req.on('response', resolve);
    req.on('error', reject);
    req.end();
  });
  assert.equal(res.statusCode, 200);
  res.on('end', () => { ended = true; });
  res.on('error', () => { ended = true; });
  res.on('close', () => { ended = true; });
  await waitPollMetrics(s, (m) => m.chatpoll_streams === m0.chatpoll_streams + 1, 'the stream is parked');
  res.pause();   // never reads from now on
  try {
    // Enough to fill every buffer on the way (loopback TCP takes several MB).
    const text = 'y'.repeat(60000);
    let closed = null;
    for (let i = 0; i < 600 && !closed; i++) {
      assertOk(await dave.post('/api/send', { json: { to: carol.user, text } }), 200, `big ${i}`);
      if (i % 10 === 9) {
        const m = await pollMetrics(s);
        if (m.chatpoll_slow_consumer_closes_total > m0.chatpoll_slow_consumer_closes_total) closed = m;
      }
    }
    if (!closed) {
      closed = await waitPollMetrics(s,
        (m) => m.chatpoll_slow_consumer_closes_total > m0.chatpoll_slow_consumer_closes_total,
        `the stalled stream ended within ${STALL_S} s of backing up`, (STALL_S + 10) * 1000);
    }
    assert.equal(closed.chatpoll_slow_consumer_closes_total, m0.chatpoll_slow_consumer_closes_total + 1,
      'exactly one stream ended as stalled');
    await waitPollMetrics(s, (m) => m.chatpoll_streams === m0.chatpoll_streams, 'the stream is freed');
    // Meanwhile and after, everyone else is served.
    const p = assertOk(await dave.get('/api/poll', { query: { timeout: 0 } }), 200, 'another user polls');
    assert.ok(Array.isArray(p.events));
    res.resume();
    await waitFor(() => ended, { timeout: 20000, what: 'the stalled client sees its stream end' });
  } finally {
    req.destroy();
  }
});
