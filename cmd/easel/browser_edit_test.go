package main

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// editedImage is an image record as the page's edits leave it.
type editedImage struct {
	ID            string `json:"id"`
	URL           string `json:"url"`
	Operation     string `json:"operation"`
	SourceImageID string `json:"source_image_id"`
	MaskImageID   string `json:"mask_image_id"`
	StyleImageID  string `json:"style_image_id"`
	Width         int    `json:"width"`
	Height        int    `json:"height"`
}

// TestBrowserEdit: the detail view's Edit panel in headless Chromium. The test draws
// a mask with pointer events (a stroke across the middle, a second one undone), asks
// for an inpaint, and checks the result: it opens with "edited from …" whose link
// leads to the source, and the mask the server stored is white where the stroke went
// and black elsewhere. Then outpaint by margins and style transfer with a gallery
// image. Screenshots of the panel go to $EASEL_TEST_ARTIFACTS (and docs/ with
// EASEL_UPDATE_SCREENSHOTS=1).
func TestBrowserEdit(t *testing.T) {
	exe := chromiumPath(t)
	base, key := startServer(t, "--user-rate=0", "--user-concurrency=0")
	api := &pageAPI{t: t, base: base, key: key}
	api.generate(map[string]any{"prompt": "a striped style card", "width": 256, "height": 256})
	api.generate(map[string]any{"prompt": "a harbour at noon", "width": 256, "height": 256})
	src := api.images(1)[0]

	browser := newBrowser(t, exe)
	p := newPage(t, browser)
	p.do(chromedp.Navigate(base + "/#key=" + key))
	p.waitNewestTile(src.Prompt)
	p.openTile(src.ID)
	p.waitJS(`!document.getElementById("edit-panel").hidden && document.querySelectorAll("#edit-op option").length >= 8`)

	p.selectOption("edit-op", "inpaint")
	p.waitJS(`!document.getElementById("edit-mask").hidden && document.getElementById("edit-mask").width === 256`)
	rect := evalJS[struct{ X, Y, W, H float64 }](p, `(() => {
		const r = document.getElementById("edit-mask").getBoundingClientRect();
		return {X: r.left, Y: r.top, W: r.width, H: r.height};
	})()`)
	stroke := func(y float64) {
		t.Helper()
		y = rect.Y + rect.H*y
		x0, x1 := rect.X+rect.W*0.25, rect.X+rect.W*0.75
		acts := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MousePressed, x0, y, chromedp.ButtonLeft, chromedp.ClickCount(1))}
		for i := 1; i <= 10; i++ {
			acts = append(acts, chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*float64(i)/10, y, chromedp.ButtonLeft))
		}
		acts = append(acts, chromedp.MouseEvent(chromedp.MouseReleased, x1, y, chromedp.ButtonLeft, chromedp.ClickCount(1)))
		p.do(acts...)
	}
	stroke(0.5)
	stroke(0.2) // undone below
	if !evalJS[bool](p, `!document.getElementById("edit-undo").disabled`) {
		t.Fatalf("after two strokes Undo is disabled")
	}
	p.do(chromedp.Click(byButton("Undo")))
	p.do(chromedp.SendKeys(byLabel("Describe the change"), "a small green boat"))
	if shot := runAction(p, chromedp.CaptureScreenshot()); len(shot) > 0 {
		saveScreenshot(t, "screenshot-edit-mask.png", shot)
	}
	p.do(chromedp.Click(byButton("Apply edit")))
	p.waitJS(`document.getElementById("edit-lineage").textContent.includes("Edited (inpaint) from")`)
	p.waitJS(`(() => { const i = document.getElementById("detail-img"); return i.complete && i.naturalWidth === 256; })()`)
	if shot := runAction(p, chromedp.CaptureScreenshot()); len(shot) > 0 {
		saveScreenshot(t, "screenshot-edit-result.png", shot)
	}

	var page struct{ Images []editedImage }
	if st := api.get("/v1/images?limit=1", &page); st != http.StatusOK || len(page.Images) == 0 {
		t.Fatalf("GET /v1/images = %d", st)
	}
	res := page.Images[0]
	if res.Operation != "inpaint" || res.SourceImageID != src.ID || res.MaskImageID == "" {
		t.Fatalf("newest image = %+v; want an inpaint of %s with a mask", res, src.ID)
	}
	if got := evalJS[string](p, `document.getElementById("detail-img").src`); got != res.URL {
		t.Errorf("detail shows %s, want the result %s", got, res.URL)
	}
	// The stored mask: white on the middle stroke, black on the undone one and beside.
	var mask editedImage
	if st := api.get("/v1/images/"+res.MaskImageID, &mask); st != http.StatusOK || mask.Operation != "mask" {
		t.Fatalf("GET mask = %d %+v", st, mask)
	}
	m := fetchPNG(t, mask.URL)
	at := func(fx, fy float64) uint32 {
		r, _, _, _ := m.At(int(fx*256), int(fy*256)).RGBA()
		return r >> 8
	}
	if at(0.5, 0.5) < 200 || at(0.3, 0.5) < 200 || at(0.5, 0.2) > 50 || at(0.1, 0.9) > 50 || at(0.9, 0.5) > 50 {
		t.Errorf("mask at middle %d, stroke %d, undone %d, corner %d, right %d; want white on the stroke only",
			at(0.5, 0.5), at(0.3, 0.5), at(0.5, 0.2), at(0.1, 0.9), at(0.9, 0.5))
	}

	// The mask is stored but the page's gallery leaves it out; the result is on top.
	if n := evalJS[int](p, fmt.Sprintf(`document.querySelectorAll('#gallery button.tile[data-id=%q]').length`, res.MaskImageID)); n != 0 {
		t.Errorf("the gallery shows the mask")
	}
	if first := evalJS[string](p, `document.querySelector("#gallery button.tile").dataset.id`); first != res.ID {
		t.Errorf("first tile = %s, want the result %s", first, res.ID)
	}

	// "Edited from" leads to the source.
	p.do(chromedp.Click(chromedp.CSS(`#edit-lineage a`)))
	p.waitJS(fmt.Sprintf(`document.getElementById("detail-img").src === %q`, src.URL))

	// Outpaint by margins.
	p.selectOption("edit-op", "outpaint")
	p.do(clearField(byLabel("Left")), chromedp.SendKeys(byLabel("Left"), "64"))
	p.do(chromedp.Click(byButton("Apply edit")))
	p.waitJS(`document.getElementById("edit-lineage").textContent.includes("Edited (outpaint) from")`)
	api.get("/v1/images?limit=1", &page)
	if r := page.Images[0]; r.Operation != "outpaint" || r.Width != 320 || r.Height != 256 {
		t.Errorf("outpaint result = %+v; want 320x256", r)
	}

	// Style transfer with a gallery image.
	p.do(chromedp.Click(chromedp.CSS(`#edit-lineage a`)))
	p.waitJS(fmt.Sprintf(`document.getElementById("detail-img").src === %q`, src.URL))
	p.selectOption("edit-op", "style-transfer")
	p.waitJS(`document.querySelectorAll("#edit-style-pick option").length > 1`)
	style := evalJS[string](p, `[...document.getElementById("edit-style-pick").options].find(o => o.textContent.includes("striped")).value`)
	p.selectOption("edit-style-pick", style)
	p.do(chromedp.Click(byButton("Apply edit")))
	p.waitJS(`document.getElementById("edit-lineage").textContent.includes("Edited (style-transfer) from")`)
	api.get("/v1/images?limit=1", &page)
	if r := page.Images[0]; r.Operation != "style-transfer" || r.StyleImageID != style || r.SourceImageID != src.ID {
		t.Errorf("style transfer = %+v; want style %s on %s", r, style, src.ID)
	}

	// Inpaint with no mask drawn is refused on the page, without a request.
	p.selectOption("edit-op", "erase")
	p.do(chromedp.Click(byButton("Clear mask")))
	p.do(chromedp.Click(byButton("Apply edit")))
	p.waitJS(`!document.getElementById("edit-error").hidden && document.getElementById("edit-error").textContent.includes("Paint over")`)
	p.checkConsole()
}

func fetchPNG(t *testing.T, url string) image.Image {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	img, err := png.Decode(&b)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return img
}

func saveScreenshot(t *testing.T, name string, data []byte) {
	t.Helper()
	path := filepath.Join(artifactDir(t), name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(data))
	if os.Getenv("EASEL_UPDATE_SCREENSHOTS") == "1" {
		if err := os.WriteFile(filepath.Join("..", "..", "docs", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
