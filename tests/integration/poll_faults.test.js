'use strict';
// chat-poll across a Redis outage: while Redis is down a new poll gets 503
// unavailable with Retry-After; polls parked when it went down, and the
// client re-polling with its cursor, get every message sent after Redis is
// back; nothing sent before the outage is lost or repeated for a cursor
// from before it.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const { pollMetrics, waitPollMetrics } = require('./lib/metrics');
const {
  newUser, request, assertError, assertOk, assertRetryAfter, waitFor,
} = require('./lib/http');

const CONF = '[auth]\nlogin_max_addr = 100000\n[send]\nsend_max = 1000\n' +
  '[poll]\npresence_grace = 2\n';
const DOWN_NOTICED_MS = 10000;
const RECOVER_MS = 15000;
const DELIVER_MS = 15000;
const LOOP_POLL_S = 10;

let s;
let redisDown = false;
let loop = null;

before(async () => {
  s = await startStack({ conf: CONF });
});

after(async () => {
  if (loop) loop.stop = true;
  if (s && redisDown) await s.startRedis().catch(() => {});
  if (s) await s.stop();
});

function metrics() {
  return pollMetrics(s);
}

function waitMetrics(pred, what, timeout = 10000) {
  return waitPollMetrics(s, pred, what, timeout);
}

// A client the way a browser tab runs one: long-poll from its cursor,
// keep what comes, poll again with the new cursor; on an error wait
// Retry-After (bounded) and poll again with the same cursor. Runs until
// .stop is set and its current poll ends, or until its deadline.
function pollLoop(c, cursor, deadlineMs) {
  const st = {
    stop: false, events: [], errors: [], answers: 0, cursor, done: null,
  };
  const deadline = Date.now() + deadlineMs;
  st.done = (async () => {
    while (!st.stop && Date.now() < deadline) {
      let res;
      try {
        res = await c.get('/api/poll', {
          query: { cursor: st.cursor, timeout: LOOP_POLL_S }, timeout: (LOOP_POLL_S + 10) * 1000,
        });
      } catch (err) {
        st.errors.push(err.message);
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if (res.status === 200 && res.body && Array.isArray(res.body.events) &&
          typeof res.body.cursor === 'string') {
        st.answers += 1;
        st.events.push(...res.body.events);
        st.cursor = res.body.cursor;
        continue;
      }
      st.errors.push(`${res.status} ${res.text.slice(0, 200)}`);
      const ra = Math.min(Number(res.headers['retry-after']) || 1, 2);
      await new Promise((r) => setTimeout(r, ra * 500));
    }
  })();
  return st;
}

const texts = (events) => events.filter((e) => e.type === 'msg').map((e) => e.text);

test('Redis stopped and restarted under parked polls: 503 meanwhile, nothing lost or repeated after', async () => {
  const a = await newUser(s.url, 'fpa');
  const b = await newUser(s.url, 'fpb');
  const b2 = await newUser(s.url, 'fpc');   // a third user polling during the outage
  const r0 = assertOk(await b.get('/api/poll', { query: { timeout: 0 } }), 200, 'cursor');
  const c0 = r0.cursor;
  const pre = ['pre1', 'pre2', 'pre3'];
  for (const text of pre) assertOk(await a.send({ to: b.user, text }), 200, `send ${text}`);
  const r1 = assertOk(await b.get('/api/poll', { query: { cursor: c0, timeout: 0 } }), 200, 'catch up');
  assert.deepEqual(texts(r1.events), pre);

  // Two tabs of b parked (one in the loop, one plain long-poll).
  loop = pollLoop(b, r1.cursor, 60000);
  const tab2 = b.get('/api/poll', { query: { cursor: r1.cursor, timeout: 50 }, timeout: 60000 })
    .then((res) => ({ res }), (err) => ({ err }));
  await waitMetrics((m) => m.chatpoll_longpolls === 2 && m.chatpoll_redis_up === 1, 'two parked polls');

  await s.stopRedis();
  redisDown = true;
  const res503 = await waitFor(async () => {
    const res = await b2.get('/api/poll', { query: { timeout: 1 }, timeout: 5000 });
    return res.status === 503 ? res : null;
  }, { timeout: DOWN_NOTICED_MS, interval: 100, what: `a 503 for a new poll while Redis is down\n${s.logs()}` });
  assertError(res503, 503, 'unavailable', 'poll with Redis down');
  assertRetryAfter(res503, 'poll with Redis down');
  const tFast = Date.now();
  const again = await b2.get('/api/poll', { query: { timeout: 5 }, timeout: 5000 });
  assertError(again, 503, 'unavailable', 'second poll with Redis down');
  assert.ok(Date.now() - tFast < 1500, 'a 503 at once, not after the timeout');
  const sse = await b2.get('/api/stream', { timeout: 5000 });
  assertError(sse, 503, 'unavailable', 'stream with Redis down');
  await waitMetrics((m) => m.chatpoll_redis_up === 0, 'redis_up 0', 5000);

  await s.startRedis();
  redisDown = false;
  // The first message goes out as soon as chat-api can send again, before
  // chat-poll has necessarily reconnected: it must not be lost either.
  const post = ['post1', 'post2', 'post3'];
  await waitFor(async () => {
    const res = await a.send({ to: b.user, text: post[0] });
    return res.status === 200;
  }, { timeout: RECOVER_MS, interval: 100, what: `send to work again\n${s.logs()}` });
  for (const text of post.slice(1)) assertOk(await a.send({ to: b.user, text }), 200, `send ${text}`);

  await waitFor(() => texts(loop.events).length >= post.length, {
    timeout: DELIVER_MS, interval: 50,
    what: `the re-polling client to get ${post}; got ${JSON.stringify(loop.events)} errors ${JSON.stringify(loop.errors)}\n${s.logs()}`,
  });
  // End the loop: wake its parked poll with one more message.
  loop.stop = true;
  assertOk(await a.send({ to: b.user, text: 'bye' }), 200, 'send bye');
  await loop.done;
  const lt = texts(loop.events);
  assert.deepEqual(lt.filter((t) => t !== 'bye'), post,
    `after the outage exactly the new messages, in order: ${JSON.stringify(loop.events)}`);
  const keys = loop.events.filter((e) => e.chan).map((e) => `${e.chan}#${e.id}`);
  assert.equal(new Set(keys).size, keys.length, `no duplicates: ${keys}`);
  assert.equal(loop.events.filter((e) => e.type === 'reset').length, 0, 'no reset: Redis kept its data');

  // The other tab: parked through the outage, it ends with post1 (or with
  // an error, then a re-poll from its cursor gets everything).
  const t2 = await tab2;
  let tab2Events = [];
  let tab2Cursor = r1.cursor;
  if (t2.res && t2.res.status === 200 && t2.res.body) {
    tab2Events = t2.res.body.events;
    tab2Cursor = t2.res.body.cursor;
    assert.ok(texts(tab2Events).length >= 1, `the parked tab woke with a message: ${t2.res.text}`);
  }
  const rest = assertOk(await b.get('/api/poll', { query: { cursor: tab2Cursor, timeout: 0 } }), 200, 'tab 2');
  assert.deepEqual(texts([...tab2Events, ...rest.events]), [...post, 'bye'],
    'tab 2: every message after the restart, once');

  // From the cursor taken before anything: all present exactly once.
  const all = assertOk(await b.get('/api/poll', { query: { cursor: c0, timeout: 0 } }), 200, 'from c0');
  assert.deepEqual(texts(all.events), [...pre, ...post, 'bye'], JSON.stringify(all.events));
  const allKeys = all.events.map((e) => `${e.chan}#${e.id}`);
  assert.equal(new Set(allKeys).size, allKeys.length, 'no duplicates from c0');
  assert.equal(all.events.filter((e) => e.type === 'reset').length, 0, 'no reset');

  await waitMetrics((m) => m.chatpoll_redis_up === 1 && m.chatpoll_longpolls === 0, 'recovered, nothing parked');
});
