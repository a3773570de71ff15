'use strict';
// chat-poll, GET /api/poll: plain poll (timeout=0) and long-poll. Checks
// the PROTOCOL.md "Events", "Cursor" and "Live transports" contract: an
// event completes a parked poll at once; every poller of the user gets it;
// rooms reach members only; a cursor resumes without loss or duplicates;
// the timeout; a client that leaves frees its parked request; what a poll
// follows is decided by the server (joined rooms), never by the cursor;
// errors; `reset` for a cursor older than what is kept.
//
// Waits are on conditions (the chatpoll_* metrics, the replies), each
// bounded by a deadline; tests in this file run one after another on one
// stack, so the parked/longpoll gauges belong to the current test.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startStack } = require('./lib/stack');
const { pollMetrics, waitPollMetrics } = require('./lib/metrics');
const {
  newUser, request, uniqueName, assertError, assertOk, waitFor,
} = require('./lib/http');

const CONF = '[auth]\nlogin_max_addr = 100000\n[send]\nsend_max = 1000\n' +
  '[poll]\npresence_grace = 2\n';
// A long-poll answered by an event must come back well before its timeout.
const LONG_TIMEOUT_S = 20;
const PROMPT_MS = 3000;

let s;

before(async () => {
  s = await startStack({ conf: CONF });
});

after(async () => {
  if (s) await s.stop();
});

// ---------------------------------------------------------------- helpers

function poll(c, query = {}, timeoutMs) {
  const t = query.timeout === undefined ? 25 : Number(query.timeout);
  const ms = timeoutMs || (Number.isFinite(t) ? t * 1000 + 10000 : 15000);
  return c.get('/api/poll', { query, timeout: ms });
}

// A poll that must succeed: returns {events, cursor, ms}.
async function pollOk(c, query = {}, what = 'poll') {
  const t0 = Date.now();
  const res = await poll(c, query);
  const body = assertOk(res, 200, `${what} ${JSON.stringify(query)}\n${s.logs()}`);
  assert.ok(Array.isArray(body.events), `${what}: events is an array: ${res.text}`);
  assert.equal(typeof body.cursor, 'string', `${what}: cursor is a string: ${res.text}`);
  assert.ok(body.cursor.length > 0, `${what}: cursor not empty`);
  return { events: body.events, cursor: body.cursor, ms: Date.now() - t0 };
}

// The user's current position (a plain poll without cursor = from now).
async function cursorNow(c) {
  return (await pollOk(c, { timeout: 0 }, `cursor of ${c.user}`)).cursor;
}

function metrics() {
  return pollMetrics(s);
}

function waitMetrics(pred, what, timeout = 10000) {
  return waitPollMetrics(s, pred, what, timeout);
}

// Waits until n long-polls are parked in chat-poll (subscribed, waiting).
function waitLongpolls(n) {
  return waitMetrics((m) => m.chatpoll_longpolls === n && m.chatpoll_requests_parked === n,
    `${n} parked long-poll(s)`);
}

async function dmPair(prefix) {
  const a = await newUser(s.url, `${prefix}a`);
  const b = await newUser(s.url, `${prefix}b`);
  return [a, b];
}

async function createRoom(owner, prefix = 'r') {
  const room = uniqueName(prefix);
  assertOk(await owner.post('/api/rooms', { json: { room } }), 201, `create ${room}`);
  return room;
}

async function join(c, room) {
  assertOk(await c.post('/api/rooms/join', { json: { room } }), 204, `${c.user} joins ${room}`);
}

const key = (e) => `${e.chan}#${e.id}`;

function assertNoDuplicates(events, what) {
  const seen = new Set();
  for (const e of events) {
    if (e.chan === undefined) continue;   // ephemeral (typing) or reset
    if (e.type === 'reset') continue;
    const k = key(e);
    assert.ok(!seen.has(k), `${what}: event ${k} delivered twice: ${JSON.stringify(events)}`);
    seen.add(k);
  }
}

// Keeps long-polling from cursor until pred(all events so far) holds.
async function pollUntil(c, cursor, pred, what, deadlineMs = 10000) {
  const deadline = Date.now() + deadlineMs;
  const all = [];
  let cur = cursor;
  while (!pred(all)) {
    const left = Math.ceil((deadline - Date.now()) / 1000);
    assert.ok(left > 0, `${what}: not seen before the deadline; got ${JSON.stringify(all)}`);
    const r = await pollOk(c, { cursor: cur, timeout: Math.min(left, 10) }, what);
    all.push(...r.events);
    cur = r.cursor;
  }
  return { events: all, cursor: cur };
}

// Starts a long-poll from cursor and resolves {pending} once it is parked
// in chat-poll. A poll answered before it parks (there was already an
// event) has its events pushed into sink and is started again.
async function parkPoll(c, cursor, timeoutS, sink, what) {
  let cur = cursor;
  for (let attempt = 0; attempt < 20; attempt++) {
    const pending = pollOk(c, { cursor: cur, timeout: timeoutS }, what);
    let done = null;
    pending.then((r) => { done = r; }, () => {});
    await waitFor(async () => done || (await metrics()).chatpoll_longpolls === 1,
      { timeout: 10000, interval: 25, what: `${what} parked or answered` });
    if (!done) return { pending };
    const r = await pending;
    sink.push(...r.events);
    cur = r.cursor;
  }
  throw new Error(`${what}: never parked`);
}

// A cursor of c after c's own online presence event in chan: taken from
// /api/auth/me (which does not make c online) before c's first poll, then
// polled until that event shows, so that it cannot wake a later poll.
async function afterOwnPresence(c, chan) {
  const me = assertOk(await c.me(), 200, 'me');
  assert.equal(typeof me.cursor, 'string', `me has a cursor: ${JSON.stringify(me)}`);
  const r = await pollUntil(c, me.cursor,
    (ev) => ev.some((e) => e.type === 'presence' && e.chan === chan && e.user === c.user && e.online === true),
    `${c.user}'s presence in ${chan}`);
  return r.cursor;
}

function b64url(text) {
  return Buffer.from(text, 'utf8').toString('base64url');
}

function decodeCursor(cur) {
  return Buffer.from(cur, 'base64url').toString('utf8');
}

// ------------------------------------------------------------------ tests

test('a message sent while a long-poll waits completes it at once with that event', async () => {
  const [a, b] = await dmPair('p1');
  const cur = await cursorNow(b);
  const t0 = Date.now();
  const pending = pollOk(b, { cursor: cur, timeout: LONG_TIMEOUT_S }, 'long-poll');
  await waitLongpolls(1);
  const tSend = Date.now();
  const sent = assertOk(await a.send({ to: b.user, text: 'wake up' }), 200, 'send');
  const r = await pending;
  const after = Date.now() - tSend;
  assert.ok(after < PROMPT_MS, `the poll answered ${after} ms after the send`);
  assert.ok(Date.now() - t0 < LONG_TIMEOUT_S * 1000 - 5000, 'well before the timeout');
  const msgs = r.events.filter((e) => e.type === 'msg');
  assert.equal(msgs.length, 1, `one msg: ${JSON.stringify(r.events)}`);
  const [e] = msgs;
  assert.equal(e.chan, `u:${b.user}`);
  assert.equal(e.text, 'wake up');
  assert.equal(e.from, a.user);
  assert.equal(e.to, b.user);
  assert.equal(e.conv, a.user, 'conv is the peer for the receiver');
  assert.equal(e.mid, sent.id, 'mid is the id in the DM history');
  assert.ok(Number.isInteger(e.id) && e.id > 0, `id ${e.id}`);
  assert.ok(Number.isInteger(e.ts) && Math.abs(e.ts - Date.now()) < 60000, `ts ${e.ts}`);
  assert.notEqual(r.cursor, cur, 'a new cursor');
  await waitLongpolls(0);
});

test('two pollers of the same user (two tabs) both get the message', async () => {
  const [a, b] = await dmPair('p2');
  const cur = await cursorNow(b);
  const p1 = pollOk(b, { cursor: cur, timeout: LONG_TIMEOUT_S }, 'tab 1');
  const p2 = pollOk(b, { cursor: cur, timeout: LONG_TIMEOUT_S }, 'tab 2');
  await waitLongpolls(2);
  const tSend = Date.now();
  assertOk(await a.send({ to: b.user, text: 'to both tabs' }), 200, 'send');
  const [r1, r2] = await Promise.all([p1, p2]);
  assert.ok(Date.now() - tSend < PROMPT_MS, `both answered within ${PROMPT_MS} ms`);
  for (const [name, r] of [['tab 1', r1], ['tab 2', r2]]) {
    const msgs = r.events.filter((e) => e.type === 'msg');
    assert.equal(msgs.length, 1, `${name}: ${JSON.stringify(r.events)}`);
    assert.equal(msgs[0].text, 'to both tabs', name);
    assert.equal(msgs[0].chan, `u:${b.user}`, name);
  }
  assert.equal(key(r1.events.find((e) => e.type === 'msg')), key(r2.events.find((e) => e.type === 'msg')),
    'the same event (chan, id) in both tabs');
  await waitLongpolls(0);
});

test("a room message reaches every member's poll and not a non-member's", async () => {
  const a = await newUser(s.url, 'p3a');
  const b = await newUser(s.url, 'p3b');
  const outsider = await newUser(s.url, 'p3x');
  const room = await createRoom(a, 'p3r');
  await join(b, room);
  const ca = await cursorNow(a);
  const cb = await cursorNow(b);
  const cx = await cursorNow(outsider);

  // Members: keep polling until the message shows (presence/join events
  // of the room may come first); the outsider: one short poll.
  const text = `hello ${room}`;
  const isIt = (e) => e.type === 'msg' && e.chan === `r:${room}` && e.text === text;
  const pa = pollUntil(a, ca, (ev) => ev.some(isIt), 'member a');
  const pb = pollUntil(b, cb, (ev) => ev.some(isIt), 'member b');
  const tOut = Date.now();
  const px = pollOk(outsider, { cursor: cx, timeout: 2 }, 'non-member');
  await waitMetrics((m) => m.chatpoll_longpolls >= 3, "three parked polls");
  const sent = assertOk(await a.send({ room, text }), 200, 'room send');

  const [ra, rb, rx] = await Promise.all([pa, pb, px]);
  for (const [name, r] of [['a', ra], ['b', rb]]) {
    const e = r.events.find(isIt);
    assert.equal(e.room, room, name);
    assert.equal(e.from, a.user, name);
    assert.equal(e.id, sent.id, `${name}: the room event id is the id send returned`);
    assertNoDuplicates(r.events, name);
    for (const ev of r.events) {
      assert.ok(ev.chan === `r:${room}` || ev.chan === `u:${r === ra ? a.user : b.user}`,
        `${name}: event of a channel it does not follow: ${JSON.stringify(ev)}`);
    }
  }
  assert.deepEqual(rx.events, [], `the non-member gets nothing: ${JSON.stringify(rx.events)}`);
  const waited = Date.now() - tOut;
  assert.ok(waited >= 1500 && waited < 6000, `the non-member's poll timed out after ${waited} ms`);
});

test('resume: a cursor returns what was missed, in order, exactly once', async () => {
  const [a, b] = await dmPair('p4');
  const old = await cursorNow(b);
  const texts = ['one', 'two', 'three', 'four', 'five'];
  const ids = [];
  for (const text of texts) {
    ids.push(assertOk(await a.send({ to: b.user, text }), 200, `send ${text}`).id);
  }
  const r1 = await pollOk(b, { cursor: old, timeout: 0 }, 'resume');
  assert.deepEqual(r1.events.map((e) => e.text), texts, `all five in order: ${JSON.stringify(r1.events)}`);
  assert.deepEqual(r1.events.map((e) => e.mid), ids, 'mids are the send ids');
  for (let i = 1; i < r1.events.length; i++) {
    assert.ok(r1.events[i].id > r1.events[i - 1].id, 'ids increase');
    assert.ok(r1.events[i].ts >= r1.events[i - 1].ts, 'ts never goes back');
  }
  const r2 = await pollOk(b, { cursor: r1.cursor, timeout: 0 }, 'after resume');
  assert.deepEqual(r2.events, [], `nothing again: ${JSON.stringify(r2.events)}`);

  // The same old cursor still works (it is a position, not a ticket).
  const r3 = await pollOk(b, { cursor: old, timeout: 0 }, 'old cursor again');
  assert.deepEqual(r3.events.map(key), r1.events.map(key), 'same events from the same cursor');
});

test('~20 sends (DM and room) interleaved with plain and long polls: none twice, none missing', async () => {
  const [a, b] = await dmPair('p4i');
  const room = await createRoom(a, 'p4r');
  await join(b, room);
  let cur = await cursorNow(b);
  const got = [];
  const expected = [];   // [chan, text]
  const send = async (i) => {
    const text = `m${i}`;
    if (i % 2 === 0) {
      assertOk(await a.send({ to: b.user, text }), 200, `dm ${text}`);
      expected.push(`u:${b.user} ${text}`);
    } else {
      assertOk(await a.send({ room, text }), 200, `room ${text}`);
      expected.push(`r:${room} ${text}`);
    }
  };
  for (let i = 0; i < 21; i++) {
    if (i % 3 === 0) {
      // A parked long-poll woken by the send (re-polled first if
      // something, e.g. a presence event, answers it before it parks).
      const parked = await parkPoll(b, cur, 10, got, `long-poll ${i}`);
      const { pending } = parked;
      await send(i);
      const r = await pending;
      got.push(...r.events);
      cur = r.cursor;
    } else if (i % 3 === 1) {
      await send(i);
      const r = await pollOk(b, { cursor: cur, timeout: 0 }, `poll ${i}`);
      got.push(...r.events);
      cur = r.cursor;
    } else {
      await send(i);   // no poll: the next one picks it up
    }
  }
  // Drain what is left (the last long-poll may have come back early).
  const rest = await pollUntil(b, cur, (ev) => {
    const all = got.concat(ev).filter((e) => e.type === 'msg');
    return all.length >= expected.length;
  }, 'drain');
  got.push(...rest.events);
  const last = await pollOk(b, { cursor: rest.cursor, timeout: 0 }, 'final');
  got.push(...last.events);

  assertNoDuplicates(got, 'interleaved');
  const msgs = got.filter((e) => e.type === 'msg');
  assert.deepEqual(msgs.map((e) => `${e.chan} ${e.text}`).sort(), expected.slice().sort(),
    `every message exactly once: ${JSON.stringify(msgs)}`);
  for (const chan of [`u:${b.user}`, `r:${room}`]) {
    const ids = got.filter((e) => e.chan === chan).map((e) => e.id);
    for (let i = 1; i < ids.length; i++) assert.ok(ids[i] > ids[i - 1], `${chan}: ids increase ${ids}`);
  }
  assert.equal(got.filter((e) => e.type === 'reset').length, 0, 'no reset');
});

test('timeout: events [] and a cursor at the timeout; timeout=0 answers at once', async () => {
  const b = await newUser(s.url, 'p5');
  const cur = await cursorNow(b);
  const r = await pollOk(b, { cursor: cur, timeout: 2 }, 'timeout=2');
  assert.deepEqual(r.events, []);
  assert.ok(r.ms >= 1800 && r.ms < 5000, `timeout=2 answered after ${r.ms} ms`);
  assert.ok(r.cursor.length > 0);
  const again = await pollOk(b, { cursor: r.cursor, timeout: 0 }, 'with the cursor of the timeout');
  assert.deepEqual(again.events, []);

  const z = await pollOk(b, { cursor: cur, timeout: 0 }, 'timeout=0');
  assert.deepEqual(z.events, []);
  assert.ok(z.ms < 1000, `timeout=0 answered after ${z.ms} ms`);
  const nz = await pollOk(b, { timeout: 0 }, 'timeout=0 without cursor');
  assert.deepEqual(nz.events, [], 'no cursor = from now');
  assert.ok(nz.ms < 1000, `timeout=0 without cursor answered after ${nz.ms} ms`);
  await waitLongpolls(0);
});

test('a client that leaves frees its parked request', async () => {
  const b = await newUser(s.url, 'p6');
  const cur = await cursorNow(b);
  const before0 = await waitMetrics((m) => m.chatpoll_requests_parked === 0, 'nothing parked');
  // timeout=55, the default maximum, is accepted and parks.
  const url = new URL(`/api/poll?cursor=${encodeURIComponent(cur)}&timeout=55`, s.url);
  const req = http.request(url, { headers: { authorization: `Bearer ${b.token}` }, agent: false });
  const ended = new Promise((resolve) => {
    req.on('error', (err) => resolve(err));
    req.on('close', () => resolve(null));
  });
  req.end();
  await waitMetrics((m) => m.chatpoll_requests_parked === 1 && m.chatpoll_longpolls === 1,
    'the long-poll parked');
  req.destroy();
  await ended;
  const m = await waitMetrics((mm) => mm.chatpoll_requests_parked === 0 && mm.chatpoll_longpolls === 0 &&
    mm.chatpoll_client_gone_total > before0.chatpoll_client_gone_total,
  'the parked request freed and counted as gone', 5000);
  assert.equal(m.chatpoll_client_gone_total, before0.chatpoll_client_gone_total + 1);
});

test('joining a room changes what the next poll follows; a cursor never adds a room', async () => {
  const a = await newUser(s.url, 'p7a');
  const b = await newUser(s.url, 'p7b');
  const room = await createRoom(a, 'p7r');
  const chan = `r:${room}`;
  const bEvents = [];
  let cur = await cursorNow(b);

  assertOk(await a.send({ room, text: 'before join' }), 200, 'send before join');
  let r = await pollOk(b, { cursor: cur, timeout: 0 }, 'before join');
  bEvents.push(...r.events);
  cur = r.cursor;
  assert.ok(!decodeCursor(cur).includes(`${chan} `), 'the cursor does not name the room yet');

  await join(b, room);
  r = await pollOk(b, { cursor: cur, timeout: 0 }, 'right after join');
  bEvents.push(...r.events);
  cur = r.cursor;
  const pending = pollUntil(b, cur, (ev) => ev.some((e) => e.type === 'msg' && e.text === 'after join'),
    'after join');
  await waitMetrics((m) => m.chatpoll_longpolls >= 1, 'b parked');
  assertOk(await a.send({ room, text: 'after join' }), 200, 'send after join');
  const ra = await pending;
  bEvents.push(...ra.events);
  assert.ok(decodeCursor(ra.cursor).includes(`${chan} `), 'the cursor now names the room');
  assert.ok(!bEvents.some((e) => e.text === 'before join'),
    `nothing of the room from before b joined: ${JSON.stringify(bEvents)}`);
  assertNoDuplicates(bEvents, 'b');

  // A forged cursor naming a room the user has not joined: nothing of it.
  const x = await newUser(s.url, 'p7x');
  const epoch = await s.redis('HGET', `sb:meta:r:${room}`, 'epoch');
  assert.match(epoch, /^[0-9a-f]+$/, `epoch of ${room}: ${epoch}`);
  const own = decodeCursor(await cursorNow(x));
  const forged = b64url(`${own}${chan} ${epoch} 0\n`);
  const f = await poll(x, { cursor: forged, timeout: 0 });
  if (f.status === 200) {
    assert.ok(!f.body.events.some((e) => e.chan === chan),
      `events of a room not joined: ${f.text}`);
    // Parked with the forged cursor while the room gets a message.
    const fp = pollOk(x, { cursor: forged, timeout: 2 }, 'forged long-poll');
    await waitMetrics((m) => m.chatpoll_longpolls >= 1, 'x parked');
    assertOk(await a.send({ room, text: 'not for x' }), 200, 'send to room');
    const fr = await fp;
    assert.ok(!fr.events.some((e) => e.chan === chan), `events of a room not joined: ${JSON.stringify(fr.events)}`);
  } else {
    assertError(f, 400, 'bad_request', 'forged cursor');
  }
  const only = pollOk(x, { cursor: b64url(`${chan} ${epoch} 0\n`), timeout: 0 }, 'cursor of only the room');
  assert.ok(!(await only).events.some((e) => e.chan === chan), 'events of a room not joined');

  // Leaving stops it again.
  assertOk(await b.post('/api/rooms/leave', { json: { room } }), 204, 'leave');
  const cl = (await pollOk(b, { cursor: ra.cursor, timeout: 0 }, 'after leave')).cursor;
  assertOk(await a.send({ room, text: 'after leave' }), 200, 'send after leave');
  const rl = await pollOk(b, { cursor: cl, timeout: 1 }, 'after leave');
  assert.ok(!rl.events.some((e) => e.chan === chan), `room events after leaving: ${JSON.stringify(rl.events)}`);
});

test('errors: bad cursor, bad timeout → 400; no auth → 401; PROTOCOL error shape', async () => {
  const b = await newUser(s.url, 'p8');
  for (const cursor of ['!!!', 'not a cursor', b64url('no-fields-here\n'), b64url('u:x abc -5\n')]) {
    assertError(await poll(b, { cursor, timeout: 0 }), 400, 'bad_request', `cursor ${JSON.stringify(cursor)}`);
  }
  for (const timeout of ['-1', '56', 'abc', '1.5', '']) {
    assertError(await poll(b, { timeout }, 5000), 400, 'bad_request', `timeout ${JSON.stringify(timeout)}`);
  }
  assertError(await b.get('/api/poll', { query: { timeout: 0 }, auth: false }), 401, 'unauthorized', 'no auth');
  assertError(await b.get('/api/poll', {
    query: { timeout: 0 }, auth: false, headers: { authorization: 'Bearer nope' },
  }), 401, 'unauthorized', 'bad token');
  assertError(await b.get('/api/poll', {
    query: { timeout: 0 }, auth: false, headers: { cookie: 'sid=nope' },
  }), 401, 'unauthorized', 'bad cookie');
  // The cookie works as well as the bearer token.
  const viaCookie = await b.get('/api/poll', { query: { timeout: 0 }, auth: false, headers: { cookie: b.cookie } });
  assertOk(viaCookie, 200, 'cookie auth');
  await waitLongpolls(0);
});

test('a cursor older than what is kept gets a reset event for that channel', async () => {
  const s2 = await startStack({ conf: `${CONF}[limits]\ninbox_cap = 10\n` });
  try {
    const a = await newUser(s2.url, 'p9a');
    const b = await newUser(s2.url, 'p9b');
    assertOk(await a.send({ to: b.user, text: 'first' }), 200, 'first');
    const r0 = await b.get('/api/poll', { query: { timeout: 0 } });
    const old = assertOk(r0, 200, 'cursor').cursor;
    const r1 = assertOk(await b.get('/api/poll', { query: { cursor: old, timeout: 0 } }), 200, 'cursor');
    assert.deepEqual(r1.events, []);
    for (let i = 0; i < 30; i++) {
      assertOk(await a.send({ to: b.user, text: `dm ${i}` }), 200, `send ${i}`);
    }
    const res = await b.get('/api/poll', { query: { cursor: old, timeout: 0 } });
    const body = assertOk(res, 200, `old cursor\n${s2.logs()}`);
    const resets = body.events.filter((e) => e.type === 'reset');
    assert.deepEqual(resets.map((e) => e.chan), [`u:${b.user}`], `one reset for the inbox: ${res.text}`);
    assertNoDuplicates(body.events, 'after reset');
    const msgs = body.events.filter((e) => e.type === 'msg');
    assert.ok(msgs.length <= 10, `no more than inbox_cap events after the reset: ${msgs.length}`);
    // The new cursor is current: nothing more, no second reset.
    const next = assertOk(await b.get('/api/poll', { query: { cursor: body.cursor, timeout: 0 } }), 200, 'next');
    assert.deepEqual(next.events, [], `after the reset the cursor is current: ${JSON.stringify(next.events)}`);
  } finally {
    await s2.stop();
  }
});

test('a channel recreated (new epoch) under a parked long-poll: the poll gets reset at once', async () => {
  const a = await newUser(s.url, 'p10a');
  const b = await newUser(s.url, 'p10b');
  const room = await createRoom(a, 'p10r');
  const chan = `r:${room}`;
  await join(b, room);
  for (let i = 0; i < 3; i++) assertOk(await a.send({ room, text: `old ${i}` }), 200, `old ${i}`);
  const old = await afterOwnPresence(b, chan);
  const sink = [];
  const { pending } = await parkPoll(b, old, 8, sink, 'parked');
  // What Redis losing the channel looks like: it is created anew, with a
  // new epoch and ids from 1 again.
  const epoch0 = await s.redis('HGET', `sb:meta:${chan}`, 'epoch');
  await s.redis('DEL', `sb:meta:${chan}`, `sb:ch:${chan}`);
  const tSend = Date.now();
  assertOk(await a.send({ room, text: 'new 0' }), 200, 'send after recreation');
  const epoch1 = await s.redis('HGET', `sb:meta:${chan}`, 'epoch');
  assert.notEqual(epoch1, epoch0, 'the channel has a new epoch');
  const r = await pending;
  const waited = Date.now() - tSend;
  const got = [...sink, ...r.events];
  assert.ok(got.some((e) => e.type === 'reset' && e.chan === chan),
    `the parked poll must answer with {"type":"reset","chan":"${chan}"}; after ${waited} ms it ` +
    `answered ${JSON.stringify(r.events)}`);
  assert.ok(waited < PROMPT_MS, `reset delivered ${waited} ms after the event`);
  assert.ok(!got.some((e) => e.chan === chan && e.type === 'msg' && /^new/.test(e.text)),
    'no event of the new epoch without the reset first');

  // A plain poll with the pre-recreation cursor says reset as well.
  const r2 = await pollOk(b, { cursor: old, timeout: 0 }, 'old cursor');
  assert.deepEqual(r2.events.filter((e) => e.chan === chan).map((e) => e.type), ['reset'],
    `old cursor after recreation: ${JSON.stringify(r2.events)}`);
});

test('a channel recreated under a parked long-poll: new-epoch events never arrive without a reset', async () => {
  const a = await newUser(s.url, 'p11a');
  const b = await newUser(s.url, 'p11b');
  const room = await createRoom(a, 'p11r');
  const chan = `r:${room}`;
  await join(b, room);
  for (let i = 0; i < 3; i++) assertOk(await a.send({ room, text: `old ${i}` }), 200, `old ${i}`);
  let cur = await afterOwnPresence(b, chan);
  const got = [];
  const { pending } = await parkPoll(b, cur, 8, got, 'parked');
  await s.redis('DEL', `sb:meta:${chan}`, `sb:ch:${chan}`);
  // More messages than the old channel had ids: the new ids pass the
  // parked poll's old position.
  for (let i = 0; i < 10; i++) assertOk(await a.send({ room, text: `new ${i}` }), 200, `new ${i}`);
  const r = await pending;
  got.push(...r.events);
  cur = r.cursor;
  const mine = got.filter((e) => e.chan === chan);
  const firstNew = mine.findIndex((e) => e.type === 'msg' && /^new/.test(e.text));
  const firstReset = mine.findIndex((e) => e.type === 'reset');
  assert.ok(firstReset >= 0 && (firstNew < 0 || firstReset < firstNew),
    `a reset must come before any event of the recreated channel; got ${JSON.stringify(mine)}`);
});
