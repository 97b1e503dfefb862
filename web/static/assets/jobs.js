// Jobs in progress: the form submits each generation as a job (Prefer:
// respond-async); the "In progress" list shows the caller's queued and running jobs
// with their state, live from each job's event stream, and a Cancel button that
// cancels on the server. Images go to the gallery as they are ready. After a reload
// the list is read back (GET /v1/jobs?status=queued,running) and the streams are
// followed again.

import { ApiError, newIdempotencyKey } from "./api.js";
import { el } from "./format.js";
import { followJob } from "./sse.js";

const $ = (id) => document.getElementById(id);

/** How long a canceled job stays in the list, saying so. */
const CANCELED_SHOWN_MS = 5000;
/** How often the places of queued jobs are read again (no event comes as a job moves up). */
const POSITION_EVERY_MS = 5000;

function ordinalPlace(pos) {
  return pos === 1 ? "next in line" : `${pos} in line`;
}

export class Jobs {
  /**
   * @param {{client: () => import("./api.js").Client,
   *   onImage: (img: object, own: boolean) => void,
   *   onPending: () => () => void,
   *   onDone: (job: object, own: boolean, images: number, ms: number) => void,
   *   onNote: (message: string) => void,
   *   onError: (err: Error) => boolean}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.section = $("jobs");
    this.list = $("job-list");
    this.entries = new Map(); // job id → entry
    this.available = true; // false once the server said it runs no queue
    this.generation = 0;
    this.timer = 0;
    this.positionTimer = 0;
  }

  /**
   * Submits a generation as a job and follows it. Returns true when queued; false when
   * the server runs no job queue (the caller then asks in one request). Throws the
   * API's refusals (bad input, rate limits) for the form to show.
   */
  async submit(req, signal) {
    const client = this.hooks.client();
    const headers = { Prefer: "respond-async", "Idempotency-Key": newIdempotencyKey() };
    const post = () => client.request("POST", "/v1/images", { body: req, headers, signal });
    let res;
    try {
      try {
        res = await post();
      } catch (err) {
        // A retry after a network failure reuses the key: the server makes one job.
        if (!(err instanceof ApiError) || err.code !== "network" || signal?.aborted) throw err;
        await new Promise((r) => setTimeout(r, 1000));
        res = await post();
      }
    } catch (err) {
      if (err instanceof ApiError && err.status === 400 && err.param === "Prefer") {
        this.available = false;
        return false;
      }
      throw err;
    }
    if (res?.object === "job") {
      this.track(res, true);
    } else {
      // A server from before jobs made the images at once.
      for (const img of res?.images || []) this.hooks.onImage(img, true);
    }
    return true;
  }

  /** Lists the caller's jobs that have not ended and follows them (after a sign-in or reload). */
  async resume() {
    const client = this.hooks.client();
    const gen = this.generation;
    try {
      const page = await client.request("GET", "/v1/jobs?status=queued,running&limit=100");
      if (gen !== this.generation) return;
      // Oldest first, so the newest ends on top, as submitted.
      for (const job of (page?.jobs || []).slice().reverse()) this.track(job, false);
    } catch (err) {
      if (gen === this.generation) this.hooks.onError(err);
    }
  }

  /** Stops following every job (sign-out); the jobs go on on the server. */
  reset() {
    this.generation++;
    clearTimeout(this.positionTimer);
    this.positionTimer = 0;
    for (const e of this.entries.values()) e.stop();
    this.entries.clear();
    this.list.replaceChildren();
    this.update();
  }

  track(job, own) {
    if (this.entries.has(job.id)) return;
    // An edit job (POST /v1/edits) has "edit" instead of "request".
    const edit = job.edit ? `${job.edit.operation}${job.edit.prompt ? `: ${job.edit.prompt}` : ""}` : "";
    const prompt = job.request?.prompt || edit;
    const status = el("span", { className: "job-status" });
    const cancel = el("button", { type: "button", className: "btn small ghost", textContent: "Cancel" });
    cancel.setAttribute("aria-label", `Cancel the job “${prompt.slice(0, 60)}”`);
    const li = el("li", { className: "job" },
      el("div", { className: "job-text" }, el("span", { className: "job-prompt", textContent: prompt }), status),
      cancel);
    li.dataset.id = job.id;
    const n = job.request?.n || job.edit?.n || 1;
    const e = {
      job, own, li, status, cancel, images: 0,
      started: performance.now(),
      pending: Array.from({ length: n }, () => this.hooks.onPending()),
      stop: () => {},
    };
    cancel.addEventListener("click", () => this.cancel(e));
    this.entries.set(job.id, e);
    this.list.prepend(li);
    this.show(e, job);
    this.update();
    const key = this.hooks.client()?.key;
    e.stop = followJob(key, job.id, {
      onEvent: (ev) => this.event(e, ev),
      onError: (err) => {
        if (this.hooks.onError(err)) return;
        this.finish(e);
        this.fail(e, `Lost track of this job: ${err.message}`);
      },
    });
  }

  event(e, ev) {
    if (ev.type === "image.ready") {
      e.pending.shift()?.();
      if (ev.data?.url) {
        e.images++;
        this.hooks.onImage(ev.data, e.own);
      }
      return;
    }
    if (!ev.data) return;
    this.show(e, ev.data);
    switch (ev.type) {
      case "job.succeeded":
        this.finish(e);
        this.remove(e);
        this.hooks.onDone(ev.data, e.own, e.images, performance.now() - e.started);
        break;
      case "job.failed":
        this.finish(e);
        this.fail(e, `Failed: ${ev.data.error?.message || "the job could not be completed."}`);
        this.hooks.onNote(`A job failed: ${ev.data.error?.message || "it could not be completed."}`);
        break;
      case "job.canceled":
        this.finish(e);
        this.hooks.onNote(`Job canceled${e.images ? `; ${e.images} image${e.images === 1 ? "" : "s"} kept` : ""}.`);
        setTimeout(() => this.remove(e), CANCELED_SHOWN_MS);
        break;
    }
  }

  /** Shows the job's state in its entry. */
  show(e, job) {
    e.job = { ...e.job, ...job };
    const j = e.job;
    e.li.dataset.status = j.status;
    switch (j.status) {
      case "queued":
        e.status.textContent = j.queue_position ? `Queued · ${ordinalPlace(j.queue_position)}` : "Queued";
        this.schedulePositions();
        break;
      case "running":
        e.status.textContent = "Running";
        break;
      case "succeeded":
        e.status.textContent = "Done";
        break;
      case "canceled":
        e.status.textContent = `Canceled${e.images ? ` · ${e.images} image${e.images === 1 ? "" : "s"} kept` : ""}`;
        break;
      case "failed":
        e.status.textContent = "Failed";
        break;
    }
    this.tick();
  }

  /** Running jobs show how long they have run, updated each second. */
  tick() {
    clearTimeout(this.timer);
    let running = false;
    for (const e of this.entries.values()) {
      if (e.job.status !== "running" || !e.job.started_at) continue;
      running = true;
      const s = Math.max(0, (Date.now() - Date.parse(e.job.started_at)) / 1000);
      e.status.textContent = `Running · ${Math.floor(s)} s`;
    }
    if (running) this.timer = setTimeout(() => this.tick(), 1000);
  }

  /** Reads the places of the queued jobs again in a while, and so on while there are any. */
  schedulePositions() {
    if (this.positionTimer) return;
    const gen = this.generation;
    this.positionTimer = setTimeout(async () => {
      const queued = [...this.entries.values()].filter((e) => e.job.status === "queued");
      await Promise.all(queued.map(async (e) => {
        try {
          const job = await this.hooks.client().request("GET", `/v1/jobs/${encodeURIComponent(e.job.id)}`);
          const current = gen === this.generation && this.entries.get(e.job.id) === e;
          if (current && e.job.status === "queued" && job?.status === "queued" && !e.canceling) this.show(e, job);
        } catch {
          // The job's stream says what matters (an end, a sign-out).
        }
      }));
      if (gen !== this.generation) return;
      this.positionTimer = 0;
      if ([...this.entries.values()].some((e) => e.job.status === "queued")) this.schedulePositions();
    }, POSITION_EVERY_MS);
  }

  async cancel(e) {
    // Not disabled: a disabled button would drop the focus.
    if (e.canceling) return;
    e.canceling = true;
    e.cancel.setAttribute("aria-disabled", "true");
    e.status.textContent = "Canceling…";
    try {
      const job = await this.hooks.client().request("POST", `/v1/jobs/${encodeURIComponent(e.job.id)}/cancel`);
      this.show(e, job);
    } catch (err) {
      if (this.hooks.onError(err)) return;
      // 409: it ended meanwhile; its stream says how.
      if (!(err instanceof ApiError && err.status === 409)) {
        e.canceling = false;
        e.cancel.removeAttribute("aria-disabled");
        this.show(e, e.job);
        e.status.textContent += ` · could not cancel: ${err.message}`;
      }
    }
  }

  /** The job has ended: no more images will come. */
  finish(e) {
    e.stop();
    for (const remove of e.pending.splice(0)) remove();
    // The focus must not vanish with the button.
    if (document.activeElement === e.cancel) $("prompt").focus();
    e.cancel.hidden = true;
  }

  fail(e, message) {
    e.li.dataset.status = "failed";
    e.status.textContent = message;
    const dismiss = el("button", { type: "button", className: "btn small ghost", textContent: "Dismiss" });
    dismiss.addEventListener("click", () => this.remove(e));
    e.li.append(dismiss);
  }

  remove(e) {
    if (this.entries.get(e.job.id) !== e) return;
    if (e.li.contains(document.activeElement)) $("prompt").focus();
    this.entries.delete(e.job.id);
    e.li.remove();
    this.update();
  }

  update() {
    this.section.hidden = this.entries.size === 0;
    $("jobs-count").textContent = this.entries.size ? String(this.entries.size) : "";
  }
}
