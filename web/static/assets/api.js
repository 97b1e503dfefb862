// The Easel JSON API, as the page uses it. Every call sends the API key; every
// failure becomes an ApiError with the server's code, message and param.

/** An error answer from the API, or a network failure (status 0). */
export class ApiError extends Error {
  constructor(status, code, message, param = "", retryAfter = 0) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.param = param;
    this.retryAfter = retryAfter; // seconds; 0 when the server gave none
  }
}

/** A fresh random Idempotency-Key: 128 bits as hex (works outside secure contexts). */
export function newIdempotencyKey() {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// Seeds can exceed 2^53, which a JavaScript number cannot hold exactly. The page
// keeps such seeds as strings of digits and writes them to JSON as numbers. In JSON
// text a quote inside a string is escaped, so these patterns only match real keys.
function encodeJSON(value) {
  return JSON.stringify(value).replace(/"seed":"(\d+)"/g, '"seed":$1');
}

export function decodeJSON(text) {
  return JSON.parse(text.replace(/"(seed|seed_max)":(\d{16,})/g, '"$1":"$2"'));
}

function retryAfterSeconds(res) {
  const v = res.headers.get("Retry-After");
  if (!v) return 0;
  const n = Number(v);
  if (Number.isFinite(n)) return Math.max(0, Math.ceil(n));
  const t = Date.parse(v); // an HTTP date
  return Number.isNaN(t) ? 0 : Math.max(0, Math.ceil((t - Date.now()) / 1000));
}

export class Client {
  /** With an API key, or with none and the CSRF token of a session cookie (sso.js). */
  constructor(key, csrf = "") {
    this.key = key;
    this.csrf = csrf;
  }

  async request(method, path, { body, headers = {}, signal } = {}) {
    const h = { Accept: "application/json", ...headers };
    if (this.key) h.Authorization = `Bearer ${this.key}`;
    else if (this.csrf && method !== "GET" && method !== "HEAD") h["X-CSRF-Token"] = this.csrf;
    if (body !== undefined) h["Content-Type"] = "application/json";
    let res;
    try {
      res = await fetch(path, {
        method,
        headers: h,
        body: body === undefined ? undefined : encodeJSON(body),
        signal,
        cache: "no-store",
      });
    } catch (err) {
      if (err.name === "AbortError") throw err;
      throw new ApiError(0, "network", "Could not reach Easel. Check your connection and try again.");
    }
    if (res.status === 204) return null;
    let data = null;
    const text = await res.text();
    if (text) {
      try {
        data = decodeJSON(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const e = (data && data.error) || {};
      throw new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText || "Request failed.",
        e.param || "", retryAfterSeconds(res));
    }
    return data;
  }

  me(signal) {
    return this.request("GET", "/v1/me", { signal });
  }

  models() {
    return this.request("GET", "/v1/models");
  }

  listImages(limit, cursor) {
    const q = new URLSearchParams({ limit: String(limit) });
    if (cursor) q.set("cursor", cursor);
    return this.request("GET", `/v1/images?${q}`);
  }

  getImage(id) {
    return this.request("GET", `/v1/images/${encodeURIComponent(id)}`);
  }

  deleteImage(id) {
    return this.request("DELETE", `/v1/images/${encodeURIComponent(id)}`);
  }

  /**
   * Generates images. One Idempotency-Key per call: a retry after a network failure
   * reuses it, so the server runs the model at most once.
   */
  async generate(req, signal) {
    const headers = { "Idempotency-Key": newIdempotencyKey() };
    try {
      return await this.request("POST", "/v1/images", { body: req, headers, signal });
    } catch (err) {
      if (!(err instanceof ApiError) || err.code !== "network" || signal?.aborted) throw err;
      await new Promise((r) => setTimeout(r, 1000));
      return this.request("POST", "/v1/images", { body: req, headers, signal });
    }
  }
}
