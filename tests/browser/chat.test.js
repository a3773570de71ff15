'use strict';
// Two users in two browser contexts: register, sign in, chat both ways live;
// the unread badge shows and clears when opened, also in a second tab.
// Offline delivery: messages written while the recipient is signed out.
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

test('two users chat live; the unread badge clears when opened, in every tab', { timeout: 120000 }, async () => {
  const alice = await b.signedInPage(browser, s, 'alice', { register: true });
  const bob = await b.signedInPage(browser, s, 'bob', { register: true });
  await b.waitLive(alice.page, 'ws');
  await b.waitLive(bob.page, 'ws');

  // Bob's second tab: same browser context, so the same session.
  const bob2 = await bob.ctx.newPage();
  await bob2.goto(s.url + '/');
  await b.waitSignedIn(bob2, 'bob');
  await b.waitLive(bob2, 'ws');

  await b.openChat(alice.page, 'bob');
  await b.sendText(alice.page, 'Hi Bob, lunch at noon?');
  await alice.page.locator('#messages li.msg.mine.sent', { hasText: 'Hi Bob, lunch at noon?' }).waitFor();
  await b.sendText(alice.page, 'Or 12:30 if that suits you better.');

  // Both of Bob's tabs list the conversation as unread, live.
  for (const p of [bob.page, bob2]) {
    await b.convItem(p, 'alice').locator('.badge').filter({ hasText: /^2$/ }).waitFor();
    await b.convItem(p, 'alice').filter({ hasText: 'Or 12:30 if that suits you better.' }).waitFor();
  }
  await b.shot(bob2, 'chat-unread-second-tab');

  // Opening it in one tab clears the badge in both.
  await b.openChat(bob.page, 'alice');
  await b.waitMessage(bob.page, 'Or 12:30 if that suits you better.');
  await b.convItem(bob.page, 'alice').locator('.badge').waitFor({ state: 'detached' });
  await b.convItem(bob2, 'alice').locator('.badge').waitFor({ state: 'detached' });

  // Typing shows at the peer (WebSocket only).
  const box = alice.page.getByRole('textbox', { name: 'Message', exact: true });
  await b.waitFor(async () => {
    await box.press('x');
    return bob.page.locator('#typing', { hasText: 'alice is typing' }).isVisible();
  }, { interval: 400, what: 'the typing indicator' });
  await box.fill('');
  await b.sendText(alice.page, 'Let me know!');
  await b.waitMessage(bob.page, 'Let me know!');
  await bob.page.locator('#typing', { hasText: 'typing' }).waitFor({ state: 'detached' }).catch(() => {});

  // Bob answers; Alice sees it live, her open chat stays read.
  await bob.page.getByRole('textbox', { name: 'Message', exact: true }).fill('Noon works.');
  await bob.page.getByRole('textbox', { name: 'Message', exact: true }).press('Shift+Enter');
  await bob.page.getByRole('textbox', { name: 'Message', exact: true }).pressSequentially('See you at the usual place.');
  await bob.page.getByRole('button', { name: 'Send', exact: true }).click();
  await b.waitMessage(alice.page, 'Noon works.\nSee you at the usual place.');
  assert.equal(await b.convItem(alice.page, 'bob').locator('.badge').count(), 0);

  const want = ['Hi Bob, lunch at noon?', 'Or 12:30 if that suits you better.', 'Let me know!',
    'Noon works.\nSee you at the usual place.'];
  await b.waitFor(async () => JSON.stringify(await b.messageTexts(bob2)) === JSON.stringify(want)
    || (await b.openChat(bob2, 'alice'), false), { what: 'bob2 shows the chat' });
  assert.deepEqual(await b.messageTexts(alice.page), want);
  assert.deepEqual(await b.messageTexts(bob.page), want);
  assert.deepEqual(await b.messageTexts(bob2), want);
  // One list item per message.
  assert.equal(await b.messages(alice.page).count(), want.length);

  await b.shot(alice.page, 'chat-alice');
  await b.shot(bob.page, 'chat-bob');

  // Phone width: the list or the chat, with a way back.
  await bob.page.setViewportSize({ width: 390, height: 780 });
  await bob.page.getByRole('textbox', { name: 'Message', exact: true }).waitFor();
  await b.shot(bob.page, 'phone-chat');
  await bob.page.getByRole('button', { name: 'Back to conversations', exact: true }).click();
  await b.convItem(bob.page, 'alice').waitFor();
  assert.equal(await bob.page.getByRole('textbox', { name: 'Message', exact: true }).isVisible(), false);
  await b.shot(bob.page, 'phone-list');
  assert.deepEqual(alice.ctx.problems, []);
  assert.deepEqual(bob.ctx.problems, []);
  await alice.ctx.close();
  await bob.ctx.close();
});

test('offline delivery: messages sent while signed out wait, unread and in order', { timeout: 120000 }, async () => {
  await b.register(s, 'carol');
  await b.register(s, 'dave');
  const dave = await b.signedInPage(browser, s, 'dave');
  await b.waitLive(dave.page, 'ws');
  await dave.page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await dave.page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();

  const carol = await b.signedInPage(browser, s, 'carol');
  await b.openChat(carol.page, 'dave');
  const texts = ['Are you around?', 'The build is green again.', 'Call me when you see this.'];
  for (const t of texts) await b.sendText(carol.page, t);
  await b.waitFor(async () => (await carol.page.locator('#messages li.msg.mine.sent').count()) === 3,
    { what: 'three sent' });

  await b.submitAuth(dave.page, 'dave', b.PASSWORD, 'Sign in');
  await b.waitSignedIn(dave.page, 'dave');
  const item = b.convItem(dave.page, 'carol');
  await item.locator('.badge').filter({ hasText: /^3$/ }).waitFor();
  await b.shot(dave.page, 'offline-unread');
  await b.openChat(dave.page, 'carol');
  await b.waitMessage(dave.page, texts[2]);
  assert.deepEqual(await b.messageTexts(dave.page), texts);
  await item.locator('.badge').waitFor({ state: 'detached' });
  await b.shot(dave.page, 'offline-delivered');
  assert.deepEqual(dave.ctx.problems, []);
  await carol.ctx.close();
  await dave.ctx.close();
});

test('sign-in errors are clear: wrong password, name taken, rate limited', { timeout: 60000 }, async () => {
  await b.register(s, 'frank');
  const ctx = await b.newContext(browser);
  const page = await ctx.newPage();
  await page.goto(s.url + '/');
  const alert = page.locator('#auth-error');

  await b.submitAuth(page, 'frank', 'not-the-password', 'Sign in');
  await alert.filter({ hasText: 'Wrong user name or password.' }).waitFor();
  await b.submitAuth(page, 'Frank', b.PASSWORD, 'Register');
  await alert.filter({ hasText: 'That user name is taken' }).waitFor();
  await b.submitAuth(page, 'frank2', 'short', 'Register');
  await alert.filter({ hasText: 'at least 8 characters' }).waitFor();
  // Failed logins of one user are limited ([auth] login_max_user, 10).
  for (let i = 0; i < 10; i += 1) {
    await fetch(`${s.url}/api/auth/login`, {
      method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ user: 'frank', password: 'wrong-again' }),
    });
  }
  await b.submitAuth(page, 'frank', b.PASSWORD, 'Sign in');
  await alert.filter({ hasText: /Too many attempts\. Try again in \d+/ }).waitFor();
  await b.shot(page, 'auth-rate-limited');
  assert.deepEqual(ctx.problems, []);
  await ctx.close();
});

test('a failed send shows "Not sent" with Retry; the retry keeps the cid, so it is stored once', { timeout: 60000 }, async () => {
  await b.register(s, 'gina');
  await b.register(s, 'hank');
  // Without WebSocket every send is a POST /api/send, which we can cut.
  const gina = await b.signedInPage(browser, s, 'gina', { noWebSocket: true });
  await b.openChat(gina.page, 'hank');
  let cut = 'abort';
  const bodies = [];
  await gina.page.route('**/api/send', async (route) => {
    bodies.push(JSON.parse(route.request().postData()));
    if (cut === 'abort') return route.abort('connectionreset');
    if (cut === 'lose-reply') {
      // The server stores it, the answer is lost on the way back.
      await route.fetch();
      return route.abort('connectionreset');
    }
    return route.continue();
  });
  await b.sendText(gina.page, 'first try fails');
  const li = gina.page.locator('#messages li.msg.mine', { hasText: 'first try fails' });
  await li.locator('.state', { hasText: 'Not sent' }).waitFor();
  await gina.page.getByRole('alert').filter({ hasText: 'Not sent' }).waitFor();
  await b.shot(gina.page, 'send-failed');

  // The retry is stored but its answer is lost: the message's own event
  // (live, with the cid) still marks it sent.
  cut = 'lose-reply';
  await li.getByRole('button', { name: 'Retry', exact: true }).click();
  await li.locator('.state', { hasText: /^Sent$/ }).waitFor();
  // And a third try of the same message stores nothing new.
  cut = 'none';
  const r = await gina.page.evaluate(async (body) => (await fetch('/api/send', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
  })).status, bodies[0]);
  assert.equal(r, 200);
  assert.equal(bodies.length, 3);
  assert.ok(bodies.every((x) => x.cid === bodies[0].cid), 'the same cid each time');

  const tok = await b.token(s, 'hank');
  const h = await b.apiAs(s, tok, 'GET', '/api/history?conv=gina');
  assert.deepEqual(h.json.messages.map((m) => m.text), ['first try fails']);
  await b.sleep(300);
  assert.deepEqual(await b.messageTexts(gina.page), ['first try fails']);
  assert.deepEqual(gina.ctx.problems, []);
  await gina.ctx.close();
});

test('delete a conversation (after a confirm) for this user only', { timeout: 60000 }, async () => {
  await b.register(s, 'ivy');
  await b.register(s, 'jack');
  const ivy = await b.signedInPage(browser, s, 'ivy');
  await b.openChat(ivy.page, 'jack');
  await b.sendText(ivy.page, 'to be deleted');
  await ivy.page.locator('#messages li.msg.mine.sent').waitFor();
  await ivy.page.getByRole('button', { name: 'Delete conversation', exact: true }).click();
  const dialog = ivy.page.getByRole('dialog', { name: 'Delete conversation?' });
  await dialog.waitFor();
  await b.shot(ivy.page, 'delete-confirm');
  await dialog.getByRole('button', { name: 'Cancel', exact: true }).click();
  assert.equal(await b.convItem(ivy.page, 'jack').count(), 1);
  await ivy.page.getByRole('button', { name: 'Delete conversation', exact: true }).click();
  await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
  await b.convItem(ivy.page, 'jack').waitFor({ state: 'detached' });
  await ivy.page.getByText('Pick a conversation').waitFor();
  // Jack keeps his copy.
  const tok = await b.token(s, 'jack');
  const h = await b.apiAs(s, tok, 'GET', '/api/history?conv=ivy');
  assert.deepEqual(h.json.messages.map((m) => m.text), ['to be deleted']);
  assert.deepEqual(ivy.ctx.problems, []);
  await ivy.ctx.close();
});
