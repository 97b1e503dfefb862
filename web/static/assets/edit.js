// The Edit panel of the detail view: remove background, upscale, erase and inpaint
// with a brush on a mask canvas (undo, brush size), outpaint by margins,
// search-and-replace, style transfer with a second image from the gallery or a file.
// Edits go to POST /v1/edits as multipart/form-data (the image by id, the mask as a
// PNG drawn here); the result opens with its lineage ("edited from …").

import { ApiError, newIdempotencyKey } from "./api.js";
import { el } from "./format.js";

const $ = (id) => document.getElementById(id);

/** What the panel offers, in its order, with the controls each needs. */
const OPS = [
  { op: "remove-background", label: "Remove background", needs: [] },
  { op: "upscale-fast", label: "Upscale (fast, 4×)", needs: [] },
  { op: "upscale-conservative", label: "Upscale (conservative)", needs: ["prompt"] },
  { op: "upscale-creative", label: "Upscale (creative)", needs: ["prompt"] },
  { op: "erase", label: "Erase (paint over it)", needs: ["mask"] },
  { op: "inpaint", label: "Inpaint (paint, then describe)", needs: ["mask", "prompt"] },
  { op: "outpaint", label: "Outpaint (extend the edges)", needs: ["margins"] },
  { op: "search-replace", label: "Search and replace", needs: ["search", "prompt"] },
  { op: "style-transfer", label: "Style transfer", needs: ["style"] },
];

const SOURCE_LABELS = { upload: "Uploaded as the input of an edit.", mask: "A mask drawn for an edit." };

export class EditPanel {
  /**
   * @param {{client: () => import("./api.js").Client, gallery: () => object[],
   *   open: (img: object) => void, onResult: (imgs: object[]) => void, onError: (err: Error) => void}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.img = null;
    this.ops = new Set(); // operations some model performs
    this.strokes = []; // [{size, points: [[x, y], ...]}] in image pixels
    this.drawing = null;
    this.canvas = $("edit-mask");
    this.ctx = this.canvas.getContext("2d");
    $("edit-op").addEventListener("change", () => this.update());
    $("edit-undo").addEventListener("click", () => {
      this.strokes.pop();
      this.redraw();
    });
    $("edit-clear").addEventListener("click", () => {
      this.strokes = [];
      this.redraw();
    });
    $("edit-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.run();
    });
    $("edit-lineage").addEventListener("click", (e) => {
      const a = e.target.closest("a[data-id]");
      if (!a) return;
      e.preventDefault();
      this.openSource(a.dataset.id);
    });
    this.canvas.addEventListener("pointerdown", (e) => this.down(e));
    this.canvas.addEventListener("pointermove", (e) => this.move(e));
    this.canvas.addEventListener("pointerup", () => this.up());
    this.canvas.addEventListener("pointercancel", () => this.up());
    new ResizeObserver(() => this.place()).observe($("detail-img"));
    $("detail-img").addEventListener("load", () => this.place());
  }

  /** Learns which operations the server's models perform (GET /v1/models). */
  setModels(models) {
    this.ops = new Set(models.flatMap((m) => Object.keys(m.operations || {})));
    const sel = $("edit-op");
    sel.replaceChildren(...OPS.filter((o) => this.ops.has(o.op)).map((o) => el("option", { value: o.op, textContent: o.label })));
    $("edit-panel").hidden = sel.options.length === 0;
    this.update();
  }

  /** Called when the detail view shows an image. */
  show(img) {
    this.img = img;
    this.strokes = [];
    $("edit-error").hidden = true;
    $("edit-status").textContent = "";
    this.lineage(img);
    this.fillStyles();
    this.update();
  }

  lineage(img) {
    const box = $("edit-lineage");
    box.replaceChildren();
    if (img.operation && img.source_image_id) {
      const link = el("a", { href: "#", textContent: "the source image" });
      link.dataset.id = img.source_image_id;
      box.append(`Edited (${img.operation}) from `, link, ".");
    } else if (SOURCE_LABELS[img.operation]) {
      box.append(SOURCE_LABELS[img.operation]);
    }
    box.hidden = box.childNodes.length === 0;
  }

  async openSource(id) {
    try {
      this.hooks.open(await this.hooks.client().getImage(id));
    } catch (err) {
      if (err.status === 404) {
        $("edit-lineage").textContent = "Edited from an image that has been deleted.";
        return;
      }
      this.hooks.onError(err);
    }
  }

  /** The style image choices: the gallery's other images. */
  fillStyles() {
    const sel = $("edit-style-pick");
    const opts = this.hooks.gallery().filter((i) => i.id !== this.img?.id && i.operation !== "mask").slice(0, 48);
    sel.replaceChildren(
      el("option", { value: "", textContent: "Choose from the gallery…" }),
      ...opts.map((i) => el("option", { value: i.id, textContent: (i.prompt || i.operation || i.id).slice(0, 60) })),
    );
  }

  needs() {
    return OPS.find((o) => o.op === $("edit-op").value)?.needs || [];
  }

  update() {
    const needs = this.needs();
    for (const node of document.querySelectorAll("#edit-form [data-needs]")) {
      node.hidden = !needs.includes(node.dataset.needs);
    }
    const masking = needs.includes("mask") && !!this.img;
    this.canvas.hidden = !masking;
    this.place();
    this.redraw();
  }

  /** Lays the mask canvas over the picture, at the image's own resolution. */
  place() {
    if (this.canvas.hidden || !this.img) return;
    const pic = $("detail-img");
    const box = pic.getBoundingClientRect();
    const parent = pic.parentElement.getBoundingClientRect();
    Object.assign(this.canvas.style, {
      left: `${box.left - parent.left}px`, top: `${box.top - parent.top}px`,
      width: `${box.width}px`, height: `${box.height}px`,
    });
    if (this.canvas.width !== this.img.width || this.canvas.height !== this.img.height) {
      this.canvas.width = this.img.width;
      this.canvas.height = this.img.height;
      this.redraw();
    }
  }

  /** The brush size in image pixels (the slider is in screen pixels). */
  brush() {
    const scale = this.canvas.width / Math.max(1, this.canvas.getBoundingClientRect().width);
    return Number($("edit-brush").value) * scale;
  }

  point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * this.canvas.width) / r.width, ((e.clientY - r.top) * this.canvas.height) / r.height];
  }

  down(e) {
    e.preventDefault();
    this.canvas.setPointerCapture?.(e.pointerId);
    this.drawing = { size: this.brush(), points: [this.point(e)] };
    this.strokes.push(this.drawing);
    this.redraw();
  }

  move(e) {
    if (!this.drawing) return;
    this.drawing.points.push(this.point(e));
    this.redraw();
  }

  up() {
    this.drawing = null;
  }

  /** Draws the strokes on ctx in the given colour. */
  paint(ctx, colour) {
    ctx.strokeStyle = colour;
    ctx.fillStyle = colour;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const s of this.strokes) {
      ctx.lineWidth = s.size;
      const [x0, y0] = s.points[0];
      ctx.beginPath();
      ctx.arc(x0, y0, s.size / 2, 0, 2 * Math.PI);
      ctx.fill();
      ctx.beginPath();
      ctx.moveTo(x0, y0);
      for (const [x, y] of s.points.slice(1)) ctx.lineTo(x, y);
      ctx.stroke();
    }
  }

  redraw() {
    this.ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    this.paint(this.ctx, "rgb(255 60 90 / 55%)");
    $("edit-undo").disabled = this.strokes.length === 0;
    $("edit-clear").disabled = this.strokes.length === 0;
  }

  /** The mask as a PNG: white where painted, black elsewhere, the image's size. */
  maskBlob() {
    const c = document.createElement("canvas");
    c.width = this.img.width;
    c.height = this.img.height;
    const ctx = c.getContext("2d");
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, c.width, c.height);
    this.paint(ctx, "#fff");
    return new Promise((resolve) => c.toBlob(resolve, "image/png"));
  }

  async run() {
    const img = this.img;
    if (!img) return;
    const op = $("edit-op").value;
    const needs = this.needs();
    const form = new FormData();
    form.set("operation", op);
    form.set("image", img.id);
    const err = (msg, id) => {
      $("edit-error").textContent = msg;
      $("edit-error").hidden = false;
      if (id) $(id).focus();
    };
    if (needs.includes("mask")) {
      if (this.strokes.length === 0) return err("Paint over the part of the picture to change first.", "edit-brush");
      form.set("mask", await this.maskBlob(), "mask.png");
    }
    if (needs.includes("prompt") && $("edit-prompt").value.trim()) form.set("prompt", $("edit-prompt").value.trim());
    if (needs.includes("search")) form.set("search_prompt", $("edit-search").value.trim());
    if (needs.includes("margins")) {
      for (const side of ["left", "right", "up", "down"]) {
        const v = $(`edit-${side}`).value;
        if (v && Number(v) > 0) form.set(side, v);
      }
    }
    if (needs.includes("style")) {
      const file = $("edit-style-file").files[0];
      const pick = $("edit-style-pick").value;
      if (file) form.set("style_image", file, file.name);
      else if (pick) form.set("style_image", pick);
      else return err("Choose a style image from the gallery or a file.", "edit-style-pick");
    }
    $("edit-error").hidden = true;
    const btn = $("edit-run");
    btn.disabled = true;
    $("edit-status").textContent = "Editing…";
    try {
      const res = await this.post(form);
      $("edit-status").textContent = "";
      this.hooks.onResult(res.images || []);
    } catch (e) {
      $("edit-status").textContent = "";
      const field = e.param ? ` (${e.param})` : "";
      err(`Could not edit the image: ${e.message}${field}`);
      this.hooks.onError(e);
    } finally {
      btn.disabled = false;
    }
  }

  async post(form) {
    const client = this.hooks.client();
    // An API key, or the session cookie with its CSRF token (single sign-on), as api.js.
    const headers = { Accept: "application/json", "Idempotency-Key": newIdempotencyKey() };
    if (client.key) headers.Authorization = `Bearer ${client.key}`;
    else if (client.csrf) headers["X-CSRF-Token"] = client.csrf;
    let res;
    try {
      res = await fetch("/v1/edits", {
        method: "POST",
        headers,
        body: form,
        cache: "no-store",
      });
    } catch {
      throw new ApiError(0, "network", "Could not reach Easel. Check your connection and try again.");
    }
    const text = await res.text();
    let data = null;
    try {
      data = JSON.parse(text.replace(/"seed":(\d{16,})/g, '"seed":"$1"')); // seeds past 2^53 as strings
    } catch {
      data = null;
    }
    if (!res.ok) {
      const e = data?.error || {};
      throw new ApiError(res.status, e.code || `http_${res.status}`, e.message || res.statusText, e.param || "");
    }
    return data;
  }
}
