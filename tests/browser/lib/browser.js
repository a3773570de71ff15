'use strict';
// Browser-test helpers: headless Debian chromium driven by playwright-core,
// one private Switchboard stack per test file (tests/integration/lib/stack.js).
//
//   const b = require('./lib/browser');
//   const s = await b.startStack();
//   const browser = await b.launch();
//   const alice = await b.signedInPage(browser, s, 'alice');   // registers too
//   await b.sendText(alice.page, 'bob', 'hi');
//   await b.shot(alice.page, 'name');                          // tests/artifacts/name.png
//
// Environment: CHROMIUM (default /usr/bin/chromium), SB_BUILD as for the
// integration tests.

const fs = require('node:fs');
const path = require('node:path');
const { chromium } = require('playwright-core');
const { startStack } = require('../../integration/lib/stack');

const REPO = path.resolve(__dirname, '..', '..', '..');
const ARTIFACTS = path.join(REPO, 'tests', 'artifacts');
const PASSWORD = 'correct-horse-battery';

const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // Several pages of one context must keep running while not in front.
  '--disable-background-timer-throttling', '--disable-renderer-backgrounding',
  '--disable-backgrounding-occluded-windows'];

async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: CHROMIUM_ARGS,
  });
}

/** Init scripts that take transports away before the page's script runs. */
const NO_WEBSOCKET = 'try { delete window.WebSocket; } catch (e) {} window.WebSocket = undefined;';
const NO_EVENTSOURCE = 'try { delete window.EventSource; } catch (e) {} window.EventSource = undefined;';

/** A new browser context (its own cookies: one "browser" of one user).
 * opts.noWebSocket / opts.noEventSource remove those APIs. Page errors and
 * dialogs are collected in ctx.problems. */
async function newContext(browser, opts = {}) {
  const ctx = await browser.newContext({
    viewport: opts.viewport || { width: 1180, height: 760 },
    deviceScaleFactor: 1,
    locale: 'en-GB',
  });
  ctx.problems = [];
  if (opts.noWebSocket) await ctx.addInitScript(NO_WEBSOCKET);
  if (opts.noEventSource) await ctx.addInitScript(NO_EVENTSOURCE);
  ctx.on('page', (p) => watchPage(ctx, p));
  return ctx;
}

function watchPage(ctx, page) {
  page.on('pageerror', (err) => ctx.problems.push(`pageerror: ${err.message}`));
  page.on('dialog', (d) => {
    ctx.problems.push(`dialog: ${d.type()} ${d.message()}`);
    d.dismiss().catch(() => {});
  });
}

async function register(s, user) {
  const r = await fetch(`${s.url}/api/auth/register`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password: PASSWORD }),
  });
  if (r.status !== 201) throw new Error(`register ${user}: ${r.status} ${await r.text()}`);
}

/** A bearer token for API calls from the test itself. */
async function token(s, user) {
  const r = await fetch(`${s.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ user, password: PASSWORD }),
  });
  if (r.status !== 200) throw new Error(`login ${user}: ${r.status} ${await r.text()}`);
  return (await r.json()).token;
}

async function apiAs(s, tok, method, p, body) {
  const r = await fetch(s.url + p, {
    method,
    headers: { Authorization: `Bearer ${tok}`, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  let json = null;
  try { json = text ? JSON.parse(text) : null; } catch { json = null; }
  return { status: r.status, json, text, headers: r.headers };
}

/** Fills the sign-in form and presses a button ("Sign in" or "Register"). */
async function submitAuth(page, user, password, button) {
  await page.getByLabel('User name', { exact: true }).fill(user);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: button, exact: true }).click();
}

/** Opens the app in a new context (or ctx) and signs in through the form;
 * with opts.register, registers through the form first. */
async function signedInPage(browser, s, user, opts = {}) {
  const ctx = opts.ctx || await newContext(browser, opts);
  const page = await ctx.newPage();
  await page.goto(s.url + '/');
  await submitAuth(page, user, PASSWORD, opts.register ? 'Register' : 'Sign in');
  await waitSignedIn(page, user);
  return { ctx, page };
}

async function waitSignedIn(page, user) {
  await page.getByRole('button', { name: 'Sign out', exact: true }).waitFor();
  await page.locator('#me-name', { hasText: user }).waitFor();
}

/** Waits until the status line says live over the given transport. */
async function waitLive(page, transport, timeout = 15000) {
  const name = { ws: 'WebSocket', sse: 'SSE', poll: 'long-poll' }[transport];
  try {
    await page.locator(`#status[data-state="live"][data-transport="${transport}"]`).waitFor({ timeout });
  } catch (err) {
    const now = await page.locator('#status').evaluate((e) => e.outerHTML).catch(() => '?');
    throw new Error(`not live via ${transport} after ${timeout} ms; status: ${now}`);
  }
  const text = await page.locator('#status-text').textContent();
  if (!text.includes(name)) throw new Error(`status says "${text}", not ${name}`);
}

function convList(page) {
  return page.getByRole('list', { name: 'Conversations', exact: true });
}

function convItem(page, name) {
  return convList(page).getByRole('listitem').filter({
    has: page.locator('.conv-name', { hasText: new RegExp(`^${escapeRe(name)}$`, 'i') }),
  });
}

function messages(page) {
  return page.getByRole('list', { name: 'Messages', exact: true }).getByRole('listitem');
}

function escapeRe(s) {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Opens a conversation through the "Chat with" box (a user or #room). */
async function openChat(page, name) {
  const item = convItem(page, name);
  if (await item.count()) {
    await item.getByRole('button').click();
  } else {
    await page.getByLabel('Open a chat with a user or #room').fill(name);
    await page.getByRole('button', { name: 'Open', exact: true }).click();
  }
  await page.locator('#chat-name', { hasText: new RegExp(`^${escapeRe(name)}$`, 'i') }).waitFor();
}

async function sendText(page, text) {
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill(text);
  await box.press('Enter');
}

/** Waits until the open conversation shows a message with exactly this text. */
async function waitMessage(page, text, timeout = 15000) {
  await messages(page).filter({ has: page.locator('.msg-text', { hasText: exactRe(text) }) })
    .first().waitFor({ timeout });
}

function exactRe(text) {
  return new RegExp(`^${escapeRe(text)}$`);
}

/** The texts of the messages shown in the open conversation, in order. */
async function messageTexts(page) {
  return page.locator('#messages li.msg .msg-text').allTextContents();
}

async function shot(page, name) {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file });
  return file;
}

async function waitFor(fn, { timeout = 15000, interval = 100, what = 'condition' } = {}) {
  const end = Date.now() + timeout;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${what}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One stack for a test file, with a send rate limit that a test which
 * writes fast does not hit. */
async function startTestStack(conf = '') {
  return startStack({ conf: `[send]\nsend_max = 100000\n${conf}` });
}

module.exports = {
  PASSWORD, ARTIFACTS, launch, newContext, register, token, apiAs, submitAuth, signedInPage,
  waitSignedIn, waitLive, convList, convItem, messages, openChat, sendText, waitMessage,
  messageTexts, shot, waitFor, sleep, startStack: startTestStack, exactRe,
};
