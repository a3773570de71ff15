'use strict';
// A message containing markup shows as text and runs nothing; links are
// clickable only for http(s), and open with rel=noopener.
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

test('<img src=x onerror=alert(1)> shows as text and runs nothing', { timeout: 90000 }, async () => {
  await b.register(s, 'mallory');
  await b.register(s, 'victim');
  const m = await b.signedInPage(browser, s, 'mallory');
  const v = await b.signedInPage(browser, s, 'victim');
  await b.waitLive(v.page, 'ws');

  const evil = '<img src=x onerror=alert(1)>';
  const evil2 = '<script>window.__pwned = 1</script><b onmouseover="window.__pwned=2">hover</b>';
  const links = 'docs: https://example.org/a?b=1&c=<2>, bad: javascript:alert(1) and data:text/html,x';
  await b.openChat(m.page, 'victim');
  await b.sendText(m.page, evil);
  await b.sendText(m.page, evil2);
  await b.sendText(m.page, links);

  // Live, in the list preview, and after a reload (from history).
  await b.convItem(v.page, 'mallory').filter({ hasText: links }).waitFor();
  await b.openChat(v.page, 'mallory');
  for (const page of [v.page, m.page]) {
    await b.waitMessage(page, evil);
    await b.waitMessage(page, evil2);
  }
  await v.page.locator('#messages li.msg', { hasText: 'hover' }).hover();
  await v.page.reload();
  await b.waitSignedIn(v.page, 'victim');
  await b.openChat(v.page, 'mallory');
  await b.waitMessage(v.page, evil);

  for (const page of [v.page, m.page]) {
    assert.equal(await page.locator('#messages img').count(), 0, 'no <img> made from text');
    assert.equal(await page.locator('#messages script, #messages b').count(), 0);
    assert.equal(await page.evaluate(() => window.__pwned), undefined);
    const anchors = await page.locator('#messages .msg-text a').evaluateAll((as) => as.map((a) => ({
      href: a.getAttribute('href'), text: a.textContent, rel: a.rel, target: a.target,
    })));
    assert.deepEqual(anchors, [{
      href: 'https://example.org/a?b=1&c=', text: 'https://example.org/a?b=1&c=', rel: 'noopener noreferrer', target: '_blank',
    }]);
  }
  assert.deepEqual(await b.messageTexts(v.page), [evil, evil2, links]);
  await b.shot(v.page, 'xss-as-text');
  // No alert() or any other dialog, no page error.
  assert.deepEqual(m.ctx.problems, []);
  assert.deepEqual(v.ctx.problems, []);
  await m.ctx.close();
  await v.ctx.close();
});
