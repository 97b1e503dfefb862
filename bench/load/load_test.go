package main

import (
	"os"
	"testing"
	"time"
)

func TestCheckLoopback(t *testing.T) {
	for _, c := range []struct {
		url string
		ok  bool
	}{
		{"http://127.0.0.1:8080", true},
		{"http://127.9.9.9:1", true},
		{"http://localhost:8080/", true},
		{"http://[::1]:8080", true},
		{"http://10.0.0.1:8080", false},
		{"http://192.168.1.2", false},
		{"https://example.com", false},
		{"ftp://127.0.0.1", false},
		{"127.0.0.1:8080", false},
	} {
		if err := checkLoopback(c.url); (err == nil) != c.ok {
			t.Errorf("checkLoopback(%q) = %v, want ok=%v", c.url, err, c.ok)
		}
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, c := range []struct {
		p    int
		want time.Duration
	}{{50, 50 * time.Millisecond}, {95, 95 * time.Millisecond}, {99, 99 * time.Millisecond}, {100, 100 * time.Millisecond}} {
		if got := pct(d, c.p); got != c.want {
			t.Errorf("pct(1..100 ms, %d) = %v, want %v", c.p, got, c.want)
		}
	}
	if got := pct(nil, 50); got != 0 {
		t.Errorf("pct(nil, 50) = %v, want 0", got)
	}
}

func TestProcReaders(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc on this system")
	}
	rss, err := procStatusMB(os.Getpid(), "VmRSS")
	if err != nil || rss <= 0 {
		t.Errorf("procStatusMB(self, VmRSS) = %v, %v, want > 0", rss, err)
	}
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Errorf("procCPU(self) = %v", err)
	}
}

func TestSummarizeKeepsTheWindow(t *testing.T) {
	t0 := time.Now()
	from, until := t0.Add(time.Second), t0.Add(3*time.Second)
	at := func(s, e float64, status, images int) result {
		return result{start: t0.Add(time.Duration(s * float64(time.Second))), end: t0.Add(time.Duration(e * float64(time.Second))), status: status, images: images}
	}
	s := summarize(&config{label: "x", clients: 1}, []result{
		at(0, 0.5, 201, 1), // warm-up
		at(0.9, 1.5, 201, 1),
		at(1.5, 2, 201, 2),
		at(2, 2.5, 503, 0),
		at(2.5, 2.6, 0, 0),
		at(2.9, 3.5, 201, 1), // after the window
	}, from, until, nil)
	if s.Requests != 4 || s.OK != 2 || s.Images != 3 || s.GenPerSec != 1.5 {
		t.Errorf("summarize = %+v, want 4 requests, 2 ok, 3 images, 1.5/s", s)
	}
	if s.Errors["503"] != 1 || s.Errors["transport"] != 1 {
		t.Errorf("summarize errors = %v, want 503×1 transport×1", s.Errors)
	}
}
