package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// State is a service's state file, StateDir/units/NAME.json.
type State struct {
	State      string `json:"state"` // activating, active, deactivating, inactive, failed
	Supervisor int    `json:"supervisor"`
	MainPID    int    `json:"main_pid"`
	Starts     int    `json:"starts"`
	Exits      []Exit `json:"exits"`
	Stop       *Stop  `json:"stop,omitempty"`
	Error      string `json:"error,omitempty"`
}

// Exit is one end of the service's main process.
type Exit struct {
	PID    int       `json:"pid"`
	Code   int       `json:"code"`             // exit status; -1 when killed by a signal
	Signal string    `json:"signal,omitempty"` // the signal that killed it
	Time   time.Time `json:"time"`
}

// Stop is the outcome of "systemctl stop": how long the main process took to exit
// after KillSignal, and whether it had to be killed when TimeoutStopSec ran out.
type Stop struct {
	Signal   string  `json:"signal"`
	Seconds  float64 `json:"seconds"`
	Timeout  float64 `json:"timeout_seconds"`
	Killed   bool    `json:"killed"` // SIGKILL after TimeoutStopSec
	ExitCode int     `json:"exit_code"`
	ExitSig  string  `json:"exit_signal,omitempty"`
	Result   string  `json:"result"` // success, exit-code, signal, timeout (systemd's names)
}

func statePath(name string) string { return filepath.Join(StateDir, "units", name+".json") }

// LoadState reads a service's state (zero State when it never ran).
func LoadState(name string) State {
	var st State
	data, err := os.ReadFile(statePath(name))
	if err == nil {
		_ = json.Unmarshal(data, &st)
	}
	return st
}

func saveState(name string, st State) {
	data, _ := json.MarshalIndent(st, "", "  ")
	tmp := statePath(name) + ".tmp"
	_ = os.MkdirAll(filepath.Dir(tmp), 0o755)
	if os.WriteFile(tmp, data, 0o644) == nil {
		_ = os.Rename(tmp, statePath(name))
	}
}

func alive(pid int) bool {
	if pid <= 0 {
		return false
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) S ...": a zombie (Z) has exited.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] != 'Z'
}

// systemctl emulates daemon-reload, enable [--now], start, stop, is-active, status.
func systemctl(args []string) int {
	var now bool
	var pos []string
	for _, a := range args {
		switch {
		case a == "--now":
			now = true
		case a == "--no-block" || a == "--quiet" || a == "-q":
		case strings.HasPrefix(a, "-"):
			return fail(1, "systemctl shim: option %s is not emulated", a)
		default:
			pos = append(pos, a)
		}
	}
	if len(pos) == 0 {
		return fail(1, "systemctl shim: no command")
	}
	cmd, names := pos[0], pos[1:]
	switch cmd {
	case "daemon-reload":
		units, _ := filepath.Glob(filepath.Join(UnitDir, "*.service"))
		for _, p := range units {
			if _, err := LoadUnit(filepath.Base(p)); err != nil {
				return fail(1, "systemd: %v", err)
			}
		}
		return 0
	case "enable":
		for _, n := range names {
			u, err := LoadUnit(n)
			if err != nil {
				return fail(1, "Failed to enable unit: %v", err)
			}
			for _, target := range u.WantedBy {
				link := filepath.Join(UnitDir, target+".wants", u.Name+".service")
				_ = os.MkdirAll(filepath.Dir(link), 0o755)
				_ = os.Remove(link)
				if err := os.Symlink(filepath.Join(UnitDir, u.Name+".service"), link); err != nil {
					return fail(1, "Failed to enable unit: %v", err)
				}
				fmt.Fprintf(os.Stderr, "Created symlink %s → %s.\n", link, filepath.Join(UnitDir, u.Name+".service"))
			}
			if now {
				if code := start(u); code != 0 {
					return code
				}
			}
		}
		return 0
	case "start", "restart":
		for _, n := range names {
			u, err := LoadUnit(n)
			if err != nil {
				return fail(5, "Failed to start %s: %v", n, err)
			}
			if cmd == "restart" {
				stop(u)
			}
			if code := start(u); code != 0 {
				return code
			}
		}
		return 0
	case "stop":
		for _, n := range names {
			u, err := LoadUnit(n)
			if err != nil {
				return fail(5, "Failed to stop %s: %v", n, err)
			}
			stop(u)
		}
		return 0
	case "is-active", "status":
		code := 0
		for _, n := range names {
			st := LoadState(strings.TrimSuffix(n, ".service"))
			state := st.State
			if state == "" || !alive(st.Supervisor) && state != "failed" {
				state = "inactive"
			}
			if cmd == "status" {
				data, _ := json.MarshalIndent(st, "", "  ")
				fmt.Printf("%s.service: %s\n%s\n", n, state, data)
			} else {
				fmt.Println(state)
			}
			if state != "active" {
				code = 3
			}
		}
		return code
	}
	return fail(1, "systemctl shim: %s is not emulated", cmd)
}

// start runs the supervisor for u, detached like a service under PID 1, and waits
// until the main process exists (systemd's start returns then for Type=simple).
func start(u *Unit) int {
	if st := LoadState(u.Name); alive(st.Supervisor) {
		return 0
	}
	self, err := os.Executable()
	if err != nil {
		return fail(1, "systemctl shim: %v", err)
	}
	logf, err := os.OpenFile(filepath.Join(StateDir, "units", u.Name+".supervisor.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fail(1, "systemctl shim: %v", err)
	}
	defer logf.Close()
	saveState(u.Name, State{State: "activating"})
	cmd := exec.Command(self, "supervise", u.Name)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = []string{} // systemd's services start from a clean environment
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return fail(1, "Failed to start %s.service: %v", u.Name, err)
	}
	_ = cmd.Process.Release()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		st := LoadState(u.Name)
		switch {
		case st.State == "active" && st.MainPID > 0:
			return 0
		case st.State == "failed":
			return fail(1, "Job for %s.service failed: %s", u.Name, st.Error)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fail(1, "Job for %s.service timed out.", u.Name)
}

// stop asks the supervisor to stop the service and waits until it has: the main
// process got KillSignal and exited, or TimeoutStopSec ran out and it was killed.
func stop(u *Unit) {
	st := LoadState(u.Name)
	if !alive(st.Supervisor) {
		return
	}
	_ = syscall.Kill(st.Supervisor, syscall.SIGTERM)
	deadline := time.Now().Add(u.TimeoutStopSec + 10*time.Second)
	for alive(st.Supervisor) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

// supervise is the service manager for one unit: it runs the main process (through
// exec-unit, in its own mount namespace), restarts it per Restart=, and on SIGTERM
// stops it with KillSignal, killing it after TimeoutStopSec.
func supervise(args []string) int {
	if len(args) != 1 {
		return 2
	}
	stopReq := make(chan os.Signal, 1)
	signal.Notify(stopReq, syscall.SIGTERM)
	st := State{State: "activating", Supervisor: os.Getpid()}
	u, err := LoadUnit(args[0])
	failed := func(err error) int {
		st.State, st.Error = "failed", err.Error()
		saveState(args[0], st)
		return 1
	}
	if err != nil {
		return failed(err)
	}
	saveState(u.Name, st)
	uid, gid, err := lookupIDs(u)
	if err != nil {
		return failed(err)
	}
	for _, d := range u.StateDirectory {
		p := filepath.Join("/var/lib", d)
		if err := os.MkdirAll(p, 0o755); err != nil {
			return failed(err)
		}
		if err := os.Chown(p, uid, gid); err != nil {
			return failed(err)
		}
	}
	stdout, err := openOutput(u.StandardOutput)
	if err != nil {
		return failed(err)
	}
	stderr, err := openOutput(u.StandardError)
	if err != nil {
		return failed(err)
	}
	self, err := os.Executable()
	if err != nil {
		return failed(err)
	}
	for {
		cmd := exec.Command(self, "exec-unit", u.Name)
		cmd.Stdout, cmd.Stderr = stdout, stderr
		cmd.Env = []string{}
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS}
		if err := cmd.Start(); err != nil {
			return failed(err)
		}
		st.MainPID, st.Starts, st.State = cmd.Process.Pid, st.Starts+1, "active"
		saveState(u.Name, st)
		done := make(chan *os.ProcessState, 1)
		go func() { _ = cmd.Wait(); done <- cmd.ProcessState }()
		select {
		case <-stopReq:
			st.State = "deactivating"
			saveState(u.Name, st)
			t0 := time.Now()
			_ = syscall.Kill(cmd.Process.Pid, u.KillSignal)
			stopInfo := &Stop{Signal: u.KillSignal.String(), Timeout: u.TimeoutStopSec.Seconds()}
			var ps *os.ProcessState
			select {
			case ps = <-done:
			case <-time.After(u.TimeoutStopSec):
				stopInfo.Killed = true
				_ = syscall.Kill(cmd.Process.Pid, syscall.SIGKILL)
				ps = <-done
			}
			stopInfo.Seconds = time.Since(t0).Seconds()
			e := exitOf(cmd.Process.Pid, ps)
			st.Exits = append(st.Exits, e)
			stopInfo.ExitCode, stopInfo.ExitSig = e.Code, e.Signal
			switch {
			case stopInfo.Killed:
				stopInfo.Result = "timeout"
			case e.Code == 0 || e.Signal == u.KillSignal.String():
				stopInfo.Result = "success"
			case e.Signal != "":
				stopInfo.Result = "signal"
			default:
				stopInfo.Result = "exit-code"
			}
			st.Stop, st.MainPID = stopInfo, 0
			st.State = "inactive"
			if stopInfo.Result != "success" {
				st.State = "failed"
			}
			saveState(u.Name, st)
			return 0
		case ps := <-done:
			e := exitOf(cmd.Process.Pid, ps)
			st.Exits = append(st.Exits, e)
			st.MainPID = 0
			clean := e.Code == 0
			if u.Restart == "always" || u.Restart == "on-failure" && !clean {
				st.State = "activating"
				saveState(u.Name, st)
				select {
				case <-time.After(u.RestartSec):
					continue
				case <-stopReq:
					st.State = "inactive"
					saveState(u.Name, st)
					return 0
				}
			}
			st.State = "inactive"
			if !clean {
				st.State = "failed"
			}
			saveState(u.Name, st)
			return 0
		}
	}
}

func exitOf(pid int, ps *os.ProcessState) Exit {
	e := Exit{PID: pid, Code: -1, Time: time.Now()}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok {
		switch {
		case ws.Exited():
			e.Code = ws.ExitStatus()
		case ws.Signaled():
			e.Signal = ws.Signal().String()
		}
	}
	return e
}

func openOutput(spec string) (*os.File, error) {
	switch {
	case spec == "inherit" || spec == "null":
		return os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	case strings.HasPrefix(spec, "append:"):
		return os.OpenFile(strings.TrimPrefix(spec, "append:"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	case strings.HasPrefix(spec, "file:"):
		return os.OpenFile(strings.TrimPrefix(spec, "file:"), os.O_WRONLY|os.O_CREATE, 0o644)
	}
	return nil, fmt.Errorf("output %q not emulated", spec)
}

// lookupIDs resolves User= and Group= in the scratch root's /etc/passwd and /etc/group.
func lookupIDs(u *Unit) (uid, gid int, err error) {
	if u.User == "" {
		return 0, 0, nil
	}
	usr, err := user.Lookup(u.User)
	if err != nil {
		return 0, 0, fmt.Errorf("Failed to determine user credentials: %w", err)
	}
	uid, _ = strconv.Atoi(usr.Uid)
	gid, _ = strconv.Atoi(usr.Gid)
	if u.Group != "" {
		g, err := user.LookupGroup(u.Group)
		if err != nil {
			return 0, 0, fmt.Errorf("Failed to determine group credentials: %w", err)
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}
