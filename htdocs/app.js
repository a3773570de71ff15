/* Switchboard web client.
 *
 * Plain ES5 (var, function; no modules, no build step) so that it runs
 * unchanged in old and locked-down browsers.
 *
 * Parts, in order:
 *   util        DOM helpers, HTTP (XMLHttpRequest), time and text formatting
 *   auth        sign in / register / sign out
 *   model       conversations, messages, unread counts, de-duplication
 *   view        conversation list, chat view, composer, rooms
 *   send        delivery states, retries with the same cid
 *   events      one function that applies every server event
 *   transport   WebSocket, then SSE, then long-poll; backoff with jitter;
 *               resume from the cursor; one leader tab per browser shares
 *               an SSE or long-poll connection with the others
 *   uploads     PUT /api/upload with progress, drag and drop
 */
(function () {
  'use strict';

  // ------------------------------------------------------------------ util

  function $(id) { return document.getElementById(id); }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = String(text);
    return e;
  }

  function show(e, on) {
    if (on) e.removeAttribute('hidden'); else e.setAttribute('hidden', '');
  }

  function now() { return new Date().getTime(); }

  function lc(s) { return String(s || '').toLowerCase(); }

  function has(o, k) { return Object.prototype.hasOwnProperty.call(o, k); }

  function randomId(n) {
    var chars = 'abcdefghijklmnopqrstuvwxyz0123456789', out = '', i, buf = null;
    if (window.crypto && window.crypto.getRandomValues) {
      buf = new Uint8Array(n);
      window.crypto.getRandomValues(buf);
    }
    for (i = 0; i < n; i++) {
      out += chars.charAt((buf ? buf[i] : Math.floor(Math.random() * 256)) % chars.length);
    }
    return out;
  }

  function storageGet(store, k) {
    try { return window[store] ? window[store].getItem(k) : null; } catch (e) { return null; }
  }

  function storageSet(store, k, v) {
    try {
      if (!window[store]) return;
      if (v == null) window[store].removeItem(k); else window[store].setItem(k, v);
    } catch (e) { /* private mode, quota: not fatal */ }
  }

  function parseJSON(s) {
    try { return JSON.parse(s); } catch (e) { return null; }
  }

  /* HTTP request. cb(err, data, xhr): err is null on 2xx, else
   * {status, code, message, retryAfter}; status 0 = network failure. */
  function api(method, path, body, cb, opts) {
    var x = new XMLHttpRequest();
    opts = opts || {};
    x.open(method, path, true);
    if (opts.timeout) x.timeout = opts.timeout;
    if (body != null && !opts.raw) x.setRequestHeader('Content-Type', 'application/json');
    if (opts.contentType) x.setRequestHeader('Content-Type', opts.contentType);
    if (opts.progress && x.upload) x.upload.onprogress = opts.progress;
    if (opts.headers) opts.headers(x);
    var done = false;
    function finish() {
      if (done) return;
      done = true;
      var data = x.responseText ? parseJSON(x.responseText) : null;
      if (x.status >= 200 && x.status < 300) { cb(null, data, x); return; }
      var err = {
        status: x.status,
        code: x.status === 0 ? 'network' : 'http_' + x.status,
        message: x.status === 0 ? 'The server could not be reached.' : 'The server answered ' + x.status + '.',
        retryAfter: parseInt(x.getResponseHeader('Retry-After') || '', 10) || 0
      };
      if (data && data.error) {
        err.code = data.error.code || err.code;
        err.message = data.error.message || err.message;
      }
      if (x.status === 401 && !opts.no401) onUnauthorized();
      cb(err, data, x);
    }
    x.onreadystatechange = function () {
      if (x.readyState === 2 && opts.headersReceived) opts.headersReceived(x);
      if (x.readyState === 4) finish();
    };
    x.ontimeout = finish;
    x.send(body == null ? null : (opts.raw ? body : JSON.stringify(body)));
    return x;
  }

  function pad2(n) { return (n < 10 ? '0' : '') + n; }

  function fmtTime(ts) {
    var d = new Date(ts);
    return pad2(d.getHours()) + ':' + pad2(d.getMinutes());
  }

  function dayKey(ts) {
    var d = new Date(ts);
    return d.getFullYear() + '-' + (d.getMonth() + 1) + '-' + d.getDate();
  }

  var MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  var WEEKDAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

  function fmtDay(ts) {
    var d = new Date(ts), t = new Date(), y = new Date(t.getTime() - 86400000);
    if (dayKey(ts) === dayKey(t.getTime())) return 'Today';
    if (dayKey(ts) === dayKey(y.getTime())) return 'Yesterday';
    var s = WEEKDAYS[d.getDay()] + ', ' + d.getDate() + ' ' + MONTHS[d.getMonth()];
    if (d.getFullYear() !== t.getFullYear()) s += ' ' + d.getFullYear();
    return s;
  }

  /* Short time for the conversation list: HH:MM today, else a date. */
  function fmtShort(ts) {
    if (!ts) return '';
    var d = new Date(ts), t = new Date();
    if (dayKey(ts) === dayKey(t.getTime())) return fmtTime(ts);
    if (t.getTime() - ts < 6 * 86400000) return WEEKDAYS[d.getDay()].slice(0, 3);
    return d.getDate() + ' ' + MONTHS[d.getMonth()];
  }

  function fmtSize(n) {
    if (n == null) return '';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
    return (n / 1048576).toFixed(1) + ' MB';
  }

  function hue(name) {
    var h = 0, s = lc(name), i;
    for (i = 0; i < s.length; i++) h = (h * 31 + s.charCodeAt(i)) % 360;
    return h;
  }

  function paintAvatar(e, name, isRoom) {
    var label = String(name || '?').replace(/^#/, '');
    e.textContent = isRoom ? '#' : label.charAt(0).toUpperCase();
    e.style.backgroundColor = 'hsl(' + hue(label) + ', 55%, ' + (isRoom ? '42%' : '48%') + ')';
  }

  /* Appends text to parent with http(s) links made clickable. Everything
   * else stays text: no HTML is ever parsed from a message. */
  var URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;

  function appendLinkified(parent, text) {
    var last = 0, m, url, a;
    URL_RE.lastIndex = 0;
    while ((m = URL_RE.exec(text)) !== null) {
      url = m[0];
      // Trailing punctuation belongs to the sentence, not the URL.
      while (/[.,;:!?'"]$/.test(url) || (/\)$/.test(url) &&
             (url.split('(').length - 1) < (url.split(')').length - 1))) {
        url = url.slice(0, -1);
      }
      URL_RE.lastIndex = m.index + url.length;
      if (m.index > last) parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      a = document.createElement('a');
      a.href = url;
      if ((a.protocol === 'http:' || a.protocol === 'https:') && url.length > 8) {
        a.textContent = url;
        a.target = '_blank';
        a.rel = 'noopener noreferrer';
        parent.appendChild(a);
      } else {
        parent.appendChild(document.createTextNode(url));
      }
      last = m.index + url.length;
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // ------------------------------------------------------------------ state

  var TAB_ID = randomId(10);
  var NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/;
  var PAGE = 50;

  var S = {
    me: null,            // user name as registered
    convs: {},           // key (lower case: "bob", "#lobby") -> conversation
    order: [],           // keys, newest first
    active: null,        // key of the open conversation
    seen: {},            // chan -> highest event id applied
    joined: {},          // lower-case room name -> true while a member
    online: {},          // lower-case user -> bool
    pending: {},         // cid -> pending message
    typing: {},          // conv key -> {user: expiry}
    roomsOpen: false
  };

  function convKeyOf(name) { return lc(name); }

  function isRoomKey(k) { return k.charAt(0) === '#'; }

  function newConv(key, name) {
    return {
      key: key, name: name, isRoom: isRoomKey(key),
      last: null, lastTs: 0, unread: 0, maxId: 0, readUpto: 0,
      msgs: [], byId: {}, loaded: false, loading: false, more: false,
      oldest: 0, pend: [], nodes: {}, loadingOlder: false, error: '', temp: false
    };
  }

  function ensureConv(key, name) {
    var c = S.convs[key];
    if (!c) {
      c = S.convs[key] = newConv(key, name || key);
      S.order.push(key);
      if (!c.isRoom && !has(S.online, key)) askPresence(c.name);
    } else if (name && c.name !== name && lc(c.name) === lc(name)) {
      c.name = name; // as registered
    }
    return c;
  }

  /* Presence of peers we learnt of after loading the list, in one request. */
  var presenceAsk = [], presenceTimer = null;

  function askPresence(name) {
    presenceAsk.push(name);
    if (presenceTimer) return;
    presenceTimer = setTimeout(function () {
      var names = presenceAsk.splice(0, 200);
      presenceTimer = null;
      if (!S.me || !names.length) return;
      api('GET', '/api/presence?users=' + encodeURIComponent(names.join(',')), null, function (err, data) {
        if (err || !data) return;
        var on = {};
        (data.online || []).forEach(function (u) { on[lc(u)] = true; });
        names.forEach(function (u) {
          if (!has(S.online, lc(u))) S.online[lc(u)] = !!on[lc(u)];
        });
        renderConvListSoon();
        if (S.active && !isRoomKey(S.active)) renderHeader();
      });
    }, 50);
  }

  function dropConv(key) {
    delete S.convs[key];
    var i = S.order.indexOf(key);
    if (i >= 0) S.order.splice(i, 1);
  }

  function sortConvs() {
    S.order.sort(function (a, b) {
      var x = S.convs[a], y = S.convs[b];
      return (y.lastTs || 0) - (x.lastTs || 0) || (a < b ? -1 : 1);
    });
  }

  /* A server event or history entry as a chat item, or null. */
  function toItem(ev, fromHistory) {
    var it;
    if (ev.type === 'msg') {
      it = {
        kind: 'msg', from: ev.from, text: ev.text == null ? '' : String(ev.text),
        ts: ev.ts || now(), cid: ev.cid || null, att: ev.att || null
      };
      if (ev.room != null) {
        it.key = '#' + lc(ev.room); it.name = '#' + ev.room; it.id = ev.id;
      } else if (fromHistory) {
        it.id = ev.id;
      } else {
        it.key = convKeyOf(ev.conv); it.name = ev.conv; it.id = ev.mid;
      }
      return it;
    }
    if (ev.type === 'join' || ev.type === 'leave') {
      return {
        kind: ev.type, user: ev.user, ts: ev.ts || now(), id: ev.id,
        key: '#' + lc(ev.room), name: '#' + ev.room
      };
    }
    return null;
  }

  function previewOf(c) {
    var it = c.last;
    if (!it) return c.isRoom ? 'Room' : 'No messages yet';
    if (it.kind === 'join') return it.user + ' joined';
    if (it.kind === 'leave') return it.user + ' left';
    var who = lc(it.from) === lc(S.me) ? 'You: ' : (c.isRoom ? it.from + ': ' : '');
    var text = it.text;
    if (it.att && it.att.name && (!text || text === it.att.name)) {
      var m = lc(it.att.mime);
      text = (/^image\//.test(m) ? 'Photo: ' : /^video\//.test(m) ? 'Video: ' : /^audio\//.test(m) ? 'Audio: ' : 'File: ') + it.att.name;
    }
    return who + text.replace(/\s+/g, ' ');
  }

  /* Adds an item to its conversation. live: it came from a live transport
   * (may raise the unread count). Returns true if it was new. */
  function addItem(c, it, live) {
    var k, p;
    if (it.id == null) return false;
    if (has(c.byId, it.id)) return false;
    c.byId[it.id] = it;
    insertSorted(c.msgs, it);
    if (it.cid && lc(it.from) === lc(S.me)) {
      for (k = 0; k < c.pend.length; k++) {
        p = c.pend[k];
        if (p.cid === it.cid) {
          c.pend.splice(k, 1);
          if (c.nodes['p:' + p.cid]) {
            c.nodes[it.id] = c.nodes['p:' + p.cid];
            delete c.nodes['p:' + p.cid];
          }
          delete S.pending[p.cid];
          break;
        }
      }
    }
    if (it.id > c.maxId) {
      c.maxId = it.id;
      c.last = it;
      c.lastTs = it.ts;
      c.temp = false;
      if (live && it.kind === 'msg' && lc(it.from) !== lc(S.me)) {
        if (S.active === c.key && pageVisible()) {
          scheduleRead(c);
        } else {
          c.unread++;
        }
      }
    }
    return true;
  }

  function insertSorted(arr, it) {
    var i = arr.length;
    while (i > 0 && arr[i - 1].id > it.id) i--;
    arr.splice(i, 0, it);
  }

  function pageVisible() {
    return document.visibilityState !== 'hidden';
  }

  // ------------------------------------------------------------------ auth

  var authBusy = false;

  function authError(msg) {
    $('auth-error').textContent = msg || '';
  }

  function authMessage(err, what) {
    if (err.status === 0) return 'Cannot reach the server. Check your connection and try again.';
    if (err.status === 401) return 'Wrong user name or password.';
    if (err.status === 409) return 'That user name is taken. Pick another one.';
    if (err.status === 429) {
      return 'Too many attempts. Try again' + (err.retryAfter ? ' in ' + waitText(err.retryAfter) : ' later') + '.';
    }
    if (err.status === 503) return 'The server is busy. Try again in a moment.';
    if (err.status === 400 && err.message) return capital(err.message) + '.';
    return 'Could not ' + what + ': ' + err.message;
  }

  function capital(s) { return s.charAt(0).toUpperCase() + s.slice(1); }

  function waitText(sec) {
    if (sec < 60) return sec + ' s';
    return Math.ceil(sec / 60) + ' min';
  }

  function validateAuth(register) {
    var u = $('auth-user').value.trim(), p = $('auth-pass').value;
    if (!u) { authError('Enter your user name.'); $('auth-user').focus(); return null; }
    if (!NAME_RE.test(u)) {
      authError('User names are 1–32 letters, digits, _ . or -, starting with a letter or digit.');
      $('auth-user').focus();
      return null;
    }
    if (!p) { authError('Enter your password.'); $('auth-pass').focus(); return null; }
    if (register && (p.length < 8)) {
      authError('Choose a password of at least 8 characters.');
      $('auth-pass').focus();
      return null;
    }
    return { user: u, password: p };
  }

  function setAuthBusy(on) {
    authBusy = on;
    $('btn-signin').disabled = on;
    $('btn-register').disabled = on;
    $('auth-form').setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function doLogin(cred) {
    setAuthBusy(true);
    authError('');
    api('POST', '/api/auth/login', cred, function (err) {
      if (err) { setAuthBusy(false); authError(authMessage(err, 'sign in')); return; }
      $('auth-pass').value = '';
      api('GET', '/api/auth/me', null, function (err2, me) {
        setAuthBusy(false);
        if (err2) { authError(authMessage(err2, 'sign in')); return; }
        busPost({ t: 'login', user: me.user });
        startApp(me);
      }, { no401: true });
    }, { no401: true });
  }

  function onSignIn(e) {
    if (e) e.preventDefault();
    if (authBusy) return;
    var cred = validateAuth(false);
    if (cred) doLogin(cred);
  }

  function onRegister() {
    if (authBusy) return;
    var cred = validateAuth(true);
    if (!cred) return;
    setAuthBusy(true);
    authError('');
    api('POST', '/api/auth/register', cred, function (err) {
      if (err) { setAuthBusy(false); authError(authMessage(err, 'register')); return; }
      doLogin(cred);
    }, { no401: true });
  }

  function showAuth(msg) {
    document.body.className = 'on-auth';
    show($('app'), false);
    show($('auth'), true);
    authError(msg || '');
    setAuthBusy(false);
    setTimeout(function () {
      var u = $('auth-user');
      if (u.value) $('auth-pass').focus(); else u.focus();
    }, 0);
  }

  function onSignOut() {
    var btn = $('btn-signout');
    btn.disabled = true;
    api('POST', '/api/auth/logout', null, function () {
      btn.disabled = false;
      busPost({ t: 'logout', user: S.me });
      stopApp();
      showAuth('You have signed out.');
    }, { no401: true });
  }

  var signingOut = false;

  function onUnauthorized() {
    if (!S.me || signingOut) return;
    signingOut = true;
    setTimeout(function () {
      signingOut = false;
      stopApp();
      showAuth('Your session has ended. Sign in again.');
    }, 0);
  }

  // ------------------------------------------------------------------ app start / stop

  function startApp(me) {
    stopApp();
    S.me = me.user;
    S.joined = {};
    (me.rooms || []).forEach(function (r) { S.joined[lc(r)] = true; });
    T.cursor = me.cursor || '';
    document.body.className = 'on-app';
    show($('auth'), false);
    show($('app'), true);
    $('me-name').textContent = me.user;
    paintAvatar($('me-avatar'), me.user, false);
    setStatus({ state: 'connecting' });
    loadConversations(function () {
      var want = storageGet('sessionStorage', 'sb.active.' + lc(S.me));
      var h = decodeHash();
      if (h) want = h;
      if (want && S.convs[want]) openConv(want, { noFocus: true, keepHash: true });
      transportStart();
    });
  }

  function stopApp() {
    transportStop();
    S.me = null;
    S.convs = {};
    S.order = [];
    S.active = null;
    S.seen = {};
    S.pending = {};
    S.typing = {};
    S.online = {};
    $('conv-list').textContent = '';
    $('messages').textContent = '';
    show($('chat-main'), false);
    show($('chat-empty'), true);
    $('msg-input').value = '';
    composeError('');
  }

  function loadConversations(cb) {
    api('GET', '/api/conversations', null, function (err, data) {
      if (err) {
        if (err.status !== 401) {
          $('open-error').textContent = 'Could not load conversations: ' + err.message;
          setTimeout(function () { if (S.me) loadConversations(function () {}); }, 3000);
        }
        if (cb) cb();
        return;
      }
      $('open-error').textContent = '';
      var keep = {}, i, row, key, c, it;
      (data.conversations || []).forEach(function (row) {
        key = convKeyOf(row.conv);
        keep[key] = true;
        if (row.online != null) S.online[key] = !!row.online;
        c = ensureConv(key, row.conv);
        c.unread = row.unread || 0;
        if (row.last) {
          it = toItem(row.last, true);
          if (row.last.type === 'presence' || !it) {
            c.lastTs = Math.max(c.lastTs, row.last.ts || 0);
            if (c.isRoom && row.last.id > c.maxId) c.maxId = row.last.id;
          } else if (it.id >= c.maxId) {
            c.maxId = it.id;
            c.last = it;
            c.lastTs = it.ts;
          }
        }
      });
      // Joined rooms always show; anything else the server no longer lists
      // (deleted, left) goes, unless it is open and new.
      Object.keys(S.joined).forEach(function (r) {
        if (S.joined[r]) { ensureConv('#' + r, '#' + r); keep['#' + r] = true; }
      });
      for (i = S.order.length - 1; i >= 0; i--) {
        key = S.order[i];
        if (!keep[key] && !(key === S.active && S.convs[key].temp)) dropConv(key);
      }
      sortConvs();
      renderConvList();
      if (cb) cb();
    });
  }

  // ------------------------------------------------------------------ conversation list

  function renderConvList() {
    var ul = $('conv-list'), i, c, li, btn, top, name, dot, time, bottom, prev, badge, av, frag;
    frag = document.createDocumentFragment();
    for (i = 0; i < S.order.length; i++) {
      c = S.convs[S.order[i]];
      li = el('li', 'conv' + (c.key === S.active ? ' active' : '') + (c.unread ? ' has-unread' : ''));
      li.setAttribute('data-conv', c.key);
      btn = el('button', 'conv-btn');
      btn.type = 'button';
      btn.setAttribute('data-conv', c.key);
      if (c.key === S.active) btn.setAttribute('aria-current', 'true');
      av = el('span', 'avatar');
      av.setAttribute('aria-hidden', 'true');
      paintAvatar(av, c.name, c.isRoom);
      if (!c.isRoom) {
        dot = el('span', 'presence' + (S.online[c.key] ? ' on' : ''));
        dot.setAttribute('title', S.online[c.key] ? 'Online' : 'Offline');
        av.appendChild(dot);
      }
      btn.appendChild(av);
      var body = el('span', 'conv-body');
      top = el('span', 'conv-top');
      name = el('span', 'conv-name', c.name);
      top.appendChild(name);
      if (!c.isRoom) {
        top.appendChild(el('span', 'visually-hidden', S.online[c.key] ? ', online' : ', offline'));
      }
      time = el('span', 'conv-time', fmtShort(c.lastTs));
      top.appendChild(time);
      body.appendChild(top);
      bottom = el('span', 'conv-bottom');
      prev = el('span', 'conv-preview', previewOf(c));
      bottom.appendChild(prev);
      if (c.unread > 0) {
        badge = el('span', 'badge', c.unread > 99 ? '99+' : c.unread);
        badge.setAttribute('aria-label', c.unread + ' unread');
        bottom.appendChild(badge);
      }
      body.appendChild(bottom);
      btn.appendChild(body);
      li.appendChild(btn);
      frag.appendChild(li);
    }
    var focusedKey = document.activeElement && document.activeElement.getAttribute &&
      ul.contains(document.activeElement) ? document.activeElement.getAttribute('data-conv') : null;
    ul.textContent = '';
    ul.appendChild(frag);
    if (focusedKey) {
      var again = ul.querySelector('button[data-conv="' + cssEscape(focusedKey) + '"]');
      if (again) again.focus();
    }
    show($('conv-empty'), S.order.length === 0);
    updateTitle();
  }

  function cssEscape(s) {
    return String(s).replace(/["\\]/g, '\\$&');
  }

  function updateTitle() {
    var n = 0, i;
    for (i = 0; i < S.order.length; i++) n += S.convs[S.order[i]].unread || 0;
    document.title = (n ? '(' + n + ') ' : '') + 'Switchboard';
  }

  var listTimer = null;

  function renderConvListSoon() {
    if (listTimer) return;
    listTimer = setTimeout(function () { listTimer = null; if (S.me) renderConvList(); }, 16);
  }

  // ------------------------------------------------------------------ chat view

  function decodeHash() {
    var h = location.hash.replace(/^#\/?/, '');
    if (!h) return null;
    try { h = decodeURIComponent(h); } catch (e) { return null; }
    return convKeyOf(h);
  }

  function openConv(key, opts) {
    opts = opts || {};
    var c = S.convs[key];
    if (!c) return;
    if (S.active && S.active !== key) {
      var old = S.convs[S.active];
      if (old) old.draft = $('msg-input').value;
    }
    S.active = key;
    storageSet('sessionStorage', 'sb.active.' + lc(S.me), key);
    if (!opts.keepHash) {
      try { history.replaceState(null, '', '#/' + encodeURIComponent(c.name)); } catch (e) { /* old browser */ }
    }
    document.body.classList.add('chat-open');
    show($('chat-empty'), false);
    show($('chat-main'), true);
    $('messages').textContent = '';
    c.nodes = {};
    $('msg-input').value = c.draft || '';
    autoGrow();
    composeError('');
    renderHeader();
    renderTyping();
    renderConvList();
    if (!c.loaded) {
      loadLatest(c);
    } else {
      renderMessages(c, { bottom: true });
      scheduleRead(c);
    }
    if (!opts.noFocus) $('msg-input').focus();
  }

  function closeChat() {
    S.active = null;
    storageSet('sessionStorage', 'sb.active.' + lc(S.me || ''), null);
    try { history.replaceState(null, '', location.pathname + location.search); } catch (e) { /* old browser */ }
    document.body.classList.remove('chat-open');
    show($('chat-main'), false);
    show($('chat-empty'), true);
    renderConvList();
  }

  function renderHeader() {
    var c = S.convs[S.active];
    if (!c) return;
    $('chat-name').textContent = c.name;
    paintAvatar($('chat-avatar'), c.name, c.isRoom);
    var sub = $('chat-sub');
    if (c.isRoom) {
      var member = !!S.joined[c.key.slice(1)];
      sub.textContent = member ? 'Room' + (c.members ? ' · ' + c.members + ' members' : '') : 'You are not a member of this room';
      show($('btn-leave'), member);
      show($('btn-join'), !member);
    } else {
      sub.textContent = S.online[c.key] ? 'Online' : 'Offline';
      sub.className = 'chat-sub' + (S.online[c.key] ? ' online' : '');
      show($('btn-leave'), false);
      show($('btn-join'), false);
    }
    var canSend = !c.isRoom || !!S.joined[c.key.slice(1)];
    $('msg-input').disabled = !canSend;
    $('btn-send').disabled = !canSend;
    $('btn-attach').disabled = !canSend;
    $('msg-input').placeholder = canSend ? 'Write a message' : 'Join the room to write';
  }

  function loadLatest(c) {
    c.loading = true;
    $('history-note').textContent = 'Loading…';
    show($('btn-older'), false);
    api('GET', '/api/history?conv=' + encodeURIComponent(c.name) + '&limit=' + PAGE, null, function (err, data) {
      c.loading = false;
      if (err) {
        $('history-note').textContent = err.status === 404 ? 'No such conversation.' : 'Could not load messages: ' + err.message;
        return;
      }
      mergeHistory(c, data.messages || []);
      c.loaded = true;
      c.more = !!data.more;
      if (S.active === c.key) {
        renderMessages(c, { bottom: true });
        scheduleRead(c);
        fillViewport(c);
      }
      renderConvListSoon();
    });
  }

  function mergeHistory(c, list) {
    var i, it, minId = 0;
    for (i = 0; i < list.length; i++) {
      it = toItem(list[i], true);
      if (!it) continue;
      if (!minId || it.id < minId) minId = it.id;
      if (it.kind === 'msg' && list[i].from && lc(list[i].from) !== lc(S.me) && !c.isRoom) {
        c.name = list[i].from; // peer's name as registered
      }
      addItem(c, it, false);
    }
    return minId;
  }

  function loadOlder(c) {
    if (!c.loaded || !c.more || c.loadingOlder) return;
    var before = c.nextBefore || (c.msgs.length ? c.msgs[0].id : 0);
    if (!before || before <= 1) { c.more = false; renderMessages(c, {}); return; }
    c.loadingOlder = true;
    $('history-note').textContent = 'Loading older messages…';
    api('GET', '/api/history?conv=' + encodeURIComponent(c.name) + '&before=' + before + '&limit=' + PAGE, null,
      function (err, data) {
        c.loadingOlder = false;
        if (err) { $('history-note').textContent = 'Could not load older messages.'; return; }
        var sc = $('scroller'), oldH = sc.scrollHeight, oldTop = sc.scrollTop;
        var minId = mergeHistory(c, data.messages || []);
        c.more = !!data.more;
        // A page of only presence events comes back empty: step past it.
        c.nextBefore = minId ? 0 : Math.max(1, before - PAGE);
        if (S.active !== c.key) return;
        renderMessages(c, {});
        sc.scrollTop = oldTop + (sc.scrollHeight - oldH);
        fillViewport(c);
      });
  }

  /* Loads more while the history does not fill the view (nothing to scroll). */
  function fillViewport(c) {
    var sc = $('scroller');
    if (c.more && sc.scrollHeight <= sc.clientHeight + 40) loadOlder(c);
  }

  function isNearBottom() {
    var sc = $('scroller');
    return sc.scrollHeight - sc.scrollTop - sc.clientHeight < 80;
  }

  function scrollToBottom() {
    var sc = $('scroller');
    sc.scrollTop = sc.scrollHeight;
  }

  var GROUP_MS = 5 * 60 * 1000;

  /* Builds the message list of c, reusing the nodes of items already shown
   * so images and players are not reloaded. */
  function renderMessages(c, opts) {
    opts = opts || {};
    var ol = $('messages'), stick = opts.bottom || isNearBottom();
    var items = c.msgs.concat(c.pend), want = [], i, it, prev = null, node, key, day, lastDay = null, cont;
    var used = {};
    for (i = 0; i < items.length; i++) {
      it = items[i];
      day = dayKey(it.ts);
      if (day !== lastDay) {
        key = 'd:' + day;
        node = c.nodes[key];
        if (!node) {
          node = el('li', 'day');
          node.setAttribute('role', 'none');
          node.appendChild(el('span', null, fmtDay(it.ts)));
          c.nodes[key] = node;
        }
        want.push(node);
        used[key] = true;
        lastDay = day;
        prev = null;
      }
      key = it.pending ? 'p:' + it.cid : String(it.id);
      node = c.nodes[key];
      if (it.kind === 'msg') {
        cont = !!(prev && prev.kind === 'msg' && lc(prev.from) === lc(it.from) && it.ts - prev.ts < GROUP_MS);
        if (!node) node = c.nodes[key] = buildMsg(c, it);
        updateMsg(node, it, cont);
      } else if (!node) {
        node = c.nodes[key] = buildNotice(it);
      }
      want.push(node);
      used[key] = true;
      prev = it;
    }
    // Reconcile: move/insert only what is out of place.
    for (i = 0; i < want.length; i++) {
      if (ol.children[i] !== want[i]) ol.insertBefore(want[i], ol.children[i] || null);
    }
    while (ol.children.length > want.length) ol.removeChild(ol.lastChild);
    for (key in c.nodes) if (has(c.nodes, key) && !used[key]) delete c.nodes[key];

    show($('btn-older'), c.loaded && c.more && !c.loadingOlder);
    var note = '';
    if (c.loaded && !c.more) {
      note = c.msgs.length || c.pend.length ? 'This is the beginning of the conversation.' :
        (c.isRoom ? 'No messages in this room yet. Say hello!' : 'No messages yet. Say hello to ' + c.name + '!');
    }
    $('history-note').textContent = note;
    if (stick) scrollToBottom();
  }

  function buildNotice(it) {
    var li = el('li', 'notice');
    li.setAttribute('role', 'none');
    var span = el('span', null, it.user + (it.kind === 'join' ? ' joined the room' : ' left the room'));
    li.appendChild(span);
    var t = el('time', null, fmtTime(it.ts));
    t.setAttribute('datetime', new Date(it.ts).toISOString());
    li.appendChild(t);
    return li;
  }

  function buildMsg(c, it) {
    var mine = lc(it.from) === lc(S.me);
    var li = el('li', 'msg' + (mine ? ' mine' : ''));
    var av = el('span', 'avatar avatar-sm');
    av.setAttribute('aria-hidden', 'true');
    paintAvatar(av, it.from, false);
    li.appendChild(av);
    var wrap = el('div', 'msg-wrap');
    var head = el('div', 'msg-from', mine ? 'You' : it.from);
    wrap.appendChild(head);
    var bubble = el('div', 'bubble');
    if (it.att) bubble.appendChild(buildAttachment(it.att));
    if (it.text && !(it.att && it.text === it.att.name)) {
      var p = el('p', 'msg-text');
      appendLinkified(p, it.text);
      bubble.appendChild(p);
    }
    wrap.appendChild(bubble);
    var meta = el('div', 'msg-meta');
    var t = el('time', null, fmtTime(it.ts));
    t.setAttribute('datetime', new Date(it.ts).toISOString());
    t.setAttribute('title', new Date(it.ts).toLocaleString());
    meta.appendChild(t);
    if (mine) {
      var st = el('span', 'state');
      meta.appendChild(st);
      var retry = el('button', 'btn btn-sm btn-retry', 'Retry');
      retry.type = 'button';
      retry.setAttribute('hidden', '');
      retry.onclick = function () { retrySend(li.getAttribute('data-cid')); };
      meta.appendChild(retry);
    }
    wrap.appendChild(meta);
    li.appendChild(wrap);
    return li;
  }

  function updateMsg(li, it, cont) {
    var cls = 'msg' + (lc(it.from) === lc(S.me) ? ' mine' : '') + (cont ? ' cont' : '');
    var state = it.pending ? it.state : 'sent';
    if (lc(it.from) === lc(S.me)) cls += ' ' + state;
    if (li.className !== cls) li.className = cls;
    if (it.cid) li.setAttribute('data-cid', it.cid);
    if (it.id != null) li.setAttribute('data-id', it.id);
    var st = li.querySelector('.state');
    if (st) {
      var label = state === 'sending' ? 'Sending…' : state === 'failed' ? 'Not sent' : 'Sent';
      if (st.textContent !== label) st.textContent = label;
      st.title = state === 'failed' && it.error ? it.error : '';
      var retry = li.querySelector('.btn-retry');
      if (state === 'failed') retry.removeAttribute('hidden'); else retry.setAttribute('hidden', '');
    }
  }

  var MEDIA_RE = /^\/api\/media\/[A-Za-z0-9._-]+$/;

  function buildAttachment(att) {
    var box = el('div', 'att'), url = String(att.url || ''), mime = lc(att.mime), name = String(att.name || 'file');
    if (!MEDIA_RE.test(url)) {
      box.appendChild(el('span', 'att-file', name));
      return box;
    }
    if (/^image\//.test(mime)) {
      var a = el('a', 'att-img');
      a.href = url;
      a.target = '_blank';
      a.rel = 'noopener noreferrer';
      var img = el('img');
      img.src = url;
      img.alt = name;
      img.loading = 'lazy';
      img.onload = function () { if (stickOnLoad) scrollToBottom(); };
      a.appendChild(img);
      box.appendChild(a);
    } else if (/^video\//.test(mime)) {
      var v = el('video', 'att-video');
      v.src = url;
      v.controls = true;
      v.preload = 'metadata';
      v.setAttribute('aria-label', name);
      box.appendChild(v);
    } else if (/^audio\//.test(mime)) {
      var au = el('audio', 'att-audio');
      au.src = url;
      au.controls = true;
      au.preload = 'metadata';
      au.setAttribute('aria-label', name);
      box.appendChild(au);
    }
    if (!/^image\//.test(mime)) {
      var d = el('a', 'att-file');
      d.href = url;
      d.setAttribute('download', name);
      d.rel = 'noopener noreferrer';
      d.appendChild(el('span', 'att-icon', '\u2193'));
      d.appendChild(el('span', 'att-name', name));
      d.appendChild(el('span', 'att-size', fmtSize(att.size)));
      box.appendChild(d);
    }
    return box;
  }

  var stickOnLoad = true;

  var renderTimer = null;

  function renderActiveSoon() {
    if (renderTimer) return;
    renderTimer = setTimeout(function () {
      renderTimer = null;
      var c = S.convs[S.active];
      if (c && c.loaded) renderMessages(c, {});
    }, 0);
  }

  // ------------------------------------------------------------------ read marks

  var readTimers = {};

  function scheduleRead(c) {
    if (readTimers[c.key]) return;
    readTimers[c.key] = setTimeout(function () {
      delete readTimers[c.key];
      markRead(c);
    }, 150);
  }

  function markRead(c) {
    if (!S.me || S.convs[c.key] !== c) return;
    if (!c.maxId || (c.readUpto >= c.maxId && !c.unread)) return;
    var upto = c.maxId;
    c.readUpto = upto;
    if (c.unread) { c.unread = 0; renderConvListSoon(); }
    api('POST', '/api/read', { conv: c.name, upto: upto }, function () {});
  }

  // ------------------------------------------------------------------ typing

  var lastTypingSent = 0, typingArmed = true;

  /* Tells the peer we type: at most every 2.5 s while typing, sooner (the
   * gateway takes one a second) for the first key after a send. */
  function onComposeInput() {
    autoGrow();
    var c = S.convs[S.active];
    if (!c || !$('msg-input').value) return;
    var since = now() - lastTypingSent;
    if (since < 1100 || (since < 2500 && !typingArmed)) return;
    typingArmed = false;
    if (T.ws && T.ws.ready) {
      lastTypingSent = now();
      wsSend(T.ws, { op: 'typing', conv: c.name });
    }
  }

  function noteTyping(ev) {
    if (!ev.conv || !ev.from || lc(ev.from) === lc(S.me)) return;
    var key = convKeyOf(ev.conv);
    if (!S.typing[key]) S.typing[key] = {};
    S.typing[key][ev.from] = now() + 5000;
    renderTyping();
    setTimeout(renderTyping, 5100);
  }

  function stopTyping(key, user) {
    if (S.typing[key] && S.typing[key][user]) {
      delete S.typing[key][user];
      renderTyping();
    }
  }

  function renderTyping() {
    var box = $('typing'), names = [], t = S.typing[S.active] || {}, u, n = now();
    for (u in t) if (has(t, u)) { if (t[u] > n) names.push(u); else delete t[u]; }
    var text = '';
    if (names.length === 1) text = names[0] + ' is typing…';
    else if (names.length === 2) text = names[0] + ' and ' + names[1] + ' are typing…';
    else if (names.length > 2) text = 'Several people are typing…';
    if (box.textContent !== text) box.textContent = text;
    box.className = 'typing' + (text ? ' on' : '');
  }

  // ------------------------------------------------------------------ sending

  function autoGrow() {
    var ta = $('msg-input');
    ta.style.height = 'auto';
    ta.style.height = Math.min(ta.scrollHeight, 160) + 'px';
  }

  function composeError(msg) {
    $('compose-error').textContent = msg || '';
  }

  function onSubmit(e) {
    if (e) e.preventDefault();
    var c = S.convs[S.active], ta = $('msg-input');
    if (!c) return;
    var text = ta.value.replace(/^\s+|\s+$/g, '');
    if (!text) return;
    ta.value = '';
    c.draft = '';
    typingArmed = true;
    autoGrow();
    composeError('');
    sendMessage(c, text, null);
    ta.focus();
  }

  function sendMessage(c, text, att) {
    var p = {
      kind: 'msg', pending: true, state: 'sending', cid: randomId(16), from: S.me,
      text: text, att: att, ts: now(), conv: c.key, id: null
    };
    c.pend.push(p);
    S.pending[p.cid] = p;
    if (S.active === c.key) renderMessages(c, { bottom: true });
    transmit(p);
  }

  function sendBody(p) {
    var c = S.convs[p.conv];
    var b = { text: p.text, cid: p.cid };
    if (c.isRoom) b.room = c.name.slice(1); else b.to = c.name;
    if (p.att) b.att = p.att;
    return b;
  }

  /* Sends over the WebSocket when it is up, else with POST /api/send. The
   * same cid every time, so a retry never stores a message twice. */
  function transmit(p) {
    if (!S.convs[p.conv]) return;
    p.state = 'sending';
    p.error = '';
    if (T.ws && T.ws.ready) {
      var b = sendBody(p);
      b.op = 'send';
      p.via = T.ws;
      wsSend(T.ws, b);
      clearTimeout(p.timer);
      p.timer = setTimeout(function () {
        if (S.pending[p.cid] === p && p.state === 'sending') sendHttp(p);
      }, 10000);
    } else {
      sendHttp(p);
    }
  }

  function sendHttp(p) {
    p.via = 'http';
    clearTimeout(p.timer);
    api('POST', '/api/send', sendBody(p), function (err, data) {
      if (S.pending[p.cid] !== p) return;
      if (err) { sendFailed(p, err); return; }
      sendAcked(p, data);
    }, { timeout: 20000 });
  }

  function sendAcked(p, ack) {
    clearTimeout(p.timer);
    var c = S.convs[p.conv];
    if (!c) return;
    p.state = 'sent';
    p.ts = ack.ts || p.ts;
    var it = {
      kind: 'msg', from: S.me, text: p.text, att: p.att, ts: p.ts, cid: p.cid, id: ack.id,
      key: c.key, name: c.name
    };
    if (ack.conv) c.name = ack.conv;
    addItem(c, it, false);
    renderConvListSoon();
    if (S.active === c.key) renderMessages(c, {});
  }

  function sendFailed(p, err) {
    clearTimeout(p.timer);
    p.state = 'failed';
    var msg;
    if (err.status === 0 || err.code === 'network') msg = 'Not sent: no connection.';
    else if (err.status === 429 || err.code === 'rate_limited') msg = 'Not sent: you are sending too fast.' + (err.retryAfter ? ' Wait ' + waitText(err.retryAfter) + '.' : '');
    else if (err.code === 'not_found') msg = 'Not sent: no such user or room.';
    else if (err.code === 'forbidden') msg = 'Not sent: you are not a member of this room.';
    else if (err.code === 'too_large') msg = 'Not sent: the message is too long.';
    else msg = 'Not sent: ' + (err.message || 'error') + '.';
    p.error = msg;
    if (S.active === p.conv) {
      composeError(msg);
      var c = S.convs[p.conv];
      if (c) renderMessages(c, {});
    }
  }

  function retrySend(cid) {
    var p = S.pending[cid];
    if (!p) return;
    composeError('');
    transmit(p);
    var c = S.convs[p.conv];
    if (c && S.active === c.key) renderMessages(c, {});
  }

  /* After a socket went away, what it had not acknowledged goes again. */
  function resendUnacked(sock) {
    var cid, p;
    for (cid in S.pending) {
      if (!has(S.pending, cid)) continue;
      p = S.pending[cid];
      if (p.state === 'sending' && p.via === sock) transmit(p);
    }
  }

  // ------------------------------------------------------------------ events

  function handleEvents(list, fromBus) {
    var i;
    for (i = 0; i < list.length; i++) handleEvent(list[i], fromBus);
  }

  function handleEvent(ev) {
    if (!ev || typeof ev !== 'object' || !S.me) return;
    if (ev.type === 'typing') { noteTyping(ev); return; }
    if (ev.type === 'reset') { onReset(ev.chan); return; }
    if (ev.chan != null && ev.id != null) {
      if (has(S.seen, ev.chan) && S.seen[ev.chan] >= ev.id) return; // replayed
      S.seen[ev.chan] = ev.id;
    }
    var it, c, key;
    switch (ev.type) {
      case 'msg':
      case 'join':
      case 'leave':
        it = toItem(ev, false);
        if (!it || it.id == null) return;
        if (it.key.charAt(0) === '#' && S.joined[it.key.slice(1)] === false && S.active !== it.key) return;
        c = ensureConv(it.key, it.name);
        if (it.kind === 'msg') stopTyping(c.key, it.from);
        if (!addItem(c, it, true)) return;
        sortConvs();
        renderConvListSoon();
        if (S.active === c.key) renderActiveSoon();
        if (it.kind !== 'msg' && S.active === c.key) renderHeader();
        return;
      case 'presence':
        key = convKeyOf(ev.user);
        if (S.online[key] === !!ev.online) return;
        S.online[key] = !!ev.online;
        if (S.convs[key]) renderConvListSoon();
        if (S.active === key) renderHeader();
        return;
      case 'read':
        c = S.convs[convKeyOf(ev.conv)];
        if (!c) return;
        if (ev.upto > c.readUpto) c.readUpto = ev.upto;
        if (ev.upto >= c.maxId || c.unread) { c.unread = 0; renderConvListSoon(); }
        return;
      case 'conv_deleted':
        key = convKeyOf(ev.conv);
        if (!S.convs[key]) return;
        dropConv(key);
        if (S.active === key) closeChat(); else renderConvListSoon();
        return;
      case 'joined':
        key = '#' + lc(ev.room);
        S.joined[lc(ev.room)] = true;
        c = ensureConv(key, '#' + ev.room);
        if (!c.lastTs) c.lastTs = ev.ts || now();
        sortConvs();
        renderConvListSoon();
        if (S.active === key) renderHeader();
        transportFollowChanged();
        if (S.roomsOpen) loadRooms();
        return;
      case 'left':
        key = '#' + lc(ev.room);
        S.joined[lc(ev.room)] = false;
        if (S.active !== key) dropConv(key);
        else renderHeader();
        renderConvListSoon();
        transportFollowChanged();
        if (S.roomsOpen) loadRooms();
        return;
      default:
        return; // unknown types are for newer clients
    }
  }

  var resetTimer = null;

  /* A channel's history was recreated or trimmed past our cursor: forget
   * what we know of it and load it again. */
  function onReset(chan) {
    if (chan) delete S.seen[chan];
    if (resetTimer) return;
    resetTimer = setTimeout(function () {
      resetTimer = null;
      if (!S.me) return;
      var k;
      for (k in S.convs) {
        if (!has(S.convs, k)) continue;
        var c = S.convs[k];
        c.loaded = false;
        c.msgs = [];
        c.byId = {};
        c.maxId = 0;
        c.nextBefore = 0;
      }
      loadConversations(function () {
        var c = S.convs[S.active];
        if (c) { $('messages').textContent = ''; c.nodes = {}; loadLatest(c); }
      });
    }, 200);
  }

  // ------------------------------------------------------------------ cross-tab bus

  var bus = null;

  function busInit() {
    if (bus) return;
    if (typeof window.BroadcastChannel === 'function') {
      var bc = new window.BroadcastChannel('switchboard');
      bc.onmessage = function (e) { onBus(e.data); };
      bus = { post: function (m) { bc.postMessage(m); }, close: function () { bc.close(); } };
    } else {
      // storage events: a write in one tab fires the event in the others.
      var onStorage = function (e) {
        if (e.key !== 'sb.bus' || !e.newValue) return;
        var m = parseJSON(e.newValue);
        if (m) onBus(m);
      };
      window.addEventListener('storage', onStorage);
      bus = {
        post: function (m) {
          m.nonce = randomId(6);
          storageSet('localStorage', 'sb.bus', JSON.stringify(m));
        },
        close: function () { window.removeEventListener('storage', onStorage); }
      };
    }
  }

  function busPost(m) {
    busInit();
    m.from = TAB_ID;
    try { bus.post(m); } catch (e) { /* closed */ }
  }

  function onBus(m) {
    if (!m || m.from === TAB_ID) return;
    if (m.t === 'login') {
      if (!S.me) boot();
      return;
    }
    if (!S.me || lc(m.user) !== lc(S.me)) return;
    switch (m.t) {
      case 'logout':
        stopApp();
        showAuth('You have signed out.');
        return;
      case 'ev':
        if (T.role !== 'follower' && T.role !== 'waiting') return;
        if (m.cursor) T.cursor = m.cursor;
        handleEvents(m.evs || [], true);
        return;
      case 'status':
        if (T.role === 'follower' || T.role === 'waiting') { T.leaderStatus = m.status; renderStatus(); }
        return;
      case 'who':
        if (T.role === 'leader') busPost({ t: 'status', user: S.me, status: T.status });
        return;
    }
  }

  // ------------------------------------------------------------------ transport

  var HAS_WS = typeof window.WebSocket === 'function' || typeof window.WebSocket === 'object';
  var HAS_ES = typeof window.EventSource === 'function' || typeof window.EventSource === 'object';
  var MODES = ['ws', 'sse', 'poll'];
  var MODE_NAME = { ws: 'WebSocket', sse: 'SSE', poll: 'long-poll' };

  var T = {
    on: false,
    mode: null,          // 'ws' | 'sse' | 'poll'
    role: null,          // 'own' (ws) | 'leader' | 'follower' | 'waiting'
    cursor: '',
    ws: null,            // {sock, ready, dead}
    conn: null,          // current sse/poll connection {dead, ...}
    attempt: 0,
    timer: null,
    retryAt: 0,
    wsFails: 0,          // WebSocket attempts in a row that never got hello
    wsCuts: [],          // times of recent cuts after hello
    sseFails: 0,
    fellBack: false,
    probeTimer: null,
    probe: null,
    status: { state: 'connecting' },
    leaderStatus: null,
    lock: null,          // leadership: {release()}
    pingTimer: null
  };

  function availableModes() {
    return MODES.filter(function (m) {
      return m === 'poll' || (m === 'ws' && HAS_WS) || (m === 'sse' && HAS_ES);
    });
  }

  function transportStart() {
    T.on = true;
    T.attempt = 0;
    T.wsFails = 0;
    T.wsCuts = [];
    T.sseFails = 0;
    T.fellBack = false;
    T.mode = availableModes()[0];
    connect();
  }

  function transportStop() {
    T.on = false;
    clearTimeout(T.timer);
    clearTimeout(T.probeTimer);
    clearInterval(T.pingTimer);
    closeWs(T.ws);
    T.ws = null;
    closeWs(T.probe);
    T.probe = null;
    closeConn();
    releaseLead();
    T.role = null;
    T.mode = null;
  }

  function connect() {
    clearTimeout(T.timer);
    if (!T.on) return;
    if (T.mode === 'ws') {
      T.role = 'own';
      wsOpen(false);
    } else {
      shareStart();
    }
  }

  function backoffDelay() {
    var base = Math.min(30000, 1000 * Math.pow(2, Math.min(T.attempt, 6)));
    return Math.round(base / 2 + Math.random() * base / 2);
  }

  /* The connection failed or dropped: try again after a randomised,
   * growing delay (or at once when the network comes back). */
  function scheduleReconnect(delay) {
    if (!T.on) return;
    clearTimeout(T.timer);
    if (delay == null) delay = backoffDelay();
    T.attempt++;
    T.retryAt = now() + delay;
    if (navigator.onLine === false) {
      setStatus({ state: 'offline' });
      return; // the 'online' event reconnects
    }
    setStatus({ state: 'reconnecting', mode: T.mode, retryAt: T.retryAt });
    T.timer = setTimeout(connect, delay);
  }

  /* Moves to the next transport after the current one kept failing. */
  function fallBack() {
    var modes = availableModes(), i = modes.indexOf(T.mode);
    if (i < 0 || i + 1 >= modes.length) return false;
    if (T.mode === 'ws') { closeWs(T.ws); T.ws = null; }
    T.mode = modes[i + 1];
    T.fellBack = true;
    T.attempt = 0;
    T.sseFails = 0;
    scheduleProbe();
    connect();
    return true;
  }

  // --- WebSocket

  function wsSend(w, obj) {
    try { w.sock.send(JSON.stringify(obj)); return true; } catch (e) { return false; }
  }

  function closeWs(w) {
    if (!w) return;
    w.dead = true;
    w.ready = false;
    try { w.sock.close(1000, 'bye'); } catch (e) { /* not open yet */ }
  }

  /* probe: a trial socket opened while on SSE/long-poll; on hello the
   * page moves back to the WebSocket. */
  function wsOpen(probe) {
    var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws' +
      (T.cursor ? '?cursor=' + encodeURIComponent(T.cursor) : '');
    var w = { sock: null, ready: false, dead: false, hello: false, openedAt: 0, probe: probe };
    try {
      w.sock = new window.WebSocket(url);
    } catch (e) {
      if (probe) { scheduleProbe(); return; }
      T.wsFails++;
      afterWsLoss(w, 0);
      return;
    }
    if (probe) T.probe = w; else { T.ws = w; setStatus({ state: 'connecting', mode: 'ws' }); }
    var buffered = [];
    w.sock.onmessage = function (m) {
      if (w.dead) return;
      var ev = parseJSON(m.data);
      if (!ev) return;
      if (ev.type === 'hello') {
        if (w.probe) {
          // Switch over: the socket already caught up from the cursor.
          w.probe = false;
          T.probe = null;
          shareStop();
          T.mode = 'ws';
          T.fellBack = false;
          T.role = 'own';
          T.ws = w;
          handleEvents(buffered);
          buffered = null;
        }
        w.hello = true;
        w.ready = true;
        w.openedAt = now();
        if (ev.cursor) T.cursor = ev.cursor;
        T.wsFails = 0;
        T.attempt = 0;
        setStatus({ state: 'live', mode: 'ws' });
        startPing(w);
        return;
      }
      if (ev.type === 'pong') { w.pongAt = now(); return; }
      if (ev.type === 'ack') {
        var p = S.pending[ev.cid];
        if (p) sendAcked(p, ev);
        return;
      }
      if (ev.type === 'error') {
        var q = ev.cid && S.pending[ev.cid];
        if (q) sendFailed(q, { status: -1, code: ev.code, message: ev.message });
        return;
      }
      if (w.probe) { buffered.push(ev); return; }
      if (ev.cursor) T.cursor = ev.cursor;
      handleEvent(ev);
    };
    w.sock.onclose = function (e) {
      if (w.dead) return;
      w.dead = true;
      w.ready = false;
      if (w === T.probe) { T.probe = null; scheduleProbe(); return; }
      if (w !== T.ws) return;
      T.ws = null;
      clearInterval(T.pingTimer);
      resendUnacked(w);
      if (e.code === 4001) { onUnauthorized(); return; }
      if (!w.hello) T.wsFails++;
      afterWsLoss(w, e.code);
    };
  }

  function afterWsLoss(w, code) {
    if (!T.on) return;
    var t = now();
    if (w.hello && t - w.openedAt < 60000) T.wsCuts.push(t);
    T.wsCuts = T.wsCuts.filter(function (x) { return t - x < 120000; });
    if (!w.hello && T.wsFails === 1) checkSession();
    // Cannot connect twice in a row, or cut three times in two minutes:
    // this network or proxy does not carry WebSockets. Fall back.
    if (T.wsFails >= 2 || T.wsCuts.length >= 3) {
      if (fallBack()) return;
    }
    if (code === 4008) { scheduleReconnect(200); return; } // slow consumer: resume now
    scheduleReconnect();
  }

  /* A refused upgrade looks like any failure to a page: ask chat-auth. */
  function checkSession() {
    api('GET', '/api/auth/me', null, function () {});
  }

  function startPing(w) {
    clearInterval(T.pingTimer);
    w.pongAt = now();
    T.pingTimer = setInterval(function () {
      if (w.dead) { clearInterval(T.pingTimer); return; }
      if (now() - w.pongAt > 70000) { // two pings unanswered: the link is dead
        try { w.sock.close(4000, 'no pong'); } catch (e) { /* ignore */ }
        w.sock.onclose({ code: 1006 });
        return;
      }
      wsSend(w, { op: 'ping' });
    }, 30000);
  }

  function scheduleProbe() {
    clearTimeout(T.probeTimer);
    if (!T.on || !HAS_WS || !T.fellBack) return;
    T.probeTimer = setTimeout(function () {
      if (!T.on || T.mode === 'ws' || T.probe) return;
      wsOpen(true);
    }, 20000 + Math.random() * 10000);
  }

  // --- shared SSE / long-poll: one leader tab per browser

  function shareStart() {
    if (T.role === 'leader') { connOpen(); return; }
    if (T.role === 'follower' || T.role === 'waiting') return;
    T.role = 'waiting';
    T.leaderStatus = null;
    setStatus({ state: 'connecting', mode: T.mode });
    busInit();
    acquireLead(function () {
      if (!T.on || (T.role !== 'waiting' && T.role !== 'follower')) { releaseLead(); return; }
      T.role = 'leader';
      T.attempt = 0;
      connOpen();
    });
    // Until the lock is ours, another tab leads: follow it.
    setTimeout(function () {
      if (T.role === 'waiting') {
        T.role = 'follower';
        renderStatus();
        busPost({ t: 'who', user: S.me });
      }
    }, 150);
  }

  function shareStop() {
    closeConn();
    releaseLead();
    T.role = null;
  }

  function acquireLead(cb) {
    var name = 'sb-leader:' + lc(S.me);
    if (navigator.locks && navigator.locks.request && window.Promise) {
      var lock = { released: false, release: null };
      T.lock = lock;
      navigator.locks.request(name, function () {
        if (lock.released) return null;
        return new window.Promise(function (resolve) {
          lock.release = resolve;
          cb();
        });
      });
      return;
    }
    // Fallback: a lease in localStorage, renewed every second by the leader.
    var key = 'sb.lease.' + lc(S.me), l2 = { released: false, timer: null };
    l2.release = function () {
      clearInterval(l2.timer);
      var cur = parseJSON(storageGet('localStorage', key) || '');
      if (cur && cur.id === TAB_ID) storageSet('localStorage', key, null);
    };
    T.lock = l2;
    var leading = false;
    function tick() {
      if (l2.released) return;
      var cur = parseJSON(storageGet('localStorage', key) || ''), t = now();
      if (!cur || cur.id === TAB_ID || t - cur.t > 3500) {
        storageSet('localStorage', key, JSON.stringify({ id: TAB_ID, t: t }));
        setTimeout(function () {
          var again = parseJSON(storageGet('localStorage', key) || '');
          if (!l2.released && again && again.id === TAB_ID && !leading) { leading = true; cb(); }
        }, 60);
      }
    }
    tick();
    l2.timer = setInterval(tick, 1000);
  }

  function releaseLead() {
    var l = T.lock;
    T.lock = null;
    if (!l) return;
    l.released = true;
    if (l.release) l.release();
  }

  function closeConn() {
    var c = T.conn;
    T.conn = null;
    if (!c) return;
    c.dead = true;
    if (c.es) c.es.close();
    if (c.xhr) { try { c.xhr.abort(); } catch (e) { /* ignore */ } }
  }

  /* Events from our own SSE/long-poll: apply, and pass them to the tabs
   * that follow this one. */
  function leaderDeliver(evs, cursor) {
    if (cursor) T.cursor = cursor;
    handleEvents(evs);
    busPost({ t: 'ev', user: S.me, evs: evs, cursor: T.cursor });
  }

  function connOpen() {
    closeConn();
    if (T.mode === 'sse') sseOpen(); else pollOpen();
  }

  function sseOpen() {
    var c = { dead: false, opened: false, es: null };
    T.conn = c;
    setStatus({ state: 'connecting', mode: 'sse' });
    try {
      c.es = new window.EventSource('/api/stream' + (T.cursor ? '?cursor=' + encodeURIComponent(T.cursor) : ''));
    } catch (e) {
      T.sseFails = 99;
      connLost(c);
      return;
    }
    c.es.onopen = function () {
      if (c.dead) return;
      c.opened = true;
      T.sseFails = 0;
      T.attempt = 0;
      setStatus({ state: 'live', mode: 'sse' });
    };
    c.es.onmessage = function (e) {
      if (c.dead) return;
      var ev = parseJSON(e.data);
      if (ev) leaderDeliver([ev], e.lastEventId || '');
    };
    c.es.onerror = function () {
      if (c.dead) return;
      // EventSource would retry by itself, but we keep our own backoff,
      // status line and cursor.
      c.dead = true;
      c.es.close();
      if (!c.opened) T.sseFails++;
      connLost(c);
    };
  }

  function pollOpen() {
    var c = { dead: false, xhr: null, live: false };
    T.conn = c;
    // The first request of a connection is a plain poll (answered at once)
    // so the status line can say "live" truthfully; then long-polls.
    // (Browsers may not report a parked response's headers before its body.)
    var live = T.status.state === 'live' && T.status.mode === 'poll';
    if (!live) setStatus({ state: 'connecting', mode: 'poll' });
    c.xhr = api('GET', '/api/poll?timeout=' + (live ? 25 : 0) + (T.cursor ? '&cursor=' + encodeURIComponent(T.cursor) : ''), null,
      function (err, data) {
        if (c.dead) return;
        c.dead = true;
        if (T.conn === c) T.conn = null;
        if (err || !data) {
          if (err && err.status === 401) return;
          connLost(c, err);
          return;
        }
        T.attempt = 0;
        setStatus({ state: 'live', mode: 'poll' });
        leaderDeliver(data.events || [], data.cursor);
        if (T.on && T.role === 'leader' && T.mode === 'poll') pollOpen();
      }, {
        timeout: 70000,
        headersReceived: function (x) {
          if (!c.dead && x.status === 200) { T.attempt = 0; setStatus({ state: 'live', mode: 'poll' }); }
        }
      });
  }

  function connLost(c, err) {
    if (!T.on || T.role !== 'leader') return;
    if (T.mode === 'sse' && T.sseFails >= 3) {
      checkSession();
      if (fallBack()) return;
    }
    if (T.attempt === 0) checkSession();
    if (err && err.status === 400 && /cursor/.test(err.message || '')) T.cursor = ''; // start from now
    scheduleReconnect(err && err.retryAfter ? err.retryAfter * 1000 : null);
  }

  /* The set of followed rooms changed. WebSockets follow it by themselves;
   * an SSE stream picks it up only when it is opened again. */
  function transportFollowChanged() {
    if (T.mode === 'sse' && T.role === 'leader' && T.conn && !T.conn.dead) {
      setTimeout(function () { if (T.on && T.mode === 'sse' && T.role === 'leader') connOpen(); }, 50);
    }
  }

  // --- status line

  function setStatus(st) {
    T.status = st;
    if (T.role === 'leader') busPost({ t: 'status', user: S.me, status: st });
    renderStatus();
  }

  var statusTick = null;

  function renderStatus() {
    var st = T.status, shared = false;
    if (T.role === 'follower' || T.role === 'waiting') {
      shared = true;
      st = T.leaderStatus || { state: 'connecting', mode: T.mode };
    }
    if (navigator.onLine === false) st = { state: 'offline' };
    var text, box = $('status');
    switch (st.state) {
      case 'live':
        text = 'Live via ' + MODE_NAME[st.mode] + (shared ? ' (shared with another tab)' : '');
        break;
      case 'reconnecting':
        var s = Math.max(0, Math.ceil((st.retryAt - now()) / 1000));
        text = 'Reconnecting' + (st.mode ? ' (' + MODE_NAME[st.mode] + ')' : '') +
          (s > 0 ? ' in ' + s + ' s' : '…');
        break;
      case 'offline':
        text = 'Offline — waiting for the network';
        break;
      default:
        text = 'Connecting' + (st.mode ? ' via ' + MODE_NAME[st.mode] : '') + '…';
    }
    var textEl = $('status-text');
    if (textEl.textContent !== text) textEl.textContent = text;
    box.setAttribute('data-state', st.state);
    box.setAttribute('data-transport', st.state === 'live' ? st.mode : '');
    box.setAttribute('data-shared', shared ? 'true' : 'false');
    show($('status-retry'), st.state === 'reconnecting' && !shared);
    clearTimeout(statusTick);
    if (st.state === 'reconnecting') statusTick = setTimeout(renderStatus, 1000);
  }

  // ------------------------------------------------------------------ rooms

  function loadRooms() {
    api('GET', '/api/rooms', null, function (err, data) {
      var ul = $('room-list');
      if (err) { $('room-error').textContent = 'Could not load rooms: ' + err.message; return; }
      $('room-error').textContent = '';
      ul.textContent = '';
      var rooms = data.rooms || [];
      if (!rooms.length) {
        var none = el('li', 'room-empty', 'No rooms yet. Create the first one.');
        ul.appendChild(none);
      }
      rooms.forEach(function (r) {
        var li = el('li', 'room');
        var info = el('span', 'room-info');
        info.appendChild(el('span', 'room-name', '#' + r.room));
        info.appendChild(el('span', 'room-meta', (r.title && r.title !== r.room ? r.title + ' · ' : '') +
          r.members + (r.members === 1 ? ' member' : ' members')));
        li.appendChild(info);
        var b = el('button', 'btn btn-sm ' + (r.joined ? 'btn-ghost' : 'btn-primary'), r.joined ? 'Open' : 'Join');
        b.type = 'button';
        b.setAttribute('aria-label', (r.joined ? 'Open' : 'Join') + ' #' + r.room);
        b.onclick = function () { enterRoom(r.room, false); };
        li.appendChild(b);
        ul.appendChild(li);
        var c = S.convs['#' + lc(r.room)];
        if (c) c.members = r.members;
      });
    });
  }

  /* Joins (or with create, creates) a room and opens it. */
  function enterRoom(room, create, errBox) {
    room = room.replace(/^#/, '');
    errBox = errBox || $('room-error');
    errBox.textContent = '';
    var key = '#' + lc(room);
    function opened() {
      S.joined[lc(room)] = true;
      var c = ensureConv(key, '#' + room);
      if (!c.lastTs) c.lastTs = now();
      sortConvs();
      renderConvList();
      openConv(key);
      transportFollowChanged();
      if (S.roomsOpen) loadRooms();
    }
    if (S.joined[lc(room)]) { opened(); return; }
    api('POST', create ? '/api/rooms' : '/api/rooms/join', { room: room }, function (err, data) {
      if (!err) {
        if (data && data.room) room = data.room;
        opened();
        return;
      }
      if (err.status === 404 && !create) { enterRoom(room, true, errBox); return; }
      if (err.status === 409) { enterRoom(room, false, errBox); return; }
      errBox.textContent = err.status === 400 ? 'Room names are 1–32 letters, digits, _ . or -.' : 'Could not open #' + room + ': ' + err.message;
    });
  }

  function onOpenSubmit(e) {
    e.preventDefault();
    var input = $('open-input'), v = input.value.trim(), err = $('open-error');
    err.textContent = '';
    if (!v) return;
    var isRoom = v.charAt(0) === '#', name = isRoom ? v.slice(1) : v;
    if (!NAME_RE.test(name)) {
      err.textContent = 'Names are 1–32 letters, digits, _ . or -, starting with a letter or digit.';
      return;
    }
    if (isRoom) { input.value = ''; enterRoom(name, false, err); return; }
    if (lc(name) === lc(S.me)) { err.textContent = 'That is you. Pick someone else.'; return; }
    var key = convKeyOf(name);
    if (S.convs[key]) { input.value = ''; openConv(key); return; }
    api('GET', '/api/history?conv=' + encodeURIComponent(name) + '&limit=' + PAGE, null, function (er, data) {
      if (er) {
        err.textContent = er.status === 404 ? 'There is no user called ' + name + '.' : 'Could not open the chat: ' + er.message;
        return;
      }
      input.value = '';
      var c = ensureConv(key, name);
      c.temp = !data.messages || !data.messages.length;
      mergeHistory(c, data.messages || []);
      c.loaded = true;
      c.more = !!data.more;
      if (!c.lastTs) c.lastTs = now();
      sortConvs();
      openConv(key);
    });
  }

  // ------------------------------------------------------------------ delete / leave

  function confirmDialog(text, okLabel, cb) {
    var d = $('confirm');
    if (!d.showModal) { if (window.confirm(text)) cb(); return; }
    $('confirm-text').textContent = text;
    $('confirm-ok').textContent = okLabel;
    d.returnValue = '';
    d.onclose = function () { if (d.returnValue === 'ok') cb(); };
    d.showModal();
  }

  function onDelete() {
    var c = S.convs[S.active];
    if (!c) return;
    confirmDialog('Delete your copy of ' + c.name + '? ' +
      (c.isRoom ? 'You stay in the room; its history before now is hidden for you.' :
        c.name + ' keeps their copy.'), 'Delete', function () {
      api('POST', '/api/conversations/delete', { conv: c.name }, function (err) {
        if (err && err.status !== 404) { composeError('Could not delete: ' + err.message); return; }
        dropConv(c.key);
        if (S.active === c.key) closeChat(); else renderConvList();
      });
    });
  }

  function onLeave() {
    var c = S.convs[S.active];
    if (!c || !c.isRoom) return;
    api('POST', '/api/rooms/leave', { room: c.name.slice(1) }, function (err) {
      if (err) { composeError('Could not leave: ' + err.message); return; }
      S.joined[c.key.slice(1)] = false;
      renderHeader();
      transportFollowChanged();
    });
  }

  // ------------------------------------------------------------------ uploads

  function pickFile() {
    var c = S.convs[S.active];
    if (!c) return;
    $('file-input').click();
  }

  function uploadFile(file) {
    var c = S.convs[S.active];
    if (!c || !file) return;
    composeError('');
    var ta = $('msg-input'), caption = ta.value.replace(/^\s+|\s+$/g, '');
    show($('upload'), true);
    $('upload-name').textContent = file.name;
    $('upload-progress').value = 0;
    $('upload-pct').textContent = '0%';
    api('PUT', '/api/upload?name=' + encodeURIComponent(file.name), file, function (err, data) {
      show($('upload'), false);
      if (err) {
        var msg;
        if (err.status === 413) msg = '“' + file.name + '” is too large to send (' + fmtSize(file.size) + ').';
        else if (err.status === 415) msg = 'Files of type ' + (file.type || 'unknown') + ' cannot be sent.';
        else if (err.status === 0) msg = 'Upload failed: no connection.';
        else msg = 'Upload failed: ' + err.message;
        composeError(msg);
        return;
      }
      if (S.convs[c.key] !== c) return;
      if (caption && ta.value.replace(/^\s+|\s+$/g, '') === caption && S.active === c.key) { ta.value = ''; autoGrow(); }
      sendMessage(c, caption || data.name || file.name, {
        url: data.url, mime: data.mime, size: data.size, name: data.name || file.name
      });
    }, {
      raw: true,
      contentType: file.type || 'application/octet-stream',
      progress: function (e) {
        if (!e.lengthComputable) return;
        var pct = Math.round(e.loaded * 100 / e.total);
        $('upload-progress').value = pct;
        $('upload-pct').textContent = pct + '%';
      }
    });
  }

  function setupDrop() {
    var zone = $('chat'), depth = 0;
    function hasFiles(e) {
      var t = e.dataTransfer && e.dataTransfer.types;
      if (!t) return false;
      for (var i = 0; i < t.length; i++) if (t[i] === 'Files') return true;
      return false;
    }
    zone.addEventListener('dragenter', function (e) {
      if (!hasFiles(e) || !S.convs[S.active]) return;
      e.preventDefault();
      depth++;
      show($('drop-hint'), true);
    });
    zone.addEventListener('dragover', function (e) {
      if (!hasFiles(e) || !S.convs[S.active]) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
    });
    zone.addEventListener('dragleave', function () {
      depth = Math.max(0, depth - 1);
      if (!depth) show($('drop-hint'), false);
    });
    zone.addEventListener('drop', function (e) {
      if (!hasFiles(e)) return;
      e.preventDefault();
      depth = 0;
      show($('drop-hint'), false);
      var f = e.dataTransfer.files && e.dataTransfer.files[0];
      if (f && !$('btn-attach').disabled) uploadFile(f);
    });
  }

  // ------------------------------------------------------------------ wiring

  function boot() {
    document.body.className = 'booting';
    api('GET', '/api/auth/me', null, function (err, me) {
      if (err) {
        if (err.status === 401) { showAuth(''); return; }
        showAuth('The server is not answering (' + err.message + '). Retrying…');
        setTimeout(function () { if (!S.me) boot(); }, 3000);
        return;
      }
      startApp(me);
    }, { no401: true });
  }

  function wire() {
    $('auth-form').addEventListener('submit', onSignIn);
    $('btn-register').addEventListener('click', onRegister);
    $('btn-signout').addEventListener('click', onSignOut);
    $('open-form').addEventListener('submit', onOpenSubmit);
    $('room-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var v = $('room-input').value.trim().replace(/^#/, '');
      if (!v) return;
      if (!NAME_RE.test(v)) { $('room-error').textContent = 'Room names are 1–32 letters, digits, _ . or -.'; return; }
      $('room-input').value = '';
      enterRoom(v, true);
    });
    $('rooms-box').addEventListener('toggle', function () {
      S.roomsOpen = $('rooms-box').open;
      if (S.roomsOpen) loadRooms();
    });
    $('conv-list').addEventListener('click', function (e) {
      var b = e.target;
      while (b && b !== this && !b.getAttribute('data-conv')) b = b.parentNode;
      if (b && b !== this) openConv(b.getAttribute('data-conv'));
    });
    $('btn-back').addEventListener('click', closeChat);
    $('btn-delete').addEventListener('click', onDelete);
    $('btn-leave').addEventListener('click', onLeave);
    $('btn-join').addEventListener('click', function () {
      var c = S.convs[S.active];
      if (c) enterRoom(c.name.slice(1), false, $('compose-error'));
    });
    $('btn-older').addEventListener('click', function () {
      var c = S.convs[S.active];
      if (c) loadOlder(c);
    });
    $('scroller').addEventListener('scroll', function () {
      var c = S.convs[S.active];
      stickOnLoad = isNearBottom();
      if (c && this.scrollTop < 120) loadOlder(c);
    });
    $('composer').addEventListener('submit', onSubmit);
    $('msg-input').addEventListener('keydown', function (e) {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing && e.keyCode !== 229) {
        e.preventDefault();
        onSubmit();
      } else if (e.key === 'Escape' && document.body.classList.contains('chat-open') && window.innerWidth < 760) {
        closeChat();
      }
    });
    $('msg-input').addEventListener('input', onComposeInput);
    $('btn-attach').addEventListener('click', pickFile);
    $('file-input').addEventListener('change', function () {
      var f = this.files && this.files[0];
      if (f) uploadFile(f);
      this.value = '';
    });
    $('status-retry').addEventListener('click', function () {
      T.attempt = 0;
      connect();
    });
    setupDrop();
    document.addEventListener('visibilitychange', function () {
      var c = S.convs[S.active];
      if (c && pageVisible() && c.loaded) scheduleRead(c);
    });
    window.addEventListener('online', function () {
      if (T.on && (T.status.state === 'offline' || T.status.state === 'reconnecting')) { T.attempt = 0; connect(); }
      else renderStatus();
    });
    window.addEventListener('offline', function () { if (S.me) renderStatus(); });
    window.addEventListener('pagehide', function () { releaseLead(); });
    busInit();
  }

  wire();
  boot();
}());
