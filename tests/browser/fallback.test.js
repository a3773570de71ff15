'use strict';
// Fallback: without window.WebSocket the page chats over SSE; without
// WebSocket and EventSource, over long-poll. The status line says which.
const test = require('node:test');
const assert = require('node:assert/strict');
const b = require('./lib/browser');

let s;
let browser;

test.before(async () => {
  s = await b.startStack();
  browser = await b.launch();
});

test.after(async () => {
  if (browser) await browser.close();
  if (s) await s.stop();
});

/** Counts requests by path prefix in a context. */
function countRequests(ctx) {
  const seen = { ws: 0, stream: 0, poll: 0, send: 0 };
  ctx.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname === '/ws') seen.ws += 1;
    if (u.pathname === '/api/stream') seen.stream += 1;
    if (u.pathname === '/api/poll') seen.poll += 1;
    if (u.pathname === '/api/send') seen.send += 1;
  });
  ctx.on('websocket', () => { seen.ws += 1; });
  return seen;
}

async function chatWith(fallback, peer, transport, shotName) {
  const peerPage = peer.page;
  const mine = await b.newContext(browser, fallback);
  const seen = countRequests(mine);
  const me = await b.signedInPage(browser, s, fallback.user, { ctx: mine });
  await b.waitLive(me.page, transport);

  await b.openChat(me.page, peer.user);
  await b.sendText(me.page, `Hello over ${transport}`);
  await b.convItem(peerPage, fallback.user).filter({ hasText: `Hello over ${transport}` }).waitFor();
  await me.page.locator('#messages li.msg.mine.sent', { hasText: `Hello over ${transport}` }).waitFor();

  // Live the other way: the peer (on WebSocket) answers.
  await b.openChat(peerPage, fallback.user);
  await b.waitMessage(peerPage, `Hello over ${transport}`);
  await b.sendText(peerPage, `Got it via ${transport}, thanks`);
  await b.waitMessage(me.page, `Got it via ${transport}, thanks`);
  await b.sendText(peerPage, 'And a second one');
  await b.waitMessage(me.page, 'And a second one');
  assert.deepEqual(await b.messageTexts(me.page),
    [`Hello over ${transport}`, `Got it via ${transport}, thanks`, 'And a second one']);

  const status = await me.page.locator('#status-text').textContent();
  assert.match(status, transport === 'sse' ? /Live via SSE/ : /Live via long-poll/);
  assert.equal(seen.ws, 0, 'no WebSocket was tried');
  if (transport === 'sse') assert.ok(seen.stream >= 1 && seen.poll === 0, JSON.stringify(seen));
  else assert.ok(seen.poll >= 2 && seen.stream === 0, JSON.stringify(seen));
  assert.ok(seen.send >= 1, 'sent with POST /api/send');
  await b.shot(me.page, shotName);
  assert.deepEqual(mine.problems, []);
  await mine.close();
}

test('without WebSocket the page chats over SSE; without EventSource too, over long-poll', { timeout: 120000 }, async () => {
  for (const u of ['alice', 'sse_sam', 'poll_pat']) await b.register(s, u);
  const alice = await b.signedInPage(browser, s, 'alice');
  await b.waitLive(alice.page, 'ws');
  const peer = { page: alice.page, user: 'alice' };

  await chatWith({ user: 'sse_sam', noWebSocket: true }, peer, 'sse', 'fallback-sse');
  await chatWith({ user: 'poll_pat', noWebSocket: true, noEventSource: true }, peer, 'poll', 'fallback-long-poll');
  assert.deepEqual(alice.ctx.problems, []);
  await alice.ctx.close();
});

test('on SSE a room joined during the stream delivers at once', { timeout: 60000 }, async () => {
  await b.register(s, 'sse_rita');
  const tok = await b.token(s, 'alice');
  let r = await b.apiAs(s, tok, 'POST', '/api/rooms', { room: 'ssers' });
  assert.equal(r.status, 201, r.text);
  const rita = await b.signedInPage(browser, s, 'sse_rita', { noWebSocket: true });
  await b.waitLive(rita.page, 'sse');
  await b.openChat(rita.page, '#ssers');
  await rita.page.locator('#messages li.notice', { hasText: 'sse_rita joined the room' }).waitFor();
  r = await b.apiAs(s, tok, 'POST', '/api/send', { room: 'ssers', text: 'welcome, rita' });
  assert.equal(r.status, 200, r.text);
  await b.waitMessage(rita.page, 'welcome, rita');
  await b.waitLive(rita.page, 'sse');
  assert.deepEqual(rita.ctx.problems, []);
  await rita.ctx.close();
});
