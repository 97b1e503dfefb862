// The gallery: the user's images, newest first, loaded a page at a time as the
// user scrolls (cursor pagination). New images are put at the top when ready.

import { el } from "./format.js";

const PAGE = 24;
const $ = (id) => document.getElementById(id);

export class Gallery {
  /** @param {{client: () => import("./api.js").Client, onOpen: (img: object) => void, onError: (err: Error) => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.list = $("gallery");
    this.more = $("load-more");
    this.images = []; // newest first, as shown
    this.cursor = null;
    this.done = false;
    this.loading = null;
    this.generation = 0; // bumps on reset, so a late page of an old session is dropped
    this.more.addEventListener("click", () => this.loadMore());
    this.list.addEventListener("click", (e) => {
      const tile = e.target.closest("button.tile");
      if (!tile) return;
      const img = this.images.find((i) => i.id === tile.dataset.id);
      if (img) this.hooks.onOpen(img);
    });
    this.observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) this.loadMore();
    }, { rootMargin: "800px 0px" });
    this.observer.observe($("sentinel"));
  }

  reset() {
    this.generation++;
    this.images = [];
    this.cursor = null;
    this.done = false;
    this.loading = null;
    this.list.replaceChildren();
    this.update();
  }

  /** Loads the next page, unless one is loading or the last one came. */
  loadMore() {
    const client = this.hooks.client();
    if (!client || this.loading || this.done) return this.loading;
    const gen = this.generation;
    this.list.setAttribute("aria-busy", "true");
    $("gallery-count").textContent = "Loading…";
    this.loading = client.listImages(PAGE, this.cursor)
      .then((page) => {
        if (gen !== this.generation) return;
        const have = new Set(this.images.map((i) => i.id));
        // Masks drawn for edits stay out of the gallery (the API lists them; a result names its mask).
        const fresh = (page.images || []).filter((i) => !have.has(i.id) && i.operation !== "mask");
        this.images.push(...fresh);
        this.list.append(...fresh.map((i) => this.tile(i)));
        this.cursor = page.next_cursor || null;
        this.done = !this.cursor;
        $("gallery-error").hidden = true;
      })
      .catch((err) => {
        if (gen !== this.generation) return;
        $("gallery-error").textContent = `Could not load your images: ${err.message}`;
        $("gallery-error").hidden = false;
        this.hooks.onError(err);
      })
      .finally(() => {
        if (gen !== this.generation) return;
        this.loading = null;
        this.list.setAttribute("aria-busy", "false");
        this.update();
        // The observer only fires on a change: keep loading while the end is in view.
        if (!this.done && $("gallery-error").hidden && this.sentinelNear()) this.loadMore();
      });
    return this.loading;
  }

  sentinelNear() {
    const r = $("sentinel").getBoundingClientRect();
    return r.top < window.innerHeight + 800;
  }

  /** Puts new images at the top, in the order given (the first becomes the newest). */
  prepend(images) {
    const fresh = images.filter((i) => !this.images.some((x) => x.id === i.id) && i.operation !== "mask");
    this.images.unshift(...fresh);
    this.list.prepend(...fresh.map((i) => this.tile(i, true)));
    this.update();
  }

  remove(id) {
    this.images = this.images.filter((i) => i.id !== id);
    this.list.querySelector(`button.tile[data-id="${CSS.escape(id)}"]`)?.closest("li")?.remove();
    this.update();
  }

  /** The image before (-1) or after (+1) id in the gallery, or null. */
  neighbor(id, step) {
    const i = this.images.findIndex((x) => x.id === id);
    return i < 0 ? null : this.images[i + step] || null;
  }

  /** Placeholder tiles at the top while a generation runs; returns their remover. */
  addPending(n) {
    const items = Array.from({ length: n }, () =>
      el("li", { className: "pending", "aria-hidden": "true" }, el("div", { className: "skeleton" })));
    this.list.prepend(...items);
    $("gallery-empty").hidden = true;
    return () => {
      for (const li of items) li.remove();
      this.update();
    };
  }

  focusTile(id) {
    this.list.querySelector(`button.tile[data-id="${CSS.escape(id)}"]`)?.focus();
  }

  tile(img, isNew = false) {
    const pic = el("img", {
      src: img.thumbnail_url || img.url,
      alt: img.prompt || "",
      loading: "lazy",
      decoding: "async",
      width: img.width || undefined,
      height: img.height || undefined,
    });
    const btn = el("button", { type: "button", className: "tile" }, pic);
    btn.dataset.id = img.id;
    const li = el("li", { className: isNew ? "fresh" : "" }, btn);
    return li;
  }

  update() {
    const empty = this.images.length === 0 && this.done && !this.list.querySelector(".pending");
    $("gallery-empty").hidden = !empty;
    this.more.hidden = this.done || Boolean(this.loading);
    const n = this.images.length;
    $("gallery-count").textContent = this.loading ? "Loading…" : n ? `${n}${this.done ? "" : "+"} image${n === 1 ? "" : "s"}` : "";
  }
}
