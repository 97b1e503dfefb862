package main

// The page in a real headless Chromium (Debian's package), driven with chromedp
// against the real `easel serve` wiring. Run by the README's test command, which
// installs Chromium when it is missing. Without Chromium the test skips, unless
// EASEL_TEST_REQUIRE_SERVICES=1.
//
// Screenshots of the main view (desktop 1280x800, phone 390x844) are written to
// $EASEL_TEST_ARTIFACTS when set, else to the test's temp folder; with
// EASEL_UPDATE_SCREENSHOTS=1 they also replace docs/screenshot-*.png.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// rateLimitFlags make the second generation within a minute answer 429.
var rateLimitFlags = []string{"--user-rate=1", "--user-burst=1"}

const stepTimeout = 20 * time.Second

// galleryPage is how many images the page asks for at a time (PAGE in gallery.js).
const galleryPage = 24

func TestBrowser(t *testing.T) {
	exe := chromiumPath(t)
	start := time.Now()
	// Room for the images the pagination step makes; the rate limit has its own server.
	base, key := startServer(t, "--user-rate=600", "--user-burst=60")
	api := &pageAPI{t: t, base: base, key: key}
	offline := api.model("offline")

	browser := newBrowser(t, exe)
	p := newPage(t, browser)
	// Each step builds on the one before: stop at the first that fails.
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, func(t *testing.T) { p.t = t; f(t) }) {
			p.t = t
			p.checkConsole()
			t.FailNow()
		}
	}

	step("sign in through the fragment", func(t *testing.T) {
		p.do(chromedp.Navigate(base + "/#key=" + key))
		p.do(chromedp.WaitVisible(byLabel("Prompt")))
		loc := runAction(p, chromedp.Location())
		if strings.Contains(loc, key) || strings.Contains(loc, "#key") {
			t.Errorf("address bar = %q, want the key removed", loc)
		}
		if got := evalJS[string](p, `localStorage.getItem("easel.apiKey")`); got != key {
			t.Errorf("localStorage key = %q, want the key from the fragment", got)
		}
		if got := evalJS[string](p, `document.getElementById("who").textContent`); !strings.Contains(got, "Signed in as") {
			t.Errorf("account text = %q, want Signed in as ...", got)
		}
	})

	step("sign out and sign in with the form", func(t *testing.T) {
		p.do(chromedp.Click(byButton("Sign out")), chromedp.WaitVisible(byLabel("API key")))
		if got := evalJS[*string](p, `localStorage.getItem("easel.apiKey")`); got != nil {
			t.Errorf("after sign-out localStorage key = %q, want none", *got)
		}
		p.do(chromedp.SendKeys(byLabel("API key"), "not-a-key"), chromedp.Click(byButton("Sign in")))
		p.waitJS(`document.getElementById("signin-error").textContent.includes("not accepted")`)
		p.do(clearField(byLabel("API key")), chromedp.SendKeys(byLabel("API key"), key), chromedp.Click(byButton("Sign in")))
		p.do(chromedp.WaitVisible(byLabel("Prompt")))
		if got := evalJS[string](p, `localStorage.getItem("easel.apiKey")`); got != key {
			t.Errorf("localStorage key = %q, want the key typed in", got)
		}
	})

	step("every control has an accessible name", func(t *testing.T) {
		p.waitJS(`document.querySelectorAll("#model option").length > 0`)
		checkAccessibleNames(p)
	})

	first := "a lighthouse on a cliff at dusk"
	step("generate with the offline model", func(t *testing.T) {
		p.selectOption("model", "offline")
		p.smallSize(offline)
		// Record the busy state as it happens: offline generation is too quick to poll.
		p.do(chromedp.Evaluate[chromedp.Void](`(() => {
			const seen = window.__busy = {disabled: false, cancel: false, elapsed: ""};
			const btn = document.getElementById("generate");
			new MutationObserver(() => {
				if (btn.disabled) seen.disabled = true;
				if (!document.getElementById("progress").hidden) {
					seen.cancel ||= document.getElementById("cancel").offsetParent !== null;
					seen.elapsed = document.getElementById("progress").textContent || seen.elapsed;
				}
			}).observe(document.getElementById("gen-form"), {subtree: true, attributes: true, childList: true, characterData: true});
		})()`))
		p.do(chromedp.SendKeys(byLabel("Prompt"), first), chromedp.Click(byButton("Generate")))
		p.waitNewestTile(first)
		busy := evalJS[struct {
			Disabled bool
			Cancel   bool
			Elapsed  string
		}](p, `window.__busy`)
		if !busy.Disabled || !busy.Cancel || !regexp.MustCompile(`\d+\.\d s`).MatchString(busy.Elapsed) {
			t.Errorf("while generating saw %+v, want the button disabled, a Cancel button and the elapsed time", busy)
		}
		if got := evalJS[bool](p, `document.getElementById("gen-error").hidden`); !got {
			t.Errorf("error box shown after a good generation: %q", p.text("gen-error"))
		}
	})

	second := "a red fox in fresh snow"
	step("Enter in the prompt generates", func(t *testing.T) {
		p.do(clearField(byLabel("Prompt")), chromedp.SendKeys(byLabel("Prompt"), second+kb.Enter))
		p.waitNewestTile(second)
		if got := evalJS[string](p, `document.getElementById("prompt").value`); got != second {
			t.Errorf("prompt after Enter = %q, want %q (no newline typed)", got, second)
		}
	})

	step("gallery is newest first after a reload", func(t *testing.T) {
		p.do(chromedp.Reload())
		p.waitJS(`document.querySelectorAll("#gallery img").length >= 2`)
		alts := evalJS[[]string](p, `[...document.querySelectorAll("#gallery img")].map(i => i.alt)`)
		if len(alts) < 2 || alts[0] != second || alts[1] != first {
			t.Errorf("gallery alts = %q, want [%q %q ...]", alts, second, first)
		}
	})

	newest := func() pageImage { return api.images(1)[0] }
	step("detail view and Escape", func(t *testing.T) {
		img := newest()
		p.openTile(img.ID)
		if got := p.text("detail-prompt"); got != second {
			t.Errorf("detail prompt = %q, want %q", got, second)
		}
		meta := p.text("detail-meta")
		for _, want := range []string{"Seed\n" + seedText(img.Seed), fmt.Sprintf("%d × %d", img.Width, img.Height), "Model\n", "Created\n"} {
			if !strings.Contains(meta, want) {
				t.Errorf("detail meta = %q, want it to contain %q", meta, want)
			}
		}
		if href := evalJS[string](p, `document.getElementById("detail-download").href`); !strings.HasSuffix(href, img.URL) {
			t.Errorf("download link = %q, want the image URL %q", href, img.URL)
		}
		p.waitJS(`(() => { const i = document.getElementById("detail-img"); return i.complete && i.naturalWidth > 0; })()`)
		p.do(chromedp.KeyEvent(kb.Escape))
		p.waitJS(`!document.getElementById("detail").open`)
		// Focus goes back to the tile that opened the view.
		p.waitJS(fmt.Sprintf(`document.activeElement && document.activeElement.dataset.id === %q`, img.ID))
	})

	step("use these settings", func(t *testing.T) {
		img := newest()
		p.do(clearField(byLabel("Prompt")), chromedp.SendKeys(byLabel("Prompt"), "something else"))
		p.openTile(img.ID)
		p.do(chromedp.Click(byButton("Use these settings")))
		p.waitJS(`!document.getElementById("detail").open`)
		form := evalJS[struct {
			Prompt, Seed, Size, Width, Height string
			Random                            bool
		}](p, `(() => {
			const v = (id) => document.getElementById(id).value;
			return {prompt: v("prompt"), seed: v("seed"), random: document.getElementById("seed-random").checked,
				size: v("size"), width: v("width"), height: v("height")};
		})()`)
		if form.Prompt != second || form.Random || form.Seed != seedText(img.Seed) {
			t.Errorf("form after reuse = %+v, want prompt %q and fixed seed %s", form, second, seedText(img.Seed))
		}
		size := fmt.Sprintf("%dx%d", img.Width, img.Height)
		if form.Size != size && (form.Size != "custom" || form.Width != strconv.Itoa(img.Width) || form.Height != strconv.Itoa(img.Height)) {
			t.Errorf("form size after reuse = %+v, want %s", form, size)
		}
		// Generating again with these settings gives the same seed.
		p.do(chromedp.SendKeys(byLabel("Prompt"), kb.Enter))
		p.waitJS(fmt.Sprintf(`document.querySelector("#gallery li:first-child button.tile")?.dataset.id !== %q && !document.querySelector("#gallery .pending")`, img.ID))
		again := newest()
		if again.ID == img.ID || again.Seed != img.Seed || again.Prompt != img.Prompt {
			t.Errorf("regenerated image = %+v, want a new image with seed %d and prompt %q", again, img.Seed, img.Prompt)
		}
	})

	step("delete with confirmation", func(t *testing.T) {
		img := newest()
		p.openTile(img.ID)
		p.do(chromedp.Click(byButton("Delete")), chromedp.WaitVisible(byButton("Yes, delete")))
		if api.status("/v1/images/"+img.ID) != http.StatusOK {
			t.Fatalf("image gone before the deletion was confirmed")
		}
		p.do(chromedp.Click(byButton("Yes, delete")))
		p.waitJS(fmt.Sprintf(`!document.getElementById("detail").open && !document.querySelector('#gallery [data-id=%q]')`, img.ID))
		if got := api.status("/v1/images/" + img.ID); got != http.StatusNotFound {
			t.Errorf("GET the deleted image = %d, want 404", got)
		}
	})

	step("bad request: prompt over the limit", func(t *testing.T) {
		long := strings.Repeat("x", offline.MaxPromptLength+1)
		p.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const p = document.getElementById("prompt"); p.value = %q; p.dispatchEvent(new Event("input", {bubbles: true})); })()`, long)))
		if !evalJS[bool](p, `document.getElementById("prompt-count").classList.contains("over")`) {
			t.Errorf("the prompt counter does not show the prompt is too long")
		}
		p.do(chromedp.Click(byButton("Generate")))
		p.waitJS(`!document.getElementById("gen-error").hidden`)
		if got := evalJS[string](p, `document.getElementById("prompt").getAttribute("aria-invalid")`); got != "true" {
			t.Errorf("prompt aria-invalid = %q, want true", got)
		}
		if msg := p.text("gen-error"); !strings.Contains(msg, "highlighted") || !strings.Contains(strings.ToLower(msg), "prompt") {
			t.Errorf("error text = %q, want the server's message about the prompt", msg)
		}
	})

	step("bad request: seed out of range", func(t *testing.T) {
		p.do(clearField(byLabel("Prompt")), chromedp.SendKeys(byLabel("Prompt"), "a quiet harbour"))
		if evalJS[bool](p, `document.getElementById("seed-random").checked`) {
			p.do(centre("seed-random"), chromedp.Click(byCheckbox("Random")))
		}
		tooBig := new(big.Int).Add(new(big.Int).SetUint64(offline.SeedMax), big.NewInt(1)).String()
		p.do(clearField(byLabel("Seed value")), chromedp.SendKeys(byLabel("Seed value"), tooBig), chromedp.Click(byButton("Generate")))
		p.waitJS(`!document.getElementById("gen-error").hidden`)
		if got := evalJS[string](p, `document.getElementById("seed").getAttribute("aria-invalid")`); got != "true" {
			t.Errorf("seed aria-invalid = %q, want true (error: %q)", got, p.text("gen-error"))
		}
		if got := evalJS[string](p, `document.getElementById("prompt").getAttribute("aria-invalid") || ""`); got != "" {
			t.Errorf("prompt still marked invalid after a new attempt")
		}
		p.do(centre("seed-random"), chromedp.Click(byCheckbox("Random")))
		if !evalJS[bool](p, `document.getElementById("seed-random").checked`) {
			t.Errorf("Random seed is not checked again")
		}
	})

	step("gallery loads more as you scroll", func(t *testing.T) {
		prompts := []string{"a forest path in autumn", "ocean waves under a pale moon", "a geometric poster of a sunrise",
			"snowy peaks at dawn", "a quiet harbour with boats", "desert dunes at sunset", "a city skyline at dusk"}
		styles := []string{"vivid", "pastel", "noir", "sunset", "ocean", "forest"}
		for i, prompt := range prompts {
			body := map[string]any{"prompt": prompt, "model": "offline", "n": min(4, offline.MaxImages), "width": 256, "height": 256}
			if len(offline.Styles) > 0 {
				if st := styles[i%len(styles)]; slices.Contains(offline.Styles, st) {
					body["style"] = st
				}
			}
			api.generate(body)
		}
		total := len(api.images(100))
		if total <= galleryPage {
			t.Fatalf("only %d images; the test needs more than a page (%d)", total, galleryPage)
		}
		p.do(chromedp.Reload())
		// The first page; the next may follow at once while tiles are still empty.
		p.waitJS(fmt.Sprintf(`document.querySelectorAll("#gallery img").length >= %d`, galleryPage))
		p.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.body.scrollHeight)`))
		p.waitJS(fmt.Sprintf(`document.querySelectorAll("#gallery img").length === %d`, total))
		ids := evalJS[[]string](p, `[...document.querySelectorAll("#gallery button.tile")].map(b => b.dataset.id)`)
		want := api.images(100)
		for i := range want {
			if i >= len(ids) || ids[i] != want[i].ID {
				t.Fatalf("gallery order differs from the API's at %d: %q", i, ids)
			}
		}
		p.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	})

	step("screenshots at desktop and phone widths", func(t *testing.T) {
		// A fuller gallery for the pictures.
		p.selectOption("n", strconv.Itoa(min(4, max(1, offline.MaxImages))))
		p.do(clearField(byLabel("Prompt")), chromedp.SendKeys(byLabel("Prompt"), "watercolor mountains above a quiet lake"), chromedp.Click(byButton("Generate")))
		p.waitNewestTile("watercolor mountains above a quiet lake")
		p.selectOption("n", "1")
		p.do(clearField(byLabel("Prompt")), chromedp.SendKeys(byLabel("Prompt"), "isometric tiny city at night, neon"))
		p.waitJS(`[...document.querySelectorAll("#gallery img")].every(i => i.complete && i.naturalWidth > 0)`)
		p.do(chromedp.Evaluate[chromedp.Void](`document.getElementById("toast").classList.remove("show")`))
		dir := artifactDir(t)
		shots := []struct {
			name          string
			width, height int64
			opts          []chromedp.EmulateViewportOption
		}{
			{"screenshot-desktop.png", 1280, 800, nil},
			{"screenshot-phone.png", 390, 844, []chromedp.EmulateViewportOption{chromedp.EmulateMobile}},
		}
		for _, s := range shots {
			p.do(chromedp.EmulateViewport(s.width, s.height, s.opts...), chromedp.Sleep(300*time.Millisecond))
			if s.width < 500 {
				if w := evalJS[int](p, `document.documentElement.scrollWidth`); w > int(s.width) {
					t.Errorf("at %dpx the page is %dpx wide: it scrolls sideways", s.width, w)
				}
				// The form fills a phone's first screen: show its end and the gallery's start.
				p.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.getElementById("model").closest(".field").getBoundingClientRect().top + window.scrollY - 70)`),
					chromedp.Sleep(200*time.Millisecond))
			}
			png := runAction(p, chromedp.CaptureScreenshot())
			path := filepath.Join(dir, s.name)
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot: %s (%d bytes)", path, len(png))
			if os.Getenv("EASEL_UPDATE_SCREENSHOTS") == "1" {
				if err := os.WriteFile(filepath.Join("..", "..", "docs", s.name), png, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		p.do(chromedp.EmulateViewport(1280, 800))
	})

	step("rate limit shows the wait", func(t *testing.T) {
		base2, key2 := startServer(t, rateLimitFlags...)
		tab, cancel := chromedp.NewContext(browser)
		defer cancel()
		q := newPage(t, tab)
		q.do(chromedp.Navigate(base2 + "/#key=" + key2))
		q.do(chromedp.WaitVisible(byLabel("Prompt")))
		q.waitJS(`document.querySelectorAll("#model option").length > 0`)
		q.selectOption("model", "offline")
		q.smallSize(offline)
		q.do(chromedp.SendKeys(byLabel("Prompt"), "first, within the limit"+kb.Enter))
		q.waitNewestTile("first, within the limit")
		q.do(clearField(byLabel("Prompt")), chromedp.SendKeys(byLabel("Prompt"), "second, over the limit"+kb.Enter))
		q.waitJS(`!document.getElementById("gen-error").hidden`)
		msg := q.text("gen-error")
		if !regexp.MustCompile(`(?s)rate limit.*Try again in \d+ (second|minute|hour)`).MatchString(msg) {
			t.Errorf("rate-limit error = %q, want the limit and the wait time", msg)
		}
		if n := evalJS[int](q, `document.querySelectorAll("#gallery img").length`); n != 1 {
			t.Errorf("gallery has %d images after a refused generation, want 1", n)
		}
	})

	p.t = t
	p.checkConsole()
	t.Logf("browser test took %s", time.Since(start).Round(time.Millisecond))
}

// chromiumPath finds the browser: $EASEL_TEST_CHROMIUM, else Debian's /usr/bin/chromium.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := os.Getenv("EASEL_TEST_CHROMIUM")
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("EASEL_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatalf("Chromium not found at %s (EASEL_TEST_REQUIRE_SERVICES=1): %v", p, err)
		}
		t.Skipf("Chromium not found at %s; install Debian's chromium or set EASEL_TEST_CHROMIUM", p)
	}
	return p
}

// newBrowser starts headless Chromium with a fresh profile; it stops with the test.
func newBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	profile := t.TempDir() // cleaned up after the browser exits (cleanups run last-in first-out)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	return ctx
}

// browserPage drives one tab and records what the page writes to its console.
type browserPage struct {
	t   *testing.T
	ctx context.Context

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

func newPage(t *testing.T, ctx context.Context) *browserPage {
	t.Helper()
	p := &browserPage{t: t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		t.Fatalf("open tab: %v", err)
	}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *browserPage) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.fatalf("browser: %v", err)
	}
}

func runAction[T any](p *browserPage, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		p.fatalf("browser: %v", err)
	}
	return v
}

// fatalf ends the step with what the page showed: its text and a screenshot.
func (p *browserPage) fatalf(format string, args ...any) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText.slice(0, 3000)`))
	if png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot()); err == nil {
		path := filepath.Join(artifactDir(p.t), "failure.png")
		if os.WriteFile(path, png, 0o644) == nil {
			p.t.Logf("screenshot of the failure: %s", path)
		}
	}
	p.t.Fatalf(format+"\npage text:\n%s", append(args, text)...)
}

func evalJS[T any](p *browserPage, js string) T {
	p.t.Helper()
	return runAction(p, chromedp.Evaluate[T](js))
}

// waitJS waits until the expression is truthy.
func (p *browserPage) waitJS(js string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, stepTimeout)
	defer cancel()
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond)))
		if err == nil {
			return
		}
		// Right after a navigation (a reload) the page's old context is gone: poll again.
		if strings.Contains(err.Error(), "Cannot find context with specified id") && ctx.Err() == nil {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		p.fatalf("waiting for %s: %v", js, err)
	}
}

func (p *browserPage) text(id string) string {
	p.t.Helper()
	return evalJS[string](p, fmt.Sprintf(`document.getElementById(%q).innerText`, id))
}

// selectOption picks an option of a <select> as a user would (with a change event).
func (p *browserPage) selectOption(id, value string) {
	p.t.Helper()
	ok := evalJS[bool](p, fmt.Sprintf(`(() => {
		const s = document.getElementById(%q);
		if (![...s.options].some(o => o.value === %q)) return false;
		s.value = %q;
		s.dispatchEvent(new Event("change", {bubbles: true}));
		return true;
	})()`, id, value, value))
	if !ok {
		p.t.Fatalf("select #%s has no option %q", id, value)
	}
}

// smallSize picks a small size (256x256 where the model allows it) so the test runs fast.
func (p *browserPage) smallSize(m pageModel) {
	p.t.Helper()
	if evalJS[bool](p, `document.getElementById("size-field").hidden`) {
		return // aspect ratios only
	}
	opts := evalJS[[]string](p, `[...document.getElementById("size").options].map(o => o.value)`)
	switch {
	case slices.Contains(opts, "256x256"):
		p.selectOption("size", "256x256")
	case slices.Contains(opts, "custom") && m.SizeRange != nil && m.SizeRange.Min <= 256:
		p.selectOption("size", "custom")
		p.do(clearField(byLabel("Width")), chromedp.SendKeys(byLabel("Width"), "256"),
			clearField(byLabel("Height")), chromedp.SendKeys(byLabel("Height"), "256"))
	}
}

// waitNewestTile waits until the first gallery image has alt text alt and has loaded.
func (p *browserPage) waitNewestTile(alt string) {
	p.t.Helper()
	p.waitJS(fmt.Sprintf(`(() => {
		const i = document.querySelector("#gallery li:first-child img");
		return !document.querySelector("#gallery .pending") && i && i.alt === %q && i.complete && i.naturalWidth > 0;
	})()`, alt))
}

func (p *browserPage) openTile(id string) {
	p.t.Helper()
	p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#gallery button.tile[data-id=%q]`, id))))
	p.waitJS(`document.getElementById("detail").open`)
}

// checkConsole fails on uncaught exceptions and Content-Security-Policy violations.
func (p *browserPage) checkConsole() {
	p.t.Helper()
	time.Sleep(100 * time.Millisecond) // let the last events arrive
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.console {
		if m.IsException() || strings.Contains(m.Text, "Content Security Policy") || strings.Contains(m.Text, "Refused to") {
			p.t.Errorf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
		}
	}
}

// checkAccessibleNames fails for a visible control with no accessible name.
func checkAccessibleNames(p *browserPage) {
	p.t.Helper()
	res := runAction(p, chromedp.Action[accessibility.GetFullAXTreeResult](func(ctx context.Context, t *chromedp.Target) (accessibility.GetFullAXTreeResult, error) {
		return chromedp.Call(ctx, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
	}))
	controls := map[string]bool{"button": true, "textbox": true, "combobox": true, "checkbox": true, "link": true, "spinbutton": true, "searchbox": true}
	var named []string
	for _, n := range res.Nodes {
		if n.Ignored || n.Role == nil {
			continue
		}
		role := axString(n.Role)
		if !controls[role] {
			continue
		}
		name := strings.TrimSpace(axString(n.Name))
		if name == "" {
			p.t.Errorf("a %s has no accessible name (AX node %s)", role, n.NodeID)
			continue
		}
		named = append(named, role+" "+strconv.Quote(name))
	}
	for _, want := range []string{`textbox "Prompt"`, `textbox "Negative prompt"`, `combobox "Model"`, `button "Generate"`, `button "Sign out"`} {
		if !slices.Contains(named, want) {
			p.t.Errorf("no %s among the named controls %q", want, named)
		}
	}
}

func axString(v *accessibility.Value) string {
	if v == nil || len(v.Value) == 0 {
		return ""
	}
	var s string
	if err := json.Unmarshal(v.Value, &s); err != nil {
		return string(v.Value)
	}
	return s
}

// clearField empties a text field as a user does: select all, then Backspace.
// (chromedp.Clear resets the default value, which a typed-in field ignores.)
func clearField(sel chromedp.Search) chromedp.Action[chromedp.Void] {
	find := fmt.Sprintf(`document.evaluate(%q, document, null, XPathResult.FIRST_ORDERED_NODE_TYPE, null).singleNodeValue`, string(sel))
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => { const el = %s; el.focus(); el.select(); })()`, find)),
		chromedp.KeyEvent(kb.Backspace),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s.value === ""`, find), chromedp.WithPollingTimeout(5*time.Second)),
	)
}

// centre scrolls the element with id to the middle of its scroll area, as a user
// scrolls a control out from under the form's sticky Generate bar.
func centre(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.getElementById(%q).scrollIntoView({block: "center"})`, id))
}

// byLabel selects the form control labelled label, by the label's text.
func byLabel(label string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//*[@id=(//label[normalize-space(.)=%q]/@for)]`, label))
}

// byButton selects the button whose text is name.
func byButton(name string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//button[normalize-space(.)=%q]`, name))
}

// byCheckbox selects the checkbox inside the label with text name.
func byCheckbox(name string) chromedp.Search {
	return chromedp.Search(fmt.Sprintf(`//label[normalize-space(.)=%q]/input[@type="checkbox"]`, name))
}

func seedText(seed uint64) string { return strconv.FormatUint(seed, 10) }

func artifactDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("EASEL_TEST_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// pageAPI checks from the outside what the page did.
type pageAPI struct {
	t         *testing.T
	base, key string
}

type pageImage struct {
	ID     string `json:"id"`
	URL    string `json:"url"`
	Prompt string `json:"prompt"`
	Seed   uint64 `json:"seed"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
}

type pageModel struct {
	ID              string   `json:"id"`
	Styles          []string `json:"styles"`
	MaxPromptLength int      `json:"max_prompt_length"`
	MaxImages       int      `json:"max_images"`
	SeedMax         uint64   `json:"seed_max"`
	SizeRange       *struct {
		Min int `json:"min"`
	} `json:"size_range"`
}

func (c *pageAPI) get(path string, out any) int {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			c.t.Fatalf("GET %s: decode: %v", path, err)
		}
	}
	return res.StatusCode
}

// generate makes images through the API directly (faster than the page, for setup).
func (c *pageAPI) generate(body map[string]any) {
	c.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, c.base+"/v1/images", bytes.NewReader(b))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatalf("POST /v1/images: %v", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		msg, _ := io.ReadAll(res.Body)
		c.t.Fatalf("POST /v1/images %s = %d %s, want 201", b, res.StatusCode, msg)
	}
}

func (c *pageAPI) status(path string) int {
	c.t.Helper()
	return c.get(path, nil)
}

func (c *pageAPI) images(limit int) []pageImage {
	c.t.Helper()
	var page struct {
		Images []pageImage `json:"images"`
	}
	if st := c.get(fmt.Sprintf("/v1/images?limit=%d", limit), &page); st != http.StatusOK || len(page.Images) == 0 {
		c.t.Fatalf("GET /v1/images = %d with %d images, want 200 and some", st, len(page.Images))
	}
	return page.Images
}

func (c *pageAPI) model(id string) pageModel {
	c.t.Helper()
	var res struct {
		Data []pageModel `json:"data"`
	}
	if st := c.get("/v1/models", &res); st != http.StatusOK {
		c.t.Fatalf("GET /v1/models = %d, want 200", st)
	}
	for _, m := range res.Data {
		if m.ID == id {
			return m
		}
	}
	c.t.Fatalf("GET /v1/models has no model %q", id)
	return pageModel{}
}
