// Where the page keeps the API key: localStorage, under one name. A key in the URL
// fragment (#key=..., as `easel serve` prints) is moved there and erased from the
// address bar and the history entry.

const STORAGE_KEY = "easel.apiKey";

/** Returns the key from the fragment, if any, after removing it from the URL. */
export function takeKeyFromFragment() {
  return takeFromFragment("key").trim();
}

/** Returns why a single sign-on was refused (#signin_error=..., set by the server's
 * /auth/callback), if so, after removing it from the URL. */
export function takeSignInErrorFromFragment() {
  return takeFromFragment("signin_error");
}

function takeFromFragment(name) {
  const hash = window.location.hash.replace(/^#/, "");
  if (!hash) return "";
  const params = new URLSearchParams(hash);
  if (!params.has(name)) return "";
  const value = params.get(name) || "";
  params.delete(name);
  const rest = params.toString();
  const url = window.location.pathname + window.location.search + (rest ? `#${rest}` : "");
  history.replaceState(history.state, "", url);
  return value;
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
