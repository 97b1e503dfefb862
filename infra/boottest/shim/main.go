// Command shim stands in, inside the boot test's scratch root, for what exists only on
// an EC2 instance running Amazon Linux 2023: dnf, the AWS CLI (aws s3 cp, aws
// secretsmanager get-secret-value), systemctl (with a small service manager that runs
// a unit's ExecStart under its User, EnvironmentFile and sandboxing), cfn-signal and
// the CloudWatch agent's control script. One binary answers to each name (argv[0]).
// Every call is appended to the call log as a JSON line, so the test can check what
// the boot script did. It is a test fake: it touches only the scratch root.
//
// Its state lives under StateDir: calls.jsonl (the call log), s3/BUCKET/KEY (objects
// "aws s3 cp" can fetch), secrets/NAME (secrets by escaped id), units/NAME.json (a
// service's state: main PID, exits, the result of its last stop).
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// StateDir is the shim's own directory in the scratch root.
const StateDir = "/var/lib/boottest"

// Call is one line of the call log.
type Call struct {
	Cmd  string    `json:"cmd"`
	Args []string  `json:"args"`
	Exit int       `json:"exit"`
	UID  int       `json:"uid"`
	Time time.Time `json:"time"`
}

func main() {
	name := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if name == "shim" && len(args) > 0 {
		name, args = args[0], args[1:]
	}
	var code int
	switch name {
	case "dnf":
		code = dnf(args)
	case "aws":
		code = awsCLI(args)
	case "systemctl":
		code = systemctl(args)
	case "cfn-signal":
		code = cfnSignal(args)
	case "amazon-cloudwatch-agent-ctl":
		code = agentCtl(args)
	case "supervise": // internal: systemctl start runs it, detached
		os.Exit(supervise(args))
	case "exec-unit": // internal: the supervisor runs it in a new mount namespace
		os.Exit(execUnit(args))
	default:
		fmt.Fprintf(os.Stderr, "boot test shim: %s is not emulated\n", name)
		code = 127
	}
	record(name, args, code)
	os.Exit(code)
}

// record appends a call to the call log (one small O_APPEND write per call).
func record(name string, args []string, code int) {
	line, _ := json.Marshal(Call{Cmd: name, Args: args, Exit: code, UID: os.Getuid(), Time: time.Now()})
	f, err := os.OpenFile(filepath.Join(StateDir, "calls.jsonl"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		fmt.Fprintln(os.Stderr, "boot test shim: call log:", err)
		return
	}
	defer f.Close()
	_, _ = f.Write(append(line, '\n'))
}

func fail(code int, format string, a ...any) int {
	fmt.Fprintf(os.Stderr, format+"\n", a...)
	return code
}

// packages maps each package the shim can "install" to the commands it provides (all
// links to the shim) and the directories it creates.
var packages = map[string]struct{ commands, dirs []string }{
	"aws-cfn-bootstrap":       {commands: []string{"/opt/aws/bin/cfn-signal"}},
	"amazon-cloudwatch-agent": {commands: []string{"/opt/aws/amazon-cloudwatch-agent/bin/amazon-cloudwatch-agent-ctl"}, dirs: []string{"/opt/aws/amazon-cloudwatch-agent/etc"}},
	"logrotate":               {dirs: []string{"/etc/logrotate.d"}},
}

// dnf emulates "dnf install -y PACKAGE...".
func dnf(args []string) int {
	if len(args) == 0 || args[0] != "install" {
		return fail(1, "dnf shim: only install is emulated")
	}
	var names []string
	yes := false
	for _, a := range args[1:] {
		switch {
		case a == "-y" || a == "--assumeyes":
			yes = true
		case strings.HasPrefix(a, "-"):
			return fail(1, "dnf shim: option %s is not emulated", a)
		default:
			names = append(names, a)
		}
	}
	if !yes {
		return fail(1, "Error: This command has to be run with superuser privileges and -y in a script (no terminal to confirm).")
	}
	self, err := os.Executable()
	if err != nil {
		return fail(1, "dnf shim: %v", err)
	}
	for _, n := range names {
		p, ok := packages[n]
		if !ok {
			return fail(1, "Error: Unable to find a match: %s", n)
		}
		for _, d := range p.dirs {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return fail(1, "dnf shim: %v", err)
			}
		}
		for _, c := range p.commands {
			if err := os.MkdirAll(filepath.Dir(c), 0o755); err != nil {
				return fail(1, "dnf shim: %v", err)
			}
			_ = os.Remove(c)
			if err := os.Symlink(self, c); err != nil {
				return fail(1, "dnf shim: %v", err)
			}
		}
	}
	fmt.Printf("Installed: %s\nComplete!\n", strings.Join(names, " "))
	return 0
}

// awsCLI emulates the two AWS CLI calls an instance's boot script may make.
func awsCLI(args []string) int {
	opts, pos := parseOpts(args, map[string]bool{"--only-show-errors": true, "--no-cli-pager": true})
	if region := opts["--region"]; region != "" {
		if want, _ := os.ReadFile(filepath.Join(StateDir, "region")); strings.TrimSpace(string(want)) != region {
			return fail(255, "aws shim: --region %s, but the instance is in %s", region, strings.TrimSpace(string(want)))
		}
	}
	switch {
	case len(pos) == 4 && pos[0] == "s3" && pos[1] == "cp":
		src, dst := pos[2], pos[3]
		rest, ok := strings.CutPrefix(src, "s3://")
		if !ok || strings.HasPrefix(dst, "s3://") {
			return fail(252, "aws shim: only s3 cp s3://BUCKET/KEY LOCALFILE is emulated")
		}
		bucket, key, _ := strings.Cut(rest, "/")
		data, err := os.ReadFile(filepath.Join(StateDir, "s3", bucket, filepath.FromSlash(key)))
		if err != nil {
			return fail(1, "fatal error: An error occurred (404) when calling the HeadObject operation: Key %q does not exist", key)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			return fail(1, "download failed: %s to %s %v", src, dst, err)
		}
		if opts["--only-show-errors"] == "" {
			fmt.Printf("download: %s to %s\n", src, dst)
		}
		return 0
	case len(pos) == 2 && pos[0] == "secretsmanager" && pos[1] == "get-secret-value":
		id := opts["--secret-id"]
		if opts["--query"] != "SecretString" || opts["--output"] != "text" {
			return fail(252, "aws shim: get-secret-value is emulated with --query SecretString --output text only")
		}
		data, err := os.ReadFile(filepath.Join(StateDir, "secrets", SecretFile(id)))
		if err != nil {
			return fail(254, "An error occurred (ResourceNotFoundException) when calling the GetSecretValue operation: "+
				"Secrets Manager can't find the specified secret.")
		}
		fmt.Println(string(data))
		return 0
	}
	return fail(252, "aws shim: %v is not emulated", args)
}

// SecretFile is the file name under StateDir/secrets of a secret id (an ARN).
func SecretFile(id string) string {
	return strings.NewReplacer("/", "_", ":", "_").Replace(id)
}

// parseOpts splits "--name value" options (flags named in bare take no value) from
// positional arguments.
func parseOpts(args []string, bare map[string]bool) (map[string]string, []string) {
	opts := map[string]string{}
	var pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case bare[a]:
			opts[a] = "true"
		case strings.HasPrefix(a, "-") && i+1 < len(args):
			opts[a] = args[i+1]
			i++
		default:
			pos = append(pos, a)
		}
	}
	return opts, pos
}

// cfnSignal emulates /opt/aws/bin/cfn-signal: the call log is the signal.
func cfnSignal(args []string) int {
	opts, _ := parseOpts(args, nil)
	if opts["--stack"] == "" || opts["--resource"] == "" || opts["--region"] == "" {
		return fail(1, "cfn-signal shim: --stack, --resource and --region are required")
	}
	if opts["-e"] == "" && opts["--exit-code"] == "" {
		return fail(1, "cfn-signal shim: no -e/--exit-code")
	}
	return 0
}

// agentCtl emulates amazon-cloudwatch-agent-ctl -a fetch-config -m ec2 -s -c file:PATH:
// it checks that the configuration parses and names the files it would ship.
func agentCtl(args []string) int {
	opts, _ := parseOpts(args, map[string]bool{"-s": true})
	if opts["-a"] != "fetch-config" || opts["-m"] != "ec2" || opts["-s"] == "" {
		return fail(1, "agent shim: want -a fetch-config -m ec2 -s -c file:PATH")
	}
	path, ok := strings.CutPrefix(opts["-c"], "file:")
	if !ok {
		return fail(1, "agent shim: -c must be file:PATH")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fail(1, "agent shim: %v", err)
	}
	var cfg struct {
		Logs struct {
			LogsCollected struct {
				Files struct {
					CollectList []struct {
						FilePath     string `json:"file_path"`
						LogGroupName string `json:"log_group_name"`
					} `json:"collect_list"`
				} `json:"files"`
			} `json:"logs_collected"`
		} `json:"logs"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		return fail(1, "agent shim: %s: %v", path, err)
	}
	list := cfg.Logs.LogsCollected.Files.CollectList
	if len(list) == 0 {
		return fail(1, "agent shim: %s ships no files", path)
	}
	for _, f := range list {
		if !filepath.IsAbs(f.FilePath) || f.LogGroupName == "" {
			return fail(1, "agent shim: %s: entry %+v needs an absolute file_path and a log_group_name", path, f)
		}
	}
	return 0
}
