'use strict';
// Eight tabs of one user on long-poll: every tab receives every message,
// and the browser holds one long-poll, not eight (one tab leads and shares
// the events with the others; another takes over when it closes).
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

// Old browsers: no BroadcastChannel, no Web Locks; tabs talk through
// localStorage "storage" events and a lease.
const OLD_BROWSER = 'try { delete window.BroadcastChannel; } catch (e) {} window.BroadcastChannel = undefined;'
  + 'try { Object.defineProperty(navigator, "locks", { value: undefined, configurable: true }); } catch (e) {}';

test('eight long-poll tabs share one long-poll and all get every message', { timeout: 150000 }, async () => {
  await eightTabs('alice', 'bob', false);
});

test('the same without BroadcastChannel and Web Locks (storage events, a lease)', { timeout: 150000 }, async () => {
  await eightTabs('anna', 'ben', true);
});

async function eightTabs(aliceName, bobName, old) {
  await b.register(s, aliceName);
  await b.register(s, bobName);
  const ctx = await b.newContext(browser, { noWebSocket: true, noEventSource: true });
  if (old) await ctx.addInitScript(OLD_BROWSER);

  // Open long-polls in this browser, counted from the network side.
  // (A finished poll and the next one can overlap by a moment in these
  // events, so the test counts which tabs poll, and how many polls are
  // open once things are quiet.)
  const open = new Set();
  let pollers = new Set();
  let polls = 0;
  const isLongPoll = (r) => /\/api\/poll\?timeout=([1-9]\d*)/.test(r.url());
  ctx.on('request', (r) => {
    if (!isLongPoll(r)) return;
    open.add(r);
    polls += 1;
    pollers.add(r.frame().page());
  });
  const done = (r) => open.delete(r);
  ctx.on('requestfinished', done);
  ctx.on('requestfailed', done);

  const first = await b.signedInPage(browser, s, bobName, { ctx });
  const pages = [first.page];
  for (let i = 1; i < 8; i += 1) {
    const p = await ctx.newPage();
    await p.goto(s.url + '/');
    await b.waitSignedIn(p, bobName);
    pages.push(p);
  }
  for (const p of pages) await b.waitLive(p, 'poll');
  const shared = await Promise.all(pages.map((p) => p.locator('#status').getAttribute('data-shared')));
  assert.equal(shared.filter((x) => x === 'false').length, 1, `one leader: ${shared}`);
  await b.sleep(1000);
  assert.equal(open.size, 1, 'one long-poll open for eight tabs');
  pollers = new Set();
  polls = 0;

  const alice = await b.signedInPage(browser, s, aliceName);
  await b.openChat(alice.page, bobName);
  const texts = ['one', 'two', 'three'].map((w) => `message ${w} for all tabs`);
  for (const t of texts) await b.sendText(alice.page, t);
  for (const p of pages) {
    await b.convItem(p, aliceName).filter({ hasText: texts[2] }).waitFor();
    await b.convItem(p, aliceName).locator('.badge').filter({ hasText: /^3$/ }).waitFor();
  }
  // Every tab shows the messages once, in order.
  for (const p of pages.slice(0, 3)) {
    await b.openChat(p, aliceName);
    await b.waitMessage(p, texts[2]);
    assert.deepEqual(await b.messageTexts(p), texts);
  }
  await b.sleep(1500);
  assert.equal(pollers.size, 1, `one tab polls, not ${pollers.size}`);
  assert.ok(polls >= 2 && polls <= 8, `a poll per delivery, not per tab: ${polls}`);
  assert.equal(open.size, 1, 'one long-poll open now');
  pollers = new Set();

  // The leader closes: another tab takes over, still one long-poll.
  const leaderIdx = shared.indexOf('false');
  await pages[leaderIdx].close();
  // A closed page's requests get no "finished" event: forget them.
  for (const r of open) if (r.frame().page() === pages[leaderIdx]) open.delete(r);
  const rest = pages.filter((_, i) => i !== leaderIdx);
  await b.waitFor(async () => {
    const sh = await Promise.all(rest.map((p) => p.locator('#status').getAttribute('data-shared')));
    return sh.filter((x) => x === 'false').length === 1;
  }, { what: 'a new leader' });
  await b.sendText(alice.page, 'after the leader left');
  for (const p of rest) await b.convItem(p, aliceName).filter({ hasText: 'after the leader left' }).waitFor();
  await b.sleep(1500);
  assert.equal(pollers.size, 1, `after the hand-over one tab polls, not ${pollers.size}`);
  assert.ok(!pollers.has(pages[leaderIdx]));
  assert.equal(open.size, 1, 'one long-poll open after the hand-over');

  await b.shot(rest[rest.length - 1], `tabs-follower${old ? '-old' : ''}`);
  await b.shot(rest[0], `tabs-open-chat${old ? '-old' : ''}`);
  assert.deepEqual(ctx.problems, []);
  await ctx.close();
  await alice.ctx.close();
}
