'use strict';
// wsgate delivery, per PROTOCOL.md "WebSocket — wsgate" and "Events": DM
// and room events reach every socket of the recipient (two tabs) and
// nobody else; `send` over the socket is acked and reaches an HTTP
// long-poller, and POST /api/send reaches the socket; the same through
// lighttpd's /ws proxy; typing reaches the peer; joining and leaving a
// room changes what an open socket follows; ?cursor= and the resume op
// replay what was missed, then a hello.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const {
  newUser, uniqueName, assertOk, assertError,
} = require('./lib/http');
const { WsJson, RawWs } = require('./lib/rawws');

const CONF = '[auth]\nlogin_max_addr = 100000\n[send]\nsend_max = 100000\n' +
  '[poll]\npresence_grace = 1\n[ws]\ntyping_interval_ms = 0\n';
const WAIT_MS = 8000;

let s;
const open = new Set();

before(async () => {
  s = await startStack({ conf: CONF });
});

after(async () => {
  for (const c of open) c.close();
  if (s) await s.stop();
});

// ---------------------------------------------------------------- helpers

const direct = () => s.wsUrl;
const proxied = () => `${s.url.replace(/^http/, 'ws')}/ws`;

/** Opens a socket as user c (Bearer unless opts.cookie) and waits for its
 * hello. url: direct() or proxied(). */
async function tab(c, { url = direct(), cursor, cookie = false } = {}) {
  let ws;
  try {
    ws = await WsJson.open(url, cookie ? { cookie: c.cookie, cursor } : { token: c.token, cursor });
  } catch (e) {
    throw new Error(`open ${url} as ${c.user}: ${e.message}\n${s.logs()}`);
  }
  open.add(ws);
  const hello = await ws.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: `hello for ${c.user}` });
  assert.equal(hello.user, c.user, JSON.stringify(hello));
  assert.equal(typeof hello.cursor, 'string', JSON.stringify(hello));
  ws.user = c.user;
  return ws;
}

function shut(ws) {
  ws.close();
  open.delete(ws);
}

const msgs = (ws, pred = () => true) => ws.msgs.filter((m) => m.type === 'msg' && pred(m));
const texts = (list) => list.map((m) => m.text);

/** Waits until ws holds a msg event with this text; returns it. */
function waitText(ws, text, what) {
  return ws.waitMsg((m) => m.type === 'msg' && m.text === text, {
    timeout: WAIT_MS, what: what || `"${text}" on a socket of ${ws.user}`,
  });
}

/** Checks the shape of a pushed event: type, chan, id, cursor. */
function assertEvent(ev, context) {
  const what = `${context}: ${JSON.stringify(ev)}`;
  assert.equal(typeof ev.chan, 'string', what);
  assert.ok(Number.isInteger(ev.id) && ev.id > 0, what);
  assert.equal(typeof ev.cursor, 'string', `every pushed event carries a cursor; ${what}`);
  assert.ok(ev.cursor.length > 0, what);
}

/** A bounded "nothing else came" check for a bystander: a marker DM from a
 * fresh user is sent to it, and once the marker is there, the socket must
 * hold no msg event other than markers. Events on one socket come in the
 * order they were written, so what was sent before the marker and was
 * going to arrive would be there by then (and the marker's own inbox is
 * the same channel as any DM leak). */
async function assertNothingFor(bystander, bws, context) {
  const marker = await newUser(s.url, 'mark');
  const text = `marker ${uniqueName('m')}`;
  assertOk(await marker.send({ to: bystander.user, text }), 200, 'marker');
  await waitText(bws, text, `the marker on ${bystander.user}'s socket`);
  const leaked = msgs(bws, (m) => !String(m.text).startsWith('marker '));
  assert.deepEqual(leaked, [], `${context}: ${bystander.user} must get none of it`);
  const other = bws.msgs.filter((m) => m.type === 'typing');
  assert.deepEqual(other, [], `${context}: no typing events for ${bystander.user}`);
}

async function createRoom(c, room) {
  assertOk(await c.post('/api/rooms', { json: { room } }), 201, `create ${room}`);
}

async function join(c, room) {
  const r = await c.post('/api/rooms/join', { json: { room } });
  assert.equal(r.status, 204, `join ${room}: ${r.status} ${r.text}`);
}

async function leave(c, room) {
  const r = await c.post('/api/rooms/leave', { json: { room } });
  assert.equal(r.status, 204, `leave ${room}: ${r.status} ${r.text}`);
}

// ---------------------------------------------------------------- tests

test('a DM reaches every socket of the recipient (two tabs) and the sender\'s own sockets, nobody else', async () => {
  const alice = await newUser(s.url, 'dma');
  const bob = await newUser(s.url, 'dmb');
  const carol = await newUser(s.url, 'dmc');
  const b1 = await tab(bob);
  const b2 = await tab(bob, { cookie: true });
  const a1 = await tab(alice);
  const c1 = await tab(carol);

  const sent = [];
  for (let i = 0; i < 5; i += 1) {
    const text = `dm ${i} ✓ ünïcode 😀`;
    const body = assertOk(await alice.send({ to: bob.user, text, cid: `c${i}` }), 200, 'send');
    sent.push({ text, ...body });
  }
  for (const ws of [b1, b2]) {
    await waitText(ws, sent[4].text);
    const got = msgs(ws);
    assert.deepEqual(texts(got), sent.map((x) => x.text), `tab of bob: every DM once, in order`);
    got.forEach((ev, i) => {
      assertEvent(ev, 'dm on bob\'s tab');
      assert.equal(ev.from, alice.user);
      assert.equal(ev.to, bob.user);
      assert.equal(ev.conv, alice.user, 'conv is the peer');
      assert.equal(ev.mid, sent[i].id, 'mid is the id in the DM history');
      assert.equal(ev.ts, sent[i].ts);
      assert.equal(ev.cid, `c${i}`);
      if (i > 0) assert.ok(ev.id > got[i - 1].id, 'ids rise');
    });
  }
  // The sender's devices follow her own inbox too (conv = the peer).
  await waitText(a1, sent[4].text);
  assert.deepEqual(texts(msgs(a1)), sent.map((x) => x.text));
  assert.ok(msgs(a1).every((ev) => ev.conv === bob.user), JSON.stringify(msgs(a1)));

  await assertNothingFor(carol, c1, 'a DM between alice and bob');
  for (const ws of [b1, b2, a1, c1]) shut(ws);
});

test('room events reach every socket of every member, never a non-member', async () => {
  const room = uniqueName('room');
  const alice = await newUser(s.url, 'rma');
  const bob = await newUser(s.url, 'rmb');
  const carol = await newUser(s.url, 'rmc');   // not a member
  await createRoom(alice, room);
  await join(bob, room);
  const a1 = await tab(alice);
  const b1 = await tab(bob);
  const b2 = await tab(bob, { url: proxied() });
  const c1 = await tab(carol);

  const sent = [];
  for (let i = 0; i < 4; i += 1) {
    const from = i % 2 ? bob : alice;
    const text = `room msg ${i}`;
    const body = assertOk(await from.send({ room, text }), 200, 'room send');
    sent.push({ text, from: from.user, ...body });
  }
  for (const ws of [a1, b1, b2]) {
    await waitText(ws, sent[3].text);
    const got = msgs(ws, (m) => m.room === room);
    assert.deepEqual(texts(got), sent.map((x) => x.text), `${ws.user}: every room message once, in order`);
    got.forEach((ev, i) => {
      assertEvent(ev, 'room msg');
      assert.equal(ev.chan, `r:${room}`);
      assert.equal(ev.id, sent[i].id, 'id is the room channel id');
      assert.equal(ev.from, sent[i].from);
    });
  }
  await assertNothingFor(carol, c1, 'room messages');
  for (const ws of [a1, b1, b2, c1]) shut(ws);
});

test('joining and leaving a room changes what an open socket follows, without reconnecting', async () => {
  const room = uniqueName('dyn');
  const alice = await newUser(s.url, 'jla');
  const bob = await newUser(s.url, 'jlb');
  await createRoom(alice, room);
  const b1 = await tab(bob);

  await join(bob, room);
  // The inbox notice that makes the socket follow the room (from the join on).
  const j = await b1.waitMsg((m) => m.type === 'joined' && m.room === room,
    { timeout: WAIT_MS, what: 'the joined notice on bob\'s socket' });
  assertEvent(j, 'joined');
  assert.equal(j.chan, `u:${bob.user}`, JSON.stringify(j));
  assertOk(await alice.send({ room, text: 'after join' }), 200, 'send');
  await waitText(b1, 'after join');
  const dave = await newUser(s.url, 'jld');
  await join(dave, room);
  const dj = await b1.waitMsg((m) => m.type === 'join' && m.user === dave.user,
    { timeout: WAIT_MS, what: 'another member\'s join event' });
  assertEvent(dj, 'join');
  assert.equal(dj.chan, `r:${room}`);

  await leave(bob, room);
  await b1.waitMsg((m) => m.type === 'left' && m.room === room,
    { timeout: WAIT_MS, what: 'the left notice on bob\'s socket' });
  assertOk(await alice.send({ room, text: 'after leave' }), 200, 'send');
  // Bounded: alice's message after the leave is followed by a DM to bob;
  // once the DM is there, the room message must not be.
  assertOk(await alice.send({ to: bob.user, text: 'dm after leave' }), 200, 'dm');
  await waitText(b1, 'dm after leave');
  assert.equal(msgs(b1, (m) => m.text === 'after leave').length, 0,
    `no room message after leaving: ${JSON.stringify(b1.msgs)}`);
  assert.equal(b1.closeInfo, null, 'the socket stayed open');
  shut(b1);
});

test('send over the socket is acked and reaches the recipient\'s HTTP long-poll and sockets', async () => {
  const alice = await newUser(s.url, 'sna');
  const bob = await newUser(s.url, 'snb');
  const carol = await newUser(s.url, 'snc');
  const c0 = assertOk(await bob.get('/api/poll', { query: { timeout: 0 } }), 200, 'bob cursor').cursor;
  const b1 = await tab(bob);
  const c1 = await tab(carol);
  const a1 = await tab(alice);

  // A long-poll of bob, parked (or not yet: the cursor makes it exact).
  const poll = bob.get('/api/poll', { query: { cursor: c0, timeout: 20 }, timeout: 30000 });
  const cid = `ws-${uniqueName('c')}`;
  a1.send({ op: 'send', to: bob.user, text: 'over the socket', cid });
  const ack = await a1.waitMsg((m) => m.type === 'ack' && m.cid === cid, { timeout: WAIT_MS, what: 'ack' });
  assert.ok(Number.isInteger(ack.id) && ack.id > 0, JSON.stringify(ack));
  assert.equal(ack.conv, bob.user, JSON.stringify(ack));
  assert.ok(Number.isInteger(ack.ts) && Math.abs(ack.ts - Date.now()) < 60000, JSON.stringify(ack));

  const res = await poll;
  const body = assertOk(res, 200, 'long-poll');
  const ev = body.events.find((e) => e.type === 'msg' && e.text === 'over the socket');
  assert.ok(ev, `the long-poll got the message: ${res.text}`);
  assert.equal(ev.from, alice.user);
  assert.equal(ev.mid, ack.id, 'mid = the ack id');
  assert.equal(ev.cid, cid);
  const onSocket = await waitText(b1, 'over the socket');
  assert.equal(onSocket.mid, ack.id);

  // The same cid again: the same ack, no second message.
  a1.send({ op: 'send', to: bob.user, text: 'over the socket', cid });
  const acks = await a1.waitMsg(() => a1.msgs.filter((m) => m.type === 'ack' && m.cid === cid).length >= 2,
    { timeout: WAIT_MS, what: 'second ack' }).then(() => a1.msgs.filter((m) => m.type === 'ack' && m.cid === cid));
  assert.equal(acks[1].id, acks[0].id, `same id for a repeated cid: ${JSON.stringify(acks)}`);
  assert.equal(acks[1].ts, acks[0].ts);
  const hist = assertOk(await bob.history(alice.user), 200, 'history');
  assert.deepEqual(texts(hist.messages), ['over the socket'], 'stored once');

  // Room send over the socket ("room" with or without '#').
  const room = uniqueName('sr');
  await createRoom(alice, room);
  await join(bob, room);
  a1.send({ op: 'send', room: `#${room}`, text: 'room via ws', cid: 'r1' });
  const rack = await a1.waitMsg((m) => m.type === 'ack' && m.cid === 'r1', { timeout: WAIT_MS, what: 'room ack' });
  assert.equal(rack.conv, `#${room}`, JSON.stringify(rack));
  await waitText(b1, 'room via ws');
  a1.send({ op: 'send', room, text: 'room via ws 2', cid: 'r2' });
  await a1.waitMsg((m) => m.type === 'ack' && m.cid === 'r2', { timeout: WAIT_MS, what: 'room ack 2' });
  await waitText(b1, 'room via ws 2');

  await assertNothingFor(carol, c1, 'sends over the socket');
  for (const ws of [a1, b1, c1]) shut(ws);
});

test('send errors over the socket: error with the cid and the HTTP error word; the socket stays', async () => {
  const alice = await newUser(s.url, 'sea');
  const room = uniqueName('closed');
  const owner = await newUser(s.url, 'seo');
  await createRoom(owner, room);
  const a1 = await tab(alice);
  const cases = [
    { op: { op: 'send', to: uniqueName('ghost'), text: 'x', cid: 'e1' }, code: 'not_found' },
    { op: { op: 'send', room: uniqueName('noroom'), text: 'x', cid: 'e2' }, code: 'not_found' },
    { op: { op: 'send', room, text: 'x', cid: 'e3' }, code: 'forbidden' },
    { op: { op: 'send', to: owner.user, cid: 'e4' }, code: 'bad_request' },
    { op: { op: 'send', to: owner.user, room, text: 'x', cid: 'e5' }, code: 'bad_request' },
    { op: { op: 'send', to: owner.user, text: '', cid: 'e6' }, code: 'bad_request' },
    { op: { op: 'send', to: owner.user, text: 'x'.repeat(5000), cid: 'e7' }, code: 'too_large' },
  ];
  for (const c of cases) {
    a1.send(c.op);
    const e = await a1.waitMsg((m) => m.type === 'error' && m.cid === c.op.cid,
      { timeout: WAIT_MS, what: `error for ${JSON.stringify(c.op).slice(0, 120)}` });
    assert.equal(e.code, c.code, JSON.stringify(e));
    assert.equal(typeof e.message, 'string', JSON.stringify(e));
  }
  a1.send({ op: 'ping' });
  await a1.waitMsg((m) => m.type === 'pong', { timeout: WAIT_MS, what: 'pong after errors' });
  assert.equal(a1.closeInfo, null);
  shut(a1);
});

test('POST /api/send reaches the recipient\'s socket, direct and through lighttpd', async () => {
  const alice = await newUser(s.url, 'hpa');
  const bob = await newUser(s.url, 'hpb');
  const direct1 = await tab(bob);
  const viaProxy = await tab(bob, { url: proxied() });
  const viaProxyCookie = await tab(bob, { url: proxied(), cookie: true });
  assertOk(await alice.send({ to: bob.user, text: 'from http' }), 200, 'send');
  for (const ws of [direct1, viaProxy, viaProxyCookie]) {
    const ev = await waitText(ws, 'from http');
    assertEvent(ev, 'http → ws');
  }
  // And a send op through the proxy reaches the direct socket.
  const a1 = await tab(alice, { url: proxied() });
  a1.send({ op: 'send', to: bob.user, text: 'ws via proxy', cid: 'px' });
  await a1.waitMsg((m) => m.type === 'ack' && m.cid === 'px', { timeout: WAIT_MS, what: 'ack via proxy' });
  await waitText(direct1, 'ws via proxy');
  await waitText(viaProxy, 'ws via proxy');
  for (const ws of [direct1, viaProxy, viaProxyCookie, a1]) shut(ws);
});

test('the upgrade through lighttpd is refused like the direct one (401, 403)', async () => {
  const bob = await newUser(s.url, 'rfb');
  await assert.rejects(WsJson.open(proxied(), {}), (e) => e.status === 401);
  await assert.rejects(WsJson.open(proxied(), { token: 'z'.repeat(43) }), (e) => e.status === 401);
  await assert.rejects(WsJson.open(proxied(), { token: bob.token, origin: 'http://evil.example' }),
    (e) => e.status === 403);
  // The page's own origin (the front server's) is fine.
  const ok = await WsJson.open(proxied(), { token: bob.token, origin: s.url });
  open.add(ok);
  await ok.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: 'hello with Origin' });
  shut(ok);
});

test('typing reaches the peer\'s sockets (DM and room), not the typist or others', async () => {
  const alice = await newUser(s.url, 'tya');
  const bob = await newUser(s.url, 'tyb');
  const carol = await newUser(s.url, 'tyc');
  const a1 = await tab(alice);
  const b1 = await tab(bob);
  const b2 = await tab(bob, { url: proxied() });
  const c1 = await tab(carol);

  a1.send({ op: 'typing', conv: bob.user });
  for (const ws of [b1, b2]) {
    const t = await ws.waitMsg((m) => m.type === 'typing', { timeout: WAIT_MS, what: 'typing on bob\'s socket' });
    assert.equal(t.from, alice.user, JSON.stringify(t));
    assert.equal(t.conv, alice.user, `conv is the typist for a DM: ${JSON.stringify(t)}`);
    assert.equal(t.chan, undefined, 'ephemeral: no chan');
    assert.equal(t.id, undefined, 'ephemeral: no id');
  }

  const room = uniqueName('tr');
  await createRoom(alice, room);
  await join(bob, room);
  a1.send({ op: 'typing', conv: `#${room}` });
  await b1.waitMsg((m) => m.type === 'typing' && m.conv === `#${room}`, { timeout: WAIT_MS, what: 'room typing' });
  await assertNothingFor(carol, c1, 'typing');
  assert.equal(a1.msgs.filter((m) => m.type === 'typing').length, 0, 'the typist gets no echo');

  // Bad conv: an error, the socket stays.
  a1.send({ op: 'typing', conv: '' });
  await a1.waitMsg((m) => m.type === 'error', { timeout: WAIT_MS, what: 'error for a bad typing conv' });
  for (const ws of [a1, b1, b2, c1]) shut(ws);
});

test('?cursor= replays what was missed, then hello, then live events; each event carries its cursor', async () => {
  const alice = await newUser(s.url, 'cra');
  const bob = await newUser(s.url, 'crb');
  const b0 = await tab(bob);
  const c0 = b0.msgs.find((m) => m.type === 'hello').cursor;
  shut(b0);
  for (const t of ['missed 1', 'missed 2', 'missed 3']) assertOk(await alice.send({ to: bob.user, text: t }), 200, t);

  const b1 = await tab(bob, { cursor: c0 });
  const helloAt = b1.msgs.findIndex((m) => m.type === 'hello');
  const before1 = b1.msgs.slice(0, helloAt);
  assert.deepEqual(texts(before1.filter((m) => m.type === 'msg')), ['missed 1', 'missed 2', 'missed 3'],
    `replay before hello: ${JSON.stringify(b1.msgs)}`);
  before1.forEach((ev) => assertEvent(ev, 'replayed'));
  assert.equal(b1.msgs[helloAt].cursor, before1[before1.length - 1].cursor,
    'hello\'s cursor is the one after the last replayed event');
  assertOk(await alice.send({ to: bob.user, text: 'live 4' }), 200, 'live');
  const live = await waitText(b1, 'live 4');
  assertEvent(live, 'live');
  assert.equal(msgs(b1).length, 4, `nothing twice: ${JSON.stringify(b1.msgs)}`);

  // From the cursor of the first replayed event: only what came after it.
  const mid = before1.find((m) => m.text === 'missed 1').cursor;
  const b2 = await tab(bob, { cursor: mid });
  assert.deepEqual(texts(msgs(b2)), ['missed 2', 'missed 3', 'live 4'], JSON.stringify(b2.msgs));
  // From the cursor of the last one: nothing.
  const b3 = await tab(bob, { cursor: live.cursor });
  assert.deepEqual(msgs(b3), [], JSON.stringify(b3.msgs));
  // Through lighttpd as well.
  const b4 = await tab(bob, { url: proxied(), cursor: c0 });
  assert.deepEqual(texts(msgs(b4)), ['missed 1', 'missed 2', 'missed 3', 'live 4'], JSON.stringify(b4.msgs));
  for (const ws of [b1, b2, b3, b4]) shut(ws);
});

test('the resume op replays missed events then sends a new hello; live events go on once', async () => {
  const alice = await newUser(s.url, 'rsa');
  const bob = await newUser(s.url, 'rsb');
  const b0 = await tab(bob);
  const c0 = b0.msgs.find((m) => m.type === 'hello').cursor;
  shut(b0);
  for (const t of ['gap 1', 'gap 2']) assertOk(await alice.send({ to: bob.user, text: t }), 200, t);

  const b1 = await tab(bob);   // fresh: no replay
  assert.deepEqual(msgs(b1), [], 'a fresh connection replays nothing');
  const from = b1.msgs.length;
  b1.send({ op: 'resume', cursor: c0 });
  await b1.waitMsg((m, i) => m.type === 'hello' && i >= from, { timeout: WAIT_MS, what: 'the hello after resume' });
  const after1 = b1.msgs.slice(from);
  const helloAt = after1.findIndex((m) => m.type === 'hello');
  assert.deepEqual(texts(after1.slice(0, helloAt).filter((m) => m.type === 'msg')), ['gap 1', 'gap 2'],
    `replay then hello: ${JSON.stringify(after1)}`);
  assert.equal(after1[helloAt].user, bob.user);
  assert.equal(after1[helloAt].cursor, after1[helloAt - 1].cursor, 'hello carries the cursor after the replay');

  assertOk(await alice.send({ to: bob.user, text: 'after resume' }), 200, 'live');
  await waitText(b1, 'after resume');
  assert.deepEqual(texts(msgs(b1)), ['gap 1', 'gap 2', 'after resume'], 'live events once after a resume');

  // Resume with a bad cursor: an error, the socket stays.
  const n = b1.msgs.length;
  b1.send({ op: 'resume', cursor: 'garbage!' });
  await b1.waitMsg((m, i) => m.type === 'error' && i >= n, { timeout: WAIT_MS, what: 'error for a bad cursor' });
  b1.send({ op: 'resume' });
  await b1.waitMsg((m, i) => m.type === 'error' && i > n, { timeout: WAIT_MS, what: 'error for no cursor' });
  b1.send({ op: 'ping' });
  await b1.waitMsg((m) => m.type === 'pong', { timeout: WAIT_MS, what: 'pong' });
  assertOk(await alice.send({ to: bob.user, text: 'still live' }), 200, 'live');
  await waitText(b1, 'still live');
  assert.deepEqual(texts(msgs(b1)), ['gap 1', 'gap 2', 'after resume', 'still live']);
  shut(b1);
});

test('logout closes the user\'s sockets with 4001', async () => {
  const bob = await newUser(s.url, 'lob');
  const b1 = await tab(bob);
  const raw = await RawWs.connect(s.wsPort, { token: bob.token });
  open.add(raw);
  await raw.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: 'hello' });
  const r = await bob.post('/api/auth/logout');
  assert.equal(r.status, 204, `logout: ${r.status} ${r.text}`);
  const ci = await b1.waitClosed({ timeout: WAIT_MS, what: 'close after logout' });
  assert.equal(ci.code, 4001, `close code after logout: ${JSON.stringify(ci)}`);
  const rc = await raw.waitClose({ timeout: WAIT_MS });
  assert.equal(rc.code, 4001);
  shut(b1);
  shut(raw);
  await assert.rejects(WsJson.open(direct(), { token: bob.token }), (e) => e.status === 401,
    'the old token is refused');
  assertError(await bob.me(), 401, 'unauthorized', 'me after logout');
});
