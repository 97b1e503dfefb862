// The detail view: a modal <dialog> with the full image, its settings, download,
// "use these settings" and delete with confirmation. Escape closes it (the
// dialog's own behaviour); the arrow keys step through the gallery.

import { bytesWords, dateWords, el, extFor, sizeWords } from "./format.js";
import { ratioOf } from "./models.js";

const $ = (id) => document.getElementById(id);

export class Detail {
  /**
   * @param {{client: () => import("./api.js").Client, neighbor: (id: string, step: number) => object|null,
   *   modelName: (id: string) => string, onReuse: (img: object) => void, onDeleted: (id: string) => void,
   *   onClosed: (id: string) => void, onError: (err: Error) => void}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.dialog = $("detail");
    this.img = null;
    $("detail-close").addEventListener("click", () => this.close());
    $("detail-reuse").addEventListener("click", () => {
      const img = this.img;
      this.img = null; // the form takes the focus, not the tile
      this.close();
      this.hooks.onReuse(img);
    });
    $("detail-delete").addEventListener("click", () => this.askDelete());
    $("cancel-delete").addEventListener("click", () => this.hideConfirm(true));
    $("confirm-delete").addEventListener("click", () => this.delete());
    this.dialog.addEventListener("click", (e) => {
      if (e.target === this.dialog) this.close(); // a click on the backdrop
    });
    this.dialog.addEventListener("close", () => {
      // A close event can arrive after the view was opened again (close, then a quick
      // open): it is stale then, and must not drop the image now shown.
      if (this.dialog.open) return;
      const id = this.img?.id;
      this.img = null;
      $("detail-img").removeAttribute("src");
      if (id) this.hooks.onClosed(id);
    });
    this.dialog.addEventListener("keydown", (e) => {
      if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
      if (e.target.closest("input, textarea, select")) return;
      const next = this.img && this.hooks.neighbor(this.img.id, e.key === "ArrowLeft" ? -1 : 1);
      if (next) {
        e.preventDefault();
        this.show(next);
      }
    });
  }

  open(img) {
    this.show(img);
    if (!this.dialog.open) this.dialog.showModal();
    $("detail-close").focus();
  }

  show(img) {
    this.img = img;
    this.hideConfirm(false);
    $("detail-error").hidden = true;
    const pic = $("detail-img");
    pic.alt = img.prompt || "";
    pic.src = img.url;
    if (img.width && img.height) pic.style.aspectRatio = `${img.width} / ${img.height}`;
    $("detail-prompt").textContent = img.prompt || "";
    const rows = [];
    if (img.negative_prompt) rows.push(["Negative prompt", img.negative_prompt]);
    rows.push(["Model", this.hooks.modelName(img.model)]);
    rows.push(["Seed", String(img.seed ?? "")]);
    const ratio = img.aspect_ratio || ratioOf(img.width, img.height);
    rows.push(["Size", `${sizeWords(img.width, img.height)}${ratio ? ` (${ratio})` : ""}`]);
    if (img.style) rows.push(["Style", img.style]);
    if (img.quality) rows.push(["Quality", img.quality]);
    if (img.cfg_scale !== undefined && img.cfg_scale !== null) rows.push(["Guidance", String(img.cfg_scale)]);
    const file = [extFor(img.content_type).toUpperCase(), bytesWords(img.bytes)].filter(Boolean).join(", ");
    rows.push(["File", file]);
    rows.push(["Created", dateWords(img.created_at)]);
    $("detail-meta").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { textContent: k }), el("dd", { textContent: v })]));
    const a = $("detail-download");
    a.href = img.url;
    a.download = `easel-${img.id}.${extFor(img.content_type)}`;
    // Browsers ignore `download` across origins (a CDN); open the image in a tab then.
    const cross = new URL(img.url, location.href).origin !== location.origin;
    a.target = cross ? "_blank" : "";
    a.rel = cross ? "noopener" : "";
    this.hooks.onShow?.(img);
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  askDelete() {
    $("delete-confirm").hidden = false;
    $("detail-delete").hidden = true;
    $("confirm-delete").focus();
  }

  hideConfirm(focus) {
    $("delete-confirm").hidden = true;
    $("detail-delete").hidden = false;
    if (focus) $("detail-delete").focus();
  }

  async delete() {
    const img = this.img;
    if (!img) return;
    const btn = $("confirm-delete");
    btn.disabled = true;
    try {
      await this.hooks.client().deleteImage(img.id);
      this.img = null; // closed on purpose: no tile to return focus to
      this.close();
      this.hooks.onDeleted(img.id);
    } catch (err) {
      if (err.status === 404) {
        this.img = null;
        this.close();
        this.hooks.onDeleted(img.id);
        return;
      }
      $("detail-error").textContent = `Could not delete the image: ${err.message}`;
      $("detail-error").hidden = false;
      this.hooks.onError(err);
    } finally {
      btn.disabled = false;
    }
  }
}
