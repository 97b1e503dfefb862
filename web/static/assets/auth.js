// Where the page keeps the API key: localStorage, under one name. A key in the URL
// fragment (#key=..., as `easel serve` prints) is moved there and erased from the
// address bar and the history entry.

const STORAGE_KEY = "easel.apiKey";

/** Returns the key from the fragment, if any, after removing it from the URL. */
export function takeKeyFromFragment() {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash) return "";
  const params = new URLSearchParams(hash);
  const key = (params.get("key") || "").trim();
  if (!params.has("key")) return "";
  params.delete("key");
  const rest = params.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
  history.replaceState(history.state, "", url);
  return key;
}

export function loadKey() {
  try {
    return localStorage.getItem(STORAGE_KEY) || "";
  } catch {
    return "";
  }
}

export function saveKey(key) {
  try {
    localStorage.setItem(STORAGE_KEY, key);
  } catch {
    // Private windows may refuse storage; the key then lives for this page only.
  }
}

export function clearKey() {
  try {
    localStorage.removeItem(STORAGE_KEY);
  } catch {
    // Nothing stored.
  }
}
