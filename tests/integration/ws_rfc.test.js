'use strict';
// wsgate and RFC 6455, with a raw-socket client (lib/rawws.js) so that
// frames a real client library never sends can be sent: handshake
// refusals (400/426/401/403/405), the masking requirement, reserved bits
// and opcodes, ping/pong payload echo, fragmented messages with an
// interleaved ping, invalid UTF-8 (also split across fragments), close
// codes (valid echoed, invalid → 1002), oversize → 1009, binary → 1003.
// After each violation a fresh client still gets its hello.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const net = require('node:net');
const { startStack } = require('./lib/stack');
const { newUser, request, waitFor } = require('./lib/http');
const {
  OP, RawWs, rawRequest, newKey, closePayload, buildFrame,
} = require('./lib/rawws');

const MAX_MESSAGE = 1024;
const MAX_HEADER = 2048;
const HANDSHAKE_TIMEOUT_S = 2;
const CONF = '[auth]\nlogin_max_addr = 100000\n[send]\nsend_max = 100000\n' +
  `[ws]\nmax_message = ${MAX_MESSAGE}\nmax_header = ${MAX_HEADER}\n` +
  `handshake_timeout = ${HANDSHAKE_TIMEOUT_S}\n`;
const WAIT_MS = 8000;

let s;
let u;   // the signed-in user most tests connect as
const open = new Set();

before(async () => {
  s = await startStack({ conf: CONF });
  u = await newUser(s.url, 'rfc');
});

after(async () => {
  for (const c of open) c.close();
  if (s) await s.stop();
});

// ---------------------------------------------------------------- helpers

async function connect(opts = {}) {
  const ws = await RawWs.connect(s.wsPort, { token: u.token, ...opts });
  open.add(ws);
  return ws;
}

/** A connection that has received its hello (the server is serving). */
async function ready(opts = {}) {
  const ws = await connect(opts);
  const hello = await ws.waitMsg((m) => m.type === 'hello', { timeout: WAIT_MS, what: 'hello' });
  assert.equal(hello.user, u.user, `hello.user: ${JSON.stringify(hello)}`);
  assert.equal(typeof hello.cursor, 'string', `hello.cursor: ${JSON.stringify(hello)}`);
  return ws;
}

/** The server still serves: a new client gets hello and an answer to ping. */
async function stillServes(context) {
  let ws;
  try {
    ws = await ready();
  } catch (e) {
    throw new Error(`after ${context}: a fresh client did not get hello: ${e.message}\n${s.logs()}`);
  }
  ws.send({ op: 'ping' });
  await ws.waitMsg((m) => m.type === 'pong', { timeout: WAIT_MS, what: `pong after ${context}` });
  ws.close();
  open.delete(ws);
}

/** Expects the server to close with `code`: a close frame carrying it,
 * nothing after it, then the end of the TCP connection. */
async function expectClose(ws, code, context) {
  let got;
  try {
    got = await ws.waitClose({ timeout: WAIT_MS });
  } catch (e) {
    throw new Error(`${context}: ${e.message}\n${s.logs()}`);
  }
  assert.equal(got.code, code, `${context}: close code ${got.code} (${JSON.stringify(got.reason)}); ${ws.describe()}`);
  assert.equal(got.framesAfterClose, 0, `${context}: frames after the close frame; ${ws.describe()}`);
  const cf = ws.closeFrame;
  assert.equal(cf.masked, false, `${context}: server frames are never masked`);
  assert.ok(cf.fin, `${context}: a close frame is never fragmented`);
  ws.close();
  open.delete(ws);
}

async function metrics() {
  const res = await request(s.adminUrl, 'GET', '/metrics');
  assert.equal(res.status, 200, `metrics: ${res.status} ${res.text}`);
  const m = {};
  for (const line of res.text.split('\n')) {
    const mm = /^(wsgate_\w+(?:\{[^}]*\})?) (\d+)$/.exec(line.trim());
    if (mm) m[mm[1]] = Number(mm[2]);
  }
  return m;
}

const refused = (reason) => `wsgate_upgrades_refused_total{reason="${reason}"}`;

/** A violation on a connection that has its hello: expects close `code`,
 * then checks that a fresh client is still served. */
async function violation(name, code, act) {
  const ws = await ready();
  await act(ws);
  await expectClose(ws, code, name);
  await stillServes(name);
}

// ---------------------------------------------------------------- handshake

test('a raw upgrade with Bearer or sid cookie gets 101 with the right Sec-WebSocket-Accept, then hello', async () => {
  await stillServes('nothing');   // Bearer
  const ws = await ready({ token: null, cookie: `sid=${u.token}` });
  ws.close();
  open.delete(ws);
  // Origin equal to http://<Host> is allowed.
  const ws2 = await ready({ origin: `http://127.0.0.1:${s.wsPort}` });
  ws2.close();
  open.delete(ws2);
});

test('handshake errors: 400 bad/missing key or headers, 426 version, 401 session, 403 Origin, 405 method', async () => {
  const m0 = await metrics();
  const cases = [
    { name: 'missing Sec-WebSocket-Key', opts: { key: null }, status: 400, reason: 'bad_request' },
    { name: 'key of 10 bytes', opts: { key: Buffer.from('the sample').toString('base64') }, status: 400, reason: 'bad_request' },
    { name: 'key of 17 bytes', opts: { key: Buffer.alloc(17, 7).toString('base64') }, status: 400, reason: 'bad_request' },
    { name: 'key not base64', opts: { key: '!!!!!!!!!!!!!!!!!!!!!!==' }, status: 400, reason: 'bad_request' },
    { name: 'missing Upgrade', opts: { upgrade: null }, status: 400, reason: 'bad_request' },
    { name: 'Upgrade: h2c', opts: { upgrade: 'h2c' }, status: 400, reason: 'bad_request' },
    { name: 'missing Connection', opts: { connection: null }, status: 400, reason: 'bad_request' },
    { name: 'Connection: keep-alive', opts: { connection: 'keep-alive' }, status: 400, reason: 'bad_request' },
    { name: 'HTTP/1.0', raw: `GET /ws HTTP/1.0\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${newKey()}\r\nSec-WebSocket-Version: 13\r\n\r\n`, status: 400, reason: 'bad_request' },
    { name: 'bad cursor', opts: { path: '/ws?cursor=not-a-cursor%21' }, status: 400, reason: 'bad_request' },
    { name: 'version 8', opts: { version: '8' }, status: 426, reason: 'version', v13: true },
    { name: 'missing version', opts: { version: null }, status: 426, reason: 'version', v13: true },
    { name: 'no session', opts: { token: null }, status: 401, reason: 'auth', code: 'unauthorized' },
    { name: 'unknown Bearer token', opts: { token: 'x'.repeat(43) }, status: 401, reason: 'auth', code: 'unauthorized' },
    { name: 'unknown sid cookie', opts: { token: null, cookie: `sid=${'y'.repeat(43)}` }, status: 401, reason: 'auth', code: 'unauthorized' },
    { name: 'foreign Origin', opts: { origin: 'http://evil.example' }, status: 403, reason: 'origin', code: 'forbidden' },
    { name: 'Origin with another port', opts: { origin: `http://127.0.0.1:${s.port}` }, status: 403, reason: 'origin', code: 'forbidden' },
    { name: 'POST', opts: { method: 'POST' }, status: 405, reason: 'method' },
  ];
  const expected = {};
  for (const c of cases) {
    const res = await rawRequest(s.wsPort, c.raw || { token: u.token, ...c.opts }, { timeout: WAIT_MS });
    const what = `${c.name}: ${res.statusLine} ${JSON.stringify(res.headers)} ${res.body}`;
    assert.equal(res.status, c.status, what);
    assert.notEqual(res.headers.upgrade, 'websocket', `${what}: no upgrade on a refusal`);
    assert.equal(res.headers['sec-websocket-accept'], undefined, what);
    if (c.v13) assert.equal(res.headers['sec-websocket-version'], '13', `${what}: Sec-WebSocket-Version: 13`);
    assert.match(String(res.headers['content-type'] || ''), /^application\/json\b/, what);
    assert.ok(res.json && res.json.error && typeof res.json.error.code === 'string' &&
      typeof res.json.error.message === 'string', `${what}: error JSON`);
    if (c.code) assert.equal(res.json.error.code, c.code, what);
    expected[c.reason] = (expected[c.reason] || 0) + 1;
    await stillServes(c.name);
  }
  const m1 = await metrics();
  for (const [reason, n] of Object.entries(expected)) {
    assert.equal(m1[refused(reason)] - m0[refused(reason)], n,
      `${refused(reason)} grew by ${n}: ${m0[refused(reason)]} → ${m1[refused(reason)]}`);
  }
});

test('the request head is bounded: too large → refused, too slow → dropped; the server still serves', async () => {
  const m0 = await metrics();
  const res = await rawRequest(s.wsPort, {
    token: u.token, headers: { 'X-Filler': 'f'.repeat(MAX_HEADER + 100) },
  }, { timeout: WAIT_MS });
  assert.ok(res.status >= 400 && res.status < 500, `oversized head: ${res.statusLine} ${res.body}`);
  await stillServes('an oversized head');

  // Slowloris: half a request head, never finished.
  const t0 = Date.now();
  const sock = net.connect(s.wsPort, '127.0.0.1');
  const ended = new Promise((resolve) => {
    sock.on('close', resolve);
    sock.on('error', () => {});
  });
  sock.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n');
  const timer = setTimeout(() => sock.destroy(new Error('still open')), (HANDSHAKE_TIMEOUT_S + 5) * 1000);
  await ended;
  clearTimeout(timer);
  const took = Date.now() - t0;
  assert.ok(took < (HANDSHAKE_TIMEOUT_S + 4) * 1000, `a slow head is dropped after ~${HANDSHAKE_TIMEOUT_S} s; took ${took} ms`);
  assert.ok(took >= (HANDSHAKE_TIMEOUT_S - 1) * 1000, `not before the handshake timeout; took ${took} ms`);
  await stillServes('a slow head');
  const m1 = await metrics();
  assert.ok(m1[refused('too_large')] > m0[refused('too_large')], 'too_large counted');
  assert.ok(m1[refused('timeout')] > m0[refused('timeout')], 'timeout counted');
});

// ---------------------------------------------------------------- frames

test('an unmasked client frame → close 1002', async () => {
  await violation('unmasked text frame', 1002, (ws) => {
    ws.sendFrame({ opcode: OP.TEXT, payload: '{"op":"ping"}', mask: false });
  });
  await violation('unmasked ping', 1002, (ws) => {
    ws.sendFrame({ opcode: OP.PING, payload: 'x', mask: false });
  });
});

test('reserved bits set (no extension negotiated) → close 1002', async () => {
  for (const rsv of [4, 2, 1]) {
    await violation(`RSV bits ${rsv.toString(2).padStart(3, '0')}`, 1002, (ws) => {
      ws.sendFrame({ opcode: OP.TEXT, rsv, payload: '{"op":"ping"}' });
    });
  }
});

test('reserved opcodes (0x3, 0xB) → close 1002', async () => {
  for (const opcode of [0x3, 0xb]) {
    await violation(`opcode 0x${opcode.toString(16)}`, 1002, (ws) => {
      ws.sendFrame({ opcode, payload: 'abc' });
    });
  }
});

test('protocol errors in fragmentation → close 1002', async () => {
  await violation('continuation without a start', 1002, (ws) => {
    ws.sendFrame({ opcode: OP.CONT, payload: '{"op":"ping"}' });
  });
  await violation('new text frame inside a fragmented message', 1002, (ws) => {
    const n2 = ws.msgs.length;
  ws.sendFrame({ opcode: OP.TEXT, fin: false, payload: '{"op":' });
    ws.sendFrame({ opcode: OP.TEXT, payload: '"ping"}' });
  });
});

// wslay's frame parser rejects these itself (WSLAY_ERR_PROTO): the close
// frame must still go out before the connection ends.
test('malformed frames (fragmented ping, ping over 125 bytes, non-minimal length) → close 1002', async () => {
  await violation('fragmented ping', 1002, (ws) => {
    ws.sendFrame({ opcode: OP.PING, fin: false, payload: 'ab' });
  });
  await violation('ping payload over 125 bytes', 1002, (ws) => {
    ws.sendFrame({ opcode: OP.PING, payload: 'p'.repeat(126) });
  });
  await violation('16-bit length for a 5-byte payload', 1002, (ws) => {
    const f = buildFrame({ opcode: OP.TEXT, payload: '{"op":"ping"}', len: 200 });
    // Rewrite the header: 126 + length 13 (must have been the 7-bit form).
    f.writeUInt16BE(13, 2);
    ws.write(f);
  });
});

test('a ping with a payload gets a pong echoing the payload', async () => {
  const ws = await ready();
  const payloads = [Buffer.from('hello-ping'), Buffer.from([0, 1, 2, 0xfe, 0xff]), Buffer.alloc(125, 0x61), Buffer.alloc(0)];
  for (const p of payloads) {
    const from = ws.frames.length;
    ws.ping(p);
    const pong = await ws.waitFrame((f) => f.opcode === OP.PONG, { from, timeout: WAIT_MS, what: `pong for ${p.length} bytes` });
    assert.ok(pong.payload.equals(p), `pong payload ${pong.payload.toString('hex')} == ${p.toString('hex')}`);
    assert.equal(pong.masked, false);
  }
  // And the JSON ping op on the same connection.
  ws.send({ op: 'ping' });
  await ws.waitMsg((m) => m.type === 'pong', { timeout: WAIT_MS, what: 'JSON pong' });
  ws.close();
  open.delete(ws);
  await stillServes('pings');
});

test('a text message in 3 fragments with a ping between them is reassembled', async () => {
  const ws = await ready();
  const from = ws.frames.length;
  ws.sendFrame({ opcode: OP.TEXT, fin: false, payload: '{"op"' });
  ws.sendFrame({ opcode: OP.PING, payload: 'between' });
  ws.sendFrame({ opcode: OP.CONT, fin: false, payload: ':"pi' });
  // The control pong comes while the message is still incomplete.
  const pong = await ws.waitFrame((f) => f.opcode === OP.PONG, { from, timeout: WAIT_MS, what: 'pong mid-message' });
  assert.equal(pong.payload.toString(), 'between');
  assert.equal(ws.msgs.filter((m) => m.type === 'pong').length, 0, 'no JSON answer before the last fragment');
  ws.sendFrame({ opcode: OP.CONT, fin: true, payload: 'ng"}' });
  await ws.waitMsg((m) => m.type === 'pong', { timeout: WAIT_MS, what: 'JSON pong for the reassembled message' });
  assert.equal(ws.msgs.filter((m) => m.type === 'error').length, 0, `no error: ${ws.describe()}`);

  // All in one write, with the ping in the middle, and a multibyte
  // character cut between two fragments (each part alone is a prefix).
  const from2 = ws.frames.length;
  const text = Buffer.from('{"op":"ping","x":"h\u00e9\u20ac\u{1F600}"}', 'utf8');
  const cut = text.indexOf(0xe2) + 1;   // inside the euro sign
  ws.write(Buffer.concat([
    buildFrame({ opcode: OP.TEXT, fin: false, payload: text.subarray(0, cut) }),
    buildFrame({ opcode: OP.PING, payload: 'two' }),
    buildFrame({ opcode: OP.CONT, fin: false, payload: text.subarray(cut, cut + 3) }),
    buildFrame({ opcode: OP.CONT, fin: true, payload: text.subarray(cut + 3) }),
  ]));
  await ws.waitFrame((f) => f.opcode === OP.PONG && f.payload.toString() === 'two',
    { from: from2, timeout: WAIT_MS, what: 'pong two' });
  const firstPong = ws.msgs.findIndex((m) => m.type === 'pong');
  await ws.waitMsg((m) => m.type === 'pong', { from: firstPong + 1, timeout: WAIT_MS, what: 'second JSON pong' });
  assert.equal(ws.msgs.filter((m) => m.type === 'error').length, 0, `no error: ${ws.describe()}`);
  assert.equal(ws.closeFrame, null, `not closed: ${ws.describe()}`);
  ws.close();
  open.delete(ws);
  await stillServes('fragments');
});

test('invalid UTF-8 in a text message → close 1007', async () => {
  const bad = [
    Buffer.from([0x7b, 0xff, 0x7d]),                              // 0xFF never appears
    Buffer.concat([Buffer.from('{"op":"ping","x":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),   // overlong
    Buffer.concat([Buffer.from('{"op":"ping","x":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),   // surrogate
    Buffer.concat([Buffer.from('{"op":"ping","x":"'), Buffer.from([0xf4, 0x90, 0x80, 0x80]), Buffer.from('"}')]),   // > U+10FFFF
    Buffer.concat([Buffer.from('{"op":"ping"}'), Buffer.from([0xe2, 0x82])]),   // truncated at the end
  ];
  for (const payload of bad) {
    await violation(`invalid UTF-8 ${payload.toString('hex')}`, 1007, (ws) => {
      ws.sendFrame({ opcode: OP.TEXT, payload });
    });
  }
});

test('invalid UTF-8 split across fragments → close 1007', async () => {
  // Each fragment alone is a valid prefix; the message ends inside a
  // character.
  await violation('message ends inside a character', 1007, (ws) => {
    ws.sendFrame({ opcode: OP.TEXT, fin: false, payload: Buffer.concat([Buffer.from('{"op":"ping","x":"a'), Buffer.from([0xe2])]) });
    ws.sendFrame({ opcode: OP.CONT, fin: true, payload: Buffer.from([0x82]) });
  });
  // A sequence that is invalid only across the boundary: a lead byte, then
  // an ASCII byte in the next fragment.
  await violation('lead byte then ASCII across fragments', 1007, (ws) => {
    ws.sendFrame({ opcode: OP.TEXT, fin: false, payload: Buffer.concat([Buffer.from('{"op":"ping","x":"'), Buffer.from([0xc3])]) });
    ws.sendFrame({ opcode: OP.CONT, fin: true, payload: Buffer.from('("}') });
  });
  // A plainly invalid byte in a middle fragment.
  await violation('0xFF in a middle fragment', 1007, (ws) => {
    ws.sendFrame({ opcode: OP.TEXT, fin: false, payload: '{"op":"pi' });
    ws.sendFrame({ opcode: OP.CONT, fin: false, payload: Buffer.from([0xff]) });
    ws.sendFrame({ opcode: OP.CONT, fin: true, payload: 'ng"}' });
  });
});

test('a close with a valid code is echoed, then the server closes the connection', async () => {
  for (const code of [1000, 1001, 3000, 4999]) {
    const ws = await ready();
    ws.sendClose(code, 'bye');
    await expectClose(ws, code, `close ${code}`);
  }
  // An empty close is answered with a close too (no code to echo).
  const ws = await ready();
  ws.sendClose();
  const got = await ws.waitClose({ timeout: WAIT_MS });
  assert.ok(got.code === null || got.code === 1000, `empty close answered with ${got.code}`);
  ws.close();
  open.delete(ws);
  await stillServes('valid closes');
});

test('a close with an invalid code → close 1002', async () => {
  for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000]) {
    await violation(`close code ${code}`, 1002, (ws) => {
      ws.sendClose(code);
    });
  }
  // A close reason must be UTF-8 too (RFC 6455 5.5.1): 1007.
  await violation('close reason not UTF-8', 1007, (ws) => {
    ws.sendFrame({ opcode: OP.CLOSE, payload: Buffer.concat([closePayload(1000), Buffer.from([0xff, 0xfe])]) });
  });
});

test('a close with a 1-byte payload (half a code) → close 1002', async () => {
  await violation('close with a 1-byte payload', 1002, (ws) => {
    ws.sendFrame({ opcode: OP.CLOSE, payload: Buffer.from([0x03]) });
  });
});

test('a message over max_message → close 1009', async () => {
  const big = `{"op":"ping","pad":"${'x'.repeat(MAX_MESSAGE)}"}`;
  await violation('one frame over max_message', 1009, (ws) => {
    ws.sendText(big);
  });
  await violation('fragments adding up to more than max_message', 1009, (ws) => {
    const half = Math.ceil(big.length / 2);
    ws.sendFrame({ opcode: OP.TEXT, fin: false, payload: big.slice(0, half) });
    ws.sendFrame({ opcode: OP.CONT, fin: true, payload: big.slice(half) });
  });
  // Just under the limit is fine.
  const ws = await ready();
  const fits = `{"op":"ping","pad":"${'x'.repeat(MAX_MESSAGE - 40)}"}`;
  assert.ok(fits.length <= MAX_MESSAGE);
  ws.sendText(fits);
  await ws.waitMsg((m) => m.type === 'pong', { timeout: WAIT_MS, what: 'pong for a message under the limit' });
  ws.close();
  open.delete(ws);
});

test('a binary message → close 1003', async () => {
  await violation('binary message', 1003, (ws) => {
    ws.sendFrame({ opcode: OP.BINARY, payload: Buffer.from('{"op":"ping"}') });
  });
});

test('invalid JSON or an unknown op → error message, the connection stays', async () => {
  const ws = await ready();
  for (const text of ['not json', '[1,2]', '{"op":42}', '{"op":"nope"}', '{}']) {
    const from = ws.msgs.length;
    ws.sendText(text);
    const e = await ws.waitMsg((m) => m.type === 'error', { from, timeout: WAIT_MS, what: `error for ${text}` });
    assert.equal(typeof e.code, 'string', JSON.stringify(e));
    assert.equal(typeof e.message, 'string', JSON.stringify(e));
  }
  const from = ws.msgs.length;
  ws.send({ op: 'ping' });
  await ws.waitMsg((m) => m.type === 'pong', { from, timeout: WAIT_MS, what: 'pong after errors' });
  assert.equal(ws.closeFrame, null, ws.describe());
  ws.close();
  open.delete(ws);
});

test('an idle socket holds no wslay context; a half-read frame or message keeps one until it is whole', async () => {
  const contexts = async (want, what) => {
    let last;
    await waitFor(async () => {
      last = await metrics();
      return last.wsgate_wslay_contexts === want;
    }, { timeout: WAIT_MS, what: `${what}: wsgate_wslay_contexts ${want} (last ${last && last.wsgate_wslay_contexts})` });
    return last;
  };
  const ws = await ready();
  ws.send({ op: 'ping' });
  await ws.waitMsg((m) => m.type === 'pong', { timeout: WAIT_MS, what: 'pong' });
  const m0 = await contexts(0, 'after a whole message');
  assert.ok(m0.wsgate_connections >= 1, 'the socket is still open');

  // Three bytes of a frame: its header is half read.
  const frame = buildFrame({ opcode: OP.TEXT, payload: '{"op":"ping"}' });
  const n1 = ws.msgs.length;
  ws.write(frame.subarray(0, 3));
  await contexts(1, 'a frame cut inside its header');
  ws.write(frame.subarray(3));
  await ws.waitMsg((m) => m.type === 'pong', { from: n1, timeout: WAIT_MS, what: 'pong for the joined frame' });
  await contexts(0, 'the frame completed');

  // A whole first fragment: the message is unfinished.
  const n2 = ws.msgs.length;
  ws.sendFrame({ opcode: OP.TEXT, fin: false, payload: '{"op":' });
  await contexts(1, 'a fragmented message without its last fragment');
  ws.sendFrame({ opcode: OP.CONT, fin: true, payload: '"ping"}' });
  await ws.waitMsg((m) => m.type === 'pong', { from: n2, timeout: WAIT_MS, what: 'pong for the fragments' });
  await contexts(0, 'the message completed');
  assert.equal(ws.msgs.filter((m) => m.type === 'error').length, 0, `no error: ${ws.describe()}`);
  ws.close();
  open.delete(ws);
});

test('the connection count returns to zero when the clients are gone', async () => {
  for (const c of open) c.close();
  open.clear();
  let last;
  try {
    await waitFor(async () => {
      last = await metrics();
      return last.wsgate_connections === 0 && last.wsgate_handshaking === 0;
    }, { timeout: WAIT_MS, what: 'wsgate_connections 0 and wsgate_handshaking 0' });
  } catch (e) {
    assert.fail(`gauges after every client left: wsgate_connections ${last.wsgate_connections} ` +
      `wsgate_handshaking ${last.wsgate_handshaking} (both should be 0)`);
  }
});
