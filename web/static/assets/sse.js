// A job's event stream (text/event-stream), read with fetch() rather than
// EventSource, which cannot send the API key in an Authorization header. It
// reconnects with Last-Event-ID when the stream drops, hands each event over once,
// in order, and ends after the job's terminal event.

import { ApiError, decodeJSON } from "./api.js";

const TERMINAL = new Set(["job.succeeded", "job.failed", "job.canceled"]);

/** Reconnects: after 0.5 s, doubling up to 5 s; 8 tries in a row without an event and it gives up. */
const RETRY_FIRST = 500;
const RETRY_MAX = 5000;
const MAX_TRIES = 8;
/** A stream silent this long (no event, no keep-alive comment; the server sends one every 15 s) is dropped. */
const IDLE_MS = 45000;

/** Splits text/event-stream text, fed in chunks, into events {id, event, data}. */
export class SSEParser {
  constructor() {
    this.buf = "";
    this.clear();
  }

  clear() {
    this.id = "";
    this.event = "";
    this.data = [];
  }

  /** Adds a chunk of text; returns the events it completed. */
  feed(text) {
    this.buf += text;
    const out = [];
    for (;;) {
      const m = /\r\n|\r|\n/.exec(this.buf);
      if (!m) break;
      // A "\r" that ends the chunk may be the first half of "\r\n".
      if (m[0] === "\r" && m.index === this.buf.length - 1) break;
      const line = this.buf.slice(0, m.index);
      this.buf = this.buf.slice(m.index + m[0].length);
      if (line === "") {
        if (this.event || this.data.length) {
          out.push({ id: this.id, event: this.event || "message", data: this.data.join("\n") });
        }
        this.clear();
        continue;
      }
      if (line.startsWith(":")) continue; // a comment: the keep-alive
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "id") this.id = value;
      else if (field === "event") this.event = value;
      else if (field === "data") this.data.push(value);
    }
    return out;
  }
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

async function errorOf(res) {
  let e = {};
  try {
    e = (await res.json())?.error || {};
  } catch {
    // not JSON
  }
  return new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText || "Request failed.", e.param || "");
}

/**
 * Follows job id's events from the first: onEvent({id, type, data}) for each, once and
 * in order (data is the job, or the image for image.ready); onReconnect(lastId) when
 * the stream dropped and is opened again; onError(err) when it gives up (the API
 * refused: 401, 404; or the server stayed out of reach). Returns a function that
 * stops following (the job goes on).
 */
export function followJob(key, id, { onEvent, onReconnect = () => {}, onError = () => {} }) {
  const stop = new AbortController();
  let last = 0;

  // One connection; true once the terminal event was handed over.
  const connect = async () => {
    const conn = new AbortController();
    const signal = AbortSignal.any([stop.signal, conn.signal]);
    const headers = { Accept: "text/event-stream" };
    if (key) headers.Authorization = `Bearer ${key}`; // none: the session cookie (single sign-on)
    if (last > 0) headers["Last-Event-ID"] = String(last);
    let idle = setTimeout(() => conn.abort(), IDLE_MS);
    try {
      const res = await fetch(`/v1/jobs/${encodeURIComponent(id)}/events`, { headers, signal, cache: "no-store" });
      if (!res.ok) throw await errorOf(res);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      const parser = new SSEParser();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return false;
        clearTimeout(idle);
        idle = setTimeout(() => conn.abort(), IDLE_MS);
        for (const ev of parser.feed(value)) {
          const n = Number(ev.id) || 0;
          if (n > 0 && n <= last) continue; // handed over already
          if (n > 0) last = n;
          onEvent({ id: n, type: ev.event, data: ev.data ? decodeJSON(ev.data) : null });
          if (TERMINAL.has(ev.event)) {
            conn.abort();
            return true;
          }
        }
      }
    } finally {
      clearTimeout(idle);
    }
  };

  (async () => {
    let tries = 0;
    while (!stop.signal.aborted) {
      const before = last;
      try {
        if (await connect()) return;
      } catch (err) {
        if (stop.signal.aborted) return;
        if (err instanceof ApiError && err.status < 500 && err.status !== 429) {
          onError(err);
          return;
        }
      }
      if (stop.signal.aborted) return;
      if (last > before) tries = 0;
      if (++tries > MAX_TRIES) {
        onError(new ApiError(0, "network", "Lost the connection to Easel."));
        return;
      }
      onReconnect(last);
      await sleep(Math.min(RETRY_FIRST * 2 ** (tries - 1), RETRY_MAX), stop.signal);
    }
  })();
  return () => stop.abort();
}
