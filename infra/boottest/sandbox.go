// Package boottest proves an Easel instance's boot path without EC2: it runs the user
// data of the synthesized CloudFormation template, as cloud-init would, in a scratch
// root with shims (./shim) for what exists only on an instance, and checks that Easel
// comes up under its systemd unit, that the Auto Scaling group gets its success signal,
// and that stopping the unit drains Easel and exits 0. See boot_test.go and
// docs/deploy.md ("What the boot test proves").
package boottest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Sandbox is a scratch root in private mount and network namespaces. The namespaces
// belong to one OS thread, locked for the sandbox's life: every process it starts,
// every listener it opens and every connection it dials is made on that thread, so
// they live in the sandbox's network (its own loopback, its own port 8080) and see its
// mounts (an overlay of the host's /usr, a fresh /etc, /dev and /proc). Nothing is
// mounted or bound on the host; the namespaces vanish with the thread and the last
// process in them.
type Sandbox struct {
	Root  string // the scratch root, the chroot of the instance's processes
	dir   string
	calls chan func()
	procs []*os.Process
}

// NewSandbox prepares a scratch root under dir (which must be empty or missing). It
// needs root (CAP_SYS_ADMIN): namespaces, mounts and chroot.
func NewSandbox(dir string) (*Sandbox, error) {
	s := &Sandbox{Root: filepath.Join(dir, "root"), dir: dir, calls: make(chan func())}
	ready := make(chan error, 1)
	go s.loop(ready)
	if err := <-ready; err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Sandbox) loop(ready chan<- error) {
	// Never unlocked: when this goroutine returns, the runtime ends the thread and
	// with it the thread's namespaces.
	runtime.LockOSThread()
	if err := unix.Unshare(unix.CLONE_NEWNS | unix.CLONE_NEWNET); err != nil {
		ready <- fmt.Errorf("unshare (the boot test needs root): %w", err)
		return
	}
	if err := s.setup(); err != nil {
		ready <- err
		return
	}
	ready <- nil
	for f := range s.calls {
		f()
	}
}

// Do runs f on the sandbox's thread, in its namespaces.
func (s *Sandbox) Do(f func()) {
	done := make(chan struct{})
	s.calls <- func() { defer close(done); f() }
	<-done
}

func (s *Sandbox) setup() error {
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("private mounts: %w", err)
	}
	if err := loopbackUp(); err != nil {
		return err
	}
	r := s.Root
	for _, d := range []string{"usr", "etc/systemd/system", "dev", "proc", "tmp", "var/tmp", "var/lib/cloud/instance/scripts",
		"var/log", "opt", "run", "root", "home", "upper", "work"} {
		p := filepath.Join(r, d)
		if d == "upper" || d == "work" {
			p = filepath.Join(s.dir, d)
		}
		if err := os.MkdirAll(p, 0o755); err != nil {
			return err
		}
	}
	for _, p := range []string{"tmp", "var/tmp"} {
		if err := os.Chmod(filepath.Join(r, p), 0o1777); err != nil {
			return err
		}
	}
	for _, l := range []string{"bin", "sbin", "lib", "lib64", "lib32", "libx32"} {
		if target, err := os.Readlink("/" + l); err == nil {
			if err := os.Symlink(target, filepath.Join(r, l)); err != nil {
				return err
			}
		}
	}
	mounts := []struct {
		src, dst, fstype string
		flags            uintptr
		data             string
	}{
		// The root is a mount of its own, so that a unit's ProtectSystem can make it read-only.
		{r, r, "", unix.MS_BIND, ""},
		// The host's programs (bash, coreutils, curl, useradd, runuser), with the shims
		// and whatever the boot script installs written to the overlay only.
		{"overlay", filepath.Join(r, "usr"), "overlay", 0,
			"lowerdir=/usr,upperdir=" + filepath.Join(s.dir, "upper") + ",workdir=" + filepath.Join(s.dir, "work")},
		{"/dev", filepath.Join(r, "dev"), "", unix.MS_BIND | unix.MS_REC, ""},
		{"proc", filepath.Join(r, "proc"), "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	}
	for _, m := range mounts {
		if err := unix.Mount(m.src, m.dst, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.src, m.dst, err)
		}
	}
	return nil
}

// loopbackUp brings up the namespace's loopback interface.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo flags: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("lo up: %w", err)
	}
	return nil
}

// AddAddress adds an IPv4 address to the sandbox's loopback interface (with the
// host's ip command), so a test can connect from an address that is not loopback.
func (s *Sandbox) AddAddress(cidr string) error {
	var out []byte
	var err error
	s.Do(func() { out, err = exec.Command("ip", "addr", "add", cidr, "dev", "lo").CombinedOutput() })
	if err != nil {
		return fmt.Errorf("ip addr add %s: %v: %s", cidr, err, out)
	}
	return nil
}

// Start starts cmd in the sandbox's namespaces (chrooted when chroot is set) and
// remembers it, so that Close can stop it.
func (s *Sandbox) Start(cmd *exec.Cmd, chroot bool) error {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	if chroot {
		cmd.SysProcAttr.Chroot = s.Root
		if cmd.Dir == "" {
			cmd.Dir = "/"
		}
	}
	cmd.SysProcAttr.Setpgid = true
	var err error
	s.Do(func() { err = cmd.Start() })
	if err == nil {
		s.procs = append(s.procs, cmd.Process)
	}
	return err
}

// Listen opens a TCP listener in the sandbox's network.
func (s *Sandbox) Listen(addr string) (net.Listener, error) {
	var ln net.Listener
	var err error
	s.Do(func() { ln, err = net.Listen("tcp", addr) })
	return ln, err
}

// DialContext connects within the sandbox's network. Host names resolve to the
// loopback address, as the scratch root's /etc/hosts makes them resolve inside.
func (s *Sandbox) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if net.ParseIP(host) == nil {
		addr = net.JoinHostPort("127.0.0.1", port)
	}
	var conn net.Conn
	s.Do(func() {
		d := net.Dialer{Timeout: 5 * time.Second}
		conn, err = d.DialContext(ctx, network, addr)
	})
	return conn, err
}

// DialFrom connects within the sandbox's network from a given local address.
func (s *Sandbox) DialFrom(local string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var conn net.Conn
		var err error
		s.Do(func() {
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
			conn, err = d.DialContext(ctx, network, addr)
		})
		return conn, err
	}
}

// WaitListening waits until something accepts connections on addr in the sandbox.
func (s *Sandbox) WaitListening(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		conn, err := s.DialContext(context.Background(), "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s in the sandbox after %v: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Path returns the host path of a path inside the scratch root. Files under /usr are
// in the overlay, visible only from inside: read them through ReadFile.
func (s *Sandbox) Path(p string) string { return filepath.Join(s.Root, p) }

// ReadFile reads a file as the sandbox sees it (including the /usr overlay).
func (s *Sandbox) ReadFile(p string) ([]byte, error) {
	var data []byte
	var err error
	s.Do(func() { data, err = os.ReadFile(filepath.Join(s.Root, p)) })
	return data, err
}

// Stat stats a file as the sandbox sees it.
func (s *Sandbox) Stat(p string) (os.FileInfo, error) {
	var fi os.FileInfo
	var err error
	s.Do(func() { fi, err = os.Lstat(filepath.Join(s.Root, p)) })
	return fi, err
}

// WriteFile writes a file as the sandbox sees it, creating its directory.
func (s *Sandbox) WriteFile(p string, data []byte, mode os.FileMode) error {
	var err error
	s.Do(func() {
		full := filepath.Join(s.Root, p)
		if err = os.MkdirAll(filepath.Dir(full), 0o755); err == nil {
			err = os.WriteFile(full, data, mode)
		}
	})
	return err
}

// Symlink makes a symbolic link as the sandbox sees it.
func (s *Sandbox) Symlink(target, p string) error {
	var err error
	s.Do(func() {
		full := filepath.Join(s.Root, p)
		_ = os.Remove(full)
		err = os.Symlink(target, full)
	})
	return err
}

// Close kills every process still in the sandbox (those it started, and any other
// process whose network namespace is the sandbox's, such as a detached service),
// ends the sandbox's thread and removes the scratch directory.
func (s *Sandbox) Close() error {
	var netns string
	s.Do(func() { netns, _ = os.Readlink("/proc/thread-self/ns/net") })
	for round := 0; round < 50; round++ {
		pids := s.members(netns)
		if len(pids) == 0 {
			break
		}
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, p := range s.procs {
		_, _ = p.Wait()
	}
	close(s.calls)
	return os.RemoveAll(s.dir)
}

// members lists the live processes in the sandbox's network namespace, other than
// this test process.
func (s *Sandbox) members(netns string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		ns, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil || ns != netns {
			continue
		}
		if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
			st := string(stat)
			if i := strings.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}
