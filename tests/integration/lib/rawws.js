'use strict';
// WebSocket clients for the wsgate integration tests.
//
// RawWs: a minimal RFC 6455 client over a plain net.Socket, for protocol
// tests. Frames are built by hand (fin, rsv bits, opcode, mask on or off,
// any payload) and the server's frames are parsed as they come (control
// frames and close codes included), so tests can send what a real client
// library refuses to send and see exactly what the server answers.
//
//   const ws = await RawWs.connect(port, { token });
//   ws.sendFrame({ opcode: 0x1, payload: '{"op":"ping"}', mask: false });
//   const f = await ws.waitClose();           // f.code === 1002
//
// rawRequest: one raw HTTP request (an upgrade that is expected to be
// refused): returns the status line, lower-cased headers and the body.
//
// WsJson: a JSON client on the npm `ws` package (a real client library,
// also used through lighttpd's proxy): keeps every message it gets.
//
// Both JSON clients have the same small interface: .msgs (parsed JSON
// text messages in arrival order), .waitMsg(pred, opts), .send(obj),
// .closeInfo ({code, reason} or null), .waitClosed(opts), .close().

const crypto = require('node:crypto');
const net = require('node:net');

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const DEFAULT_WAIT_MS = 8000;

const OP = {
  CONT: 0x0, TEXT: 0x1, BINARY: 0x2, CLOSE: 0x8, PING: 0x9, PONG: 0xa,
};

function toBuf(p) {
  if (p == null) return Buffer.alloc(0);
  if (Buffer.isBuffer(p)) return p;
  if (p instanceof Uint8Array) return Buffer.from(p);
  return Buffer.from(String(p), 'utf8');
}

/** One client frame. rsv: the three reserved bits as a number 0..7 (4 =
 * RSV1). mask: false sends the payload unmasked (a protocol violation for a
 * client); maskKey: a 4-byte Buffer (random by default). len: claim another
 * payload length than the real one (for broken frames). */
function buildFrame({
  fin = true, rsv = 0, opcode = OP.TEXT, payload, mask = true, maskKey, len,
} = {}) {
  const data = toBuf(payload);
  const n = len === undefined ? data.length : len;
  let head;
  if (n < 126) {
    head = Buffer.alloc(2);
    head[1] = n;
  } else if (n < 65536) {
    head = Buffer.alloc(4);
    head[1] = 126;
    head.writeUInt16BE(n, 2);
  } else {
    head = Buffer.alloc(10);
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  head[0] = (fin ? 0x80 : 0) | ((rsv & 7) << 4) | (opcode & 0x0f);
  if (!mask) return Buffer.concat([head, data]);
  head[1] |= 0x80;
  const key = maskKey || crypto.randomBytes(4);
  const body = Buffer.alloc(data.length);
  for (let i = 0; i < data.length; i += 1) body[i] = data[i] ^ key[i & 3];
  return Buffer.concat([head, key, body]);
}

/** A close frame's payload: the code (2 bytes) and an optional reason. */
function closePayload(code, reason = '') {
  if (code === undefined) return Buffer.alloc(0);
  const r = toBuf(reason);
  const b = Buffer.alloc(2 + r.length);
  b.writeUInt16BE(code, 0);
  r.copy(b, 2);
  return b;
}

/** Parses as many whole server frames as buf holds: {frames, rest}. Each
 * frame: {fin, rsv, opcode, masked, payload, code, reason} (code/reason
 * for close frames; code null when the close has no payload). */
function parseFrames(buf) {
  const frames = [];
  let off = 0;
  for (;;) {
    if (buf.length - off < 2) break;
    const b0 = buf[off];
    const b1 = buf[off + 1];
    let n = b1 & 0x7f;
    let p = off + 2;
    if (n === 126) {
      if (buf.length - p < 2) break;
      n = buf.readUInt16BE(p);
      p += 2;
    } else if (n === 127) {
      if (buf.length - p < 8) break;
      n = Number(buf.readBigUInt64BE(p));
      p += 8;
    }
    const masked = (b1 & 0x80) !== 0;
    let key = null;
    if (masked) {
      if (buf.length - p < 4) break;
      key = buf.subarray(p, p + 4);
      p += 4;
    }
    if (buf.length - p < n) break;
    let payload = Buffer.from(buf.subarray(p, p + n));
    if (masked) payload = payload.map((x, i) => x ^ key[i & 3]);
    const f = {
      fin: (b0 & 0x80) !== 0, rsv: (b0 >> 4) & 7, opcode: b0 & 0x0f, masked, payload,
    };
    if (f.opcode === OP.CLOSE) {
      f.code = payload.length >= 2 ? payload.readUInt16BE(0) : null;
      f.reason = payload.length > 2 ? payload.subarray(2).toString('utf8') : '';
    }
    frames.push(f);
    off = p + n;
  }
  return { frames, rest: buf.subarray(off) };
}

/** Splits an HTTP response head: {status, reason, headers (lower-cased
 * names; repeated ones joined with ", "), headerLines}. */
function parseHead(text) {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
  const res = {
    statusLine: lines[0], status: m ? Number(m[1]) : 0, reason: m ? m[2] : '', headers: {}, headerLines: [],
  };
  for (const line of lines.slice(1)) {
    if (!line) continue;
    res.headerLines.push(line);
    const i = line.indexOf(':');
    if (i < 0) continue;
    const k = line.slice(0, i).trim().toLowerCase();
    const v = line.slice(i + 1).trim();
    res.headers[k] = k in res.headers ? `${res.headers[k]}, ${v}` : v;
  }
  return res;
}

/** A random, valid Sec-WebSocket-Key. */
function newKey() {
  return crypto.randomBytes(16).toString('base64');
}

function acceptFor(key) {
  return crypto.createHash('sha1').update(key + WS_GUID).digest('base64');
}

/** The text of an upgrade request. opts: path ('/ws'), host
 * ('127.0.0.1:<port>'), method ('GET'), key (random; null leaves the
 * header out), version ('13'; null leaves it out), token (Bearer), cookie
 * (the whole Cookie value, e.g. 'sid=…'), origin, headers (extra, object
 * or array of lines), upgrade ('websocket'), connection ('Upgrade'). */
function upgradeText(port, opts = {}) {
  const {
    path = '/ws', method = 'GET', key = newKey(), version = '13', token, cookie, origin,
    upgrade = 'websocket', connection = 'Upgrade', headers = {},
  } = opts;
  const host = opts.host === undefined ? `127.0.0.1:${port}` : opts.host;
  const lines = [`${method} ${path} HTTP/1.1`];
  if (host !== null) lines.push(`Host: ${host}`);
  if (upgrade !== null) lines.push(`Upgrade: ${upgrade}`);
  if (connection !== null) lines.push(`Connection: ${connection}`);
  if (key !== null) lines.push(`Sec-WebSocket-Key: ${key}`);
  if (version !== null) lines.push(`Sec-WebSocket-Version: ${version}`);
  if (token) lines.push(`Authorization: Bearer ${token}`);
  if (cookie) lines.push(`Cookie: ${cookie}`);
  if (origin) lines.push(`Origin: ${origin}`);
  if (Array.isArray(headers)) lines.push(...headers);
  else for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** Sends raw (a string or Buffer, or upgradeText(port, opts) when raw is
 * an object) to 127.0.0.1:port and reads the answer until the server
 * closes, the body (Content-Length) is complete after a non-101 head, or
 * the timeout. Resolves {status, reason, statusLine, headers, body (string),
 * json (parsed body or null), closedByServer, rest (bytes after a 101 head)}. */
function rawRequest(port, raw, { timeout = DEFAULT_WAIT_MS, host = '127.0.0.1' } = {}) {
  const data = (raw !== null && typeof raw === 'object' && !Buffer.isBuffer(raw))
    ? upgradeText(port, raw) : raw;
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, host);
    let buf = Buffer.alloc(0);
    let done = false;
    let closedByServer = false;
    const timer = setTimeout(() => finish(new Error(
      `no complete answer within ${timeout} ms; got ${JSON.stringify(buf.toString('latin1').slice(0, 500))}`)), timeout);
    function result() {
      const text = buf.toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const res = parseHead(text.slice(0, end));
      const bodyBuf = buf.subarray(end + 4);
      res.closedByServer = closedByServer;
      if (res.status === 101) {
        res.rest = bodyBuf;
        res.body = '';
        res.json = null;
        return res;
      }
      const cl = res.headers['content-length'];
      if (cl !== undefined && bodyBuf.length < Number(cl) && !closedByServer) return null;
      if (cl === undefined && !closedByServer) return null;
      res.body = (cl !== undefined ? bodyBuf.subarray(0, Number(cl)) : bodyBuf).toString('utf8');
      try { res.json = JSON.parse(res.body); } catch { res.json = null; }
      return res;
    }
    function finish(err) {
      if (done) return;
      const res = err ? null : result();
      if (!err && !res) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err); else resolve(res);
    }
    sock.on('data', (c) => { buf = Buffer.concat([buf, c]); finish(null); });
    sock.on('end', () => {
      closedByServer = true;
      if (!result()) {
        finish(new Error(`server closed without a complete answer: ${
          JSON.stringify(buf.toString('latin1').slice(0, 500))}`));
      } else finish(null);
    });
    sock.on('close', () => {
      closedByServer = true;
      if (!done) {
        if (result()) finish(null);
        else finish(new Error(`connection closed; got ${JSON.stringify(buf.toString('latin1').slice(0, 500))}`));
      }
    });
    sock.on('error', (e) => finish(e));
    sock.write(data);
  });
}

/** Polls pred over the state of a client until it holds; notify() wakes
 * every waiter. Shared by both clients. */
class Waiters {
  constructor() { this.list = new Set(); }

  notify() { for (const w of [...this.list]) w(); }

  wait(check, { timeout = DEFAULT_WAIT_MS, what = 'condition', describe = () => '' } = {}) {
    return new Promise((resolve, reject) => {
      let timer = null;
      const w = () => {
        let v;
        try { v = check(); } catch (e) {
          this.list.delete(w);
          clearTimeout(timer);
          reject(e);
          return;
        }
        if (v) {
          this.list.delete(w);
          clearTimeout(timer);
          resolve(v);
        }
      };
      timer = setTimeout(() => {
        this.list.delete(w);
        reject(new Error(`timed out after ${timeout} ms waiting for ${what}; ${describe()}`));
      }, timeout);
      this.list.add(w);
      w();
    });
  }
}

function summarize(msgs, n = 12) {
  const tail = msgs.slice(-n).map((m) => JSON.stringify(m).slice(0, 200));
  return `${msgs.length} message(s)${msgs.length > n ? `, last ${n}` : ''}: [${tail.join(', ')}]`;
}

function findFrom(list, pred, from) {
  for (let i = from; i < list.length; i += 1) if (pred(list[i], i)) return list[i];
  return undefined;
}

class RawWs {
  constructor(sock, rest, head) {
    this.sock = sock;
    this.head = head;        // the 101 response: {status, headers, …}
    this.frames = [];        // every server frame, in order
    this.messages = [];      // whole data messages: {opcode, data (Buffer)}
    this.msgs = [];          // text messages parsed as JSON (or {raw} if not JSON)
    this.closeFrame = null;  // the server's close frame
    this.ended = false;      // the server's FIN (or an error) was seen
    this.error = null;
    this.buf = Buffer.alloc(0);
    this.frag = null;        // {opcode, parts} of a fragmented server message
    this.waiters = new Waiters();
    sock.on('data', (c) => this.feed(c));
    sock.on('end', () => { this.ended = true; this.waiters.notify(); });
    sock.on('close', () => { this.ended = true; this.waiters.notify(); });
    sock.on('error', (e) => { this.error = e; this.ended = true; this.waiters.notify(); });
    if (rest && rest.length) this.feed(rest);
  }

  /** Opens a WebSocket with a raw handshake and checks the 101 answer
   * (status, Upgrade, Connection, Sec-WebSocket-Accept). opts as for
   * upgradeText, plus host (connect address, default 127.0.0.1) and
   * timeout. Rejects with the server's answer if it is not a 101. */
  static connect(port, opts = {}) {
    const { timeout = DEFAULT_WAIT_MS } = opts;
    const key = opts.key || newKey();
    const text = upgradeText(port, { ...opts, key });
    return new Promise((resolve, reject) => {
      const sock = net.connect(port, opts.connectHost || '127.0.0.1');
      sock.setNoDelay(true);
      let buf = Buffer.alloc(0);
      let done = false;
      const fail = (msg) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        sock.destroy();
        reject(new Error(msg));
      };
      const timer = setTimeout(() => fail(`upgrade: no answer within ${timeout} ms; got ${
        JSON.stringify(buf.toString('latin1').slice(0, 500))}`), timeout);
      const onData = (c) => {
        buf = Buffer.concat([buf, c]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = parseHead(buf.subarray(0, end).toString('latin1'));
        if (head.status !== 101) {
          fail(`upgrade refused: ${JSON.stringify(buf.toString('latin1').slice(0, 500))}`);
          return;
        }
        if (String(head.headers.upgrade || '').toLowerCase() !== 'websocket' ||
            !/\bupgrade\b/i.test(String(head.headers.connection || '')) ||
            head.headers['sec-websocket-accept'] !== acceptFor(key)) {
          fail(`bad 101 answer: ${JSON.stringify(buf.subarray(0, end).toString('latin1'))}`);
          return;
        }
        done = true;
        clearTimeout(timer);
        sock.removeListener('data', onData);
        sock.removeListener('error', onErr);
        sock.removeListener('close', onClose);
        resolve(new RawWs(sock, buf.subarray(end + 4), head));
      };
      const onErr = (e) => fail(`upgrade: ${e.message}`);
      const onClose = () => fail(`upgrade: connection closed; got ${
        JSON.stringify(buf.toString('latin1').slice(0, 500))}`);
      sock.on('data', onData);
      sock.on('error', onErr);
      sock.on('close', onClose);
      sock.write(text);
    });
  }

  feed(chunk) {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    const { frames, rest } = parseFrames(this.buf);
    this.buf = Buffer.from(rest);
    for (const f of frames) {
      this.frames.push(f);
      if (f.opcode === OP.CLOSE) {
        if (!this.closeFrame) this.closeFrame = f;
      } else if (f.opcode === OP.TEXT || f.opcode === OP.BINARY) {
        if (f.fin) this.addMessage(f.opcode, f.payload);
        else this.frag = { opcode: f.opcode, parts: [f.payload] };
      } else if (f.opcode === OP.CONT && this.frag) {
        this.frag.parts.push(f.payload);
        if (f.fin) {
          this.addMessage(this.frag.opcode, Buffer.concat(this.frag.parts));
          this.frag = null;
        }
      }
    }
    if (frames.length) this.waiters.notify();
  }

  addMessage(opcode, data) {
    this.messages.push({ opcode, data });
    if (opcode === OP.TEXT) {
      const text = data.toString('utf8');
      try { this.msgs.push(JSON.parse(text)); } catch { this.msgs.push({ raw: text }); }
    }
  }

  /** Writes raw bytes (a frame built by hand, or garbage). */
  write(bytes) {
    if (!this.sock.destroyed) this.sock.write(bytes);
  }

  sendFrame(opts) { this.write(buildFrame(opts)); }

  sendText(text) { this.sendFrame({ opcode: OP.TEXT, payload: text }); }

  send(obj) { this.sendText(JSON.stringify(obj)); }

  ping(payload) { this.sendFrame({ opcode: OP.PING, payload }); }

  /** Sends a close frame (code undefined: an empty close payload). */
  sendClose(code, reason = '') {
    this.sendFrame({ opcode: OP.CLOSE, payload: closePayload(code, reason) });
  }

  get closeInfo() {
    return this.closeFrame ? { code: this.closeFrame.code, reason: this.closeFrame.reason } : null;
  }

  describe() {
    const fr = this.frames.slice(-8).map((f) => `op=${f.opcode}${f.fin ? '' : '(nofin)'} ${
      f.opcode === OP.CLOSE ? `code=${f.code} ${JSON.stringify(f.reason)}` : JSON.stringify(f.payload.toString('utf8').slice(0, 120))}`);
    return `frames (${this.frames.length}, last 8): [${fr.join('; ')}] ended=${this.ended}${
      this.error ? ` error=${this.error.message}` : ''}`;
  }

  /** Waits for a server frame matching pred, among those from index
   * `from` (default 0). Resolves the frame. */
  waitFrame(pred, { timeout, what = 'a frame', from = 0 } = {}) {
    return this.waiters.wait(() => {
      const f = findFrom(this.frames, pred, from);
      if (f) return f;
      if (this.ended) throw new Error(`connection ended before ${what}; ${this.describe()}`);
      return null;
    }, { timeout, what, describe: () => this.describe() });
  }

  /** Waits for a JSON text message matching pred (from index `from`). */
  waitMsg(pred, { timeout, what = 'a message', from = 0 } = {}) {
    return this.waiters.wait(() => {
      const m = findFrom(this.msgs, pred, from);
      if (m) return m;
      if (this.ended) throw new Error(`connection ended before ${what}; ${this.describe()}`);
      return null;
    }, { timeout, what, describe: () => this.describe() });
  }

  /** Waits for the server's close frame and then its end of the TCP
   * connection; resolves {code, reason, framesAfterClose}. */
  async waitClose({ timeout, what = 'the server\'s close frame' } = {}) {
    await this.waiters.wait(() => {
      if (this.closeFrame) return true;
      if (this.ended) throw new Error(`connection ended without a close frame; ${this.describe()}`);
      return false;
    }, { timeout, what, describe: () => this.describe() });
    await this.waitEnded({ timeout, what: 'the server to close the TCP connection after its close frame' });
    const i = this.frames.indexOf(this.closeFrame);
    return { code: this.closeFrame.code, reason: this.closeFrame.reason, framesAfterClose: this.frames.length - i - 1 };
  }

  /** Waits until the server has ended the TCP connection. */
  waitEnded({ timeout, what = 'the connection to end' } = {}) {
    return this.waiters.wait(() => this.ended, { timeout, what, describe: () => this.describe() });
  }

  waitClosed(opts) { return this.waitEnded(opts); }

  pause() { this.sock.pause(); }

  resume() { this.sock.resume(); }

  close() { this.sock.destroy(); }
}

/** A JSON client on the `ws` package. url: ws://host:port/ws (a ?cursor=
 * is added from opts.cursor); opts: token (Bearer), cookie, origin,
 * headers. Resolves once open; rejects with the HTTP status on a refusal. */
class WsJson {
  static open(url, opts = {}) {
    const WebSocket = require('ws');   // npm ws 8.x
    const u = new URL(url);
    if (opts.cursor !== undefined) u.searchParams.set('cursor', opts.cursor);
    const headers = { ...(opts.headers || {}) };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    if (opts.cookie) headers.cookie = opts.cookie;
    const ws = new WebSocket(u.toString(), {
      headers, origin: opts.origin, handshakeTimeout: opts.timeout || DEFAULT_WAIT_MS, perMessageDeflate: false,
    });
    const c = new WsJson(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(c));
      ws.once('unexpected-response', (req, res) => {
        reject(Object.assign(new Error(`upgrade refused: HTTP ${res.statusCode}`), { status: res.statusCode }));
        req.destroy();
      });
      ws.once('error', (e) => reject(e));
    });
  }

  constructor(ws) {
    this.ws = ws;
    this.msgs = [];
    this.closeInfo = null;
    this.error = null;
    this.onMsg = null;       // optional: called with each message as it comes
    this.waiters = new Waiters();
    ws.on('message', (data, isBinary) => {
      const text = isBinary ? null : data.toString('utf8');
      let m;
      try { m = text === null ? { binary: data.length } : JSON.parse(text); } catch { m = { raw: text }; }
      this.msgs.push(m);
      if (this.onMsg) this.onMsg(m);
      this.waiters.notify();
    });
    ws.on('close', (code, reason) => {
      this.closeInfo = { code, reason: reason.toString('utf8') };
      this.waiters.notify();
    });
    ws.on('error', (e) => { this.error = e; this.waiters.notify(); });
  }

  get ended() { return this.closeInfo !== null; }

  send(obj) { this.ws.send(typeof obj === 'string' ? obj : JSON.stringify(obj)); }

  describe() {
    return `${summarize(this.msgs)} close=${JSON.stringify(this.closeInfo)}${this.error ? ` error=${this.error.message}` : ''}`;
  }

  waitMsg(pred, { timeout, what = 'a message', from = 0 } = {}) {
    return this.waiters.wait(() => {
      const m = findFrom(this.msgs, pred, from);
      if (m) return m;
      if (this.closeInfo) throw new Error(`socket closed before ${what}; ${this.describe()}`);
      return null;
    }, { timeout, what, describe: () => this.describe() });
  }

  waitClosed({ timeout, what = 'the socket to close' } = {}) {
    return this.waiters.wait(() => this.closeInfo, { timeout, what, describe: () => this.describe() });
  }

  close() {
    try { this.ws.terminate(); } catch { /* already gone */ }
  }
}

module.exports = {
  OP,
  RawWs,
  WsJson,
  Waiters,
  buildFrame,
  closePayload,
  parseFrames,
  parseHead,
  upgradeText,
  rawRequest,
  newKey,
  acceptFor,
  summarize,
};
