'use strict';
// chat-poll, GET /api/stream (Server-Sent Events), per PROTOCOL.md "Live
// transports": text/event-stream, a retry hint, an id-only message with
// the starting cursor, then per event "id: <cursor after it>" + "data:
// <event json>"; comment heartbeats; resume with Last-Event-ID (or
// ?cursor=) gets exactly what was missed.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { startStack } = require('./lib/stack');
const { pollMetrics } = require('./lib/metrics');
const {
  newUser, request, uniqueName, assertError, assertOk, waitFor,
} = require('./lib/http');

const CONF = '[auth]\nlogin_max_addr = 100000\n[send]\nsend_max = 1000\n' +
  '[poll]\nsse_heartbeat = 1\npresence_grace = 2\n';
const WAIT_MS = 8000;

let s;
const open = new Set();

before(async () => {
  s = await startStack({ conf: CONF });
});

after(async () => {
  for (const st of open) st.close();
  if (s) await s.stop();
});

// ---------------------------------------------------------------- helpers

// An SSE client on a raw node:http request: parses the stream into
// messages {id, data, event, retry} (id undefined when the message had no
// id line), and comments (text after ':').
class Stream {
  constructor(c, { cursor, lastEventId, auth = true } = {}) {
    this.messages = [];
    this.comments = [];
    this.status = null;
    this.headers = null;
    this.body = '';      // a non-stream (error) reply
    this.ended = false;
    this.buf = '';
    this.cur = { data: [], id: undefined, retry: undefined, event: undefined };
    const path = `/api/stream${cursor !== undefined ? `?cursor=${encodeURIComponent(cursor)}` : ''}`;
    const headers = {};
    if (auth) headers.authorization = `Bearer ${c.token}`;
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    this.req = http.request(new URL(path, s.url), { headers, agent: false });
    this.response = new Promise((resolve, reject) => {
      this.req.on('response', (res) => {
        this.status = res.statusCode;
        this.headers = res.headers;
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          if (this.status === 200) this.feed(chunk);
          else this.body += chunk;
        });
        res.on('end', () => { this.ended = true; });
        res.on('error', () => { this.ended = true; });
        resolve(res);
      });
      this.req.on('error', (err) => { this.ended = true; reject(err); });
    });
    this.response.catch(() => {});
    this.req.end();
    open.add(this);
  }

  feed(chunk) {
    this.buf += chunk;
    let nl;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      let line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        const m = this.cur;
        if (m.data.length > 0 || m.id !== undefined || m.retry !== undefined) {
          this.messages.push({
            id: m.id, retry: m.retry, event: m.event,
            data: m.data.length > 0 ? m.data.join('\n') : undefined,
          });
        }
        this.cur = { data: [], id: undefined, retry: undefined, event: undefined };
        continue;
      }
      if (line.startsWith(':')) {
        this.comments.push(line.slice(1).trim());
        continue;
      }
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'data') this.cur.data.push(value);
      else if (field === 'id') this.cur.id = value;
      else if (field === 'retry') this.cur.retry = value;
      else if (field === 'event') this.cur.event = value;
    }
  }

  // Messages with data, parsed: [{id, event}].
  events() {
    return this.messages.filter((m) => m.data !== undefined).map((m) => ({ id: m.id, event: JSON.parse(m.data) }));
  }

  // The starting cursor: the id of the first id-only message.
  startId() {
    const m = this.messages.find((x) => x.data === undefined && x.id !== undefined);
    return m ? m.id : undefined;
  }

  // The last id seen (what an EventSource would send as Last-Event-ID).
  lastId() {
    let id;
    for (const m of this.messages) if (m.id !== undefined) ({ id } = m);
    return id;
  }

  async until(pred, what, timeout = WAIT_MS) {
    return waitFor(() => {
      if (pred(this)) return true;
      if (this.ended) throw new Error(`stream ended: status ${this.status} ${this.body}`);
      return false;
    }, { timeout, interval: 20, what: `${what} (messages ${JSON.stringify(this.messages)})` });
  }

  close() {
    open.delete(this);
    this.req.destroy();
  }
}

function metrics() {
  return pollMetrics(s);
}

function waitStreams(n) {
  return waitFor(async () => (await metrics()).chatpoll_streams === n,
    { timeout: WAIT_MS, interval: 25, what: `${n} open stream(s)` });
}

// Opens a stream and waits for its starting cursor (the subscription is
// then live: what is sent afterwards is delivered).
async function openStream(c, opts) {
  const st = new Stream(c, opts);
  await st.response;
  assert.equal(st.status, 200, `stream: ${st.status} ${st.body}\n${s.logs()}`);
  await st.until((x) => x.startId() !== undefined, 'the starting id');
  return st;
}

const msgTexts = (st) => st.events().filter((e) => e.event.type === 'msg').map((e) => e.event.text);

// ------------------------------------------------------------------ tests

test('SSE: headers, retry hint, starting id, then live events with ids and JSON data', async () => {
  const a = await newUser(s.url, 'sa');
  const b = await newUser(s.url, 'sb');
  const st = await openStream(b);
  assert.match(String(st.headers['content-type']), /^text\/event-stream\b/);
  assert.equal(st.messages[0].retry, '3000', `first a retry: 3000 hint: ${JSON.stringify(st.messages)}`);
  assert.ok(st.startId().length > 0, 'a starting cursor');
  await waitStreams(1);

  const texts = ['s1', 's2', 's3'];
  for (const text of texts) assertOk(await a.send({ to: b.user, text }), 200, `send ${text}`);
  await st.until((x) => msgTexts(x).length >= 3, 'three events');
  const ev = st.events().filter((e) => e.event.type === 'msg');
  assert.deepEqual(ev.map((e) => e.event.text), texts, 'in order');
  const ids = [st.startId(), ...ev.map((e) => e.id)];
  assert.equal(new Set(ids).size, ids.length, `each message a new id: ${ids}`);
  for (let i = 0; i < ev.length; i++) {
    const e = ev[i].event;
    assert.equal(e.chan, `u:${b.user}`);
    assert.equal(e.from, a.user);
    assert.ok(typeof ev[i].id === 'string' && ev[i].id.length > 0, 'an id line on each event');
    if (i > 0) assert.ok(e.id > ev[i - 1].event.id, 'event ids increase');
    // The id is the cursor after this event: a plain poll from it has
    // exactly the events after it.
    const r = assertOk(await b.get('/api/poll', { query: { cursor: ev[i].id, timeout: 0 } }), 200, 'poll');
    assert.deepEqual(r.events.filter((x) => x.type === 'msg').map((x) => x.text), texts.slice(i + 1),
      `poll from the id of event ${i}`);
  }
  st.close();
  await waitStreams(0);
});

test('SSE: resume with Last-Event-ID after a disconnect gets exactly the missed events', async () => {
  const a = await newUser(s.url, 'sra');
  const b = await newUser(s.url, 'srb');
  const st1 = await openStream(b);
  for (const text of ['r1', 'r2']) assertOk(await a.send({ to: b.user, text }), 200, `send ${text}`);
  await st1.until((x) => msgTexts(x).length >= 2, 'two events');
  const last = st1.lastId();
  st1.close();
  await waitStreams(0);

  const missed = ['r3', 'r4', 'r5'];
  for (const text of missed) assertOk(await a.send({ to: b.user, text }), 200, `send ${text}`);

  const st2 = await openStream(b, { lastEventId: last });
  await st2.until((x) => msgTexts(x).length >= 3, 'the missed events');
  // A marker sent now shows that nothing else is pending in between.
  assertOk(await a.send({ to: b.user, text: 'r6' }), 200, 'send r6');
  await st2.until((x) => msgTexts(x).includes('r6'), 'the marker');
  assert.deepEqual(msgTexts(st2), [...missed, 'r6'], 'exactly the missed events, then live ones');
  const keys = st2.events().map((e) => `${e.event.chan}#${e.event.id}`);
  assert.equal(new Set(keys).size, keys.length, `no duplicates: ${keys}`);
  st2.close();

  // ?cursor= does the same.
  const st3 = await openStream(b, { cursor: last });
  await st3.until((x) => msgTexts(x).length >= 4, 'replay with ?cursor=');
  assert.deepEqual(msgTexts(st3), [...missed, 'r6']);
  // Last-Event-ID wins over ?cursor= (an EventSource reconnecting keeps
  // its original URL).
  const st4 = await openStream(b, { cursor: last, lastEventId: st3.lastId() });
  assertOk(await a.send({ to: b.user, text: 'r7' }), 200, 'send r7');
  await st4.until((x) => msgTexts(x).includes('r7'), 'r7');
  assert.deepEqual(msgTexts(st4), ['r7'], 'resumed from Last-Event-ID');
  st3.close();
  st4.close();
  await waitStreams(0);
});

test('SSE: comment heartbeats arrive (sse_heartbeat = 1)', async () => {
  const b = await newUser(s.url, 'shb');
  const st = await openStream(b);
  const t0 = Date.now();
  await st.until((x) => x.comments.filter((c) => c === 'hb').length >= 2, 'two heartbeats', 6000);
  assert.ok(Date.now() - t0 >= 900, 'not all at once');
  st.close();
  await waitStreams(0);
});

test('SSE: without auth 401 JSON; bad cursor 400', async () => {
  const b = await newUser(s.url, 'sna');
  const r = await b.get('/api/stream', { auth: false });
  assertError(r, 401, 'unauthorized', 'no auth');
  const r2 = await b.get('/api/stream', { auth: false, headers: { authorization: 'Bearer nope' } });
  assertError(r2, 401, 'unauthorized', 'bad token');
  const r3 = await b.get('/api/stream', { query: { cursor: '!!!' } });
  assertError(r3, 400, 'bad_request', 'bad cursor');
  const r4 = await b.get('/api/stream', { headers: { 'last-event-id': '!!!' } });
  assertError(r4, 400, 'bad_request', 'bad Last-Event-ID');
});

test('SSE: a channel recreated (new epoch) while streaming: a reset before any of its new events', async () => {
  const a = await newUser(s.url, 'sca');
  const b = await newUser(s.url, 'scb');
  const room = uniqueName('scr');
  const chan = `r:${room}`;
  assertOk(await a.post('/api/rooms', { json: { room } }), 201, 'room');
  assertOk(await b.post('/api/rooms/join', { json: { room } }), 204, 'join');
  for (let i = 0; i < 3; i++) assertOk(await a.send({ room, text: `old ${i}` }), 200, `old ${i}`);
  const st = await openStream(b);
  // What Redis losing the channel looks like: a new epoch, ids from 1.
  await s.redis('DEL', `sb:meta:${chan}`, `sb:ch:${chan}`);
  for (let i = 0; i < 10; i++) assertOk(await a.send({ room, text: `new ${i}` }), 200, `new ${i}`);
  const mine = () => st.events().map((e) => e.event).filter((e) => e.chan === chan);
  const isNew = (e) => e.type === 'msg' && /^new/.test(e.text);
  await st.until(() => mine().some((e) => e.type === 'reset' || isNew(e)), 'a reset or a new event', 5000)
    .catch(() => {});
  const got = mine();
  const firstReset = got.findIndex((e) => e.type === 'reset');
  const firstNew = got.findIndex(isNew);
  assert.ok(firstReset >= 0 && (firstNew < 0 || firstReset < firstNew),
    `the stream must carry {"type":"reset","chan":"${chan}"} before any event of the recreated ` +
    `channel; got ${JSON.stringify(got)}`);
  st.close();
  await waitStreams(0);
});
