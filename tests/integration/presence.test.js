'use strict';
// GET /api/presence: shape and validation. Nobody is online without a live
// transport (chat-poll / wsgate), so only the shape and the filter are
// checked here.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const { newUser, uniqueName, assertError, assertOk } = require('./lib/http');

const CONF = '[auth]\nlogin_max_addr = 100000\npw_opslimit = 1\npw_memlimit_kib = 8192\n';

let s;
let alice;
let bob;
before(async () => {
  s = await startStack({ conf: CONF });
  alice = await newUser(s.url, 'pra');
  bob = await newUser(s.url, 'prb');
});
after(async () => {
  if (s) await s.stop();
});

function assertOnlineList(body) {
  assert.ok(body && Array.isArray(body.online), `online not an array: ${JSON.stringify(body)}`);
  for (const n of body.online) assert.equal(typeof n, 'string', JSON.stringify(body));
  return body.online;
}

test('GET /api/presence is 200 {"online":[...]}', async () => {
  assertOnlineList(assertOk(await alice.get('/api/presence'), 200, s.logs()));
});

test('users=<list> answers only names from the list', async () => {
  const asked = [alice.user, bob.user, uniqueName('ghost')];
  const res = await alice.get('/api/presence', { query: { users: asked.join(',') } });
  const online = assertOnlineList(assertOk(res, 200));
  const lower = asked.map((n) => n.toLowerCase());
  for (const n of online) assert.ok(lower.includes(n.toLowerCase()), `${n} was not asked for`);
});

test('a single user in users works', async () => {
  const res = await alice.get('/api/presence', { query: { users: bob.user } });
  const online = assertOnlineList(assertOk(res, 200));
  assert.ok(online.every((n) => n.toLowerCase() === bob.user.toLowerCase()), JSON.stringify(online));
});

for (const users of ['bad!name', `${'a'.repeat(33)}`, 'alice,bad name', '.x']) {
  test(`users=${JSON.stringify(users)} is 400 bad_request`, async () => {
    assertError(await alice.get('/api/presence', { query: { users } }), 400, 'bad_request');
  });
}

test('presence without a session is 401', async () => {
  const res = await alice.get('/api/presence', { auth: false });
  assertError(res, 401, 'unauthorized');
});
