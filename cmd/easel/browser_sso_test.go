package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserSignIn: single sign-on in a real Chromium against mockoidc on loopback:
// the page offers "Sign in with <issuer>", the provider sends the browser back signed
// in (a session cookie the page's script cannot read), the person generates an image,
// makes an API key on the Keys panel (which then works for a program) and revokes
// it, and signs out.
func TestBrowserSignIn(t *testing.T) {
	exe := chromiumPath(t)
	m := startOIDC(t)
	base, admin := startServer(t, oidcFlags(m)...)
	api := &apiClient{t: t, base: base}
	offline := (&pageAPI{t: t, base: base, key: admin}).model("offline")
	p := newPage(t, newBrowser(t, exe))
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, func(t *testing.T) { p.t = t; f(t) }) {
			p.t = t
			p.checkConsole()
			t.FailNow()
		}
	}
	issuerHost := strings.TrimPrefix(strings.Split(m.Issuer(), "/oidc")[0], "http://")
	signInButton := chromedp.Search(fmt.Sprintf(`//a[normalize-space(.)=%q]`, "Sign in with "+issuerHost))

	// shot keeps a screenshot in the artifacts folder, for a look at the new parts.
	shot := func(name string) {
		png := runAction(p, chromedp.CaptureScreenshot())
		if err := os.WriteFile(filepath.Join(artifactDir(t), name), png, 0o644); err != nil {
			t.Error(err)
		}
	}

	var user string
	step("sign in through the provider", func(t *testing.T) {
		p.do(chromedp.Navigate(base+"/"), chromedp.WaitVisible(signInButton))
		shot("screenshot-sso-signin.png")
		p.do(chromedp.Click(signInButton))
		p.do(chromedp.WaitVisible(byLabel("Prompt")))
		who := evalJS[string](p, `document.getElementById("who").textContent`)
		if !strings.Contains(who, "Signed in as sso-") {
			t.Errorf("account text = %q, want Signed in as sso-...", who)
		}
		user = strings.TrimPrefix(who, "Signed in as ")
		if got := evalJS[string](p, `document.cookie`); strings.Contains(got, "easel_session") {
			t.Errorf("document.cookie = %q: the session cookie must be HttpOnly", got)
		}
		if got := evalJS[*string](p, `localStorage.getItem("easel.apiKey")`); got != nil {
			t.Errorf("localStorage key = %q, want none with single sign-on", *got)
		}
	})

	prompt := "a paper boat on a pond"
	step("generate", func(t *testing.T) {
		p.waitJS(`document.querySelectorAll("#model option").length > 0`)
		p.selectOption("model", "offline")
		p.smallSize(offline)
		p.do(chromedp.SendKeys(byLabel("Prompt"), prompt), chromedp.Click(byButton("Generate")))
		p.waitNewestTile(prompt)
	})

	var key, keyID string
	step("create a key on the Keys panel", func(t *testing.T) {
		p.do(chromedp.Click(byButton("API keys")))
		p.waitJS(`document.getElementById("keys-dialog").open && document.getElementById("keys-list").getAttribute("aria-busy") === "false"`)
		p.do(chromedp.Click(byButton("Create a key")))
		p.waitJS(`document.getElementById("key-new-value").value.startsWith("easel_") && document.querySelectorAll("#keys-list li").length === 1`)
		key = evalJS[string](p, `document.getElementById("key-new-value").value`)
		keyID = evalJS[string](p, `document.querySelector("#keys-list .key-id").textContent`)
		shot("screenshot-keys.png")
		if r := api.do("GET", "/v1/me", key, nil); r.status != http.StatusOK || r.json(t)["user"] != user {
			t.Fatalf("GET /v1/me with the key from the page = %d %s, want 200 as %s", r.status, r.body, user)
		}
	})

	step("revoke it", func(t *testing.T) {
		p.do(chromedp.Click(byButton("Revoke")), chromedp.Click(byButton("Yes, revoke")))
		p.waitJS(`document.querySelector("#keys-list li.revoked") !== null`)
		if got := evalJS[string](p, `document.querySelector("#keys-list .key-id").textContent`); got != keyID {
			t.Errorf("revoked row = %q, want %q", got, keyID)
		}
		if r := api.do("GET", "/v1/me", key, nil); r.status != http.StatusUnauthorized {
			t.Errorf("GET /v1/me with the revoked key = %d, want 401", r.status)
		}
		p.do(chromedp.Click(chromedp.Search(`//button[@id="keys-close"]`)))
		p.waitJS(`!document.getElementById("keys-dialog").open && document.getElementById("key-new-value").value === ""`)
	})

	step("sign out", func(t *testing.T) {
		p.do(chromedp.Click(byButton("Sign out")), chromedp.WaitVisible(signInButton))
		// The session is gone on the server: a reload stays signed out.
		p.waitJS(`fetch("/v1/session").then(r => r.json()).then(s => !s.user)`)
		p.do(chromedp.Reload(), chromedp.WaitVisible(signInButton))
		if got := evalJS[bool](p, `document.getElementById("app-view").hidden`); !got {
			t.Errorf("after sign-out and a reload the app view shows")
		}
		p.checkConsole()
	})

	step("a refused sign-in shows its reason", func(t *testing.T) {
		// Where the server's /auth/callback sends a browser it refused (TestSSOSessionAndKeys).
		// Once as a new page load (the redirect), once as a change of the open page's
		// fragment (the page has shown its sign-in card).
		p.do(chromedp.Navigate("about:blank"))
		for range 2 {
			p.do(chromedp.Navigate(base+"/#signin_error=Your+e-mail+domain+is+not+allowed."), chromedp.WaitVisible(signInButton))
			p.waitJS(`document.getElementById("signin-error").textContent === "Sign-in refused: Your e-mail domain is not allowed."`)
			if got := evalJS[string](p, `location.hash`); got != "" {
				t.Errorf("the reason stays in the address bar: %q", got)
			}
			evalJS[string](p, `document.getElementById("signin-error").textContent = ""`)
		}
	})
}
