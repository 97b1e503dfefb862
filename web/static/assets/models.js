// What a model spec (GET /v1/models) means for the form: the size choices it offers.

const PRESET_RATIOS = [
  [1, 1], [4, 3], [3, 4], [3, 2], [2, 3], [16, 9], [9, 16],
];
const SQUARES = [256, 512, 768, 1024];

function fits(r, w, h) {
  if (w < r.min || h < r.min || w > r.max || h > r.max) return false;
  if (r.step > 0 && (w % r.step !== 0 || h % r.step !== 0)) return false;
  if (r.max_pixels > 0 && w * h > r.max_pixels) return false;
  if (r.max_aspect > 0 && Math.max(w, h) > r.max_aspect * Math.min(w, h)) return false;
  return true;
}

const gcd = (x, y) => (y ? gcd(y, x % y) : x);

/**
 * The size with ratio a:b exactly, both sides on the step grid, whose area is
 * closest to target (by ratio, so 2x too big and 2x too small weigh the same).
 */
function exactSize(r, step, a, b, target) {
  const unitA = step / gcd(step, a);
  const unitB = step / gcd(step, b);
  const unit = (unitA * unitB) / gcd(unitA, unitB); // a*k*unit and b*k*unit are on the grid
  let best = null;
  let bestScore = Infinity;
  for (let k = 1; a * k * unit <= r.max && b * k * unit <= r.max; k++) {
    const w = a * k * unit;
    const h = b * k * unit;
    if (!fits(r, w, h)) continue;
    const score = Math.abs(Math.log((w * h) / target));
    if (score < bestScore) {
      best = [w, h];
      bestScore = score;
    }
  }
  return best;
}

/**
 * The size choices for a model: [{width, height, label}], the default first when
 * the model has one. For a size range these are presets near the default area; the
 * form adds a "Custom" choice for any other size.
 */
export function sizeChoices(spec) {
  const out = [];
  const seen = new Set();
  const add = (w, h, label) => {
    const k = `${w}x${h}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ width: w, height: h, label: label ? `${label} · ${w}×${h}` : `${w}×${h}` });
  };
  if (Array.isArray(spec.sizes) && spec.sizes.length > 0) {
    for (const s of spec.sizes) add(s.width, s.height, ratioOf(s.width, s.height));
    return out;
  }
  const r = spec.size_range;
  if (!r) return out;
  const step = r.step > 0 ? r.step : 1;
  const def = spec.default_size && spec.default_size.width > 0 ? spec.default_size : null;
  const area = def ? def.width * def.height : Math.min(r.max, 1024) ** 2;
  for (const side of SQUARES) {
    if (fits(r, side, side)) add(side, side, "1:1");
  }
  if (def && fits(r, def.width, def.height)) add(def.width, def.height, ratioOf(def.width, def.height));
  const target = r.max_pixels > 0 ? Math.min(area, r.max_pixels) : area;
  for (const [a, b] of PRESET_RATIOS) {
    const exact = exactSize(r, step, a, b, target);
    if (exact) {
      add(exact[0], exact[1], `${a}:${b}`);
      continue;
    }
    // No exact size on the step grid: the nearest one, marked as approximate.
    const w = Math.max(step, Math.floor(Math.sqrt((target * a) / b) / step) * step);
    const h = Math.max(step, Math.floor((w * b) / a / step) * step);
    if (fits(r, w, h)) add(w, h, `≈${a}:${b}`);
  }
  return out;
}

/** The default size of a model, or the first choice. */
export function defaultSize(spec, choices) {
  const d = spec.default_size;
  if (d && d.width > 0 && choices.some((c) => c.width === d.width && c.height === d.height)) return d;
  return choices[0] || null;
}

/** "16:9" for 1024x576; "" when the ratio is not a small one. */
export function ratioOf(w, h) {
  const g = gcd(w, h) || 1;
  return w / g <= 21 && h / g <= 21 ? `${w / g}:${h / g}` : "";
}
