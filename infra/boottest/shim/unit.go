package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// UnitDir is where units live (the only place the boot script writes them).
const UnitDir = "/etc/systemd/system"

// Unit is the part of a systemd service unit this shim emulates. Any other directive
// is an error, so that a unit the emulation would silently misread fails the test.
type Unit struct {
	Name             string
	Type             string
	User, Group      string
	ExecStart        []string
	EnvironmentFiles []string
	Environment      []string
	WorkingDirectory string
	StateDirectory   []string
	Restart          string
	RestartSec       time.Duration
	KillSignal       syscall.Signal
	TimeoutStopSec   time.Duration
	StandardOutput   string
	StandardError    string
	NoNewPrivileges  bool
	PrivateTmp       bool
	ProtectSystem    string
	ProtectHome      string
	LimitNOFILE      uint64
	WantedBy         []string
}

// ignored directives change nothing a single-unit boot can observe (ordering and
// documentation).
var ignored = map[string]bool{
	"Unit.Description": true, "Unit.Wants": true, "Unit.After": true, "Unit.Before": true, "Unit.Requires": true,
	"Unit.Documentation": true,
}

// LoadUnit reads UnitDir/NAME.service.
func LoadUnit(name string) (*Unit, error) {
	name = strings.TrimSuffix(name, ".service")
	f, err := os.Open(filepath.Join(UnitDir, name+".service"))
	if err != nil {
		return nil, fmt.Errorf("Unit %s.service not found.", name)
	}
	defer f.Close()
	u := &Unit{Name: name, Type: "simple", Restart: "no", RestartSec: 100 * time.Millisecond,
		KillSignal: syscall.SIGTERM, TimeoutStopSec: 90 * time.Second, StandardOutput: "inherit", StandardError: "inherit",
		ProtectSystem: "no", ProtectHome: "no"}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = line[1 : len(line)-1]
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			return nil, fmt.Errorf("%s.service:%d: not KEY=VALUE: %q", name, n, line)
		}
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if err := u.set(section, key, val); err != nil {
			return nil, fmt.Errorf("%s.service:%d: [%s] %s=: %w", name, n, section, key, err)
		}
	}
	if len(u.ExecStart) == 0 {
		return nil, fmt.Errorf("%s.service: no ExecStart", name)
	}
	return u, sc.Err()
}

func (u *Unit) set(section, key, val string) error {
	if ignored[section+"."+key] {
		return nil
	}
	var err error
	switch section + "." + key {
	case "Service.Type":
		if val != "simple" && val != "exec" {
			return fmt.Errorf("only simple and exec are emulated")
		}
		u.Type = val
	case "Service.User":
		u.User = val
	case "Service.Group":
		u.Group = val
	case "Service.ExecStart":
		if strings.ContainsAny(val[:1], "@-:+!") {
			return fmt.Errorf("prefixes are not emulated")
		}
		if strings.ContainsAny(val, `"'\$%`) {
			return fmt.Errorf("quoting, escapes and specifiers are not emulated")
		}
		u.ExecStart = strings.Fields(val)
		if !filepath.IsAbs(u.ExecStart[0]) {
			return fmt.Errorf("want an absolute path")
		}
	case "Service.EnvironmentFile":
		u.EnvironmentFiles = append(u.EnvironmentFiles, val)
	case "Service.Environment":
		u.Environment = append(u.Environment, strings.Fields(val)...)
	case "Service.WorkingDirectory":
		u.WorkingDirectory = val
	case "Service.StateDirectory":
		u.StateDirectory = append(u.StateDirectory, strings.Fields(val)...)
	case "Service.Restart":
		if val != "no" && val != "always" && val != "on-failure" {
			return fmt.Errorf("only no, always and on-failure are emulated")
		}
		u.Restart = val
	case "Service.RestartSec":
		u.RestartSec, err = seconds(val)
	case "Service.TimeoutStopSec":
		u.TimeoutStopSec, err = seconds(val)
	case "Service.KillSignal":
		sig, ok := signals[strings.TrimPrefix(val, "SIG")]
		if !ok {
			return fmt.Errorf("unknown signal")
		}
		u.KillSignal = sig
	case "Service.StandardOutput":
		u.StandardOutput, err = output(val)
	case "Service.StandardError":
		u.StandardError, err = output(val)
	case "Service.NoNewPrivileges":
		u.NoNewPrivileges, err = boolean(val)
	case "Service.PrivateTmp":
		u.PrivateTmp, err = boolean(val)
	case "Service.ProtectSystem":
		if val != "strict" && val != "no" && val != "false" {
			return fmt.Errorf("only strict and no are emulated")
		}
		u.ProtectSystem = val
	case "Service.ProtectHome":
		if val != "true" && val != "yes" && val != "no" && val != "false" {
			return fmt.Errorf("only true and no are emulated")
		}
		u.ProtectHome = val
	case "Service.LimitNOFILE":
		u.LimitNOFILE, err = strconv.ParseUint(val, 10, 64)
	case "Install.WantedBy":
		u.WantedBy = append(u.WantedBy, strings.Fields(val)...)
	default:
		return fmt.Errorf("not emulated by the boot test's systemctl (add it to infra/boottest/shim)")
	}
	return err
}

var signals = map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL,
	"HUP": syscall.SIGHUP, "QUIT": syscall.SIGQUIT}

func seconds(v string) (time.Duration, error) {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		return time.Duration(n * float64(time.Second)), nil
	}
	return time.ParseDuration(v)
}

func boolean(v string) (bool, error) {
	switch v {
	case "true", "yes", "1", "on":
		return true, nil
	case "false", "no", "0", "off":
		return false, nil
	}
	return false, fmt.Errorf("not a boolean")
}

func output(v string) (string, error) {
	if v == "inherit" || v == "null" || strings.HasPrefix(v, "append:/") || strings.HasPrefix(v, "file:/") {
		return v, nil
	}
	return "", fmt.Errorf("only inherit, null, file: and append: are emulated")
}

// Env returns the unit's environment the way systemd builds it: the manager's
// DefaultEnvironment (/etc/systemd/system.conf), the variables systemd sets for a
// User= service, Environment=, then each EnvironmentFile (a leading "-" allows it to
// be missing), later assignments winning.
func (u *Unit) Env(home, shell string) ([]string, error) {
	env := map[string]string{"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin"}
	var order []string
	setKV := func(kv string) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return
		}
		if _, seen := env[k]; !seen {
			order = append(order, k)
		}
		env[k] = v
	}
	order = append(order, "PATH")
	if data, err := os.ReadFile("/etc/systemd/system.conf"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(line), "DefaultEnvironment="); ok {
				for _, kv := range strings.Fields(v) {
					setKV(kv)
				}
			}
		}
	}
	if u.User != "" {
		setKV("USER=" + u.User)
		setKV("LOGNAME=" + u.User)
		setKV("HOME=" + home)
		setKV("SHELL=" + shell)
	}
	if len(u.StateDirectory) > 0 {
		setKV("STATE_DIRECTORY=/var/lib/" + strings.Join(u.StateDirectory, ":/var/lib/"))
	}
	for _, kv := range u.Environment {
		setKV(kv)
	}
	for _, path := range u.EnvironmentFiles {
		optional := strings.HasPrefix(path, "-")
		data, err := os.ReadFile(strings.TrimPrefix(path, "-"))
		if err != nil {
			if optional {
				continue
			}
			return nil, fmt.Errorf("Failed to load environment files: %w", err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || line[0] == '#' || line[0] == ';' {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			v = strings.TrimSpace(v)
			if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
				v = v[1 : len(v)-1]
			}
			setKV(strings.TrimSpace(k) + "=" + v)
		}
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}
