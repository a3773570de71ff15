'use strict';
// Fault: wsgate is killed while two users chat. Both pages keep chatting
// (falling back or reconnecting), and once wsgate is back every message
// sent in between is shown exactly once on both sides.
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

async function statusText(page) {
  return page.locator('#status-text').textContent();
}

test('wsgate killed mid-chat: chatting goes on, nothing lost or doubled', { timeout: 180000 }, async () => {
  await b.register(s, 'alice');
  await b.register(s, 'bob');
  const alice = await b.signedInPage(browser, s, 'alice');
  const bob = await b.signedInPage(browser, s, 'bob');
  await b.waitLive(alice.page, 'ws');
  await b.waitLive(bob.page, 'ws');
  await b.openChat(alice.page, 'bob');
  await b.sendText(alice.page, 'before 1');
  await b.convItem(bob.page, 'alice').waitFor();
  await b.openChat(bob.page, 'alice');
  await b.waitMessage(bob.page, 'before 1');
  await b.sendText(bob.page, 'before 2');
  await b.waitMessage(alice.page, 'before 2');

  await s.killWsgate();
  // Write at once, while the sockets are dying, and on.
  const during = [];
  for (let i = 1; i <= 6; i += 1) {
    const [page, text] = i % 2 ? [alice.page, `during ${i}`] : [bob.page, `during ${i}`];
    await b.sendText(page, text);
    during.push(text);
    await b.sleep(400);
  }
  // The status line does not pretend: not live via WebSocket any more.
  await b.waitFor(async () => !/WebSocket/.test(await statusText(alice.page))
    || /Reconnecting|SSE|long-poll/.test(await statusText(alice.page)), { what: 'alice notices' });
  for (const t of during) {
    await b.waitMessage(alice.page, t, 30000);
    await b.waitMessage(bob.page, t, 30000);
  }
  await b.waitLive(alice.page, 'sse', 30000);
  await b.waitLive(bob.page, 'sse', 30000);
  await b.shot(bob.page, 'fault-during-outage');
  await b.sendText(alice.page, 'on sse');
  await b.waitMessage(bob.page, 'on sse');

  await s.startWsgate();
  // The pages try the WebSocket again by themselves (every 20-30 s).
  await b.waitLive(alice.page, 'ws', 60000);
  await b.waitLive(bob.page, 'ws', 60000);
  await b.sendText(bob.page, 'after 1');
  await b.sendText(alice.page, 'after 2');
  await b.waitMessage(alice.page, 'after 1');
  await b.waitMessage(bob.page, 'after 2');
  await b.sleep(500);

  const all = ['before 1', 'before 2', ...during, 'on sse', 'after 1', 'after 2'];
  for (const page of [alice.page, bob.page]) {
    const texts = await b.messageTexts(page);
    for (const t of all) {
      assert.equal(texts.filter((x) => x === t).length, 1, `"${t}" shown once: ${JSON.stringify(texts)}`);
    }
    assert.equal(texts.length, all.length, JSON.stringify(texts));
    // Nothing is left failed or pending.
    assert.equal(await page.locator('#messages li.msg.mine.failed, #messages li.msg.mine.sending').count(), 0);
  }
  // The server stored each message once, too.
  const tok = await b.token(s, 'alice');
  const h = await b.apiAs(s, tok, 'GET', '/api/history?conv=bob&limit=200');
  assert.deepEqual(h.json.messages.map((m) => m.text).sort(), [...all].sort());

  await b.shot(alice.page, 'fault-alice');
  await b.shot(bob.page, 'fault-bob');
  assert.deepEqual(alice.ctx.problems, []);
  assert.deepEqual(bob.ctx.problems, []);
  await alice.ctx.close();
  await bob.ctx.close();
});
