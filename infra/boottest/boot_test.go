package boottest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/jsii-runtime-go"

	"github.com/easelhq/easel/bedrock"
	"github.com/easelhq/easel/bedrock/bedrocktest"
	"github.com/easelhq/easel/eventbridge/eventbridgetest"
	"github.com/easelhq/easel/infra/stacks"
	"github.com/easelhq/easel/internal/secretstest"
	"github.com/easelhq/easel/sqsqueue/sqstest"
)

// RequireEnv turns the boot test on. It needs root (namespaces, mounts, chroot),
// node with scripts/dynalite installed, versitygw and the ip command: scripts/test.sh
// runs it as its own step. Without the variable the test is skipped.
const RequireEnv = "EASEL_TEST_BOOT"

// bootTimeout bounds the user data script. Its own readiness loop gives up after
// five minutes; a healthy boot takes about a second here (at most one 5-second retry
// of the readiness check on a loaded machine), so a boot that has not signalled
// within a minute has failed.
const bootTimeout = time.Minute

// Where the instance's world answers, inside the sandbox's private network.
const (
	dynamoAddr  = "127.0.0.1:8000"
	bedrockAddr = "127.0.0.1:8001"
	sqsAddr     = "127.0.0.1:8004"
	eventsAddr  = "127.0.0.1:8005"
	secretsAddr = "127.0.0.1:8006"
	s3Port      = "9000"
	s3Domain    = "s3.boottest.internal" // virtual-hosted buckets, as on AWS
	remoteIP    = "198.51.100.7"         // an address that is not loopback: "the ALB"
	albCheckIP  = "10.40.0.7"            // a private address: the ALB's health checker
	account     = "123456789012"
	region      = "us-east-1"
	shimPath    = "/usr/lib/boottest/shim"
	stateDir    = "/var/lib/boottest" // the shim's StateDir
)

func TestMain(m *testing.M) {
	// The CDK packages' init started the jsii runtime with the environment of that
	// moment: restart it with Node's end-of-life banner silenced.
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
	jsii.Close()
	code := m.Run()
	jsii.Close()
	os.Exit(code)
}

// TestBoot runs the user data of the synthesized default deployment, unchanged, in a
// scratch root, and checks what a deploy depends on: the script exits 0 and signals
// success to CloudFormation; Easel runs under its unit (user, environment file,
// sandboxing) and answers /readyz to the instance itself; through "the ALB" it
// refuses requests without the origin secret (but for the ALB's health check of
// /readyz) and serves a generation with it, run as a job through the stack's queue,
// its terminal event on the stack's bus; the admin wrapper creates a key; stopping the unit drains a generation in flight and
// exits 0 within TimeoutStopSec. A LEGACY model only warns.
func TestBoot(t *testing.T) {
	if os.Getenv(RequireEnv) != "1" {
		t.Skipf("set %s=1 to run the boot test (needs root; scripts/test.sh runs it)", RequireEnv)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("%s=1 but not root: the boot test needs namespaces, mounts and chroot", RequireEnv)
	}
	w := newWorld(t, nil)
	w.boot(t)
	if t.Failed() {
		return
	}
	t.Run("signal", w.checkSignal)
	t.Run("files", w.checkFiles)
	t.Run("unit", w.checkUnit)
	t.Run("origin", w.checkOrigin)
	t.Run("generate", w.checkGenerate)
	t.Run("stop drains", w.checkStop)
	t.Run("no secret in logs", w.checkNoSecretLeak)
}

// world is the deployment under test and the sandbox it boots in.
type world struct {
	sb      *Sandbox
	dir     string
	repo    string
	easel   string // the binary (built for this machine; the template ships it as its asset)
	tpl     map[string]interface{}
	dep     Deployment
	asgID   string
	script  string
	secret  string
	bucket  string
	table   string
	site    string
	fake    *bedrocktest.Handler
	queue   string // the job queue's name, and its dead-letter queue's
	dlq     string
	bus     string                            // the event bus's name
	queues  map[string]map[string]interface{} // logical id -> the template's queue properties
	sqs     *sqstest.Handler
	events  *eventbridgetest.Handler
	ak, sk  string
	context map[string]string   // CDK context of the variant (nil: the default)
	secrets *secretstest.Server // Secrets Manager fake for what Easel reads itself
	// With private images: the generated signing key and its CloudFront key id.
	signingKey *signingKey
	keyPairID  string
	s3         *s3.Client
	bootLog    []byte
	bootTime   time.Duration
	key        string // an API key, once checkGenerate made one
}

func newWorld(t *testing.T, context map[string]string) *world {
	w := &world{dir: t.TempDir(), context: context}
	var err error
	if w.repo, err = filepath.Abs("../.."); err != nil {
		t.Fatal(err)
	}
	tools := map[string]string{}
	for _, tool := range []string{"node", "ip"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("the boot test needs %s on PATH", tool)
		}
		tools[tool] = p
	}
	tools["versitygw"] = versitygw(t)
	tools["dynalite"] = filepath.Join(w.repo, "scripts/dynalite/node_modules/dynalite/cli.js")
	if _, err := os.Stat(tools["dynalite"]); err != nil {
		t.Fatalf("dynalite is not installed (source scripts/services.sh; easel_services_up): %v", err)
	}

	w.easel = filepath.Join(w.dir, "easel")
	shim := filepath.Join(w.dir, "shim")
	goBuild(t, w.repo, w.easel, "./cmd/easel")
	goBuild(t, filepath.Join(w.repo, "infra"), shim, "./boottest/shim")
	w.ak, w.sk = "BOOT"+strings.ToUpper(randomString(12, lowerDigits)), randomString(32, lowerDigits)
	w.secrets = secretstest.NewServer(t, secretstest.WithCredentials(w.ak, w.sk))
	w.synthesize(t)

	w.secret = randomString(48, alnum) // like the stack's generated secret: 48, no punctuation

	sb, err := NewSandbox(filepath.Join(w.dir, "sandbox"))
	if err != nil {
		t.Fatal(err)
	}
	w.sb = sb
	t.Cleanup(func() {
		if err := sb.Close(); err != nil {
			t.Errorf("sandbox cleanup: %v", err)
		}
	})
	for _, ip := range []string{remoteIP, albCheckIP} {
		if err := sb.AddAddress(ip + "/32"); err != nil {
			t.Fatal(err)
		}
	}
	w.startServices(t, tools)
	w.prepareRoot(t, shim)
	return w
}

func versitygw(t *testing.T) string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err == nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		for _, dir := range []string{lines[0], strings.Split(lines[len(lines)-1], ":")[0] + "/bin"} {
			if p := filepath.Join(dir, "versitygw"); dir != "" && fileExists(p) {
				return p
			}
		}
	}
	t.Fatal("versitygw is not installed (source scripts/services.sh; easel_services_up)")
	return ""
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// goBuild builds like the deployment does (CGO_ENABLED=0, -trimpath), for this
// machine's architecture. Cold, that compiles the whole dependency graph once more
// (a minute or more on a loaded machine): scripts/test.sh gives the step 20 minutes.
func goBuild(t *testing.T, dir, out, pkg string) {
	t.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

// synthesize builds the default deployment (no domain, us-east-1) with this
// machine's easel binary as its asset, reads the template back, and renders the
// launch template's user data as CloudFormation would, for made-up physical ids.
func (w *world) synthesize(t *testing.T) {
	out := filepath.Join(w.dir, "cdk.out")
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("synthesis panicked: %v", r)
			}
		}()
		app, err := stacks.NewApp(stacks.AppOptions{Outdir: out, ContextFile: "../cdk.context.json", Context: w.context})
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"CDK_DEFAULT_ACCOUNT": account, "CDK_DEFAULT_REGION": region, "EASEL_BINARY": w.easel}
		cfg, err := stacks.LoadConfig(stacks.ContextLookup(app), func(k string) string { return env[k] })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stacks.Build(app, cfg); err != nil {
			t.Fatal(err)
		}
		app.Synth(nil)
	}()
	readJSON(t, filepath.Join(out, stacks.MainStackName+".template.json"), &w.tpl)

	w.dep = Deployment{Region: region, Account: account, StackName: stacks.MainStackName,
		Refs: map[string]string{}, Attrs: map[string]string{}}
	var userData interface{}
	var alias string
	w.queues = map[string]map[string]interface{}{}
	for id, r := range w.tpl["Resources"].(map[string]interface{}) {
		r := r.(map[string]interface{})
		switch r["Type"] {
		case "AWS::SQS::Queue":
			// CloudFormation names a queue STACK-ID-RANDOM; Ref is its URL.
			name := stacks.MainStackName + "-" + id + "-" + randomString(12, upperDigits)
			w.dep.Refs[id] = "https://sqs." + region + ".amazonaws.com/" + account + "/" + name
			w.dep.Attrs[id+".QueueName"] = name
			w.dep.Attrs[id+".Arn"] = "arn:aws:sqs:" + region + ":" + sqstest.Account + ":" + name
			w.queues[id], _ = r["Properties"].(map[string]interface{})
			switch {
			case strings.HasPrefix(id, "JobQueue"):
				w.queue = name
			case strings.HasPrefix(id, "JobDeadLetters"):
				w.dlq = name
			}
		case "AWS::Events::EventBus":
			w.bus = r["Properties"].(map[string]interface{})["Name"].(string)
			w.dep.Refs[id] = w.bus
			w.dep.Attrs[id+".Name"] = w.bus
			w.dep.Attrs[id+".Arn"] = "arn:aws:events:" + region + ":" + account + ":event-bus/" + w.bus
		case "AWS::DynamoDB::Table":
			w.table = stacks.MainStackName + "-" + id + "-" + randomString(12, upperDigits)
			w.dep.Refs[id] = w.table
		case "AWS::S3::Bucket":
			name := strings.ToLower(stacks.MainStackName + "-" + id + "-" + randomString(12, lowerDigits))
			w.dep.Refs[id] = name
		case "AWS::S3::AccessPoint":
			// An alias is NAME-RANDOM-s3alias; S3 takes it wherever a bucket name goes.
			alias = stacks.AccessPointNamePrefix + randomString(8, lowerDigits) + "-" + randomString(32, lowerDigits) + "-s3alias"
			w.dep.Attrs[id+".Alias"] = alias
		case "AWS::SecretsManager::Secret":
			if strings.HasPrefix(id, "SigningKeySecret") {
				// The signing key Easel reads itself, from the Secrets Manager fake, as
				// the deploy-time function would have left it.
				w.signingKey = newSigningKey(t)
				w.dep.Refs[id] = w.secrets.Put(id, w.signingKey.pem)
				continue
			}
			w.dep.Refs[id] = "arn:aws:secretsmanager:" + region + ":" + account + ":secret:" + id + "-" + randomString(6, alnum)
		case "AWS::Logs::LogGroup":
			w.dep.Refs[id] = stacks.MainStackName + "-" + id + "-" + randomString(12, alnum)
		case "AWS::CloudFront::PublicKey":
			w.dep.Refs[id] = "K" + strings.ToUpper(randomString(13, lowerDigits))
			w.keyPairID = w.dep.Refs[id]
		case "AWS::CloudFront::Distribution":
			w.site = "d" + randomString(13, lowerDigits) + ".cloudfront.net"
			w.dep.Attrs[id+".DomainName"] = w.site
			w.dep.Refs[id] = "E" + strings.ToUpper(randomString(13, lowerDigits)) // its id (invalidations)
		case "AWS::AutoScaling::AutoScalingGroup":
			w.asgID = id
		case "AWS::EC2::LaunchTemplate":
			userData = r["Properties"].(map[string]interface{})["LaunchTemplateData"].(map[string]interface{})["UserData"]
		}
	}
	// The instance reaches the images through the access point: the S3 server here
	// has no access points, so it serves the alias as the bucket itself.
	w.bucket = alias
	if userData == nil || w.asgID == "" || w.bucket == "" || w.table == "" || w.queue == "" || w.dlq == "" || w.bus == "" {
		t.Fatal("the template lacks the launch template, the Auto Scaling group, the image bucket, the table, the job queues or the bus")
	}
	script, err := w.dep.Resolve(userData)
	if err != nil {
		t.Fatalf("render the user data: %v", err)
	}
	w.script = script
}

func readJSON(t *testing.T, path string, v interface{}) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// startServices starts, inside the sandbox's network, what the instance reaches on
// AWS: DynamoDB (dynalite), S3 (versitygw, virtual-hosted buckets), Bedrock (the
// wire fake, runtime and control plane), SQS and EventBridge (the wire fakes), then
// creates the table, the bucket, the queues and the bus CloudFormation would have
// created.
func (w *world) startServices(t *testing.T, tools map[string]string) {
	w.startEmulators(t, tools, s3Domain)

	w.sqs = sqstest.NewHandler(w.ak, w.sk, sqstest.WithRegion(region))
	for _, id := range w.queueOrder() {
		name := w.dep.Attrs[id+".QueueName"]
		if err := w.sqs.CreateQueue(name, w.queueAttributes(t, id)); err != nil {
			t.Fatalf("create queue %s: %v", name, err)
		}
	}
	serve(t, w.sb, sqsAddr, w.sqs)
	w.events = eventbridgetest.NewHandler(w.ak, w.sk, eventbridgetest.WithRegion(region), eventbridgetest.WithBus(w.bus))
	serve(t, w.sb, eventsAddr, w.events)
	serve(t, w.sb, secretsAddr, w.secrets)

	// A LEGACY model must not keep the instance from starting (issue 12, item 6).
	w.fake = bedrocktest.NewHandler(w.ak, w.sk, bedrocktest.WithRegion(region), bedrocktest.WithSmallImages(),
		bedrocktest.WithLifecycle(bedrock.IDSD35Large, bedrocktest.Lifecycle{Status: "LEGACY", EndOfLifeTime: time.Now().AddDate(1, 0, 0)}))
	serve(t, w.sb, bedrockAddr, w.fake)

	if _, err := w.s3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(w.bucket)}); err != nil {
		t.Fatalf("create bucket %s: %v", w.bucket, err)
	}
	// The table, as the CDK app defines it (both use dynamostore/tabledef).
	migrate := exec.Command(w.easel, "migrate", "--catalog", "dynamodb://"+w.table)
	migrate.Env = append(w.instanceEnv(), "PATH=/usr/bin:/bin", "HOME="+w.dir)
	var out bytes.Buffer
	migrate.Stdout, migrate.Stderr = &out, &out
	if err := w.sb.Start(migrate, false); err != nil {
		t.Fatal(err)
	}
	if err := migrate.Wait(); err != nil {
		t.Fatalf("easel migrate: %v\n%s", err, out.String())
	}
}

func portOf(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }

// instanceEnv is what EC2 gives every process on the instance without the boot
// script's doing: credentials (the instance profile, through IMDS) and the way to the
// AWS endpoints (DNS). It goes into systemd's DefaultEnvironment, as a real
// service would see it; the unit's own settings come from its EnvironmentFile.
func (w *world) instanceEnv() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + w.ak,
		"AWS_SECRET_ACCESS_KEY=" + w.sk,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_ENDPOINT_URL_DYNAMODB=http://" + dynamoAddr,
		"AWS_ENDPOINT_URL_S3=http://" + s3Domain + ":" + s3Port,
		"AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://" + bedrockAddr,
		"AWS_ENDPOINT_URL_BEDROCK=http://" + bedrockAddr,
		"AWS_ENDPOINT_URL_SQS=http://" + sqsAddr,
		"AWS_ENDPOINT_URL_EVENTBRIDGE=http://" + eventsAddr,
		"AWS_ENDPOINT_URL_SECRETS_MANAGER=http://" + secretsAddr,
		"AWS_REGION=" + region,
	}
}

// prepareRoot makes the scratch root look like a fresh Amazon Linux instance as far
// as the boot script can tell: a minimal /etc, the shims where AL2023 has those
// commands, the asset and the secret where the shims serve them from, and the user
// data where cloud-init puts it.
func (w *world) prepareRoot(t *testing.T, shim string) {
	sb := w.sb
	write := func(p, content string, mode os.FileMode) {
		t.Helper()
		if err := sb.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	write("/etc/passwd", "root:x:0:0:root:/root:/bin/bash\nnobody:x:65534:65534:Kernel Overflow User:/:/sbin/nologin\n", 0o644)
	write("/etc/group", "root:x:0:\nnobody:x:65534:\n", 0o644)
	write("/etc/shadow", "root:*:19000:0:99999:7:::\nnobody:*:19000:0:99999:7:::\n", 0o600)
	write("/etc/gshadow", "root:*::\nnobody:!::\n", 0o600)
	write("/etc/hosts", fmt.Sprintf("127.0.0.1 localhost %[1]s %[2]s.%[1]s\n::1 localhost\n", s3Domain, w.bucket), 0o644)
	write("/etc/resolv.conf", "", 0o644)
	write("/etc/machine-id", randomString(32, "0123456789abcdef")+"\n", 0o444)
	write("/etc/systemd/system.conf", "[Manager]\nDefaultEnvironment="+strings.Join(w.instanceEnv(), " ")+"\n", 0o644)
	for _, f := range []string{"/etc/login.defs", "/etc/nsswitch.conf", "/etc/default/useradd"} {
		if data, err := os.ReadFile(f); err == nil {
			write(f, string(data), 0o644)
		}
	}
	for _, dir := range []string{"/etc/pam.d", "/etc/security"} {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if data, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && e.Type().IsRegular() {
				write(filepath.Join(dir, e.Name()), string(data), 0o644)
			}
		}
	}

	data, err := os.ReadFile(shim)
	if err != nil {
		t.Fatal(err)
	}
	write(shimPath, string(data), 0o755)
	for _, cmd := range []string{"/usr/bin/dnf", "/usr/bin/aws", "/usr/bin/systemctl"} {
		if err := sb.Symlink(shimPath, cmd); err != nil {
			t.Fatal(err)
		}
	}
	write(stateDir+"/region", region+"\n", 0o644)
	write(stateDir+"/units/.keep", "", 0o644)

	// What `cdk deploy` publishes: each file asset at its destination bucket and key.
	var assets struct {
		Files map[string]struct {
			Source struct {
				Path string `json:"path"`
			} `json:"source"`
			Destinations map[string]struct {
				BucketName string `json:"bucketName"`
				ObjectKey  string `json:"objectKey"`
			} `json:"destinations"`
		} `json:"files"`
	}
	readJSON(t, filepath.Join(w.dir, "cdk.out", stacks.MainStackName+".assets.json"), &assets)
	published := 0
	for _, a := range assets.Files {
		for _, d := range a.Destinations {
			url := "s3://" + d.BucketName + "/" + d.ObjectKey
			if !strings.Contains(w.script, url) {
				continue
			}
			body, err := os.ReadFile(filepath.Join(w.dir, "cdk.out", a.Source.Path))
			if err != nil {
				t.Fatal(err)
			}
			write(stateDir+"/s3/"+d.BucketName+"/"+d.ObjectKey, string(body), 0o644)
			published++
		}
	}
	if published != 1 {
		t.Fatalf("%d assets are named in the user data, want the easel binary", published)
	}
	for _, ref := range w.dep.Refs {
		if strings.HasPrefix(ref, "arn:aws:secretsmanager:") {
			write(stateDir+"/secrets/"+strings.NewReplacer("/", "_", ":", "_").Replace(ref), w.secret, 0o600)
		}
	}
	write("/var/lib/cloud/instance/scripts/part-001", w.script, 0o700)
}

// boot runs the user data as cloud-init does: as root, from its file, with
// cloud-init's PATH, output to /var/log/cloud-init-output.log.
func (w *world) boot(t *testing.T) {
	logPath := w.sb.Path("/var/log/cloud-init-output.log")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command("/var/lib/cloud/instance/scripts/part-001")
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root", "LANG=C.UTF-8"}
	cmd.Stdout, cmd.Stderr = out, out
	t0 := time.Now()
	if err := w.sb.Start(cmd, true); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(bootTimeout):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		err = fmt.Errorf("the user data did not finish within %v (no readiness: the Auto Scaling group would wait for its signal, then roll back)", bootTimeout)
	}
	w.bootTime = time.Since(t0)
	w.bootLog, _ = os.ReadFile(logPath)
	if err != nil {
		t.Errorf("boot: %v\n%s", err, w.diagnostics())
		return
	}
	t.Logf("boot took %v", w.bootTime.Round(time.Millisecond))
}

// diagnostics is what to read when the boot fails: the script's output, the shim
// calls, the unit's state and Easel's log.
func (w *world) diagnostics() string {
	var b strings.Builder
	tail := func(name string, data []byte) {
		s := string(data)
		if len(s) > 4000 {
			s = "…" + s[len(s)-4000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", name, s)
	}
	tail("cloud-init-output.log", w.bootLog)
	calls, _ := w.sb.ReadFile(stateDir + "/calls.jsonl")
	tail("shim calls", calls)
	state, _ := w.sb.ReadFile(stateDir + "/units/easel.json")
	tail("easel.service state", state)
	sup, _ := w.sb.ReadFile(stateDir + "/units/easel.supervisor.log")
	tail("easel.service supervisor", sup)
	logs, _ := w.sb.ReadFile(stacks.LogFilePath)
	tail(stacks.LogFilePath, logs)
	return b.String()
}

// calls returns the shim call log.
func (w *world) calls(t *testing.T) []shimCall {
	data, err := w.sb.ReadFile(stateDir + "/calls.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	var out []shimCall
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var c shimCall
		if err := json.Unmarshal([]byte(line), &c); err != nil {
			t.Fatalf("call log line %q: %v", line, err)
		}
		out = append(out, c)
	}
	return out
}

type shimCall struct {
	Cmd  string   `json:"cmd"`
	Args []string `json:"args"`
	Exit int      `json:"exit"`
}

func (c shimCall) String() string { return c.Cmd + " " + strings.Join(c.Args, " ") }

// checkSignal: exactly one success signal, for this stack's Auto Scaling group, and
// every step of the script that only exists on EC2 ran and succeeded, in order.
func (w *world) checkSignal(t *testing.T) {
	calls := w.calls(t)
	var signals []shimCall
	var seq []string
	for _, c := range calls {
		if c.Exit != 0 {
			t.Errorf("%s exited %d", c, c.Exit)
		}
		if c.Cmd == "cfn-signal" {
			signals = append(signals, c)
		}
		seq = append(seq, c.String())
	}
	want := fmt.Sprintf("cfn-signal --stack %s --resource %s --region %s -e 0", stacks.MainStackName, w.asgID, region)
	if len(signals) != 1 || signals[0].String() != want {
		t.Errorf("cfn-signal calls %v, want one: %s", signals, want)
	}
	steps := []*regexp.Regexp{
		regexp.MustCompile(`^dnf install -y aws-cfn-bootstrap amazon-cloudwatch-agent logrotate$`),
		regexp.MustCompile(`^aws s3 cp s3://cdk-[a-z0-9]+-assets-` + account + `-` + region + `/[0-9a-f.]+ /tmp/easel --region ` + region + ` --only-show-errors$`),
		regexp.MustCompile(`^aws secretsmanager get-secret-value --region ` + region + ` --secret-id arn:aws:secretsmanager:\S+ --query SecretString --output text$`),
		regexp.MustCompile(`^amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:/opt/aws/amazon-cloudwatch-agent/etc/easel\.json$`),
		regexp.MustCompile(`^systemctl daemon-reload$`),
		regexp.MustCompile(`^systemctl enable --now easel$`),
		regexp.MustCompile(`^cfn-signal `),
	}
	i := 0
	for _, c := range seq {
		if i < len(steps) && steps[i].MatchString(c) {
			i++
		}
	}
	if i != len(steps) {
		t.Errorf("boot steps: matched %d of %d in order; missing %v\ncalls:\n%s", i, len(steps), steps[i], strings.Join(seq, "\n"))
	}
}

// checkFiles: what the script leaves on the instance, with owners and modes.
func (w *world) checkFiles(t *testing.T) {
	uid, gid := w.easelIDs(t)
	for _, f := range []struct {
		path     string
		mode     os.FileMode
		uid, gid int
	}{
		{stacks.BinaryInstallPath, 0o755, 0, 0},
		{"/etc/easel", os.ModeDir | 0o750, 0, gid},
		{stacks.EnvFilePath, 0o640, 0, gid},
		{"/usr/bin/easel", 0o755, 0, 0},
		{stacks.UnitPath, 0o644, 0, 0},
		{"/var/log/easel", os.ModeDir | 0o755, uid, gid},
		{stacks.DataDir, os.ModeDir | 0o755, uid, gid},
		{"/etc/logrotate.d/easel", 0o644, 0, 0},
	} {
		fi, err := w.sb.Stat(f.path)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode() != f.mode || int(st.Uid) != f.uid || int(st.Gid) != f.gid {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", f.path, fi.Mode(), st.Uid, st.Gid, f.mode, f.uid, f.gid)
		}
	}
	if fi, err := w.sb.Stat("/etc/systemd/system/multi-user.target.wants/easel.service"); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("easel.service is not enabled for multi-user.target: %v", err)
	}
	env, err := w.sb.ReadFile(stacks.EnvFilePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"\nEASEL_ORIGIN_SECRET=" + w.secret + "\n",
		"\nEASEL_CATALOG=dynamodb://" + w.table + "\n",
		"\nEASEL_BLOB=s3://" + w.bucket + "?prefix=" + stacks.ImagePrefix + "\n",
		"\nEASEL_PUBLIC_URL=https://" + w.site + "/" + stacks.ImagePrefix + "\n",
		"\nEASEL_QUEUE=sqs://" + w.queue + "\n",
		"\nEASEL_EVENTS=eventbridge://" + w.bus + "\n",
		fmt.Sprintf("\nEASEL_JOB_LEASE=%ds\n", int(stacks.JobLease.Seconds())),
		fmt.Sprintf("\nEASEL_JOB_MAX_ATTEMPTS=%d\n", stacks.JobMaxAttempts),
		fmt.Sprintf("\nEASEL_DRAIN_DELAY=%ds\n", int(stacks.DrainDelay.Seconds())),
	} {
		if !strings.Contains("\n"+string(env), want) {
			t.Errorf("%s lacks %q", stacks.EnvFilePath, strings.TrimSpace(strings.ReplaceAll(want, w.secret, "<secret>")))
		}
	}
	bin, err := w.sb.ReadFile(stacks.BinaryInstallPath)
	want, _ := os.ReadFile(w.easel)
	if err != nil || !bytes.Equal(bin, want) {
		t.Errorf("%s is not the asset the template ships (%v)", stacks.BinaryInstallPath, err)
	}
}

func (w *world) easelIDs(t *testing.T) (uid, gid int) {
	passwd, err := w.sb.ReadFile("/etc/passwd")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(passwd), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && f[0] == stacks.ServiceUser {
			uid, _ = strconv.Atoi(f[2])
			gid, _ = strconv.Atoi(f[3])
			if f[6] != "/sbin/nologin" || uid >= 1000 || uid == 0 {
				t.Errorf("user %s: %q, want a system user (uid < 1000) without a login shell", stacks.ServiceUser, line)
			}
			return uid, gid
		}
	}
	t.Fatalf("no user %s in /etc/passwd", stacks.ServiceUser)
	return 0, 0
}

// unitState reads the emulated systemd's state of easel.service.
func (w *world) unitState(t *testing.T) map[string]interface{} {
	data, err := w.sb.ReadFile(stateDir + "/units/easel.json")
	if err != nil {
		t.Fatal(err)
	}
	var st map[string]interface{}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// checkUnit: Easel runs as the unit says, started once, and the LEGACY model only
// warned.
func (w *world) checkUnit(t *testing.T) {
	st := w.unitState(t)
	if st["state"] != "active" || st["starts"] != float64(1) {
		t.Errorf("easel.service: state %v after %v starts, want active after 1 (a restart means Easel exited)", st["state"], st["starts"])
	}
	pid := int(st["main_pid"].(float64))
	uid, gid := w.easelIDs(t)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("main process %d: %v", pid, err)
	}
	for _, want := range []string{
		fmt.Sprintf("\nUid:\t%d\t%d\t%d\t%d\n", uid, uid, uid, uid),
		fmt.Sprintf("\nGid:\t%d\t%d\t%d\t%d\n", gid, gid, gid, gid),
		"\nNoNewPrivs:\t1\n",
	} {
		if !strings.Contains(string(status), want) {
			t.Errorf("main process status lacks %q", strings.TrimSpace(want))
		}
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if !strings.HasSuffix(exe, stacks.BinaryInstallPath) {
		t.Errorf("main process runs %s, want %s", exe, stacks.BinaryInstallPath)
	}
	mountinfo, _ := os.ReadFile(fmt.Sprintf("/proc/%d/mountinfo", pid))
	if !regexp.MustCompile(`(?m)^\S+ \S+ \S+ \S+ / ro[, ]`).Match(mountinfo) {
		t.Errorf("ProtectSystem=strict: the main process's root is not read-only:\n%s", mountinfo)
	}
	logs, _ := w.sb.ReadFile(stacks.LogFilePath)
	if !bytes.Contains(logs, []byte("LEGACY")) || !bytes.Contains(logs, []byte(bedrock.IDSD35Large)) {
		t.Errorf("no LEGACY warning for %s in %s:\n%s", bedrock.IDSD35Large, stacks.LogFilePath, logs)
	}
	if w.fake.Lookups(bedrock.IDStableImageCore) == 0 || w.fake.Lookups(bedrock.IDSD35Large) == 0 {
		t.Error("the start-up model check did not ask the control plane about both models")
	}
}

// client reaches Easel inside the sandbox: from loopback (the instance itself) or
// from remoteIP (as the ALB would).
func (w *world) client(from string) *http.Client {
	dial := w.sb.DialContext
	if from != "" {
		dial = w.sb.DialFrom(from)
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

func (w *world) get(t *testing.T, from, url string, header map[string]string) int {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := w.client(from).Do(req)
	if err != nil {
		t.Fatalf("GET %s from %q: %v", url, from, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// checkOrigin: the origin secret guards everything but the health check and the
// instance's own readiness check, end to end.
func (w *world) checkOrigin(t *testing.T) {
	local := fmt.Sprintf("http://127.0.0.1:%d", stacks.AppPort)
	remote := fmt.Sprintf("http://%s:%d", remoteIP, stacks.AppPort)
	secret := map[string]string{stacks.OriginHeader: w.secret}
	for _, c := range []struct {
		from, url string
		header    map[string]string
		want      int
	}{
		{"", local + "/readyz", nil, 200},
		{remoteIP, remote + "/healthz", nil, 200},
		{remoteIP, remote + "/readyz", nil, 403},
		{remoteIP, remote + "/readyz", map[string]string{stacks.OriginHeader: "wrong"}, 403},
		{remoteIP, remote + "/readyz", secret, 200},
		// The ALB's health checker: a private peer without X-Forwarded-For.
		{albCheckIP, remote + "/readyz", nil, 200},
		{albCheckIP, remote + "/readyz", map[string]string{"X-Forwarded-For": "203.0.113.9"}, 403},
		{albCheckIP, remote + "/v1/models", nil, 403},
		{remoteIP, remote + "/v1/models", nil, 403},
		{remoteIP, remote + "/v1/models", secret, 401},
		{"", local + "/v1/models", nil, 403},
	} {
		if got := w.get(t, c.from, c.url, c.header); got != c.want {
			t.Errorf("GET %s from %q (origin header %v) = %d, want %d", c.url, c.from, c.header != nil, got, c.want)
		}
	}
}

// checkGenerate: an operator creates a key with the documented admin wrapper, and a
// generation through "the ALB" stores its image in the bucket the stack named.
func (w *world) checkGenerate(t *testing.T) {
	key := w.createKey(t)
	status, body := w.generate(t, key, "a lighthouse on a cliff at dusk, the boot test")
	if status != http.StatusCreated {
		t.Fatalf("POST /v1/images = %d: %s", status, body)
	}
	var res struct {
		Images []struct {
			URL string `json:"url"`
		} `json:"images"`
	}
	if err := json.Unmarshal(body, &res); err != nil || len(res.Images) != 1 {
		t.Fatalf("POST /v1/images answer %s: %v", body, err)
	}
	prefix := "https://" + w.site + "/" + stacks.ImagePrefix
	objKey, ok := strings.CutPrefix(res.Images[0].URL, prefix)
	if !ok {
		t.Fatalf("image URL %s, want one under %s", res.Images[0].URL, prefix)
	}
	if _, err := w.s3.HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String(w.bucket), Key: aws.String(stacks.ImagePrefix + objKey),
	}); err != nil {
		t.Errorf("the image is not in bucket %s under %s%s: %v", w.bucket, stacks.ImagePrefix, objKey, err)
	}
	w.key = key
	w.checkJobEvent(t)
}

// checkJobEvent: the generation ran as a job through the queue the stack named (now
// empty), and its terminal event reached the bus the stack named, as the rule expects.
func (w *world) checkJobEvent(t *testing.T) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		var got []eventbridgetest.Event
		for _, e := range w.events.Events() {
			if e.Bus == w.bus && e.Source == stacks.EventSource && e.DetailType == stacks.JobEventTypes()[0] {
				got = append(got, e)
			}
		}
		stats := w.sqs.Stats(w.queue)
		if len(got) == 1 && stats == (sqstest.QueueStats{}) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("after the generation: %d %q events from %q on bus %s (of %d), queue %s holds %+v; want 1 and an empty queue",
				len(got), stacks.JobEventTypes()[0], stacks.EventSource, w.bus, len(w.events.Events()), w.queue, stats)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if dead := w.sqs.Stats(w.dlq); dead != (sqstest.QueueStats{}) {
		t.Errorf("dead-letter queue %s holds %+v", w.dlq, dead)
	}
}

// queueOrder lists the template's queues, dead-letter queues first (a redrive policy
// names an existing queue).
func (w *world) queueOrder() []string {
	var first, then []string
	for id, p := range w.queues {
		if p["RedrivePolicy"] == nil {
			first = append(first, id)
		} else {
			then = append(then, id)
		}
	}
	return append(first, then...)
}

// queueAttributes turns a queue's template properties into CreateQueue attributes, as
// CloudFormation does; a property this test does not know fails it.
func (w *world) queueAttributes(t *testing.T, id string) map[string]string {
	attrs := map[string]string{}
	for k, v := range w.queues[id] {
		switch k {
		case "MessageRetentionPeriod", "VisibilityTimeout", "ReceiveMessageWaitTimeSeconds", "SqsManagedSseEnabled":
			if f, ok := v.(float64); ok {
				attrs[k] = strconv.FormatFloat(f, 'f', -1, 64) // not 1.2096e+06
			} else {
				attrs[k] = fmt.Sprint(v)
			}
		case "RedrivePolicy":
			p := v.(map[string]interface{})
			target, err := w.dep.Resolve(p["deadLetterTargetArn"])
			if err != nil {
				t.Fatalf("%s RedrivePolicy: %v", id, err)
			}
			data, _ := json.Marshal(map[string]interface{}{"deadLetterTargetArn": target, "maxReceiveCount": p["maxReceiveCount"]})
			attrs[k] = string(data)
		default:
			t.Fatalf("queue %s: property %s is new to the boot test; add it to queueAttributes", id, k)
		}
	}
	return attrs
}

// createKey runs `easel keys create` through /usr/bin/easel, the wrapper an operator
// uses over SSM (as root: sudo easel ...).
func (w *world) createKey(t *testing.T) string {
	cmd := exec.Command("/usr/bin/easel", "keys", "create", "--user", "boot-test")
	cmd.Env = append(w.instanceEnv(), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin", "HOME=/root")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := w.sb.Start(cmd, true); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("/usr/bin/easel keys create: %v\n%s", err, stderr.String())
	}
	key := strings.TrimSpace(stdout.String())
	if key == "" || strings.ContainsAny(key, " \n") {
		t.Fatalf("keys create printed %q, want one key", stdout.String())
	}
	return key
}

func (w *world) generate(t *testing.T, key, prompt string) (int, []byte) {
	body := fmt.Sprintf(`{"prompt":%q}`, prompt)
	req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("http://%s:%d/v1/images", remoteIP, stacks.AppPort), strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set(stacks.OriginHeader, w.secret)
	resp, err := w.client(remoteIP).Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// checkStop: `systemctl stop easel` (SIGTERM, as at scale-in or instance refresh)
// lets a generation in flight finish, and Easel exits 0 within TimeoutStopSec.
func (w *world) checkStop(t *testing.T) {
	if w.key == "" {
		t.Skip("no API key: generate failed")
	}
	const prompt = "a slow lighthouse, drained on stop"
	delay := 3 * time.Second
	w.fake.SetFault(bedrocktest.Fault{Prompt: "slow lighthouse", Delay: delay})
	before := w.fake.Calls(bedrock.IDStableImageCore)
	type result struct {
		status int
		body   []byte
	}
	inflight := make(chan result, 1)
	go func() {
		s, b := w.generate(t, w.key, prompt)
		inflight <- result{s, b}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for w.fake.Calls(bedrock.IDStableImageCore) == before {
		if time.Now().After(deadline) {
			t.Fatal("the slow generation never reached the model")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd := exec.Command("/usr/bin/systemctl", "stop", "easel")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin"}
	t0 := time.Now()
	if err := w.sb.Start(cmd, true); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("systemctl stop easel: %v", err)
	}
	took := time.Since(t0)
	select {
	case r := <-inflight:
		if r.status != http.StatusCreated {
			t.Errorf("the generation in flight at SIGTERM got %d: %s", r.status, r.body)
		}
	case <-time.After(time.Minute):
		t.Error("the generation in flight never finished")
	}
	st := w.unitState(t)
	stop, _ := st["stop"].(map[string]interface{})
	if stop == nil || stop["result"] != "success" || stop["exit_code"] != float64(0) || stop["killed"] != false {
		t.Errorf("stop: %v, want result success with exit code 0, not killed\n%s", stop, w.diagnostics())
	}
	if took >= stacks.StopTimeout {
		t.Errorf("systemctl stop took %v, the unit allows %v", took, stacks.StopTimeout)
	}
	if took < delay/2 {
		t.Errorf("systemctl stop took %v: it did not wait for the generation in flight", took)
	}
	t.Logf("stop took %v (TimeoutStopSec %v)", took.Round(time.Millisecond), stacks.StopTimeout)
	if state := st["state"]; state != "inactive" {
		t.Errorf("easel.service is %v after stop, want inactive", state)
	}
}

// checkNoSecretLeak: the origin secret is in the environment file only, never in
// the boot output, the shim calls or Easel's log.
func (w *world) checkNoSecretLeak(t *testing.T) {
	for _, p := range []string{"/var/log/cloud-init-output.log", stateDir + "/calls.jsonl", stacks.LogFilePath} {
		data, err := w.sb.ReadFile(p)
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if bytes.Contains(data, []byte(w.secret)) {
			t.Errorf("%s contains the origin secret", p)
		}
		if w.signingKey != nil && bytes.Contains(data, []byte(strings.Split(w.signingKey.pem, "\n")[2])) {
			t.Errorf("%s contains the signing key", p)
		}
	}
}

const (
	lowerDigits = "abcdefghijklmnopqrstuvwxyz0123456789"
	upperDigits = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	alnum       = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
)

func randomString(n int, alphabet string) string {
	b := make([]byte, n)
	for i := range b {
		v, _ := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		b[i] = alphabet[v.Int64()]
	}
	return string(b)
}
