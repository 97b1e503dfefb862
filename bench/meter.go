//go:build unix

// Package bench holds Easel's benchmark helpers and benchmarks that span several
// packages (the AWS-emulated generate path). The load generator for the real binary is
// bench/load; scripts/bench.sh runs everything.
package bench

import (
	"runtime"
	"runtime/metrics"
	"syscall"
	"testing"
	"time"
)

// Meter measures a stretch of a benchmark: wall time, the CPU time of the whole process
// (user + system, every goroutine and the garbage collector included) and the bytes
// allocated on the heap. CPU per image is the figure that survives a shared, loaded
// machine: wall-clock throughput there depends on what else runs, CPU per image does
// not (much), and 2 cores / CPU per image bounds what a dedicated 2-core host can do.
type Meter struct {
	wall  time.Time
	cpu   time.Duration
	alloc uint64
}

// StartMeter starts measuring. Call it right before the timed loop.
func StartMeter() *Meter {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return &Meter{wall: time.Now(), cpu: ProcessCPU(), alloc: ms.TotalAlloc}
}

// Sample is what a Meter saw, per image.
type Sample struct {
	Images        int
	Wall          time.Duration
	CPU           time.Duration
	AllocBytes    uint64
	ImagesPerSec  float64
	CPUPerImage   time.Duration
	AllocPerImage float64 // bytes
}

// Stop ends the measurement of images images.
func (m *Meter) Stop(images int) Sample {
	wall := time.Since(m.wall)
	cpu := ProcessCPU() - m.cpu
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := Sample{Images: images, Wall: wall, CPU: cpu, AllocBytes: ms.TotalAlloc - m.alloc}
	if images > 0 {
		s.ImagesPerSec = float64(images) / wall.Seconds()
		s.CPUPerImage = cpu / time.Duration(images)
		s.AllocPerImage = float64(s.AllocBytes) / float64(images)
	}
	return s
}

// Report stops the meter and reports images/s, cpu-ms/image (process CPU time per
// image), MB-alloc/image (heap bytes allocated per image, in MiB) and cores (CPU time
// over wall time: how much of the machine the loop kept busy).
func (m *Meter) Report(b *testing.B, images int) Sample {
	b.Helper()
	s := m.Stop(images)
	if images == 0 {
		return s
	}
	b.ReportMetric(s.ImagesPerSec, "images/s")
	b.ReportMetric(float64(s.CPUPerImage)/float64(time.Millisecond), "cpu-ms/image")
	b.ReportMetric(s.AllocPerImage/(1<<20), "MB-alloc/image")
	b.ReportMetric(s.CPU.Seconds()/s.Wall.Seconds(), "cores")
	return s
}

// ProcessCPU returns the CPU time (user + system) this process has used so far.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// WatchHeap samples the heap (live and not yet collected objects) every few
// milliseconds until the returned func is called, which returns the largest size seen in
// MiB: what in-flight work held at its peak, garbage included.
func WatchHeap() (stop func() float64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	done := make(chan struct{})
	peak := make(chan uint64, 1)
	go func() {
		var most uint64
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			most = max(most, sample[0].Value.Uint64())
			select {
			case <-done:
				peak <- most
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		return float64(<-peak) / (1 << 20)
	}
}
