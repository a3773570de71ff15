'use strict';
// chat-api rooms against PROTOCOL.md: create, list, join/leave, sending,
// room history with msg/join/leave events, conversations and unread.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const {
  uniqueName, newUser, assertError, assertOk,
} = require('./lib/http');

const FAST_PW = 'pw_opslimit = 1\npw_memlimit_kib = 8192\n';
const CONF = `[auth]\nlogin_max_addr = 100000\n${FAST_PW}[send]\nsend_max = 100000\n`;

let s;
before(async () => {
  s = await startStack({ conf: CONF });
});
after(async () => {
  if (s) await s.stop();
});

async function createRoom(c, room, title) {
  const json = title === undefined ? { room } : { room, title };
  const body = assertOk(await c.post('/api/rooms', { json }), 201, `create ${room}\n${s.logs()}`);
  return body;
}

async function roomsOk(c) {
  const body = assertOk(await c.get('/api/rooms'), 200, 'rooms');
  assert.ok(Array.isArray(body.rooms), JSON.stringify(body));
  for (const r of body.rooms) {
    assert.equal(typeof r.room, 'string', JSON.stringify(r));
    assert.equal(typeof r.title, 'string', JSON.stringify(r));
    assert.ok(Number.isInteger(r.members) && r.members >= 0, JSON.stringify(r));
    assert.equal(typeof r.joined, 'boolean', JSON.stringify(r));
  }
  return body.rooms;
}

async function roomInfo(c, room) {
  const r = (await roomsOk(c)).find((x) => x.room === room);
  assert.ok(r, `room ${room} not listed`);
  return r;
}

async function join(c, room) {
  const r = await c.post('/api/rooms/join', { json: { room } });
  assert.equal(r.status, 204, `join ${room}: ${r.status} ${r.text}`);
}

async function leave(c, room) {
  const r = await c.post('/api/rooms/leave', { json: { room } });
  assert.equal(r.status, 204, `leave ${room}: ${r.status} ${r.text}`);
}

async function sendOk(c, fields) {
  const body = assertOk(await c.send(fields), 200, `send ${JSON.stringify(fields)}\n${s.logs()}`);
  assert.ok(Number.isInteger(body.id) && body.id > 0, JSON.stringify(body));
  assert.equal(typeof body.ts, 'number');
  return body;
}

async function historyOk(c, conv, query = {}) {
  const body = assertOk(await c.history(conv, query), 200, `history ${conv}`);
  assert.ok(Array.isArray(body.messages), JSON.stringify(body));
  assert.equal(typeof body.more, 'boolean', JSON.stringify(body));
  return body;
}

async function conversationsOk(c) {
  const body = assertOk(await c.conversations(), 200, 'conversations');
  assert.ok(Array.isArray(body.conversations), JSON.stringify(body));
  return body.conversations;
}

describe('create and list rooms', () => {
  test('create gives 201 {"room","title"} and the creator is joined', async () => {
    const alice = await newUser(s.url, 'rca');
    const room = uniqueName('room');
    const body = await createRoom(alice, room, 'A Title ✓');
    assert.equal(body.room, room);
    assert.equal(body.title, 'A Title ✓');
    const info = await roomInfo(alice, room);
    assert.equal(info.joined, true);
    assert.equal(info.members, 1);
    assert.equal(info.title, 'A Title ✓');
    const me = assertOk(await alice.me(), 200);
    assert.ok(Array.isArray(me.rooms) && me.rooms.includes(room), JSON.stringify(me));
  });

  test('create without a title works (title is a string)', async () => {
    const alice = await newUser(s.url, 'rcn');
    const room = uniqueName('notitle');
    const body = await createRoom(alice, room);
    assert.equal(body.room, room);
    assert.equal(typeof body.title, 'string');
  });

  test('create with a form body works', async () => {
    const alice = await newUser(s.url, 'rcf');
    const room = uniqueName('formroom');
    const body = assertOk(await alice.post('/api/rooms', { form: { room, title: 'T & T' } }), 201);
    assert.equal(body.room, room);
    assert.equal(body.title, 'T & T');
  });

  test('other users see the room, not joined', async () => {
    const alice = await newUser(s.url, 'rva');
    const bob = await newUser(s.url, 'rvb');
    const room = uniqueName('seen');
    await createRoom(alice, room, 'seen');
    const info = await roomInfo(bob, room);
    assert.equal(info.joined, false);
    assert.equal(info.members, 1);
    assert.deepEqual(assertOk(await bob.me(), 200).rooms, []);
  });

  test('a duplicate room name, in any case, is 409 conflict', async () => {
    const alice = await newUser(s.url, 'rdup');
    const bob = await newUser(s.url, 'rdupb');
    const room = uniqueName('dup');
    await createRoom(alice, room, 'first');
    assertError(await alice.post('/api/rooms', { json: { room } }), 409, 'conflict', 'same');
    assertError(await bob.post('/api/rooms', { json: { room: room.toUpperCase() } }), 409, 'conflict', 'upper');
    assert.equal((await roomInfo(alice, room)).title, 'first', 'the first room is untouched');
    assert.equal((await roomInfo(alice, room)).members, 1);
  });

  for (const [label, room] of [
    ['empty', ''], ['with a space', 'a b'], ['with a "#" inside', 'a#b'], ['only "#"', '#'],
    ['starting with "."', '.x'], ['33 characters', 'r'.repeat(33)], ['unicode', 'sälle'],
    ['with a colon', 'a:b'],
  ]) {
    test(`a bad room name (${label}) is 400 bad_request`, async () => {
      const u = await newUser(s.url, 'rbad');
      assertError(await u.post('/api/rooms', { json: { room } }), 400, 'bad_request', label);
    });
  }

  test('create without a room is 400', async () => {
    const u = await newUser(s.url, 'rnone');
    assertError(await u.post('/api/rooms', { json: { title: 'x' } }), 400, 'bad_request');
  });
});

describe('join and leave', () => {
  let alice;
  let bob;
  let room;
  before(async () => {
    alice = await newUser(s.url, 'jla');
    bob = await newUser(s.url, 'jlb');
    room = uniqueName('jl');
    await createRoom(alice, room, 'join leave');
  });

  test('join: 204, members count grows, joined true, me lists the room', async () => {
    await join(bob, room);
    const info = await roomInfo(bob, room);
    assert.equal(info.joined, true);
    assert.equal(info.members, 2);
    assert.ok(assertOk(await bob.me(), 200).rooms.includes(room));
  });

  test('joining twice is harmless: 204, count unchanged', async () => {
    await join(bob, room);
    assert.equal((await roomInfo(bob, room)).members, 2);
  });

  test('join with another case of the name is the same room', async () => {
    await join(bob, room.toUpperCase());
    assert.equal((await roomInfo(bob, room)).members, 2);
  });

  test('leave: 204, members count drops, joined false, me no longer lists it', async () => {
    await leave(bob, room);
    const info = await roomInfo(bob, room);
    assert.equal(info.joined, false);
    assert.equal(info.members, 1);
    assert.ok(!assertOk(await bob.me(), 200).rooms.includes(room));
    assert.equal((await roomInfo(alice, room)).joined, true);
  });

  test('join of an unknown room is 404 not_found; bad names are 400', async () => {
    assertError(await bob.post('/api/rooms/join', { json: { room: uniqueName('nope') } }), 404, 'not_found');
    assertError(await bob.post('/api/rooms/join', { json: { room: 'a b' } }), 400, 'bad_request');
    assertError(await bob.post('/api/rooms/join', { json: {} }), 400, 'bad_request');
    assertError(await bob.post('/api/rooms/leave', { json: { room: 'a b' } }), 400, 'bad_request');
  });

  test('join with a form body works', async () => {
    const r = await bob.post('/api/rooms/join', { form: { room } });
    assert.equal(r.status, 204, `${r.status} ${r.text}`);
    assert.equal((await roomInfo(bob, room)).members, 2);
  });
});

describe('sending to a room and its history', () => {
  let alice;
  let bob;
  let carol;
  let room;
  before(async () => {
    alice = await newUser(s.url, 'rsa');
    bob = await newUser(s.url, 'rsb');
    carol = await newUser(s.url, 'rsc');
    room = uniqueName('talk');
    await createRoom(alice, room, 'talk');
  });

  test('sending to a room you have not joined is 403 forbidden', async () => {
    assertError(await bob.send({ room, text: 'let me in' }), 403, 'forbidden');
  });

  test('sending to an unknown room is 404; a bad room name is 400', async () => {
    assertError(await alice.send({ room: uniqueName('nope'), text: 'x' }), 404, 'not_found');
    assertError(await alice.send({ room: 'a b', text: 'x' }), 400, 'bad_request');
  });

  test('after joining: 200 with conv "#room"; history has msg, join and leave events', async () => {
    await join(bob, room);
    const m1 = await sendOk(bob, { room, text: 'hello room', cid: `c-${uniqueName('k')}` });
    assert.equal(m1.conv, `#${room}`);
    const m2 = await sendOk(alice, { room, text: 'welcome bob' });
    assert.equal(m2.conv, `#${room}`);
    assert.ok(m2.id > m1.id);
    await leave(bob, room);
    assertError(await bob.send({ room, text: 'after leaving' }), 403, 'forbidden');

    // Carol never joined: rooms are public, she may read the history.
    const h = await historyOk(carol, `#${room}`);
    const evs = h.messages;
    for (const e of evs) {
      assert.equal(e.chan, `r:${room}`, JSON.stringify(e));
      assert.ok(Number.isInteger(e.id), JSON.stringify(e));
    }
    const ids = evs.map((e) => e.id);
    assert.deepEqual(ids, ids.slice().sort((a, b) => a - b), 'oldest first');
    assert.equal(new Set(ids).size, ids.length, 'ids unique');

    const msgs = evs.filter((e) => e.type === 'msg');
    assert.deepEqual(msgs.map((e) => e.text), ['hello room', 'welcome bob']);
    assert.equal(msgs[0].id, m1.id);
    assert.equal(msgs[0].from, bob.user);
    assert.equal(msgs[0].room, room);
    assert.equal(msgs[0].ts, m1.ts);
    assert.equal(typeof msgs[0].cid, 'string');
    assert.equal(msgs[1].id, m2.id);
    assert.equal(msgs[1].from, alice.user);

    const joinEv = evs.find((e) => e.type === 'join' && e.user === bob.user);
    assert.ok(joinEv, `no join event for bob: ${JSON.stringify(evs)}`);
    assert.equal(joinEv.room, room);
    assert.ok(joinEv.id < m1.id, 'bob joined before he spoke');
    const leaveEv = evs.find((e) => e.type === 'leave' && e.user === bob.user);
    assert.ok(leaveEv, `no leave event for bob: ${JSON.stringify(evs)}`);
    assert.equal(leaveEv.room, room);
    assert.ok(leaveEv.id > m2.id);
  });

  test('a second join of a member adds no join event', async () => {
    const r2 = uniqueName('twice');
    await createRoom(alice, r2);
    await join(bob, r2);
    await join(bob, r2);
    const h = await historyOk(alice, `#${r2}`);
    assert.equal(h.messages.filter((e) => e.type === 'join' && e.user === bob.user).length, 1,
      JSON.stringify(h.messages));
  });

  test('history of "#unknown" is 404; a bad room conv is 400', async () => {
    assertError(await carol.history(`#${uniqueName('unknown')}`), 404, 'not_found');
    assertError(await carol.history('#a b'), 400, 'bad_request');
    assertError(await carol.history('#'), 400, 'bad_request');
  });
});

describe('rooms in conversations, unread and read', () => {
  test('members see the room with its last message; unread counts others\' messages after joining', async () => {
    const alice = await newUser(s.url, 'rua');
    const bob = await newUser(s.url, 'rub');
    const carol = await newUser(s.url, 'ruc');
    const room = uniqueName('unread');
    await createRoom(alice, room, 'unread');
    await sendOk(alice, { room, text: 'before bob' });
    await join(bob, room);
    await sendOk(alice, { room, text: 'one' });
    const m2 = await sendOk(alice, { room, text: 'two' });

    const bobs = await conversationsOk(bob);
    const e = bobs.find((x) => x.conv === `#${room}`);
    assert.ok(e, `bob's conversations lack #${room}: ${JSON.stringify(bobs)}`);
    assert.equal(e.last.type, 'msg');
    assert.equal(e.last.text, 'two');
    assert.equal(e.last.id, m2.id);
    assert.equal(e.unread, 2);

    const alices = await conversationsOk(alice);
    const a = alices.find((x) => x.conv === `#${room}`);
    assert.ok(a, `alice's conversations lack #${room}`);
    assert.equal(a.unread, 0, 'own messages are not unread');

    const carols = await conversationsOk(carol);
    assert.equal(carols.find((x) => x.conv === `#${room}`), undefined, 'non-members do not list the room');

    const r = await bob.post('/api/read', { json: { conv: `#${room}`, upto: m2.id } });
    assert.equal(r.status, 204, `read: ${r.status} ${r.text}`);
    assert.equal((await conversationsOk(bob)).find((x) => x.conv === `#${room}`).unread, 0);

    await sendOk(alice, { room, text: 'three' });
    assert.equal((await conversationsOk(bob)).find((x) => x.conv === `#${room}`).unread, 1);
  });

  test('after leaving, the room is gone from conversations', async () => {
    const alice = await newUser(s.url, 'rla');
    const bob = await newUser(s.url, 'rlb');
    const room = uniqueName('gone');
    await createRoom(alice, room);
    await join(bob, room);
    await sendOk(alice, { room, text: 'hi' });
    assert.ok((await conversationsOk(bob)).some((x) => x.conv === `#${room}`));
    await leave(bob, room);
    assert.ok(!(await conversationsOk(bob)).some((x) => x.conv === `#${room}`));
  });
});

describe('room history paging', () => {
  test('limit 2 pages cover the whole room history without overlap or gap', async () => {
    const alice = await newUser(s.url, 'rpa');
    const room = uniqueName('paging');
    await createRoom(alice, room);
    const texts = [];
    for (let i = 1; i <= 5; i++) {
      texts.push(`room page ${i}`);
      await sendOk(alice, { room, text: `room page ${i}` });
    }
    const full = await historyOk(alice, `#${room}`, { limit: 200 });
    assert.equal(full.more, false);
    assert.deepEqual(full.messages.filter((e) => e.type === 'msg').map((e) => e.text), texts);

    const pages = [];
    let beforeId;
    for (let n = 0; n < 20; n++) {
      const q = { limit: 2 };
      if (beforeId !== undefined) q.before = beforeId;
      const h = await historyOk(alice, `#${room}`, q);
      assert.ok(h.messages.length <= 2);
      pages.push(h);
      if (!h.more) break;
      assert.equal(h.messages.length, 2, 'a page with more:true is full');
      beforeId = h.messages[0].id;
    }
    assert.equal(pages.at(-1).more, false, 'paging ended');
    const paged = pages.slice().reverse().flatMap((p) => p.messages);
    assert.deepEqual(paged, full.messages);
    assertError(await alice.history(`#${room}`, { limit: 0 }), 400, 'bad_request');
    assertError(await alice.history(`#${room}`, { before: 'x' }), 400, 'bad_request');
  });
});
