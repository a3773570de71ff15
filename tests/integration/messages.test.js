'use strict';
// chat-api direct messages against PROTOCOL.md: send, history, paging,
// idempotent cid, conversations, unread/read, one-sided delete, privacy of
// DM pairs, validation and the send rate limit.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const {
  Client, uniqueName, newUser, registeredUser, assertError, assertOk,
  assertRetryAfter, waitPastMs,
} = require('./lib/http');

const MAX_TEXT = 200;
const FAST_PW = 'pw_opslimit = 1\npw_memlimit_kib = 8192\n';
const CONF = `[auth]\nlogin_max_addr = 100000\n${FAST_PW}` +
  `[send]\nsend_max = 100000\n[limits]\nmax_text = ${MAX_TEXT}\n`;

let s;
before(async () => {
  s = await startStack({ conf: CONF });
});
after(async () => {
  if (s) await s.stop();
});

function dmChan(a, b) {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()].sort();
  return `dm:${x}:${y}`;
}

async function sendOk(from, fields, context = '') {
  const res = await from.send(fields);
  const body = assertOk(res, 200, `send ${JSON.stringify(fields).slice(0, 80)} ${context}\n${s.logs()}`);
  assert.ok(Number.isInteger(body.id) && body.id > 0, `id not a positive integer: ${res.text}`);
  assert.equal(typeof body.ts, 'number', `ts: ${res.text}`);
  return body;
}

async function historyOk(c, conv, query = {}) {
  const res = await c.history(conv, query);
  const body = assertOk(res, 200, `history ${conv} ${JSON.stringify(query)}`);
  assert.ok(Array.isArray(body.messages), `messages not an array: ${res.text}`);
  assert.equal(typeof body.more, 'boolean', `more not a boolean: ${res.text}`);
  return body;
}

async function conversationsOk(c) {
  const body = assertOk(await c.conversations(), 200, 'conversations');
  assert.ok(Array.isArray(body.conversations), `conversations not an array: ${JSON.stringify(body)}`);
  for (const e of body.conversations) {
    assert.equal(typeof e.conv, 'string', `conv: ${JSON.stringify(e)}`);
    assert.ok(Number.isInteger(e.unread) && e.unread >= 0, `unread: ${JSON.stringify(e)}`);
    assert.ok(e.last && typeof e.last === 'object', `last: ${JSON.stringify(e)}`);
  }
  return body.conversations;
}

function entryFor(list, conv) {
  return list.find((e) => e.conv === conv);
}

describe('send and history of a DM', () => {
  let alice;
  let bob;
  const sent = [];
  before(async () => {
    alice = await newUser(s.url, 'alice');
    bob = await newUser(s.url, 'bob');
  });

  test('send gives 200 {"id","conv":<peer>,"ts"}', async () => {
    const before = Date.now();
    const body = await sendOk(alice, { to: bob.user, text: 'hello bob' });
    assert.equal(body.conv, bob.user);
    assert.ok(body.ts >= before - 5000 && body.ts <= Date.now() + 5000,
      `ts ${body.ts} is not milliseconds since the epoch now`);
    sent.push({ ...body, from: alice.user, to: bob.user, text: 'hello bob' });
    const reply = await sendOk(bob, { to: alice.user, text: 'hi alice ✓ ünïcode 😀' });
    assert.equal(reply.conv, alice.user);
    assert.ok(reply.id > body.id, 'ids grow within the pair');
    sent.push({ ...reply, from: bob.user, to: alice.user, text: 'hi alice ✓ ünïcode 😀' });
  });

  test('both sides read the same history, oldest first, with the PROTOCOL event shape', async () => {
    assert.equal(sent.length, 2, 'depends on the previous test');
    for (const [me, peer] of [[alice, bob], [bob, alice]]) {
      const h = await historyOk(me, peer.user);
      assert.equal(h.more, false);
      assert.equal(h.messages.length, 2, JSON.stringify(h));
      h.messages.forEach((ev, i) => {
        const want = sent[i];
        assert.equal(ev.type, 'msg');
        assert.equal(ev.chan, dmChan(alice.user, bob.user));
        assert.equal(ev.id, want.id);
        assert.equal(ev.ts, want.ts);
        assert.equal(ev.from, want.from);
        assert.equal(ev.to, want.to);
        assert.equal(ev.text, want.text);
        assert.equal(ev.cid, undefined, 'no cid was given');
      });
    }
  });

  test('the peer name is shown as registered when sent to in another case', async () => {
    const c = new Client(s.url);
    const name = `Dave${uniqueName('x').slice(1)}`.slice(0, 32);
    assertOk(await c.register(name, 'password123'), 201);
    const body = await sendOk(alice, { to: name.toLowerCase(), text: 'case' });
    assert.equal(body.conv, name);
    const h = await historyOk(alice, name.toUpperCase());
    assert.equal(h.messages.length, 1);
    assert.equal(h.messages[0].to, name);
    assert.equal(h.messages[0].chan, dmChan(alice.user, name));
  });

  test('a form-urlencoded send works', async () => {
    const u = await newUser(s.url, 'former');
    const body = assertOk(await u.post('/api/send', { form: { to: bob.user, text: 'a+b & c=d ü' } }), 200);
    assert.equal(body.conv, bob.user);
    const h = await historyOk(u, bob.user);
    assert.equal(h.messages.at(-1).text, 'a+b & c=d ü');
  });
});

describe('history paging', () => {
  let alice;
  let bob;
  const texts = [];
  const ids = [];
  before(async () => {
    alice = await newUser(s.url, 'pga');
    bob = await newUser(s.url, 'pgb');
    for (let i = 1; i <= 7; i++) {
      const from = i % 2 ? alice : bob;
      const to = i % 2 ? bob : alice;
      const t = `page message ${i}`;
      texts.push(t);
      ids.push((await sendOk(from, { to: to.user, text: t })).id);
    }
  });

  test('limit 3 pages backwards with before: no overlap, no gap, more false at the end', async () => {
    const pages = [];
    let beforeId;
    for (let n = 0; n < 10; n++) {
      const q = { limit: 3 };
      if (beforeId !== undefined) q.before = beforeId;
      const h = await historyOk(alice, bob.user, q);
      pages.push(h);
      assert.ok(h.messages.length <= 3, `page over the limit: ${h.messages.length}`);
      if (!h.more) break;
      assert.equal(h.messages.length, 3, 'a page with more:true is full');
      beforeId = h.messages[0].id;
    }
    assert.deepEqual(pages.map((p) => p.messages.length), [3, 3, 1]);
    assert.deepEqual(pages.map((p) => p.more), [true, true, false]);
    // The first page is the newest; each page is oldest first.
    const all = pages.slice().reverse().flatMap((p) => p.messages);
    assert.deepEqual(all.map((e) => e.text), texts);
    assert.deepEqual(all.map((e) => e.id), ids);
  });

  test('the whole history in one page equals the paged one; bob sees the same', async () => {
    const a = await historyOk(alice, bob.user, { limit: 200 });
    const b = await historyOk(bob, alice.user, { limit: 200 });
    assert.equal(a.more, false);
    assert.deepEqual(a.messages.map((e) => e.id), ids);
    assert.deepEqual(b.messages, a.messages);
  });

  test('before an id returns only older messages; limit 1 is valid', async () => {
    const h = await historyOk(alice, bob.user, { before: ids[4], limit: 2 });
    assert.deepEqual(h.messages.map((e) => e.id), [ids[2], ids[3]]);
    assert.equal(h.more, true);
    const one = await historyOk(alice, bob.user, { limit: 1 });
    assert.deepEqual(one.messages.map((e) => e.id), [ids[6]]);
    assert.equal(one.more, true);
    const first = await historyOk(alice, bob.user, { before: ids[0] });
    assert.deepEqual(first.messages, []);
    assert.equal(first.more, false);
  });

  for (const limit of ['0', '201', '-1', 'abc', '1.5', '']) {
    test(`limit=${JSON.stringify(limit)} is 400 bad_request`, async () => {
      assertError(await alice.history(bob.user, { limit }), 400, 'bad_request');
    });
  }

  test('limit=200 is accepted', async () => {
    await historyOk(alice, bob.user, { limit: 200 });
  });

  for (const b of ['abc', '-5', '1.5', '', '0', '99999999999999999999999']) {
    test(`before=${JSON.stringify(b)} is 400 bad_request`, async () => {
      assertError(await alice.history(bob.user, { before: b }), 400, 'bad_request');
    });
  }
});

describe('send validation', () => {
  let alice;
  let bob;
  before(async () => {
    alice = await newUser(s.url, 'sva');
    bob = await newUser(s.url, 'svb');
  });

  test('send to an unknown user is 404 not_found', async () => {
    assertError(await alice.send({ to: uniqueName('ghost'), text: 'anyone?' }), 404, 'not_found');
  });

  test('send to a bad user name is 400', async () => {
    assertError(await alice.send({ to: 'a b', text: 'x' }), 400, 'bad_request');
  });

  test('no text, empty text or a non-string text is 400 bad_request', async () => {
    assertError(await alice.send({ to: bob.user }), 400, 'bad_request', 'no text');
    assertError(await alice.send({ to: bob.user, text: '' }), 400, 'bad_request', 'empty');
    assertError(await alice.send({ to: bob.user, text: 42 }), 400, 'bad_request', 'number');
  });

  test(`text of max_text (${MAX_TEXT}) bytes is accepted, one byte more is 413 too_large`, async () => {
    await sendOk(alice, { to: bob.user, text: 'x'.repeat(MAX_TEXT) });
    assertError(await alice.send({ to: bob.user, text: 'x'.repeat(MAX_TEXT + 1) }), 413, 'too_large');
    // Bytes, not characters: 2-byte characters.
    await sendOk(alice, { to: bob.user, text: 'é'.repeat(MAX_TEXT / 2) });
    assertError(await alice.send({ to: bob.user, text: 'é'.repeat(MAX_TEXT / 2 + 1) }), 413, 'too_large');
    const h = await historyOk(bob, alice.user);
    assert.equal(h.messages.length, 2, 'refused messages are not stored');
  });

  test('invalid UTF-8 in a JSON body is 400 bad_request', async () => {
    const body = Buffer.concat([
      Buffer.from(`{"to":"${bob.user}","text":"a`), Buffer.from([0xff, 0xfe]), Buffer.from('b"}'),
    ]);
    assertError(await alice.post('/api/send', { raw: body }), 400, 'bad_request', '0xff');
    const overlong = Buffer.concat([
      Buffer.from(`{"to":"${bob.user}","text":"a`), Buffer.from([0xc0, 0xaf]), Buffer.from('"}'),
    ]);
    assertError(await alice.post('/api/send', { raw: overlong }), 400, 'bad_request', 'overlong');
    const lone = `{"to":"${bob.user}","text":"a\\ud800b"}`;
    assertError(await alice.post('/api/send', { raw: lone }), 400, 'bad_request', 'lone surrogate');
  });

  test('invalid UTF-8 in a form body (%FF) is 400 bad_request', async () => {
    assertError(await alice.post('/api/send', { form: `to=${bob.user}&text=a%FFb` }),
      400, 'bad_request');
  });

  test('a NUL character in the text is 400 bad_request', async () => {
    assertError(await alice.send({ to: bob.user, text: 'a\u0000b' }), 400, 'bad_request');
  });

  test('a request body over max_body (default 64 KiB) is 413 too_large', async () => {
    assertError(await alice.send({ to: bob.user, text: 'x'.repeat(70000) }), 413, 'too_large');
  });

  test('neither to nor room is 400; both is 400', async () => {
    assertError(await alice.send({ text: 'to nobody' }), 400, 'bad_request', 'neither');
    assertError(await alice.send({ to: bob.user, room: 'lobby', text: 'to both' }), 400, 'bad_request', 'both');
  });

  test('none of the refused sends reached the history', async () => {
    const h = await historyOk(alice, bob.user);
    for (const e of h.messages) {
      assert.ok(!['to both', 'to nobody'].includes(e.text) && !/\u0000/.test(e.text), JSON.stringify(e));
    }
  });
});

describe('idempotent send with cid', () => {
  let alice;
  let bob;
  before(async () => {
    alice = await newUser(s.url, 'cida');
    bob = await newUser(s.url, 'cidb');
  });

  test('10 concurrent sends with one cid: all 200 with the same reply, stored once', async () => {
    const cid = `c-${uniqueName('k')}`;
    const results = await Promise.all(Array.from({ length: 10 },
      () => alice.send({ to: bob.user, text: 'only once', cid })));
    const bodies = results.map((r) => assertOk(r, 200, `concurrent cid send\n${s.logs()}`));
    for (const b of bodies) {
      assert.deepEqual(b, bodies[0], 'every retry gets the first result');
    }
    assert.equal(bodies[0].conv, bob.user);
    const h = await historyOk(bob, alice.user);
    const copies = h.messages.filter((e) => e.text === 'only once');
    assert.equal(copies.length, 1, `stored ${copies.length} times`);
    assert.equal(copies[0].id, bodies[0].id);
    assert.equal(copies[0].cid, cid, 'the event carries its cid');
    // A later retry still gets the same answer.
    assert.deepEqual(assertOk(await alice.send({ to: bob.user, text: 'only once', cid }), 200), bodies[0]);
  });

  test('a different cid is a new message with a new id', async () => {
    const a = await sendOk(alice, { to: bob.user, text: 'same text', cid: `x1-${uniqueName('k')}` });
    const b = await sendOk(alice, { to: bob.user, text: 'same text', cid: `x2-${uniqueName('k')}` });
    assert.notEqual(a.id, b.id);
    const h = await historyOk(alice, bob.user);
    assert.equal(h.messages.filter((e) => e.text === 'same text').length, 2);
  });

  test('the same cid from another sender is not confused with alice\'s', async () => {
    const cid = `shared-${uniqueName('k')}`;
    const a = await sendOk(alice, { to: bob.user, text: 'from alice', cid });
    const b = await sendOk(bob, { to: alice.user, text: 'from bob', cid });
    assert.notEqual(a.id, b.id);
  });

  test('a cid of 64 characters is accepted, 65 is 400', async () => {
    const base = `${uniqueName('k')}${'z'.repeat(64)}`;
    await sendOk(alice, { to: bob.user, text: 'cid 64', cid: base.slice(0, 64) });
    assertError(await alice.send({ to: bob.user, text: 'cid 65', cid: base.slice(0, 64) + 'q' }),
      400, 'bad_request');
  });
});

describe('privacy of DM pairs', () => {
  test('a user only ever reads their own pair: carol sees none of alice↔bob', async () => {
    const alice = await newUser(s.url, 'pva');
    const bob = await newUser(s.url, 'pvb');
    const carol = await newUser(s.url, 'pvc');
    const secret = `secret ${uniqueName('s')}`;
    await sendOk(alice, { to: bob.user, text: secret });
    await sendOk(bob, { to: alice.user, text: `${secret} reply` });
    for (const peer of [alice, bob]) {
      const h = await historyOk(carol, peer.user);
      assert.deepEqual(h.messages, [], `carol's history with ${peer.user}: ${JSON.stringify(h)}`);
      assert.equal(h.more, false);
    }
    const convs = await conversationsOk(carol);
    assert.deepEqual(convs, []);
    // Carol's own pair with alice holds only what carol and alice said.
    await sendOk(carol, { to: alice.user, text: 'hi from carol' });
    const h = await historyOk(carol, alice.user);
    assert.deepEqual(h.messages.map((e) => e.text), ['hi from carol']);
    assert.equal(h.messages[0].chan, dmChan(carol.user, alice.user));
  });

  test('history with an unknown user is 404; a bad conv is 400', async () => {
    const u = await newUser(s.url, 'hv');
    assertError(await u.history(uniqueName('ghost')), 404, 'not_found');
    for (const conv of ['#', 'a b', '', '.x', '#a b', 'a'.repeat(33)]) {
      assertError(await u.history(conv), 400, 'bad_request', `conv=${JSON.stringify(conv)}`);
    }
    assertError(await u.get('/api/history'), 400, 'bad_request', 'no conv');
  });
});

describe('authentication is required', () => {
  const endpoints = [
    ['POST', '/api/send', { json: { to: 'bob', text: 'x' } }],
    ['GET', '/api/history', { query: { conv: 'bob' } }],
    ['GET', '/api/conversations', {}],
    ['POST', '/api/read', { json: { conv: 'bob', upto: 1 } }],
    ['POST', '/api/conversations/delete', { json: { conv: 'bob' } }],
    ['GET', '/api/rooms', {}],
    ['POST', '/api/rooms', { json: { room: 'lobbyx' } }],
    ['POST', '/api/rooms/join', { json: { room: 'lobby' } }],
    ['POST', '/api/rooms/leave', { json: { room: 'lobby' } }],
    ['GET', '/api/presence', {}],
    ['GET', '/api/auth/me', {}],
  ];
  for (const [method, path, opts] of endpoints) {
    test(`${method} ${path} without a session is 401 unauthorized`, async () => {
      const c = new Client(s.url);
      assertError(await c.req(method, path, opts), 401, 'unauthorized');
      assertError(await c.req(method, path, { ...opts, headers: { authorization: 'Bearer nope' } }),
        401, 'unauthorized', 'bad bearer');
    });
  }
});

describe('offline delivery, conversations, unread and read', () => {
  test('messages sent to a user who is not logged in wait in conversations with unread', async () => {
    const alice = await newUser(s.url, 'ofa');
    const bob = await registeredUser(s.url, 'ofb');
    const sent = [];
    for (let i = 1; i <= 3; i++) sent.push(await sendOk(alice, { to: bob.user, text: `offline ${i}` }));

    assertOk(await bob.login(bob.user, bob.password), 200);
    const convs = await conversationsOk(bob);
    assert.equal(convs.length, 1, JSON.stringify(convs));
    const e = convs[0];
    assert.equal(e.conv, alice.user);
    assert.equal(e.unread, 3);
    assert.equal(typeof e.online, 'boolean', `online: ${JSON.stringify(e)}`);
    assert.equal(e.last.type, 'msg');
    assert.equal(e.last.text, 'offline 3');
    assert.equal(e.last.id, sent[2].id);
    assert.equal(e.last.from, alice.user);

    const h = await historyOk(bob, alice.user);
    assert.deepEqual(h.messages.map((m) => m.text), ['offline 1', 'offline 2', 'offline 3']);
    assert.deepEqual(h.messages.map((m) => m.id), sent.map((m) => m.id));

    // The sender has nothing unread in this conversation.
    const mine = entryFor(await conversationsOk(alice), bob.user);
    assert.ok(mine, 'the sender lists the conversation');
    assert.equal(mine.unread, 0);
    assert.equal(typeof mine.online, 'boolean');

    // Reading part of it leaves the rest unread; reading all clears it.
    let r = await bob.post('/api/read', { json: { conv: alice.user, upto: sent[0].id } });
    assert.equal(r.status, 204, `read: ${r.status} ${r.text}`);
    assert.equal(entryFor(await conversationsOk(bob), alice.user).unread, 2);
    r = await bob.post('/api/read', { json: { conv: alice.user, upto: sent[2].id } });
    assert.equal(r.status, 204, `read: ${r.status} ${r.text}`);
    assert.equal(entryFor(await conversationsOk(bob), alice.user).unread, 0);

    // A new message counts again.
    await sendOk(alice, { to: bob.user, text: 'offline 4' });
    assert.equal(entryFor(await conversationsOk(bob), alice.user).unread, 1);
  });

  test('read with a form body and a string upto works', async () => {
    const alice = await newUser(s.url, 'rfa');
    const bob = await newUser(s.url, 'rfb');
    const m = await sendOk(alice, { to: bob.user, text: 'read me' });
    const r = await bob.post('/api/read', { form: { conv: alice.user, upto: String(m.id) } });
    assert.equal(r.status, 204, `read: ${r.status} ${r.text}`);
    assert.equal(entryFor(await conversationsOk(bob), alice.user).unread, 0);
  });

  test('read with a bad upto or conv is 400', async () => {
    const u = await newUser(s.url, 'rbad');
    const peer = await newUser(s.url, 'rbadp');
    await sendOk(peer, { to: u.user, text: 'x' });
    for (const upto of ['abc', 1.5, '1.5', -1, '', '99999999999999999999999']) {
      assertError(await u.post('/api/read', { json: { conv: peer.user, upto } }), 400, 'bad_request',
        `upto=${JSON.stringify(upto)}`);
    }
    assertError(await u.post('/api/read', { json: { conv: peer.user } }), 400, 'bad_request', 'no upto');
    assertError(await u.post('/api/read', { json: { conv: 'a b', upto: 1 } }), 400, 'bad_request', 'bad conv');
    assert.equal(entryFor(await conversationsOk(u), peer.user).unread, 1, 'refused reads change nothing');
  });

  test('conversations are newest first and the order follows new messages', async () => {
    const alice = await newUser(s.url, 'ora');
    const bob = await newUser(s.url, 'orb');
    const carol = await newUser(s.url, 'orc');
    const m1 = await sendOk(alice, { to: bob.user, text: 'to bob' });
    await waitPastMs(m1.ts);
    const m2 = await sendOk(alice, { to: carol.user, text: 'to carol' });
    let convs = await conversationsOk(alice);
    assert.deepEqual(convs.map((e) => e.conv), [carol.user, bob.user]);
    assert.equal(convs[0].last.text, 'to carol');
    await waitPastMs(m2.ts);
    // A message from the peer moves the conversation up too.
    const m3 = await sendOk(bob, { to: alice.user, text: 'bob again' });
    convs = await conversationsOk(alice);
    assert.deepEqual(convs.map((e) => e.conv), [bob.user, carol.user]);
    assert.equal(convs[0].last.text, 'bob again');
    assert.equal(convs[0].unread, 1);
    await waitPastMs(m3.ts);
    await sendOk(alice, { to: carol.user, text: 'carol again' });
    convs = await conversationsOk(alice);
    assert.deepEqual(convs.map((e) => e.conv), [carol.user, bob.user]);
    for (const e of convs) assert.equal(typeof e.online, 'boolean', JSON.stringify(e));
  });
});

describe('one-sided conversation delete', () => {
  test('alice deletes her side; bob keeps his; a new message brings back only the new one', async () => {
    const alice = await newUser(s.url, 'dla');
    const bob = await newUser(s.url, 'dlb');
    const old = [];
    for (let i = 1; i <= 3; i++) {
      const from = i === 2 ? bob : alice;
      const to = i === 2 ? alice : bob;
      old.push(await sendOk(from, { to: to.user, text: `before delete ${i}` }));
    }
    const r = await alice.post('/api/conversations/delete', { json: { conv: bob.user } });
    assert.equal(r.status, 204, `delete: ${r.status} ${r.text}`);

    const ah = await historyOk(alice, bob.user);
    assert.deepEqual(ah.messages, []);
    assert.equal(ah.more, false);
    assert.equal(entryFor(await conversationsOk(alice), bob.user), undefined, 'alice no longer lists bob');

    const bh = await historyOk(bob, alice.user);
    assert.deepEqual(bh.messages.map((e) => e.text), ['before delete 1', 'before delete 2', 'before delete 3']);
    const bobEntry = entryFor(await conversationsOk(bob), alice.user);
    assert.ok(bobEntry, 'bob still lists alice');
    assert.equal(bobEntry.last.text, 'before delete 3');

    const fresh = await sendOk(bob, { to: alice.user, text: 'after delete' });
    const entry = entryFor(await conversationsOk(alice), bob.user);
    assert.ok(entry, 'the new message brings the conversation back');
    assert.equal(entry.last.text, 'after delete');
    assert.equal(entry.unread, 1);
    const ah2 = await historyOk(alice, bob.user);
    assert.deepEqual(ah2.messages.map((e) => e.text), ['after delete']);
    assert.equal(ah2.messages[0].id, fresh.id);
    assert.equal(ah2.more, false);
    // Paging must not reach behind the deletion either.
    const ah3 = await historyOk(alice, bob.user, { before: fresh.id });
    assert.deepEqual(ah3.messages, []);
    assert.equal(ah3.more, false);

    const bh2 = await historyOk(bob, alice.user);
    assert.equal(bh2.messages.length, 4);
  });

  test('deleting with a form body works; a bad conv is 400', async () => {
    const alice = await newUser(s.url, 'dfa');
    const bob = await newUser(s.url, 'dfb');
    await sendOk(alice, { to: bob.user, text: 'x' });
    const r = await alice.post('/api/conversations/delete', { form: { conv: bob.user } });
    assert.equal(r.status, 204, `delete: ${r.status} ${r.text}`);
    assert.deepEqual((await historyOk(alice, bob.user)).messages, []);
    assertError(await alice.post('/api/conversations/delete', { json: { conv: 'a b' } }), 400, 'bad_request');
    assertError(await alice.post('/api/conversations/delete', { json: {} }), 400, 'bad_request');
  });
});

describe('send rate limit', () => {
  const SEND_MAX = 5;
  let s2;
  before(async () => {
    s2 = await startStack({
      conf: `[auth]\nlogin_max_addr = 100000\n${FAST_PW}[send]\nsend_max = ${SEND_MAX}\nsend_window = 60\n`,
    });
  });
  after(async () => {
    if (s2) await s2.stop();
  });

  test(`after ${SEND_MAX} sends in the window the next is 429 with Retry-After, and not stored`, async () => {
    const alice = await newUser(s2.url, 'sra');
    const bob = await newUser(s2.url, 'srb');
    for (let i = 1; i <= SEND_MAX; i++) {
      const res = await alice.send({ to: bob.user, text: `m${i}` });
      assertOk(res, 200, `send ${i}\n${s2.logs()}`);
    }
    const limited = await alice.send({ to: bob.user, text: 'one too many' });
    assertError(limited, 429, 'rate_limited');
    assertRetryAfter(limited);
    assert.ok(Number(limited.headers['retry-after']) <= 60, `Retry-After beyond the window: ${limited.headers['retry-after']}`);
    const h = assertOk(await bob.history(alice.user), 200);
    assert.equal(h.messages.length, SEND_MAX);
    assert.ok(!h.messages.some((e) => e.text === 'one too many'));
    // Bob has his own budget.
    assertOk(await bob.send({ to: alice.user, text: 'bob is fine' }), 200);
  });
});
