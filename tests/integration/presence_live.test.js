'use strict';
// Presence fed by live connections of chat-poll (presence_grace = 2): a
// user with a live poll/stream is online; after the last one ends they
// stay online for the grace period, then go offline; a reconnect inside
// the grace changes nothing; each transition is a `presence` event in the
// inboxes of the user's DM contacts.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startStack } = require('./lib/stack');
const { pollMetrics, waitPollMetrics } = require('./lib/metrics');
const {
  newUser, request, uniqueName, assertOk, waitFor,
} = require('./lib/http');

const GRACE_S = 2;
const CONF = '[auth]\nlogin_max_addr = 100000\n[send]\nsend_max = 1000\n' +
  `[poll]\npresence_grace = ${GRACE_S}\n`;
// Offline must come after the grace and within a few seconds more.
const OFFLINE_SLACK_MS = 4000;

let s;
const raw = new Set();

before(async () => {
  s = await startStack({ conf: CONF });
});

after(async () => {
  for (const r of raw) r.destroy();
  if (s) await s.stop();
});

function metrics() {
  return pollMetrics(s);
}

function waitMetrics(pred, what, timeout = 8000) {
  return waitPollMetrics(s, pred, what, timeout);
}

async function online(viewer, user) {
  const r = await viewer.get('/api/presence', { query: { users: user } });
  const body = assertOk(r, 200, 'presence');
  assert.ok(Array.isArray(body.online), `online list: ${r.text}`);
  return body.online.includes(user);
}

// A long-poll of c on a raw request so that it can be ended at will.
// Resolves `done` when the request ends in any way.
function rawPoll(c, timeoutS) {
  const url = new URL(`/api/poll?timeout=${timeoutS}`, s.url);
  const req = http.request(url, { headers: { authorization: `Bearer ${c.token}` }, agent: false });
  raw.add(req);
  const done = new Promise((resolve) => {
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve(res.statusCode));
    });
    req.on('error', () => resolve(null));
    req.on('close', () => resolve(null));
  });
  req.end();
  return {
    done,
    end() { req.destroy(); raw.delete(req); return done; },
  };
}

// A browser tab's poll loop for c on raw requests: long-poll, take the
// answer's cursor, poll again, until end() drops the current request.
function pollSession(c, timeoutS) {
  const st = { stopped: false, cur: null, answers: 0 };
  st.done = (async () => {
    const deadline = Date.now() + 120000;
    while (!st.stopped && Date.now() < deadline) {
      const q = `timeout=${timeoutS}${st.cur ? `&cursor=${encodeURIComponent(st.cur)}` : ''}`;
      const req = http.request(new URL(`/api/poll?${q}`, s.url),
        { headers: { authorization: `Bearer ${c.token}` }, agent: false });
      st.req = req;
      raw.add(req);
      const text = await new Promise((resolve) => {
        let body = '';
        req.on('response', (res) => {
          res.setEncoding('utf8');
          res.on('data', (d) => { body += d; });
          res.on('end', () => resolve(res.statusCode === 200 ? body : null));
          res.on('error', () => resolve(null));
        });
        req.on('error', () => resolve(null));
        req.on('close', () => resolve(null));
        req.end();
      });
      raw.delete(req);
      if (text) {
        try { st.cur = JSON.parse(text).cursor; st.answers += 1; } catch { /* keep cursor */ }
      } else if (!st.stopped) {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  })();
  st.end = () => { st.stopped = true; if (st.req) st.req.destroy(); return st.done; };
  return st;
}

// Presence events about user in the contact's inbox since cursor.
async function presenceEvents(contact, cursor, user) {
  const r = await contact.get('/api/poll', { query: { cursor, timeout: 0 } });
  const body = assertOk(r, 200, `poll of ${contact.user}\n${s.logs()}`);
  return body.events.filter((e) => e.type === 'presence' && e.user === user);
}

test('a poll makes its user online; the grace period, a quick reconnect, and the contact\'s events', async () => {
  const u = await newUser(s.url, 'plu');
  const contact = await newUser(s.url, 'plc');
  const viewer = await newUser(s.url, 'plv');
  const roommate = await newUser(s.url, 'plr');
  // A DM conversation makes them contacts; a room makes u's presence an
  // event of the room.
  assertOk(await contact.send({ to: u.user, text: 'hi' }), 200, 'dm');
  const room = uniqueName('plroom');
  assertOk(await roommate.post('/api/rooms', { json: { room } }), 201, 'room');
  assertOk(await u.post('/api/rooms/join', { json: { room } }), 204, 'join');
  const c0 = assertOk(await contact.get('/api/poll', { query: { timeout: 0 } }), 200, 'contact cursor').cursor;
  const m0 = assertOk(await roommate.get('/api/poll', { query: { timeout: 0 } }), 200, 'roommate cursor').cursor;
  assert.equal(await online(viewer, u.user), false, 'offline before any poll');
  // 1. Online once a long-poll is open.
  const p1 = pollSession(u, 30);
  await waitFor(() => online(viewer, u.user), { timeout: 5000, interval: 50, what: 'online after the poll starts' });
  await waitFor(async () => (await presenceEvents(contact, c0, u.user)).length >= 1,
    { timeout: 5000, interval: 50, what: 'presence online:true in the contact\'s inbox' });
  let ev = await presenceEvents(contact, c0, u.user);
  assert.deepEqual(ev.map((e) => e.online), [true], `one online event: ${JSON.stringify(ev)}`);
  assert.equal(ev[0].chan, `u:${contact.user}`);

  // 2. A quick reconnect (a page reload): end it, start another at once.
  await p1.end();
  await waitMetrics((m) => m.chatpoll_longpolls === 0, 'the first poll gone');
  const p2 = pollSession(u, 30);
  await waitMetrics((m) => m.chatpoll_longpolls === 1, 'the second poll parked');
  // Across more than the grace period nobody sees u go offline.
  const holdUntil = Date.now() + (GRACE_S + 2) * 1000;
  while (Date.now() < holdUntil) {
    assert.equal(await online(viewer, u.user), true, 'still online while reconnected');
    await new Promise((r) => setTimeout(r, 200));
  }
  ev = await presenceEvents(contact, c0, u.user);
  assert.deepEqual(ev.map((e) => e.online), [true], `no offline event for a reconnect: ${JSON.stringify(ev)}`);

  // 3. The last poll ends: still online shortly after, offline after the grace.
  await p2.end();
  await waitMetrics((m) => m.chatpoll_longpolls === 0, 'the second poll gone');
  const tEnd = Date.now();
  while (Date.now() - tEnd < (GRACE_S * 1000) / 2) {
    assert.equal(await online(viewer, u.user), true,
      `online ${Date.now() - tEnd} ms after the last poll ended (grace ${GRACE_S} s)`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await waitFor(async () => !(await online(viewer, u.user)), {
    timeout: GRACE_S * 1000 + OFFLINE_SLACK_MS, interval: 100, what: 'offline after the grace',
  });
  const offAfter = Date.now() - tEnd;
  assert.ok(offAfter >= GRACE_S * 1000 - 300, `offline ${offAfter} ms after the end: before the grace`);

  // 4. The contact's inbox: online:true, then online:false, nothing else.
  await waitFor(async () => (await presenceEvents(contact, c0, u.user)).length >= 2,
    { timeout: 5000, interval: 50, what: 'presence online:false in the contact\'s inbox' });
  ev = await presenceEvents(contact, c0, u.user);
  assert.deepEqual(ev.map((e) => e.online), [true, false], `online then offline: ${JSON.stringify(ev)}`);
  assert.ok(ev[1].id > ev[0].id);
  for (const e of ev) assert.equal(e.chan, `u:${contact.user}`);

  // 5. The room: the same two transitions, on the room's channel.
  const rev = await presenceEvents(roommate, m0, u.user);
  assert.deepEqual(rev.map((e) => [e.chan, e.online]), [[`r:${room}`, true], [`r:${room}`, false]],
    `the room's presence events for ${u.user}: ${JSON.stringify(rev)}`);
});

test('the contact\'s own long-poll is woken by the presence events', async () => {
  const u = await newUser(s.url, 'plu2');
  const contact = await newUser(s.url, 'plc2');
  assertOk(await u.send({ to: contact.user, text: 'hello' }), 200, 'dm');
  let cur = assertOk(await contact.get('/api/poll', { query: { timeout: 0 } }), 200, 'cursor').cursor;

  const seen = [];
  // Polls the contact's inbox until pred(presence events of u) holds.
  const watch = async (pred, what, deadlineMs) => {
    const deadline = Date.now() + deadlineMs;
    while (!pred(seen)) {
      const left = Math.ceil((deadline - Date.now()) / 1000);
      assert.ok(left > 0, `${what}: got ${JSON.stringify(seen)}`);
      const r = await contact.get('/api/poll', { query: { cursor: cur, timeout: Math.min(left, 10) }, timeout: 20000 });
      const body = assertOk(r, 200, 'contact poll');
      seen.push(...body.events.filter((e) => e.type === 'presence' && e.user === u.user));
      cur = body.cursor;
    }
  };
  const p = rawPoll(u, 1);   // ends by itself after 1 s
  const tOn = Date.now();
  await watch((ev) => ev.length >= 1, 'online event', 5000);
  assert.ok(Date.now() - tOn < 3000, 'the online event came promptly');
  assert.equal(await p.done, 200, 'the 1 s poll ended normally');
  const tOff = Date.now();
  await watch((ev) => ev.length >= 2, 'offline event', GRACE_S * 1000 + OFFLINE_SLACK_MS + 1000);
  assert.ok(Date.now() - tOff >= GRACE_S * 1000 - 300, 'offline not before the grace');
  assert.deepEqual(seen.map((e) => e.online), [true, false], JSON.stringify(seen));
});
