// Single sign-on: the page asks GET /v1/session how people sign in here and whether
// this browser has a session. The session itself is an HttpOnly cookie the page never
// sees; what it keeps is the session's CSRF token, which every request that changes
// something must carry (api.js sends it).

/** {sso: {name, sign_in_url} | null, user?, csrf_token?}; null when unreachable. */
export async function loadSession() {
  try {
    const res = await fetch("/v1/session", { headers: { Accept: "application/json" }, cache: "no-store" });
    if (!res.ok) return null;
    return await res.json();
  } catch {
    return null;
  }
}

/** Signs out: the server deletes the session and clears the cookie. */
export async function endSession(client) {
  try {
    await client.request("DELETE", "/v1/session");
  } catch {
    // Gone already, or unreachable: the page signs out either way.
  }
}
