// Easel's page: sign-in, the generate form, the gallery and the detail view.
// Plain ES modules, no framework and no build step; the Go binary embeds them.

import { ApiError, Client } from "./api.js";
import { clearKey, loadKey, saveKey, takeKeyFromFragment, takeSignInErrorFromFragment } from "./auth.js";
import { Detail } from "./detail.js";
import { EditPanel } from "./edit.js";
import { GenerateForm } from "./form.js";
import { Gallery } from "./gallery.js";
import { Jobs } from "./jobs.js";
import { KeysPanel } from "./keys.js";
import { endSession, loadSession } from "./sso.js";

const $ = (id) => document.getElementById(id);

class App {
  constructor() {
    this.client = null;
    this.session = null; // the single sign-on session, when signed in with one
    this.sso = null; // how people sign in here with single sign-on, when they can
    this.abort = null;
    this.modelNames = new Map();
    this.toastTimer = 0;
    this.form = new GenerateForm({
      onSubmit: (req, spec) => this.generate(req, spec),
      onCancel: () => this.abort?.abort(),
    });
    this.gallery = new Gallery({
      client: () => this.client,
      onOpen: (img) => this.detail.open(img),
      onError: (err) => this.handleAuth(err),
    });
    this.jobs = new Jobs({
      client: () => this.client,
      onImage: (img, own) => {
        this.gallery.prepend([img]);
        if (own) this.form.rememberSeed(img.seed);
      },
      onPending: () => this.gallery.addPending(1),
      onDone: (job, own, n, ms) => {
        const took = ms < 1000 ? `${Math.max(1, Math.round(ms))} ms` : `${(ms / 1000).toFixed(1)} s`;
        this.toast(`${n === 1 ? "Image" : `${n} images`} ready${own ? ` in ${took}` : ""}.`);
      },
      onNote: (message) => this.toast(message),
      onError: (err) => this.handleAuth(err),
    });
    this.detail = new Detail({
      client: () => this.client,
      neighbor: (id, step) => this.gallery.neighbor(id, step),
      modelName: (id) => this.modelNames.get(id) || id || "",
      onReuse: (img) => this.reuse(img),
      onDeleted: (id) => {
        this.gallery.remove(id);
        this.toast("Image deleted.");
        $("prompt").focus();
      },
      // The dialog gives the focus back to the tile that opened it; after the arrow
      // keys moved to another image, that image's tile takes it. Never steal the
      // focus from a control the user has moved to since.
      onClosed: (id) => {
        const a = document.activeElement;
        if (!a || a === document.body || a.closest("#gallery")) this.gallery.focusTile(id);
      },
      onError: (err) => this.handleAuth(err),
      onShow: (img) => this.edit.show(img),
    });
    this.edit = new EditPanel({
      client: () => this.client,
      gallery: () => this.gallery.images,
      open: (img) => this.detail.show(img),
      onResult: (imgs) => {
        if (imgs.length === 0) return;
        this.gallery.prepend(imgs);
        this.detail.show(imgs[0]);
        this.toast("Edited.");
      },
      onError: (err) => this.handleAuth(err),
    });
    $("signin-form").addEventListener("submit", (e) => {
      e.preventDefault();
      const key = $("api-key").value.trim();
      if (!key) {
        this.showSignIn("Enter your API key.");
        return;
      }
      this.signIn(key);
    });
    $("sign-out").addEventListener("click", () => this.signOut(""));
    this.keys = new KeysPanel({
      client: () => this.client,
      canCreate: () => !!this.session, // a key never makes a key (POST /v1/keys is 403)
      onError: (err) => this.handleAuth(err),
      toast: (message) => this.toast(message),
    });
  }

  start() {
    // Opening the printed link in a tab that shows the page already only changes the fragment.
    window.addEventListener("hashchange", () => {
      const key = takeKeyFromFragment();
      const refused = takeSignInErrorFromFragment();
      if (key) this.signIn(key);
      else if (refused && !this.client) this.showSignIn(`Sign-in refused: ${refused}`);
    });
    const fromURL = takeKeyFromFragment();
    if (fromURL) saveKey(fromURL);
    const refused = takeSignInErrorFromFragment();
    // A key in the link wins; then a single sign-on session; then a saved key.
    loadSession().then((s) => {
      this.sso = s?.sso || null;
      const key = fromURL || (s?.user ? "" : loadKey());
      if (key) this.signIn(key);
      else if (s?.user) this.signIn("", s);
      else this.showSignIn(refused ? `Sign-in refused: ${refused}` : "");
    });
  }

  async signIn(key, session = null) {
    const button = $("sign-in");
    button.disabled = true;
    $("signin-error").textContent = "";
    const client = session ? new Client("", session.csrf_token) : new Client(key);
    try {
      const me = await client.me();
      if (!session) saveKey(key);
      this.session = session;
      this.client = client;
      $("who").textContent = me?.user ? `Signed in as ${me.user}` : "Signed in";
      this.gallery.reset();
      this.showApp();
      this.gallery.loadMore();
      this.jobs.reset();
      this.jobs.resume();
      await this.loadModels();
    } catch (err) {
      if (err instanceof ApiError && err.status === 401 && session) {
        this.showSignIn("Your session has ended. Sign in again.");
      } else if (err instanceof ApiError && err.status === 401) {
        clearKey();
        this.showSignIn("That API key was not accepted. Check it and try again.");
      } else {
        this.showSignIn(err.message || "Could not sign in.");
        $("api-key").value = key;
      }
    } finally {
      button.disabled = false;
    }
  }

  signOut(message) {
    this.abort?.abort();
    this.detail.close();
    this.keys.close();
    clearKey();
    if (this.session && !message) endSession(this.client); // message: it has ended already
    this.session = null;
    this.client = null;
    this.gallery.reset();
    this.jobs.reset();
    this.form.clearError();
    this.form.forgetSeed();
    $("api-key").value = "";
    this.showSignIn(message);
  }

  /** Signs out when the key stops working (revoked, expired); true when it did. */
  handleAuth(err) {
    if (err instanceof ApiError && err.status === 401) {
      this.signOut(this.session ? "Your session has ended. Sign in again." : "Your API key is no longer accepted. Sign in again.");
      return true;
    }
    return false;
  }

  showSignIn(message) {
    $("app-view").hidden = true;
    $("account").hidden = true;
    $("signin-view").hidden = false;
    $("signin-error").textContent = message;
    $("sso").hidden = !this.sso;
    if (this.sso) {
      $("sso-sign-in").textContent = `Sign in with ${this.sso.name}`;
      $("sso-sign-in").href = this.sso.sign_in_url;
    }
    const input = $("api-key");
    if (message) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    input.focus();
  }

  showApp() {
    $("signin-view").hidden = true;
    $("app-view").hidden = false;
    $("account").hidden = false;
    $("prompt").focus();
  }

  async loadModels() {
    try {
      // OpenAI's list shape: {"object": "list", "data": [{id, ..., default}]}.
      const res = await this.client.models();
      const list = Array.isArray(res?.data) ? res.data : [];
      this.modelNames = new Map(list.map((m) => [m.id, m.name || m.id]));
      // Edit-only models (Bedrock's image services) make no image from text.
      this.form.setModels(list.filter((m) => !m.edit_only), list.find((m) => m.default)?.id);
      this.edit.setModels(list);
      if (list.length === 0) this.form.showError("No models are configured on this server.", "");
    } catch (err) {
      if (!this.handleAuth(err)) this.form.showError("Could not load the list of models.", err.message);
    }
  }

  async generate(req, spec) {
    if (!this.client) return;
    if (this.jobs.available && await this.submitJob(req, spec)) return;
    const n = req.n || 1;
    this.abort = new AbortController();
    const started = performance.now();
    this.form.setBusy(true, `Generating ${n === 1 ? "an image" : `${n} images`} with ${spec.name || spec.id}…`);
    const removePending = this.gallery.addPending(n);
    try {
      const res = await this.client.generate(req, this.abort.signal);
      const images = res?.images || [];
      removePending();
      this.gallery.prepend(images);
      if (images.length > 0) this.form.rememberSeed(images[0].seed);
      const ms = performance.now() - started;
      const took = ms < 1000 ? `${Math.max(1, Math.round(ms))} ms` : `${(ms / 1000).toFixed(1)} s`;
      this.toast(`${images.length === 1 ? "Image" : `${images.length} images`} ready in ${took}.`);
    } catch (err) {
      removePending();
      if (err.name === "AbortError") {
        this.toast("Generation cancelled.");
      } else if (!this.handleAuth(err)) {
        this.form.showApiError(err);
      }
    } finally {
      this.abort = null;
      this.form.setBusy(false);
    }
  }

  /** Submits the generation as a job (see jobs.js); false when the server runs no queue. */
  async submitJob(req, spec) {
    const n = req.n || 1;
    this.abort = new AbortController();
    this.form.setBusy(true, `Sending ${n === 1 ? "an image" : `${n} images`} to ${spec.name || spec.id}…`);
    try {
      return await this.jobs.submit(req, this.abort.signal);
    } catch (err) {
      if (err.name === "AbortError") this.toast("Generation cancelled.");
      else if (!this.handleAuth(err)) this.form.showApiError(err);
      return true;
    } finally {
      this.abort = null;
      this.form.setBusy(false);
    }
  }

  reuse(img) {
    const note = this.form.useSettings(img);
    this.toast(note || "Settings copied to the form. Press Generate to make it again.");
    $("prompt").focus();
  }

  toast(message) {
    const t = $("toast");
    t.textContent = message;
    t.classList.add("show");
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => t.classList.remove("show"), 4000);
  }
}

new App().start();
