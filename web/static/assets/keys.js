// The Keys panel: a signed-in person's own API keys, for programs. Lists them, makes
// one when signed in with single sign-on (shown this once, with a Copy button) and revokes one after a confirmation;
// programs using a revoked key stop working.

import { dateWords, el } from "./format.js";

const $ = (id) => document.getElementById(id);

export class KeysPanel {
  /**
   * @param {{client: () => import("./api.js").Client, canCreate: () => boolean,
   *   onError: (err: Error) => boolean, toast: (message: string) => void}} hooks
   */
  constructor(hooks) {
    this.hooks = hooks;
    this.dialog = $("keys-dialog");
    $("keys-open").addEventListener("click", () => this.open());
    $("keys-close").addEventListener("click", () => this.dialog.close());
    $("key-create").addEventListener("click", () => this.create());
    $("key-copy").addEventListener("click", () => this.copy());
    this.dialog.addEventListener("click", (e) => {
      if (e.target === this.dialog) this.dialog.close();
    });
    this.dialog.addEventListener("close", () => this.hideNewKey());
  }

  async open() {
    this.hideNewKey();
    this.showError("");
    const canCreate = this.hooks.canCreate();
    $("key-create").hidden = !canCreate;
    $("keys-create-note").hidden = canCreate;
    if (!this.dialog.open) this.dialog.showModal();
    await this.refresh();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  async refresh() {
    const list = $("keys-list");
    list.setAttribute("aria-busy", "true");
    try {
      const res = await this.hooks.client().request("GET", "/v1/keys");
      const keys = Array.isArray(res?.data) ? res.data : [];
      list.replaceChildren(...keys.map((k) => this.row(k)));
      $("keys-empty").hidden = keys.length > 0;
    } catch (err) {
      if (!this.hooks.onError(err)) this.showError(`Could not load your keys: ${err.message}`);
    } finally {
      list.setAttribute("aria-busy", "false");
    }
  }

  row(k) {
    const state = k.revoked_at ? `revoked ${dateWords(k.revoked_at)}` : `made ${dateWords(k.created_at)}`;
    const li = el("li", { className: `key-row${k.revoked_at ? " revoked" : ""}` },
      el("code", { className: "key-id", textContent: k.id }),
      el("span", { className: "muted", textContent: k.current ? `${state} · this page's key` : state }));
    if (!k.revoked_at) {
      // Revoking asks first, in the row: "Revoke", then "Yes, revoke" or "Keep".
      const ask = el("button", { type: "button", className: "btn small danger", textContent: "Revoke" });
      ask.setAttribute("aria-label", `Revoke key ${k.id}`);
      const yes = el("button", { type: "button", className: "btn small danger", textContent: "Yes, revoke" });
      yes.setAttribute("aria-label", `Yes, revoke key ${k.id}`);
      const keep = el("button", { type: "button", className: "btn small", textContent: "Keep" });
      keep.setAttribute("aria-label", `Keep key ${k.id}`);
      const confirm = el("span", { className: "key-confirm", hidden: true }, yes, keep);
      ask.addEventListener("click", () => {
        ask.hidden = true;
        confirm.hidden = false;
        yes.focus();
      });
      keep.addEventListener("click", () => {
        confirm.hidden = true;
        ask.hidden = false;
        ask.focus();
      });
      yes.addEventListener("click", () => this.revoke(k, yes));
      li.append(ask, confirm);
    }
    return li;
  }

  async create() {
    const btn = $("key-create");
    btn.disabled = true;
    this.showError("");
    try {
      const k = await this.hooks.client().request("POST", "/v1/keys");
      $("key-new-value").value = k.key;
      $("key-new").hidden = false;
      $("key-new-value").select();
      await this.refresh();
    } catch (err) {
      if (!this.hooks.onError(err)) this.showError(err.message);
    } finally {
      btn.disabled = false;
    }
  }

  async revoke(k, btn) {
    btn.disabled = true;
    this.showError("");
    try {
      await this.hooks.client().request("DELETE", `/v1/keys/${encodeURIComponent(k.id)}`);
      this.hooks.toast(`Key ${k.id} revoked.`);
      if (k.current) return; // this page's own key: the next request signs out
      await this.refresh();
    } catch (err) {
      if (!this.hooks.onError(err)) this.showError(err.message);
      btn.disabled = false;
    }
  }

  async copy() {
    const v = $("key-new-value").value;
    try {
      await navigator.clipboard.writeText(v);
      this.hooks.toast("Key copied.");
    } catch {
      $("key-new-value").select(); // no clipboard access: selected for Ctrl-C
    }
  }

  hideNewKey() {
    $("key-new").hidden = true;
    $("key-new-value").value = ""; // the key is not kept once the panel is closed
  }

  showError(message) {
    const e = $("keys-error");
    e.textContent = message;
    e.hidden = !message;
  }
}
