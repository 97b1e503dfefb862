package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/easelhq/easel"
)

const editAbout = `Asks a running Easel server to edit an image (POST /v1/edits), saves the results in
--out and prints, per result, its path, URL, seed and the id of its source. --image and
--style-image take one of your image ids or a file (PNG, JPEG or WebP), which is uploaded
and kept in your gallery as the result's source; --mask takes a file (white: change). The
operation's fields are flags; the server checks them against the model (GET /v1/models).
The prompt's words may be quoted or not.`

// editFlags are the edit client's settings.
type editFlags struct {
	clientFlags
	model, out, op, image, mask, style     string
	negative, search, selectPrompt, aspect string
	preset, format                         string
	numbers                                map[string]*string
	n                                      int
	seed                                   int64
	timeout                                time.Duration
}

// flagName is the flag of an edit field: grow_mask → grow-mask.
func flagName(field string) string { return strings.ReplaceAll(field, "_", "-") }

func (g *editFlags) bind(f *envFlags) {
	g.clientFlags.bind(f)
	f.String(&g.model, "model", "EASEL_CLIENT_MODEL", "", "model id (default: the first that performs the operation)")
	f.String(&g.op, "op", "EASEL_CLIENT_OP", "", "the operation (required): "+strings.Join(easel.Operations(), ", "))
	f.String(&g.image, "image", "EASEL_CLIENT_IMAGE", "", "the image to edit: one of your image ids, or a file (required)")
	f.String(&g.mask, "mask", "EASEL_CLIENT_MASK", "", "mask file, the image's size: white where it should change")
	f.String(&g.style, "style-image", "EASEL_CLIENT_STYLE_IMAGE", "", "style image (style-transfer): an image id or a file")
	f.String(&g.negative, "negative", "EASEL_CLIENT_NEGATIVE", "", "negative prompt")
	f.String(&g.search, "search", "EASEL_CLIENT_SEARCH", "", "search_prompt (search-replace): what to replace")
	f.String(&g.selectPrompt, "select", "EASEL_CLIENT_SELECT", "", "select_prompt (search-recolor): what to recolor")
	f.String(&g.aspect, "aspect", "EASEL_CLIENT_ASPECT", "", "aspect ratio of the result (style-guide), e.g. 16:9")
	f.String(&g.preset, "style-preset", "EASEL_CLIENT_STYLE_PRESET", "", "style preset, e.g. photographic")
	f.String(&g.format, "format", "EASEL_CLIENT_FORMAT", "", "output format: png, jpeg or webp (default: the operation's first)")
	g.numbers = map[string]*string{}
	for _, name := range easel.EditNumberFields() {
		v := new(string)
		g.numbers[name] = v
		f.String(v, flagName(name), "EASEL_CLIENT_"+strings.ToUpper(name), "", name+", a number (see the operation's range in GET /v1/models)")
	}
	f.Int(&g.n, "n", "EASEL_CLIENT_N", 0, "number of results (0: the server's default, one)")
	f.Int64(&g.seed, "seed", "EASEL_CLIENT_SEED", -1, "seed (-1: random)")
	f.String(&g.out, "out", "EASEL_CLIENT_OUT", ".", "folder to save the results in")
	f.Duration(&g.timeout, "timeout", "EASEL_CLIENT_TIMEOUT", 6*time.Minute, "how long to wait for the server (0: no limit)")
}

// edit is the command-line client of POST /v1/edits.
func edit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var g editFlags
	f := newFlags("edit", "[PROMPT]", editAbout, stdout)
	g.bind(f)
	if err := f.parse(args); err != nil {
		return err
	}
	switch {
	case g.op == "":
		return usageError{fmt.Errorf("edit: --op is required: one of %s", strings.Join(easel.Operations(), ", "))}
	case !slices.Contains(easel.Operations(), g.op):
		return usageError{fmt.Errorf("edit: --op %q: want one of %s", g.op, strings.Join(easel.Operations(), ", "))}
	case g.image == "":
		return usageError{errors.New("edit: --image is required: one of your image ids, or a file")}
	case g.key == "":
		return usageError{errors.New("edit: an API key is required (--key or $EASEL_KEY)")}
	case g.n < 0:
		return usageError{fmt.Errorf("edit: -n %d is negative", g.n)}
	case g.seed < -1:
		return usageError{fmt.Errorf("edit: --seed %d: want 0 or more, or -1 for a random seed", g.seed)}
	case g.timeout < 0:
		return usageError{fmt.Errorf("edit: --timeout %s is negative", g.timeout)}
	}
	fields := map[string]string{"operation": g.op}
	for name, v := range map[string]string{"model": g.model, "prompt": strings.Join(f.Args(), " "), "negative_prompt": g.negative,
		"search_prompt": g.search, "select_prompt": g.selectPrompt, "aspect_ratio": g.aspect, "style_preset": g.preset, "output_format": g.format} {
		if v != "" {
			fields[name] = v
		}
	}
	for name, v := range g.numbers {
		if *v == "" {
			continue
		}
		if _, err := strconv.ParseFloat(*v, 64); err != nil {
			return usageError{fmt.Errorf("edit: --%s %q is not a number", flagName(name), *v)}
		}
		fields[name] = *v
	}
	if g.n > 0 {
		fields["n"] = strconv.Itoa(g.n)
	}
	if g.seed >= 0 {
		fields["seed"] = strconv.FormatInt(g.seed, 10)
	}
	files := map[string][]byte{}
	for _, in := range []struct{ part, flag, value string }{{"image", "image", g.image}, {"mask", "mask", g.mask}, {"style_image", "style-image", g.style}} {
		if in.value == "" {
			continue
		}
		data, err := os.ReadFile(in.value)
		switch {
		case err == nil:
			files[in.part] = data
		case errors.Is(err, os.ErrNotExist) && easel.ValidID(in.value) && in.part != "mask":
			fields[in.part] = in.value // one of the caller's images
		default:
			return usageError{fmt.Errorf("edit: --%s %q: %w", in.flag, in.value, err)}
		}
	}
	if err := os.MkdirAll(g.out, 0o755); err != nil {
		return err
	}
	cancel := func() {}
	if g.timeout > 0 {
		ctx, cancel = context.WithTimeout(ctx, g.timeout)
	}
	defer cancel()
	stop := progress(stderr, "Editing")
	results, err := postEdit(ctx, g.server, g.key, fields, files)
	stop()
	if err != nil {
		return err
	}
	root, err := os.OpenRoot(g.out)
	if err != nil {
		return err
	}
	defer root.Close()
	for _, img := range results {
		if !easel.ValidID(img.ID) {
			return fmt.Errorf("the server answered an image id %q that is not an Easel id; nothing saved for it", img.ID)
		}
		name := img.ID + extensionOf(img.ContentType)
		if err := download(ctx, g.server, img.URL, root, name); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\t%s\tseed %d\tfrom %s\n", filepath.Join(g.out, name), img.URL, img.Seed, img.SourceImageID)
	}
	return nil
}

type editResult struct {
	ID            string `json:"id"`
	URL           string `json:"url"`
	Seed          uint64 `json:"seed"`
	ContentType   string `json:"content_type"`
	SourceImageID string `json:"source_image_id"`
}

// postEdit sends an edit as multipart/form-data, with an Idempotency-Key so that a
// retry is billed once.
func postEdit(ctx context.Context, server, key string, fields map[string]string, files map[string][]byte) ([]editResult, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, v := range fields {
		if err := w.WriteField(k, v); err != nil {
			return nil, err
		}
	}
	for part, data := range files {
		fw, err := w.CreateFormFile(part, part)
		if err != nil {
			return nil, err
		}
		fw.Write(data)
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(server, "/")+"/v1/edits", &body)
	if err != nil {
		return nil, usageError{fmt.Errorf("edit: --server %q: %w", server, err)}
	}
	var idem [16]byte
	_, _ = rand.Read(idem[:])
	req.Header.Set("Content-Type", w.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Idempotency-Key", hex.EncodeToString(idem[:]))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("could not reach %s: %w", server, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusCreated {
		return nil, apiError(resp, data)
	}
	var res struct {
		Images []editResult `json:"images"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return nil, fmt.Errorf("unexpected answer from the server: %w", err)
	}
	return res.Images, nil
}
