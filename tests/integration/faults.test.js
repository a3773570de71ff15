'use strict';
// Redis outage: with Redis stopped the FastCGI programs answer 503
// unavailable (with Retry-After) quickly; when Redis is back they recover
// on their own (lighttpd and the programs are not restarted), and what was
// written before the outage is still there (AOF).

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const {
  Client, newUser, uniqueName, assertError, assertOk, assertRetryAfter, waitFor,
} = require('./lib/http');

const CONF = '[auth]\nlogin_max_addr = 100000\npw_opslimit = 1\npw_memlimit_kib = 8192\n' +
  '[send]\nsend_max = 100000\n';
const FAST_MS = 1500;
const RECOVER_MS = 10000;

let s;
let alice;
let bob;
let first;
let redisStopped = false;

before(async () => {
  s = await startStack({ conf: CONF });
  alice = await newUser(s.url, 'fla');
  bob = await newUser(s.url, 'flb');
  first = assertOk(await alice.send({ to: bob.user, text: 'before the outage' }), 200, s.logs());
});

after(async () => {
  if (s) await s.stop();
});

// The requests the outage must not hang: each built fresh per attempt.
function probes() {
  return [
    ['POST /api/send', () => alice.send({ to: bob.user, text: 'during the outage' })],
    ['GET /api/history', () => alice.history(bob.user)],
    ['POST /api/auth/login', () => new Client(s.url).login(alice.user, alice.password)],
    ['GET /api/auth/me', () => alice.me()],
    ['GET /api/conversations', () => alice.conversations()],
    ['POST /api/auth/register', () => new Client(s.url).register(uniqueName('down'), 'password123')],
  ];
}

test(`with Redis stopped, send/history/login/me answer 503 unavailable with Retry-After within ${FAST_MS} ms`, async () => {
  await s.stopRedis();
  redisStopped = true;
  // Twice each: the second attempt must not hang on a reconnect either.
  for (let round = 1; round <= 2; round++) {
    for (const [label, fn] of probes()) {
      const t0 = Date.now();
      const res = await fn();
      const elapsed = Date.now() - t0;
      assertError(res, 503, 'unavailable', `${label} round ${round}\n${s.logs()}`);
      assertRetryAfter(res, label);
      assert.ok(elapsed < FAST_MS, `${label} round ${round} took ${elapsed} ms`);
    }
  }
});

test('after Redis restarts the same requests succeed again, and earlier data is still there', async () => {
  assert.ok(redisStopped, 'depends on the previous test');
  await s.startRedis();
  const t0 = Date.now();
  const sent = await waitFor(async () => {
    const r = await alice.send({ to: bob.user, text: 'after the outage' });
    return r.status === 200 ? r.body : null;
  }, { timeout: RECOVER_MS, interval: 100, what: `send to succeed after the Redis restart\n${s.logs()}` });
  const recoveredIn = Date.now() - t0;
  assert.ok(recoveredIn < RECOVER_MS, `recovered in ${recoveredIn} ms`);

  // The session made before the outage survived (AOF), so did the message.
  const me = assertOk(await waitFor(async () => {
    const r = await alice.me();
    return r.status === 200 ? r : null;
  }, { timeout: RECOVER_MS, what: 'me to succeed' }), 200);
  assert.equal(me.user, alice.user);

  const h = assertOk(await waitFor(async () => {
    const r = await bob.history(alice.user);
    return r.status === 200 ? r : null;
  }, { timeout: RECOVER_MS, what: 'history to succeed' }), 200);
  const texts = h.messages.map((e) => e.text);
  assert.deepEqual(texts, ['before the outage', 'after the outage'],
    'the message from before the outage is kept; the refused ones were never stored');
  assert.equal(h.messages[0].id, first.id);
  assert.equal(h.messages[1].id, sent.id);
  assert.ok(sent.id > first.id, 'ids keep growing after the restart');

  const login = await waitFor(async () => {
    const r = await new Client(s.url).login(alice.user, alice.password);
    return r.status === 200 ? r : null;
  }, { timeout: RECOVER_MS, what: 'login to succeed' });
  assert.equal(login.body.user, alice.user);
});
