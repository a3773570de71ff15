'use strict';
// chat-poll and logout (PROTOCOL.md "Auth": POST /api/auth/logout deletes
// this session, or all of the user's with all=1, and closes their
// connections). chat-auth publishes each deleted session's key; chat-poll
// then ends that session's open requests: a parked long-poll answers at
// once (its next poll is a 401), an SSE stream ends (its reconnect is a
// 401). Other sessions and other users keep their requests, and those
// still receive events. chatpoll_logout_closes_total counts the ended
// requests.
//
// Waits are on conditions (the replies, the chatpoll_* metrics), each
// bounded by a deadline; the tests of this file run one after another on
// one stack, so metric deltas belong to the current test.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startStack } = require('./lib/stack');
const { pollMetrics, waitPollMetrics } = require('./lib/metrics');
const {
  Client, newUser, assertError, assertOk, waitFor,
} = require('./lib/http');

const CONF = '[auth]\nlogin_max_addr = 100000\nlogin_max_user = 1000\n' +
  '[send]\nsend_max = 1000\n[poll]\npresence_grace = 2\n';
// Long enough that a request ending by itself cannot pass for a logout.
const POLL_TIMEOUT_S = 40;
// A logout must end the session's requests well within this.
const PROMPT_MS = 3000;
const WAIT_MS = 8000;

let s;
const open = new Set();

before(async () => {
  s = await startStack({ conf: CONF });
});

after(async () => {
  for (const r of open) r.close();
  if (s) await s.stop();
});

// ---------------------------------------------------------------- helpers

// One more session of c's user (a second device or tab).
async function anotherSession(c) {
  const d = new Client(s.url);
  const r = await d.login(c.user, c.password);
  assert.equal(r.status, 200, `login ${c.user} again: ${r.status} ${r.text}`);
  d.password = c.password;
  return d;
}

function logout(c, all = false) {
  return c.post('/api/auth/logout', all ? { form: { all: 1 } } : {});
}

// A GET on a raw node:http request, kept open: records the status and
// headers when they arrive (for a long-poll: when it is parked, as
// chat-poll sends the headers then) and the body, and when it ended.
class Open {
  constructor(c, path) {
    this.status = null;
    this.headers = null;
    this.text = '';
    this.ended = false;
    this.endedAt = 0;
    this.req = http.request(new URL(path, s.url),
      { headers: { authorization: `Bearer ${c.token}` }, agent: false });
    this.req.on('response', (res) => {
      this.status = res.statusCode;
      this.headers = res.headers;
      res.setEncoding('utf8');
      res.on('data', (chunk) => { this.text += chunk; });
      res.on('end', () => this.finish());
      res.on('error', () => this.finish());
      res.on('close', () => this.finish());
    });
    this.req.on('error', () => this.finish());
    this.req.end();
    open.add(this);
  }

  finish() {
    if (this.ended) return;
    this.ended = true;
    this.endedAt = Date.now();
  }

  until(pred, what, timeout = WAIT_MS) {
    return waitFor(() => pred(this), {
      timeout, interval: 20,
      what: `${what} (status ${this.status}, ended ${this.ended}, body ${JSON.stringify(this.text.slice(-400))})`,
    });
  }

  // The SSE messages with data, parsed.
  events() {
    const out = [];
    for (const block of this.text.split('\n\n')) {
      const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6));
      if (data.length > 0) out.push(JSON.parse(data.join('\n')));
    }
    return out;
  }

  // The last id: line (what an EventSource resends as Last-Event-ID).
  lastId() {
    const ids = this.text.split('\n').filter((l) => l.startsWith('id: '));
    return ids.length > 0 ? ids[ids.length - 1].slice(4) : undefined;
  }

  close() {
    open.delete(this);
    this.req.destroy();
  }
}

// A long-poll of c, parked: its headers are out.
async function parkedPoll(c) {
  const p = new Open(c, `/api/poll?timeout=${POLL_TIMEOUT_S}`);
  await p.until((x) => x.status !== null, 'the long-poll parked (its headers)');
  assert.equal(p.status, 200, `long-poll: ${p.status} ${p.text}`);
  return p;
}

// An SSE stream of c with its starting id (the subscription is live).
async function openStream(c) {
  const st = new Open(c, '/api/stream');
  await st.until((x) => /^id: .+\n\n/m.test(x.text) || x.ended, 'the starting id');
  assert.equal(st.status, 200, `stream: ${st.status} ${st.text}`);
  assert.ok(!st.ended, 'the stream is open');
  return st;
}

function waitMetrics(pred, what) {
  return waitPollMetrics(s, pred, what, WAIT_MS);
}

// Waits until chat-poll holds exactly these live requests.
function waitOpen(longpolls, streams) {
  return waitMetrics((m) => m.chatpoll_longpolls === longpolls && m.chatpoll_streams === streams,
    `${longpolls} long-poll(s) and ${streams} stream(s) open`);
}

// A parked long-poll answered: a valid poll reply.
function assertPollAnswer(p, what) {
  let body;
  try { body = JSON.parse(p.text); } catch (e) { assert.fail(`${what}: not JSON: ${p.text}`); }
  assert.ok(Array.isArray(body.events), `${what}: events array: ${p.text}`);
  assert.equal(typeof body.cursor, 'string', `${what}: a cursor: ${p.text}`);
  return body;
}

const msgTexts = (events) => events.filter((e) => e.type === 'msg').map((e) => e.text);

// ------------------------------------------------------------------ tests

test('logout while a long-poll is parked: it is answered at once, the next poll is 401', async () => {
  const b = await newUser(s.url, 'lpb');
  const m0 = await pollMetrics(s);
  const p = await parkedPoll(b);
  await waitOpen(1, 0);

  const t0 = Date.now();
  assert.equal((await logout(b)).status, 204, 'logout');
  await p.until((x) => x.ended, 'the parked long-poll to end', PROMPT_MS);
  assert.ok(p.endedAt - t0 < PROMPT_MS, `ended ${p.endedAt - t0} ms after the logout`);
  assert.equal(p.status, 200);
  assertPollAnswer(p, 'the parked long-poll');

  const r = await b.get('/api/poll', { query: { timeout: 0 } });
  assertError(r, 401, 'unauthorized', 'the next poll');
  const m = await waitMetrics((x) => x.chatpoll_longpolls === 0, 'nothing open');
  assert.equal(m.chatpoll_logout_closes_total - m0.chatpoll_logout_closes_total, 1, 'one request ended by the logout');
});

test('logout while an SSE stream is open: the stream ends, its reconnect is 401', async () => {
  const b = await newUser(s.url, 'lsb');
  const m0 = await pollMetrics(s);
  const st = await openStream(b);
  await waitOpen(0, 1);

  const t0 = Date.now();
  assert.equal((await logout(b)).status, 204, 'logout');
  await st.until((x) => x.ended, 'the stream to end', PROMPT_MS);
  assert.ok(st.endedAt - t0 < PROMPT_MS, `ended ${st.endedAt - t0} ms after the logout`);

  // What an EventSource does next: the same URL with Last-Event-ID.
  const r = await b.get('/api/stream', { headers: { 'last-event-id': st.lastId() } });
  assertError(r, 401, 'unauthorized', 'the reconnect');
  const m = await waitMetrics((x) => x.chatpoll_streams === 0, 'no stream open');
  assert.equal(m.chatpoll_logout_closes_total - m0.chatpoll_logout_closes_total, 1, 'one request ended by the logout');
});

test('logout of one session leaves the user\'s other sessions and other users running; they still get events', async () => {
  const a = await newUser(s.url, 'lka');
  const b1 = await newUser(s.url, 'lkb');
  const b2 = await anotherSession(b1);
  const c = await newUser(s.url, 'lkc');
  const m0 = await pollMetrics(s);

  const gone = [await parkedPoll(b1), await openStream(b1)];
  const kept = {
    b2poll: await parkedPoll(b2), b2stream: await openStream(b2),
    cpoll: await parkedPoll(c), cstream: await openStream(c),
  };
  await waitOpen(3, 3);

  assert.equal((await logout(b1)).status, 204, 'logout of b1 only');
  for (const r of gone) await r.until((x) => x.ended, 'b1\'s requests to end', PROMPT_MS);
  assertPollAnswer(gone[0], 'b1\'s long-poll');
  await waitOpen(2, 2);
  for (const [name, r] of Object.entries(kept)) assert.ok(!r.ended, `${name} still open`);

  // The others still receive: one message each for b and c.
  assertOk(await a.send({ to: b1.user, text: 'to b' }), 200, 'send to b');
  assertOk(await a.send({ to: c.user, text: 'to c' }), 200, 'send to c');
  for (const [name, text] of [['b2poll', 'to b'], ['cpoll', 'to c']]) {
    const p = kept[name];
    await p.until((x) => x.ended, `${name} answered by the message`);
    assert.deepEqual(msgTexts(assertPollAnswer(p, name).events), [text], name);
  }
  for (const [name, text] of [['b2stream', 'to b'], ['cstream', 'to c']]) {
    const st = kept[name];
    await st.until((x) => msgTexts(x.events()).includes(text), `${name} to get "${text}"`);
    assert.ok(!st.ended, `${name} still open`);
    st.close();
  }
  assertOk(await b2.get('/api/poll', { query: { timeout: 0 } }), 200, 'b2 still signed in');
  assertError(await b1.get('/api/poll', { query: { timeout: 0 } }), 401, 'unauthorized', 'b1 signed out');

  const m = await waitMetrics((x) => x.chatpoll_longpolls === 0 && x.chatpoll_streams === 0, 'nothing open');
  assert.equal(m.chatpoll_logout_closes_total - m0.chatpoll_logout_closes_total, 2,
    'exactly b1\'s two requests ended by the logout');
});

test('logout with all=1 ends the long-polls and streams of every session of the user, no one else\'s', async () => {
  const a = await newUser(s.url, 'laa');
  const b1 = await newUser(s.url, 'lab');
  const b2 = await anotherSession(b1);
  const b3 = await anotherSession(b1);
  const c = await newUser(s.url, 'lac');
  const m0 = await pollMetrics(s);

  const gone = [
    await parkedPoll(b1), await openStream(b1),
    await parkedPoll(b2), await openStream(b2), await openStream(b3),
  ];
  const cstream = await openStream(c);
  await waitOpen(2, 4);

  const t0 = Date.now();
  assert.equal((await logout(b3, true)).status, 204, 'logout all=1 from the third session');
  for (const r of gone) await r.until((x) => x.ended, 'every session\'s request to end', PROMPT_MS);
  for (const r of gone) assert.ok(r.endedAt - t0 < PROMPT_MS, `ended ${r.endedAt - t0} ms after the logout`);
  assertPollAnswer(gone[0], 'b1\'s long-poll');
  assertPollAnswer(gone[2], 'b2\'s long-poll');

  for (const [i, b] of [b1, b2, b3].entries()) {
    assertError(await b.get('/api/poll', { query: { timeout: 0 } }), 401, 'unauthorized', `session ${i + 1} poll`);
    assertError(await b.get('/api/stream'), 401, 'unauthorized', `session ${i + 1} stream`);
  }
  await waitOpen(0, 1);
  assert.ok(!cstream.ended, 'the other user\'s stream is still open');
  assertOk(await a.send({ to: c.user, text: 'still here' }), 200, 'send to c');
  await cstream.until((x) => msgTexts(x.events()).includes('still here'), 'c to get the message');
  cstream.close();

  const m = await waitMetrics((x) => x.chatpoll_streams === 0, 'nothing open');
  assert.equal(m.chatpoll_logout_closes_total - m0.chatpoll_logout_closes_total, 5,
    'the five requests of the three sessions ended by the logout');
});

test('a logout whose notice chat-poll missed (subscription down) ends the requests once it is back', async () => {
  const b = await newUser(s.url, 'lmb');
  const m0 = await pollMetrics(s);
  const p = await parkedPoll(b);
  const st = await openStream(b);
  await waitOpen(1, 1);

  // The session deleted without its notice, as if published while
  // chat-poll's subscription was down; then the subscriptions drop
  // (every pub/sub connection: chat-poll's and wsgate's reconnect).
  const hashes = (await s.redis('SMEMBERS', `sb:usess:${b.user}`)).split('\n').filter(Boolean);
  assert.equal(hashes.length, 1, `one session: ${hashes}`);
  assert.equal(await s.redis('DEL', `sb:sess:${hashes[0]}`), '1', 'session deleted');
  assert.ok(!p.ended && !st.ended, 'nothing heard of it yet');
  await s.redis('CLIENT', 'KILL', 'TYPE', 'pubsub');

  await p.until((x) => x.ended, 'the long-poll to end after the resubscription');
  await st.until((x) => x.ended, 'the stream to end after the resubscription');
  assertPollAnswer(p, 'the long-poll');
  // The keyspace subscriptions may still be coming back (new requests get
  // a 503 until then).
  const m = await waitMetrics((x) => x.chatpoll_longpolls === 0 && x.chatpoll_streams === 0 &&
    x.chatpoll_redis_up === 1, 'nothing open, Redis connections up');
  assertError(await b.get('/api/poll', { query: { timeout: 0 } }), 401, 'unauthorized', 'the next poll');
  assert.equal(m.chatpoll_logout_closes_total - m0.chatpoll_logout_closes_total, 2, 'both requests counted');
  assert.ok(m.chatpoll_redis_reconnects_total > m0.chatpoll_redis_reconnects_total, 'the subscriptions reconnected');
});
