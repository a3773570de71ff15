'use strict';
// chat-auth against the PROTOCOL.md contract: register, login, logout, me,
// rate limits, Origin checks, sessions and body limits.

const { describe, test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { startStack } = require('./lib/stack');
const {
  Client, uniqueName, newUser, assertError, assertOk, assertRetryAfter,
  findCookie, waitFor, DEFAULT_PASSWORD,
} = require('./lib/http');

const MAX_BODY = 1024;
const LOGIN_MAX_USER = 3;
const LOGIN_MAX_ADDR = 5;

// Cheap Argon2id so the many logins stay fast; the address limit is high
// here (every request comes from 127.0.0.1) and tested on its own stack.
const FAST_PW = 'pw_opslimit = 1\npw_memlimit_kib = 8192\n';
const CONF = `[auth]\nlogin_max_user = ${LOGIN_MAX_USER}\nlogin_max_addr = 100000\n` +
  `login_window = 300\n${FAST_PW}[limits]\nmax_body = ${MAX_BODY}\n`;

let s;
const logs = () => `\n--- server logs ---\n${s ? s.logs() : '(no stack)'}`;

before(async () => {
  s = await startStack({ conf: CONF });
});

after(async () => {
  if (s) await s.stop();
});

// The Redis keys of the sessions that belong to user (by display name).
async function sessionKeysOf(user) {
  const out = await s.redis('KEYS', 'sb:sess:*');
  const keys = out.split('\n').map((k) => k.trim()).filter(Boolean);
  const mine = [];
  for (const k of keys) {
    const type = (await s.redis('TYPE', k)).trim();
    let content = '';
    if (type === 'hash') content = await s.redis('HGETALL', k);
    else if (type === 'string') content = await s.redis('GET', k);
    const fields = content.split('\n').map((x) => x.trim().toLowerCase());
    if (fields.includes(user.toLowerCase()) || content.toLowerCase().includes(`"${user.toLowerCase()}"`)) {
      mine.push(k);
    }
  }
  return mine;
}

describe('register', () => {
  test('a new user gets 201 {"user"}', async () => {
    const c = new Client(s.url);
    const name = uniqueName('reg');
    const res = await c.register(name, DEFAULT_PASSWORD);
    const body = assertOk(res, 201, logs());
    assert.equal(body.user, name);
  });

  test('registering a taken name is 409 conflict', async () => {
    const c = new Client(s.url);
    const name = uniqueName('dup');
    assertOk(await c.register(name, DEFAULT_PASSWORD), 201);
    assertError(await c.register(name, 'another password'), 409, 'conflict');
  });

  test('names are unique without regard to case (Alice vs alice)', async () => {
    const c = new Client(s.url);
    const lower = uniqueName('alice');
    const upper = lower[0].toUpperCase() + lower.slice(1).toUpperCase();
    assertOk(await c.register(upper, DEFAULT_PASSWORD), 201);
    assertError(await c.register(lower, DEFAULT_PASSWORD), 409, 'conflict');
    assertError(await c.register(upper, DEFAULT_PASSWORD), 409, 'conflict');
  });

  test('a name of exactly 32 characters is accepted', async () => {
    const c = new Client(s.url);
    const base = uniqueName('n');
    const name = (base + 'x'.repeat(32)).slice(0, 32);
    const body = assertOk(await c.register(name, DEFAULT_PASSWORD), 201);
    assert.equal(body.user, name);
  });

  const badNames = [
    ['empty', ''],
    ['33 characters', 'a'.repeat(33)],
    ['starting with "."', '.abc'],
    ['starting with "_"', '_abc'],
    ['starting with "-"', '-abc'],
    ['with a space', 'a b'],
    ['with a slash', 'a/b'],
    ['with a colon', 'a:b'],
    ['with a "#"', '#abc'],
    ['unicode', 'ålice'],
    ['a NUL byte', 'ab\u0000cd'],
  ];
  for (const [label, name] of badNames) {
    test(`a bad name (${label}) is 400 bad_request`, async () => {
      const c = new Client(s.url);
      assertError(await c.register(name, DEFAULT_PASSWORD), 400, 'bad_request', label);
    });
  }

  test('a password of 7 bytes is 400, 8 bytes is accepted', async () => {
    const c = new Client(s.url);
    assertError(await c.register(uniqueName('pw'), '1234567'), 400, 'bad_request');
    assertOk(await c.register(uniqueName('pw'), '12345678'), 201);
  });

  test('password length counts bytes: 4 two-byte characters (8 bytes) are accepted', async () => {
    const c = new Client(s.url);
    const name = uniqueName('pwb');
    assertOk(await c.register(name, 'éééé'), 201);
    assertOk(await c.login(name, 'éééé'), 200);
  });

  test('a password of 256 bytes is accepted, 257 bytes is 400', async () => {
    const c = new Client(s.url);
    assertOk(await c.register(uniqueName('pwl'), 'p'.repeat(256)), 201);
    assertError(await c.register(uniqueName('pwl'), 'p'.repeat(257)), 400, 'bad_request');
    // 129 two-byte characters: 258 bytes although only 129 characters.
    assertError(await c.register(uniqueName('pwl'), 'é'.repeat(129)), 400, 'bad_request');
  });

  test('missing fields are 400 bad_request', async () => {
    const c = new Client(s.url);
    const path = '/api/auth/register';
    assertError(await c.post(path, { json: {}, auth: false }), 400, 'bad_request', 'no fields');
    assertError(await c.post(path, { json: { user: uniqueName('m') }, auth: false }),
      400, 'bad_request', 'no password');
    assertError(await c.post(path, { json: { password: DEFAULT_PASSWORD }, auth: false }),
      400, 'bad_request', 'no user');
    assertError(await c.post(path, { json: { user: 12345, password: DEFAULT_PASSWORD }, auth: false }),
      400, 'bad_request', 'user is a number');
  });

  test('invalid JSON and non-object JSON are 400 bad_request', async () => {
    const c = new Client(s.url);
    const path = '/api/auth/register';
    assertError(await c.post(path, { raw: '{"user":"x", "password":', auth: false }),
      400, 'bad_request', 'truncated JSON');
    assertError(await c.post(path, { raw: '[1,2,3]', auth: false }), 400, 'bad_request', 'array');
    assertError(await c.post(path, { raw: '"text"', auth: false }), 400, 'bad_request', 'string');
  });

  test('an application/x-www-form-urlencoded body works for register and login', async () => {
    const c = new Client(s.url);
    const name = uniqueName('form');
    const pw = 'p&ss=w rd+%';
    const reg = await c.post('/api/auth/register', { form: { user: name, password: pw }, auth: false });
    assert.equal(assertOk(reg, 201).user, name);
    const login = await c.post('/api/auth/login', { form: { user: name, password: pw }, auth: false });
    const body = assertOk(login, 200);
    assert.equal(body.user, name);
    assert.equal(typeof body.token, 'string');
    // The same password sent as JSON must match what the form carried.
    assertOk(await c.login(name, pw), 200);
  });
});

describe('login', () => {
  test('login gives 200 {"user","token"} and an HttpOnly SameSite=Lax sid cookie', async () => {
    const c = new Client(s.url);
    const name = uniqueName('login');
    assertOk(await c.register(name, DEFAULT_PASSWORD), 201);
    const res = await c.login(name, DEFAULT_PASSWORD);
    const body = assertOk(res, 200, logs());
    assert.equal(body.user, name);
    assert.equal(typeof body.token, 'string');
    assert.ok(body.token.length >= 32, `token too short: ${body.token}`);
    const sid = findCookie(res, 'sid');
    assert.ok(sid, `no sid cookie in ${JSON.stringify(res.headers['set-cookie'])}`);
    assert.ok(sid.value.length > 0, 'sid cookie is empty');
    assert.equal(sid.value, body.token, 'cookie sid carries the token');
    assert.equal(sid.attrs.httponly, true, `not HttpOnly: ${sid.raw}`);
    assert.match(String(sid.attrs.samesite), /^lax$/i, `not SameSite=Lax: ${sid.raw}`);
    assert.equal(sid.attrs.secure, undefined, `Secure on plain HTTP: ${sid.raw}`);
  });

  test('two logins give two different tokens', async () => {
    const a = await newUser(s.url, 'twice');
    const b = new Client(s.url);
    assertOk(await b.login(a.user, a.password), 200);
    assert.notEqual(a.token, b.token);
  });

  test('login with another case of the name works and returns the name as registered', async () => {
    const c = new Client(s.url);
    const base = uniqueName('camel');
    const name = `Camel${base.slice(5)}`.slice(0, 32);
    assertOk(await c.register(name, DEFAULT_PASSWORD), 201);
    const res = await c.login(name.toLowerCase(), DEFAULT_PASSWORD);
    assert.equal(assertOk(res, 200).user, name);
    const me = assertOk(await c.me(), 200);
    assert.equal(me.user, name);
    const res2 = await c.login(name.toUpperCase(), DEFAULT_PASSWORD);
    assert.equal(assertOk(res2, 200).user, name);
  });

  test('a wrong password is 401 unauthorized and sets no session cookie', async () => {
    const u = await newUser(s.url, 'wrongpw');
    const c = new Client(s.url);
    const res = await c.login(u.user, 'not the password');
    assertError(res, 401, 'unauthorized');
    const sid = findCookie(res, 'sid');
    assert.ok(!sid || sid.value === '', `a failed login set a cookie: ${sid && sid.raw}`);
  });

  test('an unknown user is 401 unauthorized', async () => {
    const c = new Client(s.url);
    assertError(await c.login(uniqueName('nobody'), DEFAULT_PASSWORD), 401, 'unauthorized');
  });

  test('login with missing fields is 400 bad_request', async () => {
    const c = new Client(s.url);
    assertError(await c.post('/api/auth/login', { json: { user: uniqueName('x') }, auth: false }),
      400, 'bad_request');
    assertError(await c.post('/api/auth/login', { json: {}, auth: false }), 400, 'bad_request');
  });

  test(`after ${LOGIN_MAX_USER} failed logins the user gets 429 with Retry-After, even with the right password`, async () => {
    const u = await newUser(s.url, 'rlu');
    const c = new Client(s.url);
    for (let i = 0; i < LOGIN_MAX_USER; i++) {
      assertError(await c.login(u.user, `wrong password ${i}`), 401, 'unauthorized', `attempt ${i + 1}`);
    }
    const limited = await c.login(u.user, u.password);
    assertError(limited, 429, 'rate_limited', 'right password after the limit');
    assertRetryAfter(limited);
    assert.ok(Number(limited.headers['retry-after']) <= 300,
      `Retry-After beyond login_window: ${limited.headers['retry-after']}`);
    assert.equal(c.token, null, 'a rate-limited login must not give a token');
    // Another case of the same name is the same user: still limited.
    assertError(await c.login(u.user.toUpperCase(), u.password), 429, 'rate_limited', 'upper case');
    // The session opened before the attack still works.
    assertOk(await u.me(), 200);
    // Another user is not affected by this user's limit.
    const other = await newUser(s.url, 'rlo');
    assertOk(await new Client(s.url).login(other.user, other.password), 200);
  });
});

describe('me, sessions and logout', () => {
  test('me with a bearer token: 200 {"user","rooms":[],"cursor"}', async () => {
    const u = await newUser(s.url, 'me');
    const body = assertOk(await u.me(), 200);
    assert.equal(body.user, u.user);
    assert.deepEqual(body.rooms, []);
    assert.equal(typeof body.cursor, 'string');
  });

  test('me with the sid cookie (no bearer) works', async () => {
    const u = await newUser(s.url, 'cookie');
    assert.ok(u.cookie, 'login set no sid cookie');
    const res = await u.get('/api/auth/me', { auth: false, headers: { cookie: u.cookie } });
    const body = assertOk(res, 200);
    assert.equal(body.user, u.user);
    assert.deepEqual(body.rooms, []);
    assert.equal(typeof body.cursor, 'string');
    // Among other cookies too.
    const res2 = await u.get('/api/auth/me',
      { auth: false, headers: { cookie: `theme=dark; ${u.cookie}; lang=en` } });
    assert.equal(assertOk(res2, 200).user, u.user);
  });

  test('me without auth is 401 unauthorized', async () => {
    const c = new Client(s.url);
    assertError(await c.me(), 401, 'unauthorized');
  });

  test('me with a garbage token or cookie is 401 unauthorized', async () => {
    const c = new Client(s.url);
    for (const h of [
      { authorization: 'Bearer garbage' },
      { authorization: `Bearer ${'0'.repeat(64)}` },
      { authorization: 'Bearer ' },
      { authorization: 'Basic YWxpY2U6cHc=' },
      { cookie: 'sid=garbage' },
      { cookie: 'sid=' },
    ]) {
      assertError(await c.get('/api/auth/me', { headers: h, auth: false }), 401, 'unauthorized',
        JSON.stringify(h));
    }
  });

  test('logout: 204, the cookie is cleared, the token no longer works, other sessions do', async () => {
    const u = await newUser(s.url, 'logout');
    const other = new Client(s.url);
    assertOk(await other.login(u.user, u.password), 200);
    const res = await u.post('/api/auth/logout');
    assert.equal(res.status, 204, `logout: ${res.status} ${res.text}`);
    const sid = findCookie(res, 'sid');
    assert.ok(sid, `logout did not clear the sid cookie: ${JSON.stringify(res.headers['set-cookie'])}`);
    const cleared = sid.value === '' || sid.attrs['max-age'] === '0' ||
      (typeof sid.attrs.expires === 'string' && Date.parse(sid.attrs.expires) < Date.now());
    assert.ok(cleared, `sid cookie not cleared: ${sid.raw}`);
    assertError(await u.me(), 401, 'unauthorized', 'me after logout');
    assertError(await u.get('/api/auth/me', { auth: false, headers: { cookie: u.cookie } }),
      401, 'unauthorized', 'cookie after logout');
    assertOk(await other.me(), 200, 'the other session survives a plain logout');
  });

  test('logout with the cookie instead of the bearer token works', async () => {
    const u = await newUser(s.url, 'logoutc');
    const res = await u.post('/api/auth/logout', { auth: false, headers: { cookie: u.cookie } });
    assert.equal(res.status, 204, `logout: ${res.status} ${res.text}`);
    assertError(await u.me(), 401, 'unauthorized');
  });

  test('logout all=1 ends every session of the user, not other users\'', async () => {
    const u = await newUser(s.url, 'logall');
    const second = new Client(s.url);
    const third = new Client(s.url);
    assertOk(await second.login(u.user, u.password), 200);
    assertOk(await third.login(u.user, u.password), 200);
    const bystander = await newUser(s.url, 'bystander');
    const res = await second.post('/api/auth/logout', { form: { all: 1 } });
    assert.equal(res.status, 204, `logout all: ${res.status} ${res.text}`);
    for (const [label, c] of [['first', u], ['second', second], ['third', third]]) {
      assertError(await c.me(), 401, 'unauthorized', `${label} session after logout all`);
    }
    assertOk(await bystander.me(), 200, 'another user keeps their session');
    // A new login after that works.
    const again = new Client(s.url);
    assertOk(await again.login(u.user, u.password), 200);
    assertOk(await again.me(), 200);
  });

  test('logout all with a JSON body {"all":1} works too', async () => {
    const u = await newUser(s.url, 'logallj');
    const second = new Client(s.url);
    assertOk(await second.login(u.user, u.password), 200);
    const res = await u.post('/api/auth/logout', { json: { all: 1 } });
    assert.equal(res.status, 204, `logout all: ${res.status} ${res.text}`);
    assertError(await second.me(), 401, 'unauthorized');
  });

  test('a session whose Redis key is deleted is 401', async () => {
    const u = await newUser(s.url, 'expdel');
    const other = await newUser(s.url, 'expkeep');
    assertOk(await u.me(), 200);
    const keys = await sessionKeysOf(u.user);
    assert.equal(keys.length, 1, `expected one sb:sess:* key for ${u.user}, found ${JSON.stringify(keys)}`);
    await s.redis('DEL', keys[0]);
    assertError(await u.me(), 401, 'unauthorized');
    assertOk(await other.me(), 200);
  });

  test('using a session refreshes its TTL', async () => {
    const u = await newUser(s.url, 'refresh');
    const keys = await sessionKeysOf(u.user);
    assert.equal(keys.length, 1, JSON.stringify(keys));
    const full = Number(await s.redis('TTL', keys[0]));
    assert.ok(full > 100, `session TTL ${full}`);
    await s.redis('EXPIRE', keys[0], '100');
    assertOk(await u.me(), 200);
    const after = Number(await s.redis('TTL', keys[0]));
    assert.ok(after > 100, `TTL not refreshed by use: ${after} (was ${full})`);
  });

  test('a session that expires in Redis is 401', async () => {
    const u = await newUser(s.url, 'expttl');
    const keys = await sessionKeysOf(u.user);
    assert.equal(keys.length, 1, `expected one sb:sess:* key for ${u.user}, found ${JSON.stringify(keys)}`);
    const ttl = Number((await s.redis('TTL', keys[0])).trim());
    assert.ok(ttl > 0, `session key has no TTL: ${ttl}`);
    await s.redis('PEXPIRE', keys[0], '1');
    // Watch Redis, not the API: a request would refresh the TTL.
    await waitFor(async () => (await s.redis('EXISTS', keys[0])).trim() === '0',
      { timeout: 5000, what: 'the session key to expire' });
    assertError(await u.me(), 401, 'unauthorized');
  });
});

describe('Origin', () => {
  test('POST login with a foreign Origin is 403 forbidden', async () => {
    const u = await newUser(s.url, 'origin');
    const c = new Client(s.url);
    const res = await c.login(u.user, u.password, { headers: { origin: 'http://evil.example' } });
    assertError(res, 403, 'forbidden');
    assert.equal(c.token, null);
    assert.equal(findCookie(res, 'sid'), null, 'a refused login must not set a cookie');
  });

  test('POST register with a foreign Origin is 403 forbidden and creates nobody', async () => {
    const c = new Client(s.url);
    const name = uniqueName('evilreg');
    const res = await c.post('/api/auth/register',
      { json: { user: name, password: DEFAULT_PASSWORD }, auth: false, headers: { origin: 'http://evil.example' } });
    assertError(res, 403, 'forbidden');
    assertOk(await c.register(name, DEFAULT_PASSWORD), 201, 'the name is still free');
  });

  test('an Origin on another port of the same host is 403', async () => {
    const u = await newUser(s.url, 'originp');
    const port = Number(new URL(s.url).port);
    const res = await new Client(s.url).login(u.user, u.password,
      { headers: { origin: `http://127.0.0.1:${port === 1 ? 2 : port - 1}` } });
    assertError(res, 403, 'forbidden');
  });

  test('POST logout with a foreign Origin is 403 and keeps the session', async () => {
    const u = await newUser(s.url, 'originlo');
    const res = await u.post('/api/auth/logout', { headers: { origin: 'http://evil.example' } });
    assertError(res, 403, 'forbidden');
    assertOk(await u.me(), 200);
  });

  test('GET me with a foreign Origin is 403 too (any request carrying a bad Origin)', async () => {
    const u = await newUser(s.url, 'origing');
    assertError(await u.get('/api/auth/me', { headers: { origin: 'http://evil.example' } }),
      403, 'forbidden');
  });

  test('POST login with the server\'s own Origin is allowed', async () => {
    const u = await newUser(s.url, 'originok');
    const c = new Client(s.url);
    const origin = new URL(s.url).origin; // http://127.0.0.1:PORT
    const res = await c.login(u.user, u.password, { headers: { origin } });
    assert.equal(assertOk(res, 200, logs()).user, u.user);
  });

  test('POST login without Origin is allowed', async () => {
    const u = await newUser(s.url, 'originno');
    const res = await new Client(s.url).login(u.user, u.password);
    assert.equal(assertOk(res, 200).user, u.user);
  });
});

describe('body size', () => {
  test(`a body over max_body (${MAX_BODY}) is 413 too_large`, async () => {
    const c = new Client(s.url);
    const name = uniqueName('big');
    const res = await c.post('/api/auth/register',
      { json: { user: name, password: DEFAULT_PASSWORD, pad: 'x'.repeat(MAX_BODY * 2) }, auth: false });
    assertError(res, 413, 'too_large');
    const res2 = await c.post('/api/auth/login',
      { json: { user: name, password: 'y'.repeat(MAX_BODY * 4) }, auth: false });
    assertError(res2, 413, 'too_large');
    // Nothing was created by the refused register.
    assertOk(await c.register(name, DEFAULT_PASSWORD), 201);
  });

  test('a body just under max_body is accepted', async () => {
    const c = new Client(s.url);
    const name = uniqueName('fits');
    const json = { user: name, password: DEFAULT_PASSWORD, pad: '' };
    json.pad = 'x'.repeat(MAX_BODY - Buffer.byteLength(JSON.stringify(json)) - 1);
    assert.ok(Buffer.byteLength(JSON.stringify(json)) < MAX_BODY);
    assertOk(await c.post('/api/auth/register', { json, auth: false }), 201);
  });
});

// The per-address limit counts every login from one address; all test
// requests come from 127.0.0.1, so it gets a stack of its own.
describe('per-address login limit', () => {
  let s2;
  before(async () => {
    s2 = await startStack({
      conf: `[auth]\nlogin_max_user = 1000\nlogin_max_addr = ${LOGIN_MAX_ADDR}\n` +
        `login_window = 300\n${FAST_PW}`,
    });
  });
  after(async () => {
    if (s2) await s2.stop();
  });

  test(`after ${LOGIN_MAX_ADDR} failed logins from one address: 429 with Retry-After, for any user`, async () => {
    const c = new Client(s2.url);
    const name = uniqueName('addr');
    assertOk(await c.register(name, DEFAULT_PASSWORD), 201);
    let first429 = -1;
    let last;
    for (let i = 0; i < LOGIN_MAX_ADDR + 1; i++) {
      // A different (unknown) user each time: only the address links them.
      last = await c.login(uniqueName('ghost'), 'wrong password');
      if (last.status === 429) { first429 = i; break; }
      assertError(last, 401, 'unauthorized', `attempt ${i + 1}\n${s2.logs()}`);
    }
    assert.equal(first429, LOGIN_MAX_ADDR,
      `expected attempt ${LOGIN_MAX_ADDR + 1} to be refused, got ${first429 + 1}`);
    assertError(last, 429, 'rate_limited');
    const right = await c.login(name, DEFAULT_PASSWORD);
    assertError(right, 429, 'rate_limited', 'right password from a limited address');
    assertRetryAfter(right);
    assert.equal(c.token, null);
  });
});
