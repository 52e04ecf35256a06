#!/usr/bin/env node
// Differential test: ssenotify's SSE parser against a real browser's EventSource (Chromium).
//
// Generates COUNT random event streams from SEED, serves each one twice from a loopback server
// (once to headless Chromium, once to `ssenotify listen --json`), and compares, per stream:
//  - the events each client dispatched (type, data, lastEventId, in order);
//  - the Last-Event-ID of its reconnect request: absent, or its value as HTTP defines a field value
//    (leading/trailing SP and HTAB are not part of it; a difference only there is printed as a note);
//  - the reconnect delay: never shorter than the reconnection time the stream's `retry:` set (or
//    the client's default), and not more than 2 s longer, so a misread `retry:` value shows.
// A spec model (the WHATWG parsing rules, written out below) is a third opinion, printed beside
// every disagreement. Two places where Chromium itself deviates from the spec are modelled as well
// (KNOWN_CHROMIUM_DEVIATIONS): the generator keeps producing them, and a difference they explain
// exactly (Chromium as the deviation predicts, ssenotify as the spec says) is a note, not a failure.
//
// How a stream is served: the first request of a client for it gets 200 text/event-stream and the
// stream's bytes in the stream's own chunks, with pauses of a few ms between writes (so CR|LF,
// multi-byte UTF-8 sequences, BOMs and field names are really split between reads), then the
// response ends. The second request (the reconnect) is recorded and answered 204: Chromium fails
// the connection (readyState CLOSED) and ssenotify exits. Browser and ssenotify use different
// paths (/b/ID, /s/ID), so they never share a request counter.
//
// The browser side: one server listens on PORTS loopback ports; the top page holds one iframe
// per port (same-origin with its streams, so no CORS is involved) and each iframe runs SLOTS
// workers that long-poll /next for a stream, open an EventSource on it, listen for `message` and
// every type the stream could produce, and POST what they saw when readyState is CLOSED. Chrome's
// limit of 6 connections per host:port is respected (SLOTS <= 5), and its 3 s default reconnect
// delay is paid in parallel.
//
// Environment: SEED (uint32; random by default, always printed), COUNT (default 300),
// ONLY=i[,j...] (run just these stream indexes of SEED), CHUNKS_HEX=hex|hex|... (run this one
// stream, written in these chunks), SSENOTIFY_CLI (the binary under test; run.sh sets it),
// CHROMIUM (default /usr/bin/chromium), CHROMIUM_PROFILE (a fresh directory; run.sh makes one),
// PORTS (default 40), SLOTS (default 4), CLI_JOBS (parallel ssenotify processes, default 8),
// SHRINK (0: do not shrink; all: shrink every failing stream; default: the first one),
// SHRINK_SECONDS (time budget per shrink, default 150), SHOW (how many disagreements to print in
// full, default 3), STRICT=1 (known Chromium deviations fail too), DUMP=file (one JSON line per
// stream with both sides' results), VERBOSE=1 (print the page's own errors).
// Exit status: 0 when both agree on every stream, 1 on any disagreement, 2 on a harness error.
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn } from 'node:child_process';

const env = process.env;
const SEED = env.SEED !== undefined && env.SEED !== '' ? Number(env.SEED) >>> 0 : crypto.randomInt(0, 2 ** 32 - 1);
const COUNT = Number(env.COUNT || 300);
const CLI = env.SSENOTIFY_CLI || path.resolve(import.meta.dirname ?? '.', '../../target/debug/ssenotify');
const CHROMIUM = env.CHROMIUM || '/usr/bin/chromium';
const PORTS = Number(env.PORTS || 40);
const SLOTS = Math.min(5, Number(env.SLOTS || 4));
const CLI_JOBS = Number(env.CLI_JOBS || 8);
const SHRINK = env.SHRINK ?? '1';
const SHRINK_SECONDS = Number(env.SHRINK_SECONDS || 150);
const BROWSER_TIMEOUT_MS = 20000; // the page gives up on one stream after this
const JOB_TIMEOUT_MS = 45000; // the server gives up on a client after this
const MAX_STREAM = 16 * 1024;

const t0 = Date.now();
const RUN = env.CHUNKS_HEX ? 'CHUNKS_HEX' : `SEED=${SEED}`;
const say = (...a) => console.log(...a);
const warn = (...a) => console.error(...a);

// ---------------------------------------------------------------- random numbers (seeded)
function mulberry32(a) {
  return function () {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function rngFor(seed, index) {
  // Every stream has its own generator, so ONLY=i rebuilds stream i without the others.
  const h = crypto.createHash('sha256').update(`${seed}:${index}`).digest();
  const r = mulberry32(h.readUInt32LE(0));
  const rng = {
    f: r,
    int: (lo, hi) => lo + Math.floor(r() * (hi - lo + 1)), // inclusive
    chance: (p) => r() < p,
    pick: (arr) => arr[Math.floor(r() * arr.length)],
    weighted: (pairs) => { // [[weight, value], ...]
      const total = pairs.reduce((s, [w]) => s + w, 0);
      let x = r() * total;
      for (const [w, v] of pairs) { if ((x -= w) < 0) return v; }
      return pairs[pairs.length - 1][1];
    },
  };
  return rng;
}

// ---------------------------------------------------------------- bytes helpers
const bytes = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : Buffer.isBuffer(p) ? p : Buffer.from(p))));
function escapeBytes(buf) {
  let s = '';
  for (const b of buf) {
    if (b === 0x0a) s += '\\n';
    else if (b === 0x0d) s += '\\r';
    else if (b === 0x09) s += '\\t';
    else if (b === 0x5c) s += '\\\\';
    else if (b === 0x22) s += '\\"';
    else if (b >= 0x20 && b < 0x7f) s += String.fromCharCode(b);
    else s += '\\x' + b.toString(16).padStart(2, '0');
  }
  return '"' + s + '"';
}
const hex = (buf) => Buffer.from(buf).toString('hex');
const escapeText = (s) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));

// ---------------------------------------------------------------- the stream generator
const BOM = [0xef, 0xbb, 0xbf];
const INVALID_UTF8 = [
  [0xff], [0xfe], [0x80], [0xbf], // never valid / lone continuation bytes
  [0xc3], [0xe2, 0x82], [0xf0, 0x9f, 0x98], // truncated 2-, 3- and 4-byte sequences
  [0xc0, 0xaf], [0xc1, 0xbf], [0xe0, 0x80, 0xaf], [0xf0, 0x80, 0x80, 0xaf], // overlong forms
  [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], // UTF-16 surrogates
  [0xf4, 0x90, 0x80, 0x80], [0xf5, 0x80], // above U+10FFFF
  [0xc3, 0x28], [0xe2, 0x28, 0xa1], [0xf0, 0x28, 0x8c, 0x28], // lead byte then ASCII
];
const UNICODE = ['é', 'naïve', 'ü', '😀', '👍🏽', '日本語', '中文', 'Ω≈ç', '\u2028', '\u0085', '\uFEFF', 'a\u00a0b', '\u{10FFFF}'];
const ASCII_VALUES = ['x', 'hello', 'hello world', 'a:b', ':', '::x', ' ', '  ', 'x ', '42', '{"k":1}', 'data: nested', 'id: 3', '\t', 'tab\there'];
const CONTROL = [[0x00], [0x01], [0x7f], [0x1b], [0x0b], [0x0c]];
const TYPES = ['message', 'update', '', 'Update', 'open', 'error', 'a:b', 'x y', ' lead', 'é', '😀', 'ping', 'trailing '];

function randomAscii(rng, n) {
  let s = '';
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 :_-.{}"';
  for (let i = 0; i < n; i++) s += alphabet[rng.int(0, alphabet.length - 1)];
  return s;
}
function valuePart(rng, budget) {
  return rng.weighted([
    [5, () => bytes(rng.pick(ASCII_VALUES))],
    [4, () => bytes(randomAscii(rng, rng.int(1, 24)))],
    [4, () => bytes(rng.pick(UNICODE))],
    [3, () => bytes(rng.pick(INVALID_UTF8))],
    [1, () => bytes(rng.pick(CONTROL))],
    [1, () => bytes(BOM)],
    [1, () => Buffer.alloc(0)],
    [budget > 1500 ? 1 : 0, () => bytes(randomAscii(rng, rng.int(1000, Math.min(5000, budget - 200))))],
  ])();
}
function value(rng, budget) {
  const n = rng.weighted([[3, 0], [10, 1], [5, 2], [2, 3]]);
  return bytes(...Array.from({ length: n }, () => valuePart(rng, budget)));
}
function separator(rng) {
  // what follows the field name: the colon and 0, 1 or 2 spaces (one is stripped), or odd things
  return bytes(rng.weighted([[8, ': '], [5, ':'], [3, ':  '], [1, ':\t'], [1, ': :'], [1, '::']]));
}
function idValue(rng) {
  return rng.weighted([
    [6, () => bytes(String(rng.int(0, 999)))],
    [2, () => bytes(randomAscii(rng, rng.int(1, 12)).trim() || 'x')],
    [2, () => Buffer.alloc(0)], // `id:` empty: resets the last event ID
    [2, () => bytes('a', [0x00], 'b')], // contains NUL: the field is ignored
    [1, () => bytes([0x00])],
    [2, () => bytes(rng.pick(UNICODE.slice(0, 8)))],
    [2, () => bytes('id', rng.pick(INVALID_UTF8))], // becomes U+FFFD
    [1, () => bytes(' lead')], // with ':' + ' ' this is one leading space kept in the id
    [1, () => bytes('trail ')],
    [1, () => bytes('tab\tin')],
    [1, () => bytes('c', rng.pick(CONTROL.slice(1)))], // a control character (not NUL)
    [1, () => bytes(randomAscii(rng, 200))],
  ])();
}
function retryValue(rng) {
  return rng.weighted([
    [6, () => bytes(String(rng.int(0, 50)))],
    [1, () => bytes('007')],
    [1, () => Buffer.alloc(0)],
    // not only ASCII digits, so ignored; read as a number they would mean seconds, which shows
    [2, () => bytes(rng.pick(['x', '2500x', '-2500', '+2500', '2500.0', '2500 ', ' 2500', '٢٥٠٠', '25e2', '0x9c4', '２５００', '2500\u0000']))],
  ])();
}
function line(rng, budget) {
  const kind = rng.weighted([
    [30, 'data'], [3, 'data-bare'], [10, 'event'], [2, 'event-bare'], [10, 'id'], [2, 'id-bare'],
    [4, 'retry'], [1, 'retry-bare'], [6, 'comment'], [6, 'unknown'], [2, 'bom-name'],
    [budget > 1500 ? 2 : 0, 'long'],
  ]);
  switch (kind) {
    case 'data': return bytes('data', separator(rng), value(rng, budget));
    case 'data-bare': return bytes('data');
    case 'event': return bytes('event', separator(rng), rng.chance(0.85) ? bytes(rng.pick(TYPES)) : value(rng, 0));
    case 'event-bare': return bytes('event');
    case 'id': return bytes('id', separator(rng), idValue(rng));
    case 'id-bare': return bytes('id');
    case 'retry': return bytes('retry', separator(rng), retryValue(rng));
    case 'retry-bare': return bytes('retry');
    case 'comment': return bytes(':', rng.chance(0.5) ? value(rng, 0) : rng.pick(['', ' keep-alive', 'data: not data', ':']));
    case 'unknown': {
      const name = rng.pick(['foo', 'dat', 'datas', 'Data', 'DATA', 'ID', 'Id', 'Event', 'Retry', 'data ', '\tdata', ' data', 'x-data', 'é']);
      return rng.chance(0.8) ? bytes(name, separator(rng), value(rng, 0)) : bytes(name);
    }
    case 'bom-name': return bytes(BOM, 'data', separator(rng), value(rng, 0)); // a BOM that is not the first: kept, so an unknown field
    case 'long': return bytes('data: ', randomAscii(rng, rng.int(1000, Math.min(5000, budget - 100))));
  }
  throw new Error(kind);
}
const eol = (rng) => bytes(rng.weighted([[4, '\n'], [3, '\r\n'], [3, '\r']]));

function generate(seed, index) {
  const rng = rngFor(seed, index);
  const target = rng.weighted([[70, () => rng.int(0, 600)], [25, () => rng.int(600, 4000)], [5, () => rng.int(4000, MAX_STREAM - 1200)]])();
  const parts = [];
  let size = 0;
  const add = (b) => { parts.push(b); size += b.length; };
  add(rng.weighted([[68, Buffer.alloc(0)], [15, bytes(BOM)], [5, bytes(BOM, BOM)], [4, bytes(BOM, eol(rng))], [3, bytes([0xef, 0xbb])], [5, bytes(eol(rng))]]));
  if (rng.chance(0.05)) { // a tiny stream: the prefix and a few short lines (BOM, blank-line and EOF corners)
    for (let n = rng.int(0, 3); n > 0; n--) add(bytes(rng.pick(['data', 'data:', 'data: x', 'id: 1', 'id', ':', '', 'event: e', 'retry: 5']), rng.chance(0.85) ? eol(rng) : ''));
    const body = bytes(...parts);
    return { seed, index, body, chunks: chunkBoundaries(rng, body), transfer: rng.chance(0.5) ? 'chunked' : 'close' };
  }
  // Most streams set a short reconnection time first, so Chromium reconnects in ms, not 3 s.
  if (rng.chance(0.9)) add(bytes('retry', rng.pick([': ', ':']), String(rng.int(0, 50)), eol(rng)));
  const ending = rng.weighted([[55, 'complete'], [25, 'mid-event'], [20, 'mid-line']]);
  for (;;) {
    const n = rng.weighted([[2, 0], [10, 1], [8, 2], [4, 3], [2, 6]]);
    const block = [];
    for (let i = 0; i < n; i++) block.push(bytes(line(rng, MAX_STREAM - 400 - size), eol(rng)));
    const blockBytes = bytes(...block);
    const last = size + blockBytes.length >= target || size + blockBytes.length > MAX_STREAM - 600;
    if (last && ending !== 'complete') {
      // the stream ends inside an event: often one that sets an id (which must not be applied)
      if (rng.chance(0.7)) block.splice(rng.int(0, block.length), 0, bytes('id', separator(rng), idValue(rng), eol(rng)));
      if (rng.chance(0.6)) block.push(bytes('data: ', value(rng, 0), eol(rng)));
      if (ending === 'mid-line') block.push(line(rng, 0).subarray(0, rng.int(0, 12)));
      add(bytes(...block));
      break;
    }
    add(bytes(blockBytes, rng.chance(0.9) ? eol(rng) : bytes(eol(rng), eol(rng)))); // blank line: dispatch
    if (last) break;
  }
  const body = bytes(...parts);
  return { seed, index, body, chunks: chunkBoundaries(rng, body), transfer: rng.chance(0.5) ? 'chunked' : 'close' };
}

// Chunk boundaries (positions where a new write starts), preferring the interesting places: just
// after a CR, inside a multi-byte sequence or a BOM, inside a field name, right after a colon.
function chunkBoundaries(rng, body) {
  if (body.length < 2 || rng.chance(0.08)) return [];
  const interesting = [];
  for (let i = 1; i < body.length; i++) {
    const prev = body[i - 1], b = body[i];
    if (prev === 0x0d || (b & 0xc0) === 0x80 || prev === 0x3a || (i < 4) || (prev >= 0x61 && prev <= 0x7a && b >= 0x61 && b <= 0x7a && rng.chance(0.05))) interesting.push(i);
  }
  const want = rng.int(1, Math.min(40, body.length - 1));
  const set = new Set();
  for (let k = 0; k < want; k++) set.add(interesting.length && rng.chance(0.7) ? rng.pick(interesting) : rng.int(1, body.length - 1));
  return [...set].sort((a, b) => a - b);
}
function chunksOf(stream) {
  const out = [];
  let prev = 0;
  for (const b of [...stream.chunks, stream.body.length]) { if (b > prev) out.push(stream.body.subarray(prev, b)); prev = b; }
  return out;
}
function pauseFor(stream, k) { return 1 + ((stream.index * 7 + k * 13) % 4); } // 1..4 ms, deterministic

// ---------------------------------------------------------------- the spec model (WHATWG HTML 9.2.5-9.2.6)
function model(body, { chromiumBomQuirk = false, chromiumEmptyRetryQuirk = false } = {}) {
  const text = new TextDecoder('utf-8').decode(body); // UTF-8 decode: one leading BOM dropped, U+FFFD for errors
  let data = '', type = '', idBuf = '', lastId = '', retry = null;
  const events = [];
  let pos = 0;
  // See KNOWN_CHROMIUM_DEVIATIONS: after a leading BOM, Chromium takes a CR or LF that follows it
  // as the first character of the first line instead of as its end.
  let skipFirst = chromiumBomQuirk && hasBomThenLineEnd(body);
  for (;;) {
    let end = -1;
    for (let i = pos + (skipFirst ? 1 : 0); i < text.length; i++) { const c = text.charCodeAt(i); if (c === 10 || c === 13) { end = i; break; } }
    skipFirst = false;
    if (end < 0) break; // the end of the stream: a pending line (and event) is discarded
    const ln = text.slice(pos, end);
    pos = end + (text.charCodeAt(end) === 13 && text.charCodeAt(end + 1) === 10 ? 2 : 1);
    if (ln === '') { // dispatch
      lastId = idBuf;
      if (data === '') { type = ''; continue; }
      if (data.endsWith('\n')) data = data.slice(0, -1);
      events.push({ type: type || 'message', data, lastEventId: lastId });
      data = ''; type = '';
      continue;
    }
    if (ln[0] === ':') continue;
    const c = ln.indexOf(':');
    const name = c < 0 ? ln : ln.slice(0, c);
    let val = c < 0 ? '' : ln.slice(c + 1);
    if (val[0] === ' ') val = val.slice(1);
    if (name === 'event') type = val;
    else if (name === 'data') data += val + '\n';
    else if (name === 'id') { if (!val.includes('\0')) idBuf = val; }
    else if (name === 'retry') {
      if (/^[0-9]+$/.test(val)) retry = Number(val);
      else if (val === '' && chromiumEmptyRetryQuirk) retry = DEFAULT_RECONNECT_MS.browser;
    }
  }
  return { events, lastEventId: lastId, retry };
}
const hasBomThenLineEnd = (body) => body.length > 3 && body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf && (body[3] === 0x0a || body[3] === 0x0d);

// Where Chromium is known to deviate from the spec (both read in Chromium's
// third_party/blink/renderer/modules/eventsource/event_source_parser.cc). On a stream where one of
// them changes the outcome, a difference between the clients is not counted when ssenotify does
// exactly what the spec says (the model) and Chromium exactly what the spec plus the deviations
// predict (events, Last-Event-ID and reconnect delay); any other difference still fails. They are
// reported in the summary; STRICT=1 counts them as failures.
const KNOWN_CHROMIUM_DEVIATIONS = [
  {
    name: 'chromium-bom-line-end',
    option: 'chromiumBomQuirk',
    what: 'a leading BOM directly followed by CR or LF: Chromium takes that CR/LF as the first character of the first line instead of its end (AddBytes `continue`s past the byte after the BOM without the line-break check), so a blank line there does not dispatch and a field there gets an unknown name',
  },
  {
    name: 'chromium-empty-retry',
    option: 'chromiumEmptyRetryQuirk',
    what: '`retry` with an empty value (`retry`, `retry:`, `retry: `): Chromium resets the reconnection time to its default 3000 ms; the spec sets it only when the value "consists of only ASCII digits" and otherwise ignores the field, and ssenotify ignores it',
  },
];
// Control characters that HTTP forbids in a field value (NUL, CR and LF never reach an ID).
const CTL_IN_ID = /[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]/;
const SSENOTIFY_CTL_ID = 'ssenotify-control-character-id';
const chromiumModel = (body) => model(body, Object.fromEntries(KNOWN_CHROMIUM_DEVIATIONS.map((d) => [d.option, true])));

// The event types a stream could produce, so the page listens for all of them: the model's, the
// generator's pool, and every `event` line's value read in several ways (a parser that reads it
// differently must not go unseen).
function typesOf(stream) {
  const types = new Set(TYPES);
  for (const e of model(stream.body).events) types.add(e.type);
  const dec = new TextDecoder('utf-8');
  for (const ln of stream.body.toString('latin1').split(/\r\n|\r|\n/)) {
    const b = Buffer.from(ln, 'latin1');
    const k = b.indexOf(0x3a);
    const rest = k < 0 ? Buffer.alloc(0) : b.subarray(k + 1);
    for (const v of [rest, rest.subarray(1), rest.subarray(2)]) { const s = dec.decode(v); types.add(s); types.add(s.trim()); }
  }
  types.delete('message');
  return ['message', ...types];
}

// ---------------------------------------------------------------- the loopback HTTP server
const jobs = new Map(); // id -> job
let nextJobId = 0;
const browserQueue = [];
const waitingSlots = []; // sockets of /next long-polls
let finished = false;
let slotsSeen = 0;
const pageLog = [];

function respond(sock, status, text, headers, body = '') {
  let head = `HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nCache-Control: no-store\r\nAccess-Control-Allow-Origin: *\r\n`;
  for (const [k, v] of Object.entries(headers || {})) head += `${k}: ${v}\r\n`;
  const b = Buffer.from(body);
  if (status !== 204) head += `Content-Length: ${b.length}\r\n`;
  sock.end(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), b]));
}
function onConnection(sock, port) {
  sock.setNoDelay(true);
  sock.on('error', () => {});
  let buf = Buffer.alloc(0);
  let handled = false;
  sock.on('data', (d) => {
    if (handled) return;
    buf = Buffer.concat([buf, d]);
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) { if (buf.length > 1 << 20) sock.destroy(); return; }
    const [requestLine, ...headerLines] = buf.subarray(0, end).toString('latin1').split('\r\n');
    const headers = headerLines.map((l) => { const c = l.indexOf(':'); return [l.slice(0, c).trim().toLowerCase(), l.slice(c + 1)]; });
    const length = Number(headers.find(([k]) => k === 'content-length')?.[1] || 0);
    if (buf.length < end + 4 + length) return;
    handled = true;
    const [method, target] = requestLine.split(' ');
    route({ method, target, headers, body: buf.subarray(end + 4, end + 4 + length), sock, port });
  });
}
function route(req) {
  const { method, target, sock } = req;
  const m = /^\/([bs])\/(\d+)$/.exec(target);
  if (m) return streamRequest(req, m[1] === 'b' ? 'browser' : 'cli', Number(m[2]));
  if (method === 'GET' && target === '/') return respond(sock, 200, 'OK', { 'Content-Type': 'text/html; charset=utf-8' }, topPage());
  if (method === 'GET' && target === '/lane') return respond(sock, 200, 'OK', { 'Content-Type': 'text/html; charset=utf-8' }, lanePage());
  if (method === 'POST' && target === '/next') {
    slotsSeen++;
    if (finished) return respond(sock, 200, 'OK', { 'Content-Type': 'application/json' }, '{"done":true}');
    const job = browserQueue.shift();
    if (job) return sendJob(sock, job);
    waitingSlots.push(sock);
    sock.on('close', () => { const i = waitingSlots.indexOf(sock); if (i >= 0) waitingSlots.splice(i, 1); });
    return;
  }
  if (method === 'POST' && target === '/result') {
    respond(sock, 204, 'No Content');
    let r;
    try { r = JSON.parse(req.body.toString('utf8')); } catch { return; }
    const job = jobs.get(r.id);
    if (job && !job.browser) { job.browser = { events: r.events, timeout: r.timeout, errors: r.errors }; job.browserDone(); }
    return;
  }
  if (method === 'POST' && target === '/log') {
    const msg = req.body.toString('utf8');
    pageLog.push(msg);
    if (env.VERBOSE) warn('page:', msg);
    return respond(sock, 204, 'No Content');
  }
  if (method === 'OPTIONS') return respond(sock, 204, 'No Content', { 'Access-Control-Allow-Headers': '*', 'Access-Control-Allow-Methods': '*' });
  respond(sock, 404, 'Not Found', { 'Content-Type': 'text/plain' }, 'not found\n');
}
function sendJob(sock, job) {
  const msg = JSON.stringify({ id: job.id, types: job.types, timeoutMs: BROWSER_TIMEOUT_MS });
  respond(sock, 200, 'OK', { 'Content-Type': 'application/json' }, msg);
}
function queueForBrowser(job) {
  while (waitingSlots.length) {
    const sock = waitingSlots.shift();
    if (!sock.destroyed) return sendJob(sock, job);
  }
  browserQueue.push(job);
}
async function streamRequest(req, client, id) {
  const { sock, headers } = req;
  const job = jobs.get(id);
  if (!job) return respond(sock, 404, 'Not Found');
  const h = headers.find(([k]) => k === 'last-event-id');
  // The raw header value as sent (minus the one space after the colon both clients write).
  const record = { t: performance.now(), method: req.method, lastEventId: h ? Buffer.from(h[1].replace(/^ /, ''), 'latin1') : null, accept: headers.find(([k]) => k === 'accept')?.[1]?.trim() };
  const reqs = job.requests[client];
  reqs.push(record);
  if (reqs.length > 1) return respond(sock, 204, 'No Content');
  const s = job.stream;
  const chunked = s.transfer === 'chunked';
  sock.write(`HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nAccess-Control-Allow-Origin: *\r\nConnection: close\r\n${chunked ? 'Transfer-Encoding: chunked\r\n' : ''}\r\n`);
  let k = 0;
  for (const c of chunksOf(s)) {
    await sleep(pauseFor(s, k++));
    if (sock.destroyed) return;
    sock.write(chunked ? Buffer.concat([Buffer.from(c.length.toString(16) + '\r\n'), c, Buffer.from('\r\n')]) : c);
  }
  await sleep(pauseFor(s, k));
  job.endedAt[client] = performance.now();
  sock.end(chunked ? '0\r\n\r\n' : undefined);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function topPage() {
  return `<!doctype html><meta charset="utf-8"><title>ssenotify differential test</title><body><script>
for (const port of ${JSON.stringify(ports.map((s) => s.address().port))}) {
  const f = document.createElement('iframe');
  f.src = 'http://127.0.0.1:' + port + '/lane';
  f.width = 8; f.height = 8;
  document.body.append(f);
}
</script>`;
}
function lanePage() {
  return `<!doctype html><meta charset="utf-8"><script>
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const log = (m) => fetch('/log', { method: 'POST', body: String(m) }).catch(() => {});
window.onerror = (m) => log('error: ' + m);
function run(job) {
  return new Promise((resolve) => {
    const events = [];
    let errors = 0, done = false;
    const es = new EventSource('/b/' + job.id);
    const finish = (timeout) => {
      if (done) return;
      done = true; clearTimeout(timer); es.close();
      resolve({ id: job.id, events, timeout, errors });
    };
    // Streams can name their events "open" or "error": those are MessageEvents, the
    // EventSource's own open and error events are plain Events.
    const onMessage = (e) => { if (e instanceof MessageEvent) events.push({ type: e.type, data: e.data, lastEventId: e.lastEventId }); };
    for (const type of job.types) es.addEventListener(type, onMessage);
    es.addEventListener('error', (e) => {
      if (e instanceof MessageEvent) return;
      errors++;
      if (es.readyState === EventSource.CLOSED) finish(false);
    });
    const timer = setTimeout(() => finish(true), job.timeoutMs);
  });
}
async function slot() {
  for (;;) {
    let job;
    try { job = await (await fetch('/next', { method: 'POST', cache: 'no-store' })).json(); }
    catch (e) { log('/next failed: ' + e); await sleep(250); continue; }
    if (job.done) return;
    const result = await run(job);
    for (let i = 0; i < 20; i++) {
      try { await fetch('/result', { method: 'POST', body: JSON.stringify(result) }); break; }
      catch (e) { log('/result failed: ' + e); await sleep(250); }
    }
  }
}
for (let i = 0; i < ${SLOTS}; i++) slot();
</script>`;
}

// ---------------------------------------------------------------- running one stream on both clients
let cliRunning = 0;
const cliChildren = new Set(); // killed on exit: without the server they would retry for ever
const cliWaiting = [];
async function withCliSlot(fn) {
  if (cliRunning >= CLI_JOBS) await new Promise((r) => cliWaiting.push(r));
  cliRunning++;
  try { return await fn(); } finally { cliRunning--; cliWaiting.shift()?.(); }
}
function runCli(job) {
  return withCliSlot(() => new Promise((resolve) => {
    const url = `http://127.0.0.1:${ports[job.id % ports.length].address().port}/s/${job.id}`;
    const child = spawn(CLI, ['listen', '--json', '--reconnect-time', '10ms', url], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...env, NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    });
    cliChildren.add(child);
    let out = '', err = '', timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (d) => { out += d; });
    child.stderr.setEncoding('utf8').on('data', (d) => { err += d; });
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, JOB_TIMEOUT_MS);
    child.on('error', (e) => { err += String(e); });
    child.on('close', (code, signal) => {
      cliChildren.delete(child);
      clearTimeout(timer);
      const events = [], states = [];
      for (const l of out.split('\n')) {
        if (!l) continue;
        let o;
        try { o = JSON.parse(l); } catch { states.push({ unparsable: l }); continue; }
        if (o.kind === 'event') events.push({ type: o.type, data: o.data, lastEventId: o.last_event_id });
        else states.push(o);
      }
      resolve({ events, states, code, signal, timeout: timedOut, stderr: err });
    });
  }));
}
function runStream(stream) {
  const id = nextJobId++;
  const job = { id, stream, types: typesOf(stream), requests: { browser: [], cli: [] }, endedAt: {}, browser: null, cli: null };
  jobs.set(id, job);
  const browserDone = new Promise((r) => { job.browserDone = r; });
  const browserTimer = setTimeout(() => { if (!job.browser) { job.browser = { events: [], timeout: true, lost: true }; job.browserDone(); } }, JOB_TIMEOUT_MS + 5000);
  queueForBrowser(job);
  return Promise.all([browserDone.then(() => clearTimeout(browserTimer)), runCli(job).then((r) => { job.cli = r; })]).then(() => {
    job.verdict = judge(job);
    return job;
  });
}

// ---------------------------------------------------------------- comparing
const sameEvent = (a, b) => a.type === b.type && a.data === b.data && a.lastEventId === b.lastEventId;
const sameEvents = (a, b) => a.length === b.length && a.every((e, i) => sameEvent(e, b[i]));
// The reconnect's Last-Event-ID as HTTP defines a field value: without leading and trailing SP/HTAB
// (RFC 9110 5.5; every server library strips them, so they cannot tell two clients apart). The
// raw bytes are compared too, but a difference there only in that whitespace is a note.
const trimOws = (b) => { let i = 0, j = b.length; while (i < j && (b[i] === 0x20 || b[i] === 0x09)) i++; while (j > i && (b[j - 1] === 0x20 || b[j - 1] === 0x09)) j--; return b.subarray(i, j); };
const headerOf = (reqs) => (reqs[1] ? (reqs[1].lastEventId === null ? null : hex(trimOws(reqs[1].lastEventId))) : 'no reconnect');
const rawHeaderOf = (reqs) => (reqs[1] ? (reqs[1].lastEventId === null ? null : hex(reqs[1].lastEventId)) : 'no reconnect');
// The reconnection time each client starts with: Chromium's built-in default, and the
// --reconnect-time ssenotify is started with.
const DEFAULT_RECONNECT_MS = { browser: 3000, cli: 10 };
// A reconnect may come late (load, "optionally wait some more"), but never before the
// reconnection time; a misread retry value (the generator's invalid ones mean >= 2.5 s if misread)
// shows as a delay far off the expected one.
const DELAY_EARLY_MS = 5, DELAY_LATE_MS = 2000;
function delayProblem(job, client, retry) {
  const reqs = job.requests[client];
  if (!reqs[1] || job.endedAt[client] === undefined) return null;
  const expected = retry ?? DEFAULT_RECONNECT_MS[client];
  const seen = reqs[1].t - job.endedAt[client];
  if (seen < expected - DELAY_EARLY_MS || seen > expected + DELAY_LATE_MS) return { expected, seen: Math.round(seen) };
  return null;
}
function judge(job) {
  const problems = [];
  const { browser, cli, requests } = job;
  if (!sameEvents(browser.events, cli.events)) problems.push('events');
  if (headerOf(requests.browser) !== headerOf(requests.cli)) problems.push('last-event-id');
  const notes = [];
  if (headerOf(requests.browser) === headerOf(requests.cli) && rawHeaderOf(requests.browser) !== rawHeaderOf(requests.cli)) notes.push('last-event-id-whitespace');
  if (requests.browser.length !== requests.cli.length) problems.push('requests');
  if (browser.timeout) problems.push('browser-timeout');
  if (cli.timeout) problems.push('cli-timeout');
  const last = cli.states[cli.states.length - 1];
  if (!cli.timeout && (cli.code !== 0 || !last || last.ready_state !== 'CLOSED' || last.status !== 204)) problems.push('cli-exit');
  // the model: only a warning when both clients agree with each other but not with it
  const m = model(job.stream.body);
  const headerFor = (mm) => (mm.lastEventId === '' ? null : hex(trimOws(Buffer.from(mm.lastEventId, 'utf8'))));
  const modelHeader = headerFor(m);
  const modelSays = {
    browser: sameEvents(m.events, browser.events) && modelHeader === headerOf(requests.browser),
    cli: sameEvents(m.events, cli.events) && modelHeader === headerOf(requests.cli),
  };
  // ssenotify's one documented deviation (README, "Where ssenotify does less than a browser"):
  // an ID with a control character other than HTAB cannot go in an HTTP header through its HTTP
  // stack, so its reconnect carries no Last-Event-ID where Chromium sends the raw bytes.
  const lid = problems.indexOf('last-event-id');
  if (lid >= 0 && !env.STRICT && CTL_IN_ID.test(m.lastEventId) && headerOf(requests.browser) === modelHeader
      && requests.cli[1] && requests.cli[1].lastEventId === null) {
    problems.splice(lid, 1);
    notes.push(SSENOTIFY_CTL_ID);
  }
  const delays = { browser: delayProblem(job, 'browser', m.retry), cli: delayProblem(job, 'cli', m.retry) };
  if (delays.browser || delays.cli) problems.push('reconnect-delay');
  // known Chromium deviations explain the difference exactly, and ssenotify follows the spec
  const involved = KNOWN_CHROMIUM_DEVIATIONS.filter((d) => {
    const qm = model(job.stream.body, { [d.option]: true });
    return !sameEvents(qm.events, m.events) || headerFor(qm) !== modelHeader || qm.retry !== m.retry;
  });
  // Per aspect (events, Last-Event-ID, reconnect delay): a difference is excused when Chromium
  // did exactly what the deviations predict and ssenotify exactly what the spec says.
  let chromiumAsPredicted = false;
  if (involved.length) {
    const cm = chromiumModel(job.stream.body);
    const excused = {
      events: sameEvents(cm.events, browser.events) && sameEvents(m.events, cli.events),
      'last-event-id': headerFor(cm) === headerOf(requests.browser) && modelHeader === headerOf(requests.cli),
      'reconnect-delay': !delayProblem(job, 'browser', cm.retry) && !delays.cli,
    };
    chromiumAsPredicted = sameEvents(cm.events, browser.events) && headerFor(cm) === headerOf(requests.browser) && !delayProblem(job, 'browser', cm.retry);
    if (!env.STRICT) {
      const before = problems.length;
      for (let i = problems.length - 1; i >= 0; i--) if (excused[problems[i]]) problems.splice(i, 1);
      if (problems.length < before) notes.push(...involved.map((d) => d.name));
    }
  }
  return { problems, notes, involved: involved.map((d) => d.name), chromiumAsPredicted, delays, model: m, modelHeader, modelSays };
}

function describeHeader(reqs) {
  if (!reqs[1]) return `no reconnect request (${reqs.length} request(s))`;
  return reqs[1].lastEventId === null ? 'reconnect without Last-Event-ID' : `reconnect with Last-Event-ID: ${escapeBytes(reqs[1].lastEventId)}`;
}
function showEvents(events, limit = 12) {
  const lines = events.slice(0, limit).map((e, i) => `      ${i}: type=${escapeText(e.type)} data=${escapeText(e.data.length > 300 ? e.data.slice(0, 300) + '…' : e.data)} lastEventId=${escapeText(e.lastEventId)}`);
  if (events.length > limit) lines.push(`      … ${events.length - limit} more`);
  return lines.length ? lines.join('\n') : '      (none)';
}
function oneLine(job) {
  const { browser, cli, requests, verdict } = job;
  const out = [];
  const ev = (e) => (e ? `{type=${escapeText(e.type)} data=${escapeText(e.data.length > 60 ? e.data.slice(0, 60) + '…' : e.data)} id=${escapeText(e.lastEventId)}}` : 'nothing');
  const hdr = (reqs) => (!reqs[1] ? 'no reconnect' : reqs[1].lastEventId === null ? 'no Last-Event-ID' : escapeBytes(reqs[1].lastEventId));
  for (const p of verdict.problems) {
    if (p === 'events') {
      const d = firstDifference(browser.events, cli.events);
      out.push(`event #${d}: Chromium ${ev(browser.events[d])}, ssenotify ${ev(cli.events[d])} (${browser.events.length} vs ${cli.events.length} events)`);
    } else if (p === 'last-event-id') out.push(`reconnect header: Chromium ${hdr(requests.browser)}, ssenotify ${hdr(requests.cli)}`);
    else if (p === 'reconnect-delay') out.push(`reconnect delay: ${['browser', 'cli'].filter((c) => verdict.delays[c]).map((c) => `${c === 'cli' ? 'ssenotify' : 'Chromium'} waited ${verdict.delays[c].seen} ms, expected ${verdict.delays[c].expected} ms`).join(', ')}`);
    else out.push(p);
  }
  return out.join('; ') + `; spec model agrees with ${[verdict.modelSays.browser && 'Chromium', verdict.modelSays.cli && 'ssenotify'].filter(Boolean).join(' and ') || 'neither'}`;
}
function firstDifference(a, b) {
  for (let i = 0; i < Math.max(a.length, b.length); i++) if (!a[i] || !b[i] || !sameEvent(a[i], b[i])) return i;
  return -1;
}
function report(job, title) {
  const { stream, browser, cli, requests, verdict } = job;
  const lines = [];
  lines.push(`--- ${title}`);
  lines.push(`  seed ${stream.seed}, stream ${stream.index}${stream.shrunk ? ' (shrunk)' : ''}: ${verdict.problems.join(', ')}`);
  lines.push(`  reproduce: SEED=${stream.seed} ONLY=${stream.index} tests/browser/run.sh   or   CHUNKS_HEX=${chunksOf(stream).map(hex).join('|')} tests/browser/run.sh`);
  lines.push(`  ${stream.body.length} bytes, ${chunksOf(stream).length} write(s), transfer ${stream.transfer}`);
  if (stream.body.length <= 4096) {
    lines.push(`  bytes (hex): ${hex(stream.body)}`);
    lines.push(`  bytes: ${escapeBytes(stream.body)}`);
    lines.push(`  writes: ${chunksOf(stream).map(escapeBytes).join(' | ')}`);
  } else {
    lines.push(`  bytes: ${escapeBytes(stream.body.subarray(0, 2048))} … (${stream.body.length - 2048} more; hex in CHUNKS_HEX above)`);
  }
  const d = firstDifference(browser.events, cli.events);
  const from = Math.max(0, d - 2);
  if (d >= 0 && from > 0) lines.push(`  (events listed from index ${from}, the first difference is at ${d})`);
  const sl = (evs) => showEvents(evs.slice(d >= 0 ? from : 0)).replace(/^( {6})(\d+)/gm, (_, sp, n) => sp + (Number(n) + (d >= 0 ? from : 0)));
  lines.push(`  Chromium:  ${browser.events.length} event(s)${browser.timeout ? ', TIMED OUT' : ''}; ${describeHeader(requests.browser)}`);
  lines.push(sl(browser.events));
  lines.push(`  ssenotify: ${cli.events.length} event(s)${cli.timeout ? ', TIMED OUT' : ''}, exit ${cli.code}${cli.signal ? ' ' + cli.signal : ''}; ${describeHeader(requests.cli)}`);
  lines.push(sl(cli.events));
  if (verdict.problems.includes('cli-exit')) lines.push(`    last states: ${JSON.stringify(cli.states.slice(-2))} stderr: ${JSON.stringify(cli.stderr.slice(0, 500))}`);
  for (const c of ['browser', 'cli']) if (verdict.delays[c]) lines.push(`  ${c === 'cli' ? 'ssenotify' : 'Chromium'} reconnected after ${verdict.delays[c].seen} ms; the reconnection time was ${verdict.delays[c].expected} ms`);
  const m = verdict.model;
  lines.push(`  spec model: ${m.events.length} event(s); reconnect ${verdict.modelHeader === null ? 'without Last-Event-ID' : 'with Last-Event-ID: ' + escapeBytes(Buffer.from(m.lastEventId, 'utf8'))}; Chromium ${verdict.modelSays.browser ? 'agrees' : 'DIFFERS'}, ssenotify ${verdict.modelSays.cli ? 'agrees' : 'DIFFERS'}`);
  if (!verdict.modelSays.browser || !verdict.modelSays.cli) lines.push(sl(m.events));
  if (verdict.involved.length) lines.push(`  known Chromium deviations on this stream: ${verdict.involved.join(', ')}; Chromium ${verdict.chromiumAsPredicted ? 'did exactly what they predict' : 'did NOT do what they predict'}`);
  say(lines.join('\n'));
}

// ---------------------------------------------------------------- shrinking
function cut(stream, a, b) { // remove body[a, b)
  const body = Buffer.concat([stream.body.subarray(0, a), stream.body.subarray(b)]);
  const chunks = [...new Set(stream.chunks.map((p) => (p <= a ? p : p >= b ? p - (b - a) : a)))].filter((p) => p > 0 && p < body.length);
  return { ...stream, body, chunks, shrunk: true };
}
function lineSpans(body) {
  const spans = [];
  let start = 0;
  for (let i = 0; i < body.length; i++) {
    if (body[i] === 0x0a || (body[i] === 0x0d && body[i + 1] !== 0x0a)) { spans.push([start, i + 1]); start = i + 1; }
  }
  if (start < body.length) spans.push([start, body.length]);
  return spans;
}
async function shrink(job) {
  const started = Date.now();
  const deadline = started + SHRINK_SECONDS * 1000;
  const want = new Set(job.verdict.problems.filter((p) => p === 'events' || p === 'last-event-id' || p === 'reconnect-delay'));
  const stillFails = (j) => (want.size ? j.verdict.problems.some((p) => want.has(p)) : j.verdict.problems.length > 0);
  const budget = SLOTS * PORTS; // candidates per round: one round costs one browser reconnect (ms to 3 s)
  let best = job;
  let tried = 0, rounds = 0;
  // One round: every cut of every granularity (halves, quarters, ... single units) that fits in the
  // budget runs in parallel; the smallest stream that still disagrees wins, and the next round
  // starts from it.
  async function round(cands) {
    rounds++;
    tried += cands.length;
    const done = await Promise.all(cands.map(runStream));
    const hits = done.filter(stillFails).sort((x, y) => x.stream.body.length - y.stream.body.length || x.stream.chunks.length - y.stream.chunks.length);
    return hits[0] || null;
  }
  function cuts(spans) {
    const out = [];
    const seen = new Set();
    for (let g = 2; out.length < budget; g *= 2) {
      const size = Math.max(1, Math.ceil(spans.length / g));
      for (let i = 0; i < spans.length && out.length < budget; i += size) {
        const a = spans[i][0], b = spans[Math.min(spans.length, i + size) - 1][1];
        if (!seen.has(a + ':' + b)) { seen.add(a + ':' + b); out.push(cut(best.stream, a, b)); }
      }
      if (size === 1) break;
    }
    return out;
  }
  // whole lines (with their line ends), then single bytes, then fewer writes
  const phases = [
    () => cuts(lineSpans(best.stream.body)),
    () => cuts(Array.from(best.stream.body, (_, i) => [i, i + 1])),
    () => (best.stream.chunks.length ? [{ ...best.stream, chunks: [] }, ...best.stream.chunks.map((_, k) => ({ ...best.stream, chunks: best.stream.chunks.filter((__, j) => j !== k) }))].slice(0, budget) : []),
  ];
  for (const phase of phases) {
    while (Date.now() < deadline) {
      const cands = phase();
      if (!cands.length) break;
      const hit = await round(cands);
      if (!hit) break;
      best = hit;
    }
  }
  if (best.stream.body.length > 1 && Date.now() < deadline) { // a byte cut may have enabled a line cut
    const hit = await round(cuts(lineSpans(best.stream.body)));
    if (hit) best = hit;
  }
  say(`shrinking tried ${tried} candidate streams in ${rounds} rounds, ${((Date.now() - started) / 1000).toFixed(1)} s${Date.now() > deadline ? ' (time budget spent; not minimal)' : ''}`);
  return best;
}

// ---------------------------------------------------------------- main
let chrome = null;
let ports = [];
let profile = env.CHROMIUM_PROFILE;
let ownProfile = false;
const chromeRunning = () => chrome && chrome.exitCode === null && chrome.signalCode === null;
function cleanup() { // synchronous: also the 'exit' handler
  for (const child of cliChildren) { try { child.kill('SIGKILL'); } catch {} }
  if (chromeRunning()) { try { process.kill(-chrome.pid, 'SIGKILL'); } catch {} }
  if (ownProfile) fs.rmSync(profile, { recursive: true, force: true });
}
async function stopChrome() { // Chromium's own shutdown reaps its children; SIGKILL if it dawdles
  if (!chromeRunning()) return;
  try { process.kill(-chrome.pid, 'SIGTERM'); } catch {}
  for (let i = 0; i < 40 && chromeRunning(); i++) await sleep(50);
  await sleep(100);
  try { process.kill(-chrome.pid, 'SIGKILL'); } catch {}
}
process.on('exit', cleanup);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => { cleanup(); process.exit(130); });

async function main() {
  if (!fs.existsSync(CLI)) { warn(`compare: ssenotify not found at ${CLI} (set SSENOTIFY_CLI)`); process.exit(2); }
  if (!fs.existsSync(CHROMIUM)) { warn(`compare: Chromium not found at ${CHROMIUM}; run scripts/setup.sh test (or set CHROMIUM)`); process.exit(2); }
  if (!profile) { profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sse-compare-')); ownProfile = true; }

  ports = await Promise.all(Array.from({ length: PORTS }, () => new Promise((resolve, reject) => {
    const srv = net.createServer({ noDelay: true });
    srv.on('connection', (sock) => onConnection(sock, srv));
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => resolve(srv));
  })));

  let streams;
  if (env.CHUNKS_HEX) {
    const parts = env.CHUNKS_HEX.split('|').map((h) => Buffer.from(h, 'hex'));
    const body = Buffer.concat(parts);
    const chunks = [];
    let p = 0;
    for (const c of parts.slice(0, -1)) { p += c.length; chunks.push(p); }
    streams = [{ seed: 'CHUNKS_HEX', index: 0, body, chunks, transfer: env.TRANSFER || 'close' }];
    say(`compare: one stream from CHUNKS_HEX (${body.length} bytes), ssenotify ${CLI}`);
  } else {
    const indexes = env.ONLY ? env.ONLY.split(',').map(Number) : Array.from({ length: COUNT }, (_, i) => i);
    streams = indexes.map((i) => generate(SEED, i));
    say(`compare: SEED=${SEED} COUNT=${COUNT}${env.ONLY ? ` ONLY=${env.ONLY}` : ''}; ${streams.reduce((s, x) => s + x.body.length, 0)} bytes in ${streams.length} streams; ssenotify ${CLI}`);
  }

  const logPath = path.join(profile, 'chromium.log');
  const logFd = fs.openSync(logPath, 'w');
  chrome = spawn(CHROMIUM, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage',
    '--disable-background-timer-throttling', '--disable-renderer-backgrounding', '--disable-backgrounding-occluded-windows',
    '--disable-features=Translate,OptimizationHints,MediaRouter',
    `--user-data-dir=${path.join(profile, 'profile')}`, `http://127.0.0.1:${ports[0].address().port}/`,
  ], { detached: true, stdio: ['ignore', logFd, logFd] });
  fs.writeFileSync(path.join(profile, 'chromium.pid'), String(chrome.pid));
  chrome.on('exit', (code, signal) => {
    if (!finished) { warn(`compare: Chromium exited early (code ${code}, signal ${signal}); its log:\n${tail(logPath)}`); process.exit(2); }
  });
  const startBy = Date.now() + 30000;
  while (slotsSeen === 0) {
    if (Date.now() > startBy) { warn(`compare: the page never asked for work within 30 s; Chromium's log:\n${tail(logPath)}`); process.exit(2); }
    await sleep(50);
  }

  const results = await Promise.all(streams.map(runStream));
  const elapsed = (Date.now() - t0) / 1000;
  if (env.DUMP) { // one JSON line per stream, for looking at many results at once
    fs.writeFileSync(env.DUMP, results.map((j) => JSON.stringify({
      index: j.stream.index, hex: hex(j.stream.body), chunks: j.stream.chunks, transfer: j.stream.transfer,
      problems: j.verdict.problems, notes: j.verdict.notes, retry: j.verdict.model.retry,
      delay: Object.fromEntries(['browser', 'cli'].map((c) => [c, j.requests[c][1] && j.endedAt[c] !== undefined ? Math.round(j.requests[c][1].t - j.endedAt[c]) : null])),
      browser: j.browser, cli: { events: j.cli.events, code: j.cli.code },
      headers: Object.fromEntries(['browser', 'cli'].map((c) => [c, j.requests[c].map((r) => (r.lastEventId === null ? null : hex(r.lastEventId)))])),
    })).join('\n') + '\n');
  }
  const failing = results.filter((j) => j.verdict.problems.length);
  const modelWarnings = results.filter((j) => !j.verdict.problems.length && !j.verdict.modelSays.cli && !j.verdict.notes.includes(SSENOTIFY_CTL_ID));
  const eventsCompared = results.reduce((s, j) => s + Math.max(j.browser.events.length, j.cli.events.length), 0);
  const wsNotes = results.filter((j) => j.verdict.notes.includes('last-event-id-whitespace'));
  if (wsNotes.length) {
    const j = wsNotes[0];
    say(`note: in ${wsNotes.length} stream(s) the reconnect's Last-Event-ID differs only in leading/trailing whitespace, which HTTP strips from a field value (e.g. stream ${j.stream.index}: Chromium sent ${escapeBytes(j.requests.browser[1].lastEventId)}, ssenotify ${escapeBytes(j.requests.cli[1].lastEventId)}); not counted as a disagreement`);
  }
  const ctl = results.filter((j) => j.verdict.notes.includes(SSENOTIFY_CTL_ID));
  if (ctl.length) say(`note: ${ctl.length} stream(s) end with an ID holding a control character: Chromium sent it raw in Last-Event-ID, ssenotify reconnected without the header (its documented deviation; e.g. stream ${ctl[0].stream.index}; STRICT=1 counts these as failures)`);
  for (const dev of KNOWN_CHROMIUM_DEVIATIONS) {
    const hit = results.filter((j) => j.verdict.notes.includes(dev.name));
    if (hit.length) say(`note: ${hit.length} stream(s) differ by a known Chromium deviation from the spec, ${dev.name} (${dev.what}); on each, ssenotify matched the spec model and Chromium the deviation exactly (e.g. stream ${hit[0].stream.index}; STRICT=1 counts these as failures)`);
  }
  for (const j of modelWarnings.slice(0, 5)) report(j, 'warning: Chromium and ssenotify agree, but not with the spec model in this script');
  if (modelWarnings.length > 5) say(`(${modelWarnings.length - 5} more such warnings)`);
  if (failing.length === 0) {
    say(`compare: OK: ${results.length} streams, ${eventsCompared} events and ${results.length} reconnects compared, Chromium and ssenotify agree (${RUN}, ${elapsed.toFixed(1)} s)`);
    finished = true;
    return 0;
  }
  const kinds = {};
  for (const j of failing) for (const p of j.verdict.problems) kinds[p] = (kinds[p] || 0) + 1;
  say(`compare: FAIL: ${failing.length} of ${results.length} streams differ (${Object.entries(kinds).map(([k, n]) => `${k}: ${n}`).join(', ')}); ${RUN}; failing indexes: ${failing.slice(0, 60).map((j) => j.stream.index).join(',')}${failing.length > 60 ? ',…' : ''}`);
  for (const j of failing.slice(0, 40)) say(`  ${j.stream.index}: ${oneLine(j)}`);
  if (failing.length > 40) say(`  … ${failing.length - 40} more`);
  for (const j of failing.slice(0, Number(env.SHOW || 3))) report(j, 'disagreement');
  if (failing.length > Number(env.SHOW || 3)) say(`(${failing.length - Number(env.SHOW || 3)} more disagreements not shown; SHOW=n prints more)`);
  if (SHRINK !== '0') {
    const toShrink = SHRINK === 'all' ? failing : failing.slice(0, 1);
    for (const j of toShrink) {
      say(`shrinking stream ${j.stream.index} …`);
      const small = await shrink(j);
      report(small, `minimal stream found for stream ${j.stream.index}`);
    }
  }
  say(`compare: FAIL (${RUN}, ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  finished = true;
  return 1;
}
function tail(file) {
  try { return fs.readFileSync(file, 'utf8').split('\n').slice(-30).join('\n'); } catch { return '(no log)'; }
}

main().then(async (code) => {
  finished = true;
  for (const sock of waitingSlots.splice(0)) respond(sock, 200, 'OK', { 'Content-Type': 'application/json' }, '{"done":true}');
  await stopChrome();
  cleanup();
  process.exit(code);
}, (e) => { warn('compare: harness error:', e); cleanup(); process.exit(2); });
