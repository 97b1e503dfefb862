package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// pageJob is a job's entry in the page's "In progress" list.
type pageJob struct {
	ID, Status, Text string
}

// TestBrowserJobs: the page submits jobs and shows them in progress, live from their
// event streams (reconnecting after a dropped stream); after a reload it lists them
// again and follows them; Cancel cancels on the server (the model is never called
// for the queued job), and the job behind it moves up; a finished job's image lands
// in the gallery. One worker and a slow model keep the second and third jobs queued.
func TestBrowserJobs(t *testing.T) {
	exe := chromiumPath(t)
	const core = "stability.stable-image-core-v1:1"
	fake := bedrockFake(t, bedrocktest.WithSmallImages(), bedrocktest.WithLatency(12*time.Second))
	s := startServerOn(t, t.TempDir(), "--model", "bedrock:core", "--workers", "1", "--user-concurrency", "0", "--thumbnails=false")
	// The page goes through a proxy that breaks the first event stream after one event.
	base, log := jobsProxy(t, s.url, 1)
	api := &pageAPI{t: t, base: s.url, key: s.key}

	p := newPage(t, newBrowser(t, exe))
	step := func(name string, f func(t *testing.T)) {
		t.Helper()
		if !t.Run(name, func(t *testing.T) { p.t = t; f(t) }) {
			p.t = t
			p.checkConsole()
			t.FailNow()
		}
	}
	jobsShown := func() []pageJob {
		return evalJS[[]pageJob](p, `[...document.querySelectorAll("#job-list li")].map(li =>
			({id: li.dataset.id, status: li.dataset.status, text: li.querySelector(".job-status").textContent}))`)
	}
	// waitJob waits until the job with this prompt shows a status text starting with want.
	waitJob := func(prompt, want string) string {
		p.waitJS(fmt.Sprintf(`[...document.querySelectorAll("#job-list li")].some(li =>
			li.querySelector(".job-prompt").textContent === %q && li.querySelector(".job-status").textContent.startsWith(%q))`, prompt, want))
		return evalJS[string](p, fmt.Sprintf(`[...document.querySelectorAll("#job-list li")].find(li =>
			li.querySelector(".job-prompt").textContent === %q).dataset.id`, prompt))
	}

	first, second, third := "a slow lighthouse", "a queued harbour", "a third in line"
	var running, queued, behind string
	step("submit: the job shows in progress", func(t *testing.T) {
		p.do(chromedp.Navigate(base + "/#key=" + s.key))
		p.do(chromedp.WaitVisible(byLabel("Prompt")))
		p.waitJS(`document.querySelectorAll("#model option").length > 0`)
		if !evalJS[bool](p, `document.getElementById("jobs").hidden`) {
			t.Errorf("the In progress list shows with no jobs")
		}
		p.do(chromedp.SendKeys(byLabel("Prompt"), first+kb.Enter))
		running = waitJob(first, "Running")
		if !evalJS[bool](p, `!document.getElementById("generate").disabled && document.getElementById("progress").hidden`) {
			t.Errorf("the form is still busy while its job runs; it should take the next one")
		}
		if n := evalJS[int](p, `document.querySelectorAll("#gallery .pending").length`); n != 1 {
			t.Errorf("%d placeholder tiles, want 1 for the running job's image", n)
		}
	})

	step("two more jobs wait in the queue", func(t *testing.T) {
		p.do(clearField(byLabel("Prompt")), chromedp.SendKeys(byLabel("Prompt"), second+kb.Enter))
		queued = waitJob(second, "Queued · next in line")
		p.do(clearField(byLabel("Prompt")), chromedp.SendKeys(byLabel("Prompt"), third+kb.Enter))
		behind = waitJob(third, "Queued · 2 in line")
		if got := jobsShown(); len(got) != 3 || got[0].ID != behind || got[1].ID != queued || got[2].ID != running {
			t.Errorf("In progress = %+v, want the queued jobs above the running one, newest first", got)
		}
	})

	step("the dropped stream was followed again with Last-Event-ID", func(t *testing.T) {
		var resumed bool
		for _, r := range log.all() {
			if r.path == "/v1/jobs/"+running+"/events" && r.lastEventID == "1" {
				resumed = true
			}
		}
		if !resumed {
			t.Errorf("no event stream reopened with Last-Event-ID: 1; requests: %+v", log.all())
		}
	})

	step("after a reload all three are followed again", func(t *testing.T) {
		p.do(chromedp.Reload())
		waitJob(first, "Running")
		waitJob(second, "Queued · next in line")
		waitJob(third, "Queued · 2 in line")
		if got := jobsShown(); len(got) != 3 || got[0].ID != behind || got[1].ID != queued || got[2].ID != running {
			t.Errorf("In progress after a reload = %+v, want all three, newest first", got)
		}
		checkAccessibleNames(p)
		p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Sleep(200*time.Millisecond))
		if w := evalJS[int](p, `document.documentElement.scrollWidth`); w > 390 {
			t.Errorf("at 390px with jobs in progress the page is %dpx wide: it scrolls sideways", w)
		}
		p.do(chromedp.EmulateViewport(1280, 800), chromedp.Sleep(200*time.Millisecond))
		shot := runAction(p, chromedp.CaptureScreenshot())
		path := filepath.Join(artifactDir(t), "screenshot-jobs.png")
		if err := os.WriteFile(path, shot, 0o644); err != nil {
			t.Fatal(err)
		}
		if os.Getenv("EASEL_UPDATE_SCREENSHOTS") == "1" {
			if err := os.WriteFile(filepath.Join("..", "..", "docs", "screenshot-jobs.png"), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	})

	step("Cancel cancels a queued job on the server", func(t *testing.T) {
		p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#job-list li[data-id=%q] button`, queued))))
		waitJob(second, "Canceled")
		p.waitJS(`document.getElementById("toast").textContent === "Job canceled."`)
		if got := evalJS[string](p, `document.activeElement?.id || ""`); got != "prompt" {
			t.Errorf("after Cancel the focus is on %q, want the prompt (the button is gone)", got)
		}
		var job struct{ Status string }
		if api.get("/v1/jobs/"+queued, &job); job.Status != "canceled" {
			t.Errorf("the job on the server is %q, want canceled", job.Status)
		}
		// The job behind it moves up (its place is read again every 5 s).
		waitJob(third, "Queued · next in line")
		// The canceled one leaves the list a little later.
		p.waitJS(fmt.Sprintf(`!document.querySelector('#job-list li[data-id=%q]')`, queued))
		p.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`#job-list li[data-id=%q] button`, behind))))
		waitJob(third, "Canceled")
	})

	step("the finished job's image lands in the gallery", func(t *testing.T) {
		p.waitNewestTile(first)
		p.waitJS(`document.getElementById("jobs").hidden`)
		if got := evalJS[string](p, `document.getElementById("toast").textContent`); !strings.Contains(got, "Image ready") {
			t.Errorf("toast = %q, want the image ready", got)
		}
		time.Sleep(500 * time.Millisecond) // the worker is free: a canceled job still queued would start now
		if n := fake.Calls(core); n != 1 {
			t.Errorf("model calls = %d, want 1 (the canceled jobs never ran)", n)
		}
	})

	step("a server without a job queue is asked in one request", func(t *testing.T) {
		base2, key2 := startServer(t, "--queue", "none", "--thumbnails=false")
		tab, cancel := chromedp.NewContext(p.ctx)
		defer cancel()
		q := newPage(t, tab)
		q.do(chromedp.Navigate(base2 + "/#key=" + key2))
		q.do(chromedp.WaitVisible(byLabel("Prompt")))
		q.waitJS(`document.querySelectorAll("#model option").length > 0`)
		q.do(chromedp.SendKeys(byLabel("Prompt"), "made at once"+kb.Enter))
		q.waitNewestTile("made at once")
		if !evalJS[bool](q, `document.getElementById("jobs").hidden && document.getElementById("gen-error").hidden`) {
			t.Errorf("without a queue: In progress shown or an error: %q", q.text("gen-error"))
		}
		q.checkConsole()
	})

	p.t = t
	p.checkConsole()
}
