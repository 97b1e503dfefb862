package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/easelhq/easel/bedrock/bedrocktest"
)

// runCmd runs one easel command line in-process and returns what it printed.
func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// commandFlagSets returns every command's flag set, bound as the command binds it.
func commandFlagSets() map[string]*envFlags {
	sets := map[string]*envFlags{}
	var sc serveConfig
	sets["serve"] = newFlags("serve", "", "", io.Discard)
	sc.bind(sets["serve"])
	var g generateFlags
	sets["generate"] = newFlags("generate", "PROMPT", "", io.Discard)
	g.bind(sets["generate"])
	var e editFlags
	sets["edit"] = newFlags("edit", "[PROMPT]", "", io.Discard)
	e.bind(sets["edit"])
	for _, sub := range []string{"create", "list", "revoke"} {
		var k keysFlags
		f := newFlags("keys "+sub, "", "", io.Discard)
		k.bind(f, sub)
		sets["keys "+sub] = f
	}
	for _, sub := range []string{"list", "get", "cancel", "wait"} {
		var j jobsFlags
		f := newFlags("jobs "+sub, "", "", io.Discard)
		j.bind(f, sub)
		sets["jobs "+sub] = f
	}
	var st storeFlags
	sets["migrate"] = newFlags("migrate", "", "", io.Discard)
	st.bind(sets["migrate"])
	return sets
}

// TestHelpOnEveryCommand: -h and --help print the usage on stdout and exit 0, for
// every command and subcommand, listing each of its flags.
func TestHelpOnEveryCommand(t *testing.T) {
	sets := commandFlagSets()
	for _, args := range [][]string{
		{"-h"}, {"--help"}, {"help"}, {"help", "serve"},
		{"serve", "-h"}, {"serve", "--help"}, {"generate", "-h"}, {"migrate", "-h"}, {"version", "-h"},
		{"keys", "-h"}, {"keys", "--help"}, {"keys", "create", "-h"}, {"keys", "list", "-h"}, {"keys", "revoke", "--help"},
		{"jobs", "-h"}, {"jobs", "list", "-h"}, {"jobs", "get", "-h"}, {"jobs", "cancel", "-h"}, {"jobs", "wait", "--help"},
		{"serve", "--addr", "127.0.0.1:0", "-h"}, // -h wins wherever it is
	} {
		out, errOut, err := runCmd(t, args...)
		if !errors.Is(err, flag.ErrHelp) || exitCode(err) != 0 {
			t.Errorf("easel %s = %v (exit %d), want the usage and exit 0; stderr: %s", strings.Join(args, " "), err, exitCode(err), errOut)
			continue
		}
		if !strings.Contains(out, "Usage") {
			t.Errorf("easel %s printed no usage on stdout: %q", strings.Join(args, " "), out)
		}
		name := strings.Join(args[:len(args)-1], " ")
		if args[0] == "help" && len(args) == 2 {
			name = args[1]
		}
		if f, ok := sets[name]; ok {
			f.VisitAll(func(fl *flag.Flag) {
				if !strings.Contains(out, "--"+fl.Name) {
					t.Errorf("easel %s -h does not list --%s", name, fl.Name)
				}
			})
		}
	}
	// A wrong call still exits 2, with the reason on stderr.
	for _, args := range [][]string{{}, {"nope"}, {"keys"}, {"keys", "nope"}, {"serve", "--nope"}} {
		_, _, err := runCmd(t, args...)
		if exitCode(err) != 2 {
			t.Errorf("easel %s = %v (exit %d), want exit 2", strings.Join(args, " "), err, exitCode(err))
		}
	}
}

// TestFlagsAnywhere: flags after an argument are read as flags, never as part of the
// prompt or dropped; "--" ends them; a command that takes no arguments refuses one.
func TestFlagsAnywhere(t *testing.T) {
	s := startServerOn(t, t.TempDir(), "--thumbnails=false")
	out := filepath.Join(t.TempDir(), "o")
	stdout, stderr, err := runCmd(t, "generate", "a", "cat", "--out", out, "--key", s.key, "--server", s.url, "--size", "256x256")
	if err != nil {
		t.Fatalf("generate a cat --out ...: %v\n%s", err, stderr)
	}
	path, _, _ := strings.Cut(stdout, "\t")
	if filepath.Dir(path) != out {
		t.Errorf("generate saved %q, want it in --out %s", path, out)
	}
	stdout, stderr, err = runCmd(t, "generate", "--key", s.key, "--server", s.url, "--size=256x256", "--out", out, "--", "-n", "2", "--out", "x")
	if err != nil {
		t.Fatalf("generate -- -n 2 --out x: %v\n%s", err, stderr)
	}
	if n := strings.Count(strings.TrimSpace(stdout), "\n") + 1; n != 1 {
		t.Errorf("generate -- -n 2 made %d images; after -- it is prompt text", n)
	}
	c := &apiClient{t, s.url}
	r := c.do("GET", "/v1/images?limit=2", s.key, nil)
	var prompts []string
	for _, img := range r.json(t)["images"].([]any) {
		prompts = append(prompts, img.(map[string]any)["prompt"].(string))
	}
	if want := []string{"-n 2 --out x", "a cat"}; strings.Join(prompts, "|") != strings.Join(want, "|") {
		t.Errorf("prompts = %q, want %q", prompts, want)
	}

	// keys revoke ID --data D: the flag after the id is read.
	id := keyIDs(t, s.data)[0]
	if stdout, stderr, err := runCmd(t, "keys", "revoke", id, "--data", s.data); err != nil || !strings.Contains(stdout, "Revoked key "+id) {
		t.Errorf("keys revoke ID --data D = %v, %q %q", err, stdout, stderr)
	}

	for _, args := range [][]string{
		{"serve", "foo", "--addr", "127.0.0.1:0", "--data", t.TempDir()},
		{"serve", "--thumbnails", "false", "--addr", "127.0.0.1:0", "--data", t.TempDir()},
		{"migrate", "--data", t.TempDir(), "extra"},
		{"keys", "list", "--data", s.data, "extra"},
		{"keys", "create", "--user", "bob", "bob2", "--data", s.data},
		{"keys", "revoke", "a", "b", "--data", s.data},
		{"keys", "--data", s.data, "list"},
		{"version", "extra"},
		{"generate", "--key", "k", "--server", s.url},    // no prompt
		{"generate", "a", "cat", "--nope", "--key", "k"}, // unknown flag after the prompt
	} {
		_, _, err := runCmd(t, args...)
		if exitCode(err) != 2 {
			t.Errorf("easel %s = %v, want a usage error (exit 2)", strings.Join(args, " "), err)
		}
	}
	if _, _, err := runCmd(t, "serve", "--thumbnails", "false"); err == nil || !strings.Contains(err.Error(), "--thumbnails=false") {
		t.Errorf("serve --thumbnails false = %v, want a hint to write --thumbnails=false", err)
	}
}

func keyIDs(t *testing.T, data string) []string {
	t.Helper()
	stdout, stderr, err := runCmd(t, "keys", "list", "--data", data)
	if err != nil {
		t.Fatalf("keys list: %v\n%s", err, stderr)
	}
	var ids []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n")[1:] {
		ids = append(ids, strings.Fields(line)[0])
	}
	return ids
}

// TestKeysNeedAnExistingCatalog: keys commands do not make a new data folder (whose
// keys the server would never see) unless --init says so, and they name the catalog
// they used, as an absolute path.
func TestKeysNeedAnExistingCatalog(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, args := range [][]string{
		{"keys", "create", "--user", "alice"},
		{"keys", "list"},
		{"keys", "revoke", "k_x"},
		{"keys", "create", "--user", "alice", "--data", "other"},
	} {
		_, _, err := runCmd(t, args...)
		if err == nil || !strings.Contains(err.Error(), "no catalog at sqlite://"+dir) || !strings.Contains(err.Error(), "--init") {
			t.Errorf("easel %s in an empty folder = %v, want a refusal naming the catalog and --init", strings.Join(args, " "), err)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("refused keys commands left %v behind", entries)
	}
	stdout, stderr, err := runCmd(t, "keys", "create", "--init", "--user", "alice")
	want := "sqlite://" + filepath.Join(dir, "easel-data", "easel.db")
	if err != nil || !strings.HasPrefix(stdout, "easel_") || !strings.Contains(stderr, "Created catalog "+want) ||
		!strings.Contains(stderr, "for user alice in catalog "+want) {
		t.Fatalf("keys create --init = %v, %q %q; want a key, and the catalog %s named", err, stdout, stderr, want)
	}
	if _, stderr, err := runCmd(t, "keys", "list"); err != nil || !strings.Contains(stderr, "Keys in catalog "+want) {
		t.Errorf("keys list = %v, %q; want the catalog named", err, stderr)
	}
	// Now it exists, keys commands from elsewhere reach it with --data.
	t.Chdir(t.TempDir())
	if _, stderr, err := runCmd(t, "keys", "create", "--user", "bob", "--data", filepath.Join(dir, "easel-data")); err != nil ||
		!strings.Contains(stderr, "in catalog "+want) || strings.Contains(stderr, "Created catalog") {
		t.Errorf("keys create --data <existing> = %v, %q", err, stderr)
	}
}

// TestMigrateSaysWhatItDid: a new catalog is "created", an existing one "up to date".
func TestMigrateSaysWhatItDid(t *testing.T) {
	data := filepath.Join(t.TempDir(), "d")
	want := "sqlite://" + filepath.Join(data, "easel.db")
	if stdout, _, err := runCmd(t, "migrate", "--data", data); err != nil || stdout != "Created catalog "+want+".\n" {
		t.Errorf("migrate on a new folder = %v, %q", err, stdout)
	}
	if stdout, _, err := runCmd(t, "migrate", "--data", data); err != nil || stdout != "Catalog "+want+" is up to date.\n" {
		t.Errorf("migrate again = %v, %q", err, stdout)
	}
	blob := "file://" + filepath.Join(data, "images")
	if stdout, _, err := runCmd(t, "migrate", "--data", data, "--blob", blob); err != nil || !strings.Contains(stdout, "Blob store "+blob+" answers.") {
		t.Errorf("migrate --blob = %v, %q", err, stdout)
	}
}

// TestURLRegionWithoutAWSRegion: dynamodb:// and s3:// URLs name their region with
// ?region=, and it is used with no AWS_REGION set (requests are signed for it).
func TestURLRegionWithoutAWSRegion(t *testing.T) {
	var mu sync.Mutex
	var scopes []string
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		scopes = append(scopes, r.Header.Get("Authorization"))
		mu.Unlock()
		const body = `{"__type":"com.amazonaws.dynamodb.v20120810#ValidationException","message":"fake"}`
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE([]byte(body))), 10))
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(fake.Close)
	noFile := filepath.Join(t.TempDir(), "none")
	for k, v := range map[string]string{
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_PROFILE": "", "AWS_ENDPOINT_URL": "",
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "test-secret-made-up", "AWS_SESSION_TOKEN": "",
		"AWS_CONFIG_FILE": noFile, "AWS_SHARED_CREDENTIALS_FILE": noFile, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_DYNAMODB": fake.URL, "AWS_ENDPOINT_URL_S3": fake.URL,
	} {
		t.Setenv(k, v)
	}
	_, _, err := runCmd(t, "migrate", "--catalog", "dynamodb://easel-t1?region=eu-west-1")
	if err == nil || strings.Contains(err.Error(), "no AWS region") {
		t.Errorf("migrate --catalog dynamodb://easel-t1?region=eu-west-1 = %v, want the fake's refusal, not a missing region", err)
	}
	_, _, err = runCmd(t, "migrate", "--data", t.TempDir(), "--blob", "s3://bucket1?region=eu-west-2")
	if err == nil || strings.Contains(err.Error(), "no AWS region") {
		t.Errorf("migrate --blob s3://bucket1?region=eu-west-2 = %v, want the fake's refusal, not a missing region", err)
	}
	mu.Lock()
	got := strings.Join(scopes, "\n")
	mu.Unlock()
	for _, want := range []string{"/eu-west-1/dynamodb/aws4_request", "/eu-west-2/s3/aws4_request"} {
		if !strings.Contains(got, want) {
			t.Errorf("no request was signed for %s; Authorization headers:\n%s", want, got)
		}
	}
	// Without a region anywhere, the error says how to give one.
	if _, _, err := runCmd(t, "migrate", "--catalog", "dynamodb://easel-t1"); err == nil || !strings.Contains(err.Error(), "?region=") {
		t.Errorf("migrate --catalog dynamodb://easel-t1 without a region = %v, want a hint at AWS_REGION or ?region=", err)
	}
}

// TestEveryFlagHasAnEnvironmentTwin: every flag of every command reads its EASEL_*
// variable, and a variable names one setting wherever it is read.
func TestEveryFlagHasAnEnvironmentTwin(t *testing.T) {
	seen := map[string]string{} // env → flag name
	for cmd, f := range commandFlagSets() {
		f.VisitAll(func(fl *flag.Flag) {
			env, ok := f.envOf[fl.Name]
			if !ok || !strings.HasPrefix(env, "EASEL_") {
				t.Errorf("%s --%s has no EASEL_* twin", cmd, fl.Name)
				return
			}
			if other, dup := seen[env]; dup && other != fl.Name {
				t.Errorf("%s is the twin of both --%s and --%s", env, other, fl.Name)
			}
			seen[env] = fl.Name
		})
	}
	// Setting each variable changes its flag's default, in every command.
	values := map[string]string{}
	for env := range seen {
		values[env] = ""
	}
	for cmd, f := range commandFlagSets() {
		f.VisitAll(func(fl *flag.Flag) {
			v := sampleValue(fl)
			t.Setenv(f.envOf[fl.Name], v)
			g := commandFlagSets()[cmd]
			if len(g.errs) > 0 {
				t.Errorf("%s=%s: %v", f.envOf[fl.Name], v, g.errs)
			}
			got := g.Lookup(fl.Name).Value.String()
			if got != v {
				t.Errorf("%s=%s: %s --%s = %q, want the variable's value", f.envOf[fl.Name], v, cmd, fl.Name, got)
			}
			os.Unsetenv(f.envOf[fl.Name])
		})
	}
}

// sampleValue is a valid value for a flag other than its default.
func sampleValue(fl *flag.Flag) string {
	g, ok := fl.Value.(flag.Getter)
	if !ok {
		return "x7" // a list
	}
	switch g.Get().(type) {
	case bool:
		if fl.DefValue == "true" {
			return "false"
		}
		return "true"
	case int, int64, float64:
		return "7"
	case time.Duration:
		return "7s"
	}
	return "x7"
}

// TestZeroMeansWhatTheHelpSays: every numeric flag's help either says what 0 means,
// and 0 then means that, or says the value must be positive, and 0 is then refused.
// Negative values are refused everywhere.
func TestZeroMeansWhatTheHelpSays(t *testing.T) {
	const gt = 55 * time.Second
	zero := map[string]func(c *serveConfig) bool{
		"user-rate":            func(c *serveConfig) bool { return c.limits.UserRate == 0 }, // the service reads 0 as its help says
		"user-burst":           func(c *serveConfig) bool { return c.limits.UserBurst == 0 },
		"user-concurrency":     func(c *serveConfig) bool { return c.limits.UserConcurrency == 0 },
		"max-inflight":         func(c *serveConfig) bool { return c.limits.MaxInflight == 0 },
		"max-images-in-memory": func(c *serveConfig) bool { return c.limits.MaxImagesInMemory == 0 },
		"daily-quota":          func(c *serveConfig) bool { return c.limits.DailyQuota == 0 },
		"drain-delay":          func(c *serveConfig) bool { return c.drainDelay == 0 }, // TestDrain
		"drain-timeout":        func(c *serveConfig) bool { return c.drain == 0 },
		"sweep-every":          func(c *serveConfig) bool { return c.sweepTick == 0 }, // serve starts no sweeper
		"sweep-orphans-every":  func(c *serveConfig) bool { return c.orphans == 0 },   // RunSweeper lists on every sweep
		"bedrock-timeout":      func(c *serveConfig) bool { return c.models.options(gt, nil).Timeout == gt },
		"bedrock-concurrency":  func(c *serveConfig) bool { return c.models.options(gt, nil).MaxConcurrency == unlimitedConcurrency },
		"bedrock-retries":      func(c *serveConfig) bool { return c.models.options(gt, nil).MaxRetries < 0 },
		"workers":              func(c *serveConfig) bool { return c.jobs.workers == 0 }, // the service's default
		"user-queue":           func(c *serveConfig) bool { return c.jobs.userQueue == 0 },
		"max-concurrent-edits": func(c *serveConfig) bool { return c.limits.MaxConcurrentEdits == 0 },
	}
	positive := map[string]bool{"generate-timeout": true, "max-body": true, "body-timeout": true, "presign-expiry": true, "sweep-after": true,
		"job-lease": true, "job-retention": true, "job-max-attempts": true, "webhook-retry-for": true,
		"cloudfront-invalidation-window": true, "private-image-expiry": true, "max-edit-body": true, "edit-body-timeout": true}
	positive["session-lifetime"], positive["max-user-keys"] = true, true // single sign-on
	commandFlagSets()["serve"].VisitAll(func(fl *flag.Flag) {
		g, ok := fl.Value.(flag.Getter)
		if !ok {
			return
		}
		switch g.Get().(type) {
		case int, int64, float64, time.Duration:
		default:
			return
		}
		parse := func(v string) (*serveConfig, error) {
			var c serveConfig
			f := newFlags("serve", "", "", io.Discard)
			c.bind(f)
			if err := f.parse([]string{"--" + fl.Name + "=" + v}); err != nil {
				return nil, err
			}
			return &c, c.check()
		}
		c, err := parse("0")
		switch {
		case zero[fl.Name] != nil:
			if !strings.Contains(fl.Usage, "(0: ") {
				t.Errorf("--%s: the help does not say what 0 means: %q", fl.Name, fl.Usage)
			}
			if err != nil || !zero[fl.Name](c) {
				t.Errorf("--%s=0 = %v, or not what its help says: %q", fl.Name, err, fl.Usage)
			}
		case positive[fl.Name]:
			if !strings.Contains(fl.Usage, "must be positive") {
				t.Errorf("--%s: the help does not say it must be positive: %q", fl.Name, fl.Usage)
			}
			if err == nil || !strings.Contains(err.Error(), "--"+fl.Name) {
				t.Errorf("--%s=0 = %v, want an error naming the flag", fl.Name, err)
			}
		default:
			t.Errorf("numeric flag --%s: add it to this test, with what 0 means", fl.Name)
		}
		neg := "-1"
		if _, isDur := g.Get().(time.Duration); isDur {
			neg = "-1s"
		}
		if _, err := parse(neg); err == nil {
			t.Errorf("--%s=%s accepted, want an error", fl.Name, neg)
		}
	})

	// The client: -n 0 is the server's default (one), --timeout 0 waits without limit.
	s := startServerOn(t, t.TempDir(), "--thumbnails=false")
	stdout, stderr, err := runCmd(t, "generate", "--key", s.key, "--server", s.url, "-n", "0", "--timeout", "0",
		"--size", "256x256", "--out", t.TempDir(), "a quiet bay")
	if err != nil || strings.Count(stdout, "\n") != 1 {
		t.Errorf("generate -n 0 --timeout 0 = %v, %q %q; want one image", err, stdout, stderr)
	}
	for _, args := range [][]string{{"-n", "-1"}, {"--seed", "-2"}, {"--timeout", "-1s"}} {
		if _, _, err := runCmd(t, append([]string{"generate", "--key", "k", "x"}, args...)...); exitCode(err) != 2 {
			t.Errorf("generate %v = %v, want a usage error", args, err)
		}
	}
}

// TestBedrockZeroFlags: --bedrock-retries 0 makes one call, not the adapter's default
// of three; --bedrock-concurrency 0 lets more calls run at once than the adapter's
// default of four.
func TestBedrockZeroFlags(t *testing.T) {
	const core = "stability.stable-image-core-v1:1"
	t.Run("retries", func(t *testing.T) {
		fake := bedrockFake(t, bedrocktest.WithFault(bedrocktest.Fault{Exception: "ThrottlingException"}))
		// Without a queue, a throttled job cannot wait in it: the caller gets the 429.
		base, key := startServer(t, "--model", "bedrock:core", "--bedrock-retries", "0", "--queue", "none")
		r := (&apiClient{t, base}).do("POST", "/v1/images", key, map[string]any{"prompt": "a boat"})
		if r.status != http.StatusTooManyRequests || fake.Calls(core) != 1 {
			t.Errorf("throttled with --bedrock-retries 0: %d %s after %d calls, want 429 after 1", r.status, r.body, fake.Calls(core))
		}
	})
	t.Run("concurrency", func(t *testing.T) {
		fake := bedrockFake(t, bedrocktest.WithSmallImages(), bedrocktest.WithLatency(500*time.Millisecond))
		base, key := startServer(t, "--model", "bedrock:core", "--bedrock-concurrency", "0",
			"--user-rate=0", "--user-concurrency=0", "--thumbnails=false")
		c := &apiClient{t, base}
		var wg sync.WaitGroup
		for range 6 {
			wg.Go(func() {
				if r := c.do("POST", "/v1/images", key, map[string]any{"prompt": "a boat"}); r.status != http.StatusCreated {
					t.Errorf("POST /v1/images = %d %s", r.status, r.body)
				}
			})
		}
		wg.Wait()
		if got := fake.MaxInFlight(core); got != 6 {
			t.Errorf("--bedrock-concurrency 0: %d calls at once, want all 6", got)
		}
	})
}
