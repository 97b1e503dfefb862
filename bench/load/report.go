package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"time"
)

// summary is the outcome of a run, printed and optionally kept as a JSON line.
type summary struct {
	Label          string             `json:"label"`
	Clients        int                `json:"clients"`
	Seconds        float64            `json:"seconds"`
	Requests       int                `json:"requests"`
	OK             int                `json:"ok"`
	Images         int                `json:"images"`
	GenPerSec      float64            `json:"gen_per_s"`
	P50ms          float64            `json:"p50_ms"`
	P95ms          float64            `json:"p95_ms"`
	P99ms          float64            `json:"p99_ms"`
	MaxMs          float64            `json:"max_ms"`
	Errors         map[string]int     `json:"errors"`
	ServerCPUms    float64            `json:"server_cpu_ms_per_image,omitempty"`
	ServerCores    float64            `json:"server_cores,omitempty"`
	ServerRSSMaxMB float64            `json:"server_rss_max_mb,omitempty"`
	ServerHWMMB    float64            `json:"server_hwm_mb,omitempty"`
	PeersCPUms     map[string]float64 `json:"peers_cpu_ms_per_image,omitempty"`
	LoadCPUms      float64            `json:"loadgen_cpu_ms_per_image,omitempty"`
	LoadStart      string             `json:"load_start,omitempty"`
	LoadEnd        string             `json:"load_end,omitempty"`
}

// summarize keeps the requests that finished inside [from, until): warm-up and the
// stragglers after the window do not count.
func summarize(c *config, all []result, from, until time.Time, srv *serverStats) *summary {
	window := until.Sub(from)
	s := &summary{Label: c.label, Clients: c.clients, Seconds: window.Seconds(), Errors: map[string]int{}}
	var lat []time.Duration
	for _, r := range all {
		if r.end.Before(from) || !r.end.Before(until) {
			continue
		}
		s.Requests++
		switch {
		case r.status == 0:
			s.Errors["transport"]++
		case r.status == 201 && r.images > 0:
			s.OK++
			s.Images += r.images
			lat = append(lat, r.end.Sub(r.start))
		default:
			s.Errors[strconv.Itoa(r.status)]++
		}
	}
	s.GenPerSec = float64(s.Images) / window.Seconds()
	slices.Sort(lat)
	s.P50ms, s.P95ms, s.P99ms = ms(pct(lat, 50)), ms(pct(lat, 95)), ms(pct(lat, 99))
	if len(lat) > 0 {
		s.MaxMs = ms(lat[len(lat)-1])
	}
	if srv != nil {
		if s.Images > 0 {
			s.ServerCPUms = ms(srv.CPU) / float64(s.Images)
			s.LoadCPUms = ms(srv.SelfCPU) / float64(s.Images)
			s.PeersCPUms = map[string]float64{}
			for name, c := range srv.PeersCPU {
				s.PeersCPUms[name] = ms(c) / float64(s.Images)
			}
		}
		s.ServerCores = srv.CPU.Seconds() / window.Seconds()
		s.ServerRSSMaxMB, s.ServerHWMMB = srv.RSSMaxMB, srv.HWMMB
		s.LoadStart, s.LoadEnd = srv.LoadStart, srv.LoadEnd
	}
	return s
}

func pct(sorted []time.Duration, p int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*p+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "%s: %d clients, %.0f s measured\n", s.Label, s.Clients, s.Seconds)
	fmt.Fprintf(w, "  requests %d, ok %d, images %d: %.1f generations/s\n", s.Requests, s.OK, s.Images, s.GenPerSec)
	fmt.Fprintf(w, "  latency of ok requests: p50 %.1f ms, p95 %.1f ms, p99 %.1f ms, max %.1f ms\n", s.P50ms, s.P95ms, s.P99ms, s.MaxMs)
	if len(s.Errors) > 0 {
		keys := make([]string, 0, len(s.Errors))
		for k := range s.Errors {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprint(w, "  errors:")
		for _, k := range keys {
			fmt.Fprintf(w, " %s×%d", k, s.Errors[k])
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintln(w, "  errors: none")
	}
	if s.ServerHWMMB > 0 {
		fmt.Fprintf(w, "  server: %.2f cpu-ms/image, %.2f cores busy, RSS max %.0f MiB, peak (VmHWM) %.0f MiB; load %s → %s\n",
			s.ServerCPUms, s.ServerCores, s.ServerRSSMaxMB, s.ServerHWMMB, s.LoadStart, s.LoadEnd)
		names := make([]string, 0, len(s.PeersCPUms))
		for k := range s.PeersCPUms {
			names = append(names, k)
		}
		sort.Strings(names)
		fmt.Fprintf(w, "  other processes, cpu-ms/image: load generator %.2f", s.LoadCPUms)
		for _, k := range names {
			fmt.Fprintf(w, ", %s %.2f", k, s.PeersCPUms[k])
		}
		fmt.Fprintln(w)
	}
}

func (s *summary) appendJSON(path string) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
