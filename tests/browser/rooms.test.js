'use strict';
// A room with three users: live messages, join/leave notices, and history
// that loads older pages on scrolling up, without duplicates.
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

function notice(page, text) {
  return page.locator('#messages li.notice', { hasText: text });
}

test('a room with three users: live messages and join/leave notices', { timeout: 120000 }, async () => {
  for (const u of ['alice', 'bob', 'carol']) await b.register(s, u);
  const alice = await b.signedInPage(browser, s, 'alice');
  const bob = await b.signedInPage(browser, s, 'bob');
  const carol = await b.signedInPage(browser, s, 'carol');
  for (const p of [alice.page, bob.page, carol.page]) await b.waitLive(p, 'ws');

  // Alice creates #team through the "chat with" box.
  await b.openChat(alice.page, '#team');
  await b.convItem(alice.page, '#team').waitFor();
  await notice(alice.page, 'alice joined the room').waitFor();

  // Bob joins from the room browser.
  await bob.page.getByText('Browse rooms').click();
  await bob.page.getByRole('button', { name: 'Join #team', exact: true }).click();
  await bob.page.locator('#chat-name', { hasText: '#team' }).waitFor();
  await notice(alice.page, 'bob joined the room').waitFor();

  // Carol types the room's name.
  await b.openChat(carol.page, '#team');
  await notice(alice.page, 'carol joined the room').waitFor();
  await notice(bob.page, 'carol joined the room').waitFor();

  await b.sendText(alice.page, 'Welcome to the team room!');
  await b.waitMessage(bob.page, 'Welcome to the team room!');
  await b.waitMessage(carol.page, 'Welcome to the team room!');
  await b.sendText(bob.page, 'Thanks, glad to be here.');
  await b.sendText(carol.page, 'Grüße, everyone — hello!');
  for (const p of [alice.page, bob.page, carol.page]) {
    await b.waitMessage(p, 'Thanks, glad to be here.');
    await b.waitMessage(p, 'Grüße, everyone — hello!');
  }

  await carol.page.getByRole('button', { name: 'Leave room', exact: true }).click();
  await notice(alice.page, 'carol left the room').waitFor();
  await notice(bob.page, 'carol left the room').waitFor();
  await carol.page.getByRole('button', { name: 'Join room', exact: true }).waitFor();
  await b.sendText(alice.page, 'Carol left, just us now.');
  await b.waitMessage(bob.page, 'Carol left, just us now.');

  const want = ['Welcome to the team room!', 'Thanks, glad to be here.', 'Grüße, everyone — hello!',
    'Carol left, just us now.'];
  assert.deepEqual(await b.messageTexts(alice.page), want);
  assert.deepEqual(await b.messageTexts(bob.page), want);
  // Carol is out: she does not get the last one.
  await b.sleep(500);
  assert.deepEqual(await b.messageTexts(carol.page), want.slice(0, 3));
  // Notices are not list items of "Messages": one item per message.
  assert.equal(await b.messages(alice.page).count(), want.length);

  await b.shot(alice.page, 'room-alice');
  await b.shot(carol.page, 'room-carol-left');
  for (const x of [alice, bob, carol]) {
    assert.deepEqual(x.ctx.problems, []);
    await x.ctx.close();
  }
});

test('room history loads older pages on scrolling up, without duplicates', { timeout: 120000 }, async () => {
  await b.register(s, 'dora');
  await b.register(s, 'eve');
  const tok = await b.token(s, 'dora');
  let r = await b.apiAs(s, tok, 'POST', '/api/rooms', { room: 'archive', title: 'Archive' });
  assert.equal(r.status, 201, r.text);
  const N = 130;
  for (let i = 1; i <= N; i += 1) {
    r = await b.apiAs(s, tok, 'POST', '/api/send', { room: 'archive', text: `note ${i}`, cid: `n${i}` });
    assert.equal(r.status, 200, r.text);
  }

  const eve = await b.signedInPage(browser, s, 'eve');
  await b.openChat(eve.page, '#archive');
  await b.waitMessage(eve.page, `note ${N}`);
  const first = await b.messageTexts(eve.page);
  assert.ok(first.length < N, `the first page is a page (${first.length})`);

  // While older pages load, a live message arrives too.
  const scroller = eve.page.locator('#scroller');
  let sentLive = false;
  await b.waitFor(async () => {
    await scroller.evaluate((e) => { e.scrollTop = 0; });
    if (!sentLive) {
      sentLive = true;
      await b.apiAs(s, tok, 'POST', '/api/send', { room: 'archive', text: 'live one', cid: 'live1' });
    }
    const t = await b.messageTexts(eve.page);
    return t.length >= N + 1;
  }, { timeout: 30000, interval: 400, what: 'all pages loaded' });
  await eve.page.locator('#history-note', { hasText: 'beginning of the conversation' }).waitFor();

  const texts = await b.messageTexts(eve.page);
  const expected = [];
  for (let i = 1; i <= N; i += 1) expected.push(`note ${i}`);
  expected.push('live one');
  assert.deepEqual(texts, expected);
  assert.equal(await b.messages(eve.page).count(), N + 1);
  // The view stays at the top after loading the oldest page.
  await b.shot(eve.page, 'room-history-top');
  assert.deepEqual(eve.ctx.problems, []);
  await eve.ctx.close();
});
