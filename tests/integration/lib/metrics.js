'use strict';
// Reading Prometheus-style counters (chat-poll's /api/poll/metrics,
// wsgate's /metrics) and waiting on them, for the integration tests.

const assert = require('node:assert/strict');
const { request, waitFor } = require('./http');

/** name → number for every "name value" line of a metrics page
 * (labels, if any, stay part of the name). */
async function readMetrics(base, path) {
  const res = await request(base, 'GET', path);
  assert.equal(res.status, 200, `metrics ${path}: ${res.status} ${res.text}`);
  const m = {};
  for (const line of res.text.split('\n')) {
    const mm = /^([a-z_]+(?:\{[^}]*\})?) (-?\d+(?:\.\d+)?)$/.exec(line.trim());
    if (mm) m[mm[1]] = Number(mm[2]);
  }
  return m;
}

/** chat-poll's counters, through the front server of stack s. */
function pollMetrics(s) {
  return readMetrics(s.url, '/api/poll/metrics');
}

/** Waits (bounded) until pred(chat-poll metrics) holds; returns them. */
function waitPollMetrics(s, pred, what, timeout = 10000) {
  return waitFor(async () => {
    const m = await pollMetrics(s);
    return pred(m) ? m : null;
  }, { timeout, interval: 25, what });
}

module.exports = { readMetrics, pollMetrics, waitPollMetrics };
