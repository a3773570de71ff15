'use strict';
// Smoke test: the stack starts, lighttpd serves htdocs, /api/auth/ reaches
// chat-auth, and errors have the PROTOCOL.md shape.

const test = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');

test('stack serves the page and the auth API', async (t) => {
  const s = await startStack();
  t.after(() => s.stop());

  await t.test('GET /api/auth/me without a session is a 401 JSON error', async () => {
    const res = await fetch(`${s.url}/api/auth/me`);
    const text = await res.text();
    assert.equal(res.status, 401, `${text}\n${s.logs()}`);
    assert.match(res.headers.get('content-type') || '', /^application\/json/);
    const body = JSON.parse(text);
    assert.equal(typeof body.error, 'object');
    assert.equal(body.error.code, 'unauthorized');
    assert.equal(typeof body.error.message, 'string');
  });

  await t.test('GET / is the HTML page', async () => {
    const res = await fetch(`${s.url}/`);
    const text = await res.text();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') || '', /^text\/html/);
    assert.match(text, /<title>Switchboard<\/title>/);
  });

  await t.test('the private Redis answers', async () => {
    assert.equal(await s.redis('PING'), 'PONG');
  });
});
