'use strict';
// Attachments: PUT /api/upload, sending with att, GET /api/media/<hash>
// served (X-Sendfile through lighttpd) only to parties of a conversation.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const { newUser, assertError, assertOk } = require('./lib/http');

const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
  Buffer.from(`a small picture ${Date.now()}`)]);

let s;

before(async () => {
  s = await startStack({
    conf: '[auth]\nlogin_max_addr = 100000\n[upload]\nmax_size = 4096\ntypes = image/png text/plain\n',
  });
});

after(async () => {
  if (s) await s.stop();
});

function upload(client, body, { name = 'pic.png', type = 'image/png' } = {}) {
  return client.req('PUT', '/api/upload', {
    query: name === null ? {} : { name }, raw: body, headers: { 'content-type': type },
  });
}

describe('upload', () => {
  test('stores the file under its content hash and describes it', async () => {
    const alice = await newUser(s.url, 'upa');
    const r = await upload(alice, PNG);
    assertOk(r, 201, 'upload');
    assert.match(r.body.url, /^\/api\/media\/[0-9a-f]{64}$/);
    assert.equal(r.body.mime, 'image/png');
    assert.equal(r.body.size, PNG.length);
    assert.equal(r.body.name, 'pic.png');
    // The same bytes again: the same url.
    const again = await upload(alice, PNG, { name: 'other.png' });
    assertOk(again, 201);
    assert.equal(again.body.url, r.body.url);
  });

  test('bad uploads get clear errors', async () => {
    const alice = await newUser(s.url, 'upb');
    assertError(await upload(alice, PNG, { type: 'application/x-msdownload' }), 415, 'unsupported_media_type');
    assertError(await upload(alice, Buffer.alloc(5000, 1)), 413, 'too_large');
    assertError(await upload(alice, PNG, { name: null }), 400, 'bad_request');
    assertError(await upload(alice, PNG, { name: 'a/b.png' }), 400, 'bad_request');
    assertError(await upload(alice, Buffer.alloc(0)), 400, 'bad_request');
    const noauth = await alice.req('PUT', '/api/upload', {
      query: { name: 'x.png' }, raw: PNG, headers: { 'content-type': 'image/png' }, auth: false,
    });
    assertError(noauth, 401, 'unauthorized');
  });
});

describe('media access', () => {
  test('a DM attachment reaches the recipient; a third user gets 403', async () => {
    const alice = await newUser(s.url, 'mda');
    const bob = await newUser(s.url, 'mdb');
    const carol = await newUser(s.url, 'mdc');
    const body = Buffer.from(`text file ${Date.now()}`);
    const up = await upload(alice, body, { name: 'note.txt', type: 'text/plain' });
    assertOk(up, 201);

    // Not carried by any conversation yet: only the uploader may fetch it.
    assert.equal((await alice.get(up.body.url)).status, 200, 'the owner may fetch it');
    assertError(await bob.get(up.body.url), 403, 'forbidden');

    const sent = await alice.send({ to: bob.user, text: '', att: { url: up.body.url } });
    assertOk(sent, 200, 'send with att');
    const h = await bob.history(alice.user);
    const m = h.body.messages.find((e) => e.id === sent.body.id);
    assert.ok(m, 'the message is in the history');
    assert.deepEqual(m.att, { url: up.body.url, mime: 'text/plain', size: body.length, name: 'note.txt' });

    const got = await bob.get(up.body.url);
    assert.equal(got.status, 200, 'the recipient may fetch it');
    assert.equal(got.buf.toString(), body.toString());
    assert.equal(got.headers['content-type'], 'text/plain');
    assert.equal(got.headers['x-content-type-options'], 'nosniff');
    assert.match(got.headers['content-disposition'], /^attachment/);

    assertError(await carol.get(up.body.url), 403, 'forbidden');
    assertError(await carol.get(`/api/media/${'0'.repeat(64)}`), 404, 'not_found');
    assertError(await carol.get('/api/media/not-a-hash'), 404, 'not_found');
  });

  test('a room attachment reaches members only', async () => {
    const alice = await newUser(s.url, 'mra');
    const bob = await newUser(s.url, 'mrb');
    const carol = await newUser(s.url, 'mrc');
    const room = `r${Date.now().toString(36)}`;
    assertOk(await alice.post('/api/rooms', { json: { room } }), 201);
    assertOk(await bob.post('/api/rooms/join', { json: { room } }), 204);
    const pic = Buffer.concat([PNG, Buffer.from(room)]);
    const up = await upload(alice, pic);
    assertOk(await alice.send({ room, text: 'look', att: up.body }), 200);
    const got = await bob.get(up.body.url);
    assert.equal(got.status, 200, 'a member may fetch it');
    assert.match(got.headers['content-disposition'], /^inline/);
    assertError(await carol.get(up.body.url), 403, 'forbidden');
  });

  test('sending an unknown or malformed attachment is 400 and stores nothing', async () => {
    const alice = await newUser(s.url, 'mua');
    const bob = await newUser(s.url, 'mub');
    assertError(await alice.send({ to: bob.user, text: 'x', att: { url: `/api/media/${'a'.repeat(64)}` } }),
      400, 'bad_request');
    assertError(await alice.send({ to: bob.user, text: 'x', att: { url: '/etc/passwd' } }), 400, 'bad_request');
    assertError(await alice.send({ to: bob.user, text: 'x', att: 42 }), 400, 'bad_request');
    assertError(await alice.send({ to: bob.user, text: '' }), 400, 'bad_request');
    const h = await bob.history(alice.user);
    assert.deepEqual(h.body.messages, []);
  });
});
