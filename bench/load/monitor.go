package main

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat: 100 on every
// Linux architecture Easel runs on.
const clockTicks = 100

// serverStats is what the monitor saw of the server during the measured window.
type serverStats struct {
	CPU         time.Duration // user + system time used in the window
	RSSStartMB  float64       // VmRSS when the window opened
	RSSMaxMB    float64       // largest VmRSS sampled in the window (every 100 ms)
	HWMMB       float64       // VmHWM at the end: the process's peak RSS since it started
	LoadStart   string        // /proc/loadavg's 1-minute figure when the window opened
	LoadEnd     string
	PeersCPU    map[string]time.Duration // CPU time of the -peer processes in the window
	SelfCPU     time.Duration            // the load generator's own CPU time in the window
	SampleError string                   `json:",omitempty"`
}

// monitor samples a process's /proc files over a time window.
type monitor struct {
	pid   int
	peers map[string]int
	done  chan struct{}
	wg    sync.WaitGroup
	st    serverStats
}

func startMonitor(pid int, peers map[string]int, from, until time.Time) (*monitor, error) {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/status", pid)); err != nil {
		return nil, fmt.Errorf("-pid %d: %w", pid, err)
	}
	for name, p := range peers {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", p)); err != nil {
			return nil, fmt.Errorf("-peer %s=%d: %w", name, p, err)
		}
	}
	m := &monitor{pid: pid, peers: peers, done: make(chan struct{})}
	m.wg.Go(func() { m.sample(from, until) })
	return m, nil
}

func (m *monitor) sample(from, until time.Time) {
	select {
	case <-time.After(time.Until(from)):
	case <-m.done:
		return
	}
	cpu0, err := procCPU(m.pid)
	if err != nil {
		m.st.SampleError = err.Error()
		return
	}
	m.st.LoadStart = loadavg()
	peers0 := map[string]time.Duration{}
	for name, p := range m.peers {
		peers0[name], _ = procCPU(p)
	}
	self0, _ := procCPU(os.Getpid())
	m.st.RSSStartMB, _ = procStatusMB(m.pid, "VmRSS")
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for time.Now().Before(until) {
		if rss, err := procStatusMB(m.pid, "VmRSS"); err == nil {
			m.st.RSSMaxMB = max(m.st.RSSMaxMB, rss)
		}
		select {
		case <-tick.C:
		case <-m.done:
			return
		}
	}
	if cpu1, err := procCPU(m.pid); err == nil {
		m.st.CPU = cpu1 - cpu0
	}
	m.st.PeersCPU = map[string]time.Duration{}
	for name, p := range m.peers {
		if c, err := procCPU(p); err == nil {
			m.st.PeersCPU[name] = c - peers0[name]
		}
	}
	if c, err := procCPU(os.Getpid()); err == nil {
		m.st.SelfCPU = c - self0
	}
	m.st.LoadEnd = loadavg()
}

// stop waits for the window's last sample (the caller calls it after the window) and
// returns what was seen.
func (m *monitor) stop() *serverStats {
	m.wg.Wait()
	close(m.done)
	m.st.HWMMB, _ = procStatusMB(m.pid, "VmHWM")
	return &m.st
}

// procCPU returns utime + stime of pid.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces; fields after it are plain.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("/proc/%d/stat: unexpected format", pid)
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

// procStatusMB returns a "Vm..." line of /proc/PID/status in MiB.
func procStatusMB(pid int, field string) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/%d/status %s: %w", pid, field, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("/proc/%d/status: no %s", pid, field)
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
