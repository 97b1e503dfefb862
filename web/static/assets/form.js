// The generate form: controls that follow the chosen model, the request it builds,
// the busy state while a generation runs, and errors shown next to the fields.

import { el, waitWords } from "./format.js";
import { defaultSize, sizeChoices } from "./models.js";

const $ = (id) => document.getElementById(id);
const CUSTOM = "custom";
const BIG_SEED = /^\d{16,}$/; // beyond what a JavaScript number holds exactly

/** Which control an API error's param names. */
const PARAM_FIELDS = {
  prompt: "prompt",
  negative_prompt: "negative-prompt",
  aspect_ratio: "aspect-ratio",
  n: "n",
  seed: "seed",
  cfg_scale: "cfg-scale",
  style: "style",
  quality: "quality",
  output_format: "output-format",
  model: "model",
};

export class GenerateForm {
  /** @param {{onSubmit: (req: object, spec: object) => void, onCancel: () => void}} hooks */
  constructor(hooks) {
    this.hooks = hooks;
    this.specs = new Map();
    this.spec = null;
    this.lastSeed = null;
    this.fixedSeed = "";
    this.busy = false;
    this.timer = 0;
    this.countdown = 0;
    this.form = $("gen-form");
    this.prompt = $("prompt");
    this.negative = $("negative-prompt");
    this.model = $("model");
    this.size = $("size");
    this.aspect = $("aspect-ratio");
    this.n = $("n");
    this.width = $("width");
    this.height = $("height");
    this.style = $("style");
    this.quality = $("quality");
    this.format = $("output-format");
    this.cfg = $("cfg-scale");
    this.seed = $("seed");
    this.seedRandom = $("seed-random");
    this.seedReuse = $("seed-reuse");
    this.button = $("generate");
    this.errorBox = $("gen-error");
    this.wire();
  }

  wire() {
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    // Enter generates; Shift+Enter is a new line. Some input paths (automation,
    // some IMEs) still deliver the line break after a cancelled keydown, so the
    // break that follows a generating Enter is dropped too.
    let enterSubmitted = false;
    this.prompt.addEventListener("keydown", (e) => {
      enterSubmitted = false;
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        enterSubmitted = true;
        this.submit();
      }
    });
    this.prompt.addEventListener("beforeinput", (e) => {
      if (enterSubmitted && (e.inputType === "insertLineBreak" || e.inputType === "insertParagraph")) e.preventDefault();
    });
    this.prompt.addEventListener("keyup", () => {
      enterSubmitted = false;
    });
    this.prompt.addEventListener("input", () => this.updateCounts());
    this.negative.addEventListener("input", () => this.updateCounts());
    this.model.addEventListener("change", () => {
      this.applySpec(this.specs.get(this.model.value));
      try {
        localStorage.setItem("easel.model", this.model.value);
      } catch {
        // Not remembered; harmless.
      }
    });
    this.size.addEventListener("change", () => this.syncCustomSize());
    this.seedRandom.addEventListener("change", () => this.syncSeed());
    this.seedReuse.addEventListener("click", () => {
      if (this.lastSeed === null) return;
      this.setSeed(this.lastSeed);
      this.seed.focus();
    });
    $("cancel").addEventListener("click", () => this.hooks.onCancel());
    // Editing a field clears its error mark.
    this.form.addEventListener("input", (e) => {
      if (e.target.getAttribute("aria-invalid") === "true") e.target.removeAttribute("aria-invalid");
    });
  }

  /** Fills the model picker from GET /v1/models and picks the remembered or default model. */
  setModels(list, defaultId) {
    this.specs = new Map(list.map((m) => [m.id, m]));
    this.model.replaceChildren(...list.map((m) => el("option", { value: m.id, textContent: m.name || m.id })));
    let pick = "";
    try {
      pick = localStorage.getItem("easel.model") || "";
    } catch {
      pick = "";
    }
    if (!this.specs.has(pick)) pick = this.specs.has(defaultId) ? defaultId : list[0]?.id;
    this.model.value = pick;
    this.applySpec(this.specs.get(pick));
  }

  /** Shows the controls the model takes, keeping the user's choices where they still fit. */
  applySpec(spec) {
    this.spec = spec || null;
    if (!spec) return;
    $("model-desc").textContent = spec.description || "";

    $("negative-field").hidden = !spec.negative_prompt;

    const ratios = Array.isArray(spec.aspect_ratios) ? spec.aspect_ratios : [];
    $("aspect-field").hidden = ratios.length === 0;
    if (ratios.length > 0) {
      fillSelect(this.aspect, ratios.map((r) => [r, r]), spec.default_aspect_ratio || ratios[0]);
    }

    const choices = ratios.length === 0 ? sizeChoices(spec) : [];
    $("size-field").hidden = choices.length === 0 && !spec.size_range;
    if (!$("size-field").hidden) {
      const prev = this.size.value;
      const opts = choices.map((c) => [`${c.width}x${c.height}`, c.label]);
      if (spec.size_range) opts.push([CUSTOM, "Custom…"]);
      const d = defaultSize(spec, choices);
      fillSelect(this.size, opts, d ? `${d.width}x${d.height}` : opts[0]?.[0]);
      if (prev && opts.some(([v]) => v === prev)) this.size.value = prev;
      const r = spec.size_range;
      for (const input of [this.width, this.height]) {
        if (r) {
          input.min = String(r.min);
          input.max = String(r.max);
          input.step = String(r.step || 1);
        }
      }
      if (!this.width.value && d) this.width.value = String(d.width);
      if (!this.height.value && d) this.height.value = String(d.height);
    }
    this.syncCustomSize();

    const max = Math.max(1, spec.max_images || 1);
    $("n-field").hidden = max <= 1;
    const prevN = this.n.value || "1";
    fillSelect(this.n, Array.from({ length: max }, (_, i) => [String(i + 1), String(i + 1)]), "1");
    if (Number(prevN) <= max) this.n.value = prevN;

    this.fillOptional("style-field", this.style, spec.styles, "None");
    this.fillOptional("quality-field", this.quality, spec.qualities, "Default");
    const formats = Array.isArray(spec.output_formats) ? spec.output_formats : [];
    $("format-field").hidden = formats.length <= 1;
    fillSelect(this.format, formats.map((f) => [f, f.toUpperCase()]), formats[0] || "");

    const c = spec.cfg_scale;
    $("cfg-field").hidden = !c;
    $("cfg-hint").hidden = !c;
    if (c) {
      this.cfg.min = String(c.min);
      this.cfg.max = String(c.max);
      this.cfg.step = "0.1";
      this.cfg.placeholder = String(c.default);
      $("cfg-hint").textContent = `Guidance ${c.min}–${c.max}: higher follows the prompt more closely; empty uses ${c.default}.`;
    }
    this.seed.placeholder = this.seedRandom.checked ? "random" : `0 – ${spec.seed_max}`;
    this.updateCounts();
  }

  fillOptional(fieldId, select, values, noneLabel) {
    const list = Array.isArray(values) ? values : [];
    $(fieldId).hidden = list.length === 0;
    const prev = select.value;
    fillSelect(select, [["", noneLabel], ...list.map((v) => [v, humanize(v)])], "");
    if (list.includes(prev)) select.value = prev;
  }

  syncCustomSize() {
    const custom = !$("size-field").hidden && this.size.value === CUSTOM;
    $("custom-size").hidden = !custom;
  }

  syncSeed() {
    const random = this.seedRandom.checked;
    this.seed.disabled = random;
    this.seed.placeholder = random ? "random" : `0 – ${this.spec?.seed_max ?? ""}`;
    if (random) {
      // Keep the fixed seed for when the user switches back, but do not show it.
      this.fixedSeed = this.seed.value;
      this.seed.value = "";
      this.seed.removeAttribute("aria-invalid");
      return;
    }
    this.seed.value = this.fixedSeed || (this.lastSeed !== null ? String(this.lastSeed) : "");
    this.seed.focus();
  }

  setSeed(seed) {
    this.seedRandom.checked = false;
    this.seed.disabled = false;
    this.seed.value = String(seed);
  }

  /** Remembers the seed of the latest image so "Reuse last seed" can fix it. */
  rememberSeed(seed) {
    this.lastSeed = seed;
    this.seedReuse.disabled = false;
  }

  /** Forgets the last seed (on sign-out: it was another user's). */
  forgetSeed() {
    this.lastSeed = null;
    this.fixedSeed = "";
    this.seedReuse.disabled = true;
  }

  updateCounts() {
    const max = this.spec?.max_prompt_length || 0;
    for (const [input, out] of [[this.prompt, $("prompt-count")], [this.negative, $("negative-count")]]) {
      const n = [...input.value].length;
      out.textContent = max ? `${n} / ${max}` : "";
      out.classList.toggle("over", max > 0 && n > max);
    }
  }

  /** Builds the POST /v1/images body, or returns an error for a field the API cannot take. */
  buildRequest() {
    const spec = this.spec;
    const req = { prompt: this.prompt.value, model: spec.id };
    if (spec.negative_prompt && this.negative.value.trim()) req.negative_prompt = this.negative.value;
    if (!$("aspect-field").hidden) {
      req.aspect_ratio = this.aspect.value;
    } else if (!$("size-field").hidden) {
      if (this.size.value === CUSTOM) {
        for (const [name, input] of [["width", this.width], ["height", this.height]]) {
          const v = input.value.trim();
          if (!/^\d+$/.test(v)) return { error: { param: name, message: `Enter the ${name} in pixels, as a whole number.` } };
          req[name] = Number(v);
        }
      } else {
        const [w, h] = this.size.value.split("x").map(Number);
        req.width = w;
        req.height = h;
      }
    }
    if (!$("n-field").hidden) req.n = Number(this.n.value);
    if (!this.seedRandom.checked) {
      const v = this.seed.value.trim();
      if (!/^\d+$/.test(v)) return { error: { param: "seed", message: "Enter the seed as a whole number, or choose Random." } };
      req.seed = BIG_SEED.test(v) ? v : Number(v);
    }
    if (!$("cfg-field").hidden && this.cfg.value.trim() !== "") {
      const v = Number(this.cfg.value);
      if (!Number.isFinite(v)) return { error: { param: "cfg_scale", message: "Enter the guidance as a number." } };
      req.cfg_scale = v;
    }
    if (!$("style-field").hidden && this.style.value) req.style = this.style.value;
    if (!$("quality-field").hidden && this.quality.value) req.quality = this.quality.value;
    if (!$("format-field").hidden && this.format.value) req.output_format = this.format.value;
    return { req };
  }

  submit() {
    if (this.busy || !this.spec) return;
    this.clearError();
    const { req, error } = this.buildRequest();
    if (error) {
      this.showFieldError(error.param, error.message);
      return;
    }
    this.hooks.onSubmit(req, this.spec);
  }

  /** Puts the form in its busy state (button disabled, elapsed time, Cancel) or back. */
  setBusy(busy, what = "") {
    this.busy = busy;
    this.button.disabled = busy;
    this.button.textContent = busy ? "Generating…" : "Generate";
    this.form.setAttribute("aria-busy", String(busy));
    const progress = $("progress");
    clearInterval(this.timer);
    progress.hidden = !busy;
    if (!busy) return;
    const start = performance.now();
    const slow = this.spec?.provider && this.spec.provider !== "offline";
    $("progress-text").textContent = what;
    const tick = () => {
      const s = (performance.now() - start) / 1000;
      $("progress-time").textContent = `${s.toFixed(1)} s${slow && s > 3 ? " · usually 5–20 s" : ""}`;
    };
    tick();
    this.timer = setInterval(tick, 100);
  }

  clearError() {
    clearInterval(this.countdown);
    this.errorBox.hidden = true;
    this.errorBox.replaceChildren();
    for (const f of this.form.querySelectorAll("[aria-invalid]")) f.removeAttribute("aria-invalid");
  }

  /** Shows a message and marks the control that param names. */
  showFieldError(param, message) {
    const field = this.fieldFor(param);
    this.showError("Check the highlighted field.", message, field);
  }

  /** Shows an API error in plain words; rate limits count down the wait. */
  showApiError(err) {
    const s = err.retryAfter;
    switch (err.code) {
      case "invalid_request": {
        const field = this.fieldFor(err.param);
        this.showError(field ? "Check the highlighted field." : "The request was not accepted.", err.message, field);
        return;
      }
      case "rate_limited":
        this.showCountdown("You're generating faster than your rate limit allows.", s);
        return;
      case "quota_exceeded":
        if (s > 0) this.showCountdown("You've used up your image quota for now.", s);
        else this.showError("You've used up your image quota.", err.message);
        return;
      case "content_policy":
        this.showError("The model's content filter blocked this request. Try rewording the prompt.", err.message);
        return;
      case "idempotency_mismatch":
        this.showError("That request clashed with an earlier one. Press Generate again.", err.message);
        return;
      case "payload_too_large":
        this.showError("The request is too large. Shorten the prompt.", err.message, this.prompt);
        return;
      case "overloaded":
      case "model_unavailable":
        if (s > 0) this.showCountdown("The model is busy or unavailable right now.", s);
        else this.showError("The model is busy or unavailable right now. Try again shortly.", err.message);
        return;
      case "model_timeout":
        this.showError("The model took too long to answer. Try again.", err.message);
        return;
      case "network":
        this.showError(err.message, "");
        return;
      default:
        this.showError("Something went wrong. Try again.", err.message);
    }
  }

  showCountdown(title, seconds) {
    const until = Date.now() + Math.max(1, seconds) * 1000;
    const detail = el("p", { className: "err-detail" });
    this.showError(title, "");
    this.errorBox.append(detail);
    const tick = () => {
      const left = (until - Date.now()) / 1000;
      if (left <= 0) {
        detail.textContent = "You can try again now.";
        clearInterval(this.countdown);
        return;
      }
      detail.textContent = `Try again in ${waitWords(left)}.`;
    };
    tick();
    this.countdown = setInterval(tick, 1000);
  }

  showError(title, detail, field = null) {
    clearInterval(this.countdown);
    const parts = [el("p", { className: "err-title", textContent: title })];
    if (detail && detail !== title) parts.push(el("p", { className: "err-detail", textContent: detail }));
    this.errorBox.replaceChildren(...parts);
    this.errorBox.hidden = false;
    if (field) {
      field.setAttribute("aria-invalid", "true");
      field.setAttribute("aria-errormessage", "gen-error");
      field.focus();
    }
  }

  fieldFor(param) {
    if (!param) return null;
    let id = PARAM_FIELDS[param];
    if (param === "width" || param === "height") {
      id = !$("custom-size").hidden ? param : "size";
      if ($("size-field").hidden) id = "aspect-ratio";
    }
    const f = id ? $(id) : null;
    return f && !f.closest("[hidden]") ? f : null;
  }

  /** Fills the form from an image: "use these settings". Returns a note when the model is gone. */
  useSettings(img) {
    let note = "";
    if (img.model && this.specs.has(img.model)) {
      this.model.value = img.model;
      this.applySpec(this.specs.get(img.model));
    } else if (img.model) {
      note = `Model ${img.model} is not available; kept ${this.spec?.name || this.model.value}.`;
    }
    this.prompt.value = img.prompt || "";
    this.negative.value = img.negative_prompt || "";
    if (!$("aspect-field").hidden && img.aspect_ratio) {
      setIfOption(this.aspect, img.aspect_ratio);
    } else if (!$("size-field").hidden && img.width && img.height) {
      const v = `${img.width}x${img.height}`;
      if (!setIfOption(this.size, v) && this.spec?.size_range) {
        this.size.value = CUSTOM;
        this.width.value = String(img.width);
        this.height.value = String(img.height);
      }
      this.syncCustomSize();
    }
    if (!$("n-field").hidden) this.n.value = "1";
    if (img.style) setIfOption(this.style, img.style);
    if (img.quality) setIfOption(this.quality, img.quality);
    if (img.cfg_scale !== undefined && img.cfg_scale !== null && !$("cfg-field").hidden) this.cfg.value = String(img.cfg_scale);
    if (img.content_type && !$("format-field").hidden) setIfOption(this.format, img.content_type === "image/jpeg" ? "jpeg" : "png");
    if (img.seed !== undefined && img.seed !== null) this.setSeed(img.seed);
    this.clearError();
    this.updateCounts();
    return note;
  }
}

function fillSelect(select, options, value) {
  select.replaceChildren(...options.map(([v, label]) => el("option", { value: v, textContent: label })));
  if (value !== undefined && options.some(([v]) => v === value)) select.value = value;
}

function setIfOption(select, value) {
  if (![...select.options].some((o) => o.value === value)) return false;
  select.value = value;
  return true;
}

function humanize(v) {
  const s = String(v).replace(/[-_]+/g, " ");
  return s.charAt(0).toUpperCase() + s.slice(1);
}
