'use strict';
// A small HTTP client for the integration tests: JSON / form / raw bodies,
// bearer or cookie auth, lower-cased response headers, parsed JSON replies.
// Plain node:http so that every header (Origin, Cookie, Content-Type) goes
// out exactly as written.

const http = require('node:http');
const assert = require('node:assert/strict');

const REQUEST_TIMEOUT_MS = 15000;

let nameCounter = 0;

// A valid, unique name: [A-Za-z0-9][A-Za-z0-9_.-]{0,31}. Lower case so that
// the name "as registered" and its lower-cased key form are the same string.
function uniqueName(prefix = 'u') {
  nameCounter += 1;
  const tail = `${process.pid.toString(36)}${nameCounter.toString(36)}` +
    Math.floor(Math.random() * 36 ** 4).toString(36);
  let p = String(prefix).toLowerCase().replace(/[^a-z0-9_.-]/g, '');
  if (!/^[a-z0-9]/.test(p)) p = `u${p}`;
  const room = 32 - tail.length - 1;
  return `${p.slice(0, room)}_${tail}`;
}

function toQuery(query) {
  if (query == null) return '';
  if (typeof query === 'string') return query.startsWith('?') ? query : `?${query}`;
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined) qs.append(k, String(v));
  }
  const s = qs.toString();
  return s ? `?${s}` : '';
}

// One raw request. Returns {status, headers, body, text, buf}. headers is a
// plain object with lower-cased names; set-cookie is an array.
function request(base, method, path, { body, headers = {}, timeout = REQUEST_TIMEOUT_MS } = {}) {
  const url = new URL(path, base);
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, headers, agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const buf = Buffer.concat(chunks);
        const text = buf.toString('utf8');
        let parsed = null;
        const ct = String(res.headers['content-type'] || '');
        if (text.length > 0 && /json/i.test(ct)) {
          try { parsed = JSON.parse(text); } catch { parsed = null; }
        }
        resolve({ status: res.statusCode, headers: res.headers, body: parsed, text, buf });
      });
    });
    req.setTimeout(timeout, () => {
      req.destroy(new Error(`${method} ${path}: no answer within ${timeout} ms`));
    });
    req.on('error', reject);
    if (body != null) req.end(body); else req.end();
  });
}

class Client {
  constructor(base) {
    this.base = base;
    this.token = null;   // set by login()
    this.user = null;    // the name as the server returned it
    this.cookie = null;  // "sid=<value>" from the login's Set-Cookie
  }

  // opts: json (object, sent as JSON), form (object or pre-encoded string),
  // raw (Buffer/string, Content-Type from headers, default application/json),
  // query (object or string), headers, auth (send the bearer token; default
  // true), timeout (ms).
  async req(method, path, { json, form, query, headers = {}, raw, auth = true, timeout } = {}) {
    const h = {};
    for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
    let body = null;
    if (json !== undefined) {
      body = Buffer.from(JSON.stringify(json), 'utf8');
      if (!('content-type' in h)) h['content-type'] = 'application/json';
    } else if (form !== undefined) {
      const s = typeof form === 'string' ? form : new URLSearchParams(
        Object.entries(form).map(([k, v]) => [k, String(v)])).toString();
      body = Buffer.from(s, 'latin1');
      if (!('content-type' in h)) h['content-type'] = 'application/x-www-form-urlencoded';
    } else if (raw !== undefined) {
      body = Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw), 'utf8');
      if (!('content-type' in h)) h['content-type'] = 'application/json';
    }
    if (body != null) h['content-length'] = String(body.length);
    if (auth && this.token && !('authorization' in h)) h.authorization = `Bearer ${this.token}`;
    return request(this.base, method, path + toQuery(query), { body, headers: h, timeout });
  }

  get(path, opts) { return this.req('GET', path, opts); }
  post(path, opts) { return this.req('POST', path, opts); }

  async register(user, password) {
    return this.req('POST', '/api/auth/register', { json: { user, password }, auth: false });
  }

  // Logs in; on 200 keeps the token, the name and the sid cookie.
  async login(user, password, opts = {}) {
    const res = await this.req('POST', '/api/auth/login',
      { json: { user, password }, auth: false, ...opts });
    if (res.status === 200 && res.body && typeof res.body.token === 'string') {
      this.token = res.body.token;
      this.user = res.body.user;
      const sid = findCookie(res, 'sid');
      this.cookie = sid ? `sid=${sid.value}` : null;
    }
    return res;
  }

  // Convenience wrappers used by several test files.
  send(fields) { return this.post('/api/send', { json: fields }); }
  history(conv, query = {}) { return this.get('/api/history', { query: { conv, ...query } }); }
  conversations() { return this.get('/api/conversations'); }
  me() { return this.get('/api/auth/me'); }
}

// Parses the Set-Cookie headers of a response; returns the named cookie as
// {name, value, attrs: {lower-cased attribute: value or true}, raw}, or null.
function findCookie(res, name) {
  let list = res.headers['set-cookie'] || [];
  if (!Array.isArray(list)) list = [list];
  for (const raw of list) {
    const parts = raw.split(';').map((p) => p.trim());
    const eq = parts[0].indexOf('=');
    if (eq < 0 || parts[0].slice(0, eq).trim() !== name) continue;
    const attrs = {};
    for (const p of parts.slice(1)) {
      if (!p) continue;
      const i = p.indexOf('=');
      if (i < 0) attrs[p.toLowerCase()] = true;
      else attrs[p.slice(0, i).trim().toLowerCase()] = p.slice(i + 1).trim();
    }
    return { name, value: parts[0].slice(eq + 1).trim(), attrs, raw };
  }
  return null;
}

const DEFAULT_PASSWORD = 'correct horse battery';

// Registers and logs in a fresh user; returns the logged-in Client with
// .password set.
async function newUser(base, prefix = 'u', password = DEFAULT_PASSWORD) {
  const c = new Client(base);
  const name = uniqueName(prefix);
  const r = await c.register(name, password);
  assert.equal(r.status, 201, `register ${name}: ${r.status} ${r.text}`);
  const l = await c.login(name, password);
  assert.equal(l.status, 200, `login ${name}: ${l.status} ${l.text}`);
  c.password = password;
  return c;
}

// Registers a user without logging in (e.g. to test offline delivery).
async function registeredUser(base, prefix = 'u', password = DEFAULT_PASSWORD) {
  const c = new Client(base);
  const name = uniqueName(prefix);
  const r = await c.register(name, password);
  assert.equal(r.status, 201, `register ${name}: ${r.status} ${r.text}`);
  c.user = name;
  c.password = password;
  return c;
}

function describeRes(res) {
  return `${res.status} ${JSON.stringify(res.headers['content-type'] || null)} ${res.text.slice(0, 300)}`;
}

// Asserts the PROTOCOL error shape: the status, Content-Type
// application/json and {"error":{"code","message"}}.
function assertError(res, status, code, context = '') {
  const what = `${context ? `${context}: ` : ''}${describeRes(res)}`;
  assert.equal(res.status, status, `status; got ${what}`);
  assert.match(String(res.headers['content-type'] || ''), /^application\/json\b/i,
    `Content-Type; got ${what}`);
  assert.ok(res.body && typeof res.body === 'object' && res.body.error &&
    typeof res.body.error === 'object', `error object; got ${what}`);
  assert.equal(res.body.error.code, code, `error code; got ${what}`);
  assert.equal(typeof res.body.error.message, 'string', `error message; got ${what}`);
  if (status === 429 || status === 503) assertRetryAfter(res, what);
}

// Retry-After must be a positive integer number of seconds.
function assertRetryAfter(res, context = '') {
  const ra = res.headers['retry-after'];
  assert.ok(ra !== undefined, `Retry-After header missing; ${context || describeRes(res)}`);
  assert.match(String(ra), /^[1-9][0-9]*$/, `Retry-After not a positive integer: ${ra}`);
}

// Asserts a 2xx JSON reply with the given status and returns its body.
function assertOk(res, status = 200, context = '') {
  const what = `${context ? `${context}: ` : ''}${describeRes(res)}`;
  assert.equal(res.status, status, `status; got ${what}`);
  if (status !== 204) {
    assert.match(String(res.headers['content-type'] || ''), /^application\/json\b/i,
      `Content-Type; got ${what}`);
    assert.ok(res.body && typeof res.body === 'object', `JSON body; got ${what}`);
  }
  return res.body;
}

// Polls fn() until it returns a truthy value or the deadline passes; then
// throws with the last value seen. Never a fixed sleep: a short pause between
// attempts, bounded by the deadline.
async function waitFor(fn, { timeout = 10000, interval = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeout} ms waiting for ${what}; last: ${
        last instanceof Error ? last.stack : JSON.stringify(last)}`);
    }
    await new Promise((r) => setTimeout(r, interval));
  }
}

// Waits until the wall clock is past ts (ms), so that the next server
// timestamp is strictly later: ordering tests must not depend on luck.
async function waitPastMs(ts) {
  await waitFor(() => Date.now() > ts + 1, { timeout: 2000, interval: 1, what: `clock past ${ts}` });
}

module.exports = {
  Client,
  request,
  uniqueName,
  newUser,
  registeredUser,
  assertError,
  assertOk,
  assertRetryAfter,
  findCookie,
  waitFor,
  waitPastMs,
  describeRes,
  DEFAULT_PASSWORD,
};
