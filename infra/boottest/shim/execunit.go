package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// execUnit becomes a unit's main process: in the mount namespace the supervisor gave
// it, it applies the unit's sandboxing (ProtectSystem=strict, ProtectHome, PrivateTmp),
// limits, NoNewPrivileges and credentials, then executes ExecStart with the unit's
// environment, as systemd's executor does.
func execUnit(args []string) int {
	if len(args) != 1 {
		return 2
	}
	u, err := LoadUnit(args[0])
	if err != nil {
		return fail(203, "%v", err)
	}
	home, shell := "/", "/bin/sh"
	if u.User != "" {
		if usr, err := user.Lookup(u.User); err == nil {
			home = usr.HomeDir
		}
		shell = loginShell(u.User)
	}
	env, err := u.Env(home, shell)
	if err != nil {
		return fail(243, "%v", err)
	}
	uid, gid, err := lookupIDs(u)
	if err != nil {
		return fail(217, "%v", err)
	}
	if err := sandbox(u); err != nil {
		return fail(226, "Failed to set up mount namespacing: %v", err)
	}
	if u.LimitNOFILE > 0 {
		lim := &unix.Rlimit{Cur: u.LimitNOFILE, Max: u.LimitNOFILE}
		err := unix.Setrlimit(unix.RLIMIT_NOFILE, lim)
		var cur unix.Rlimit
		if err == unix.EPERM && unix.Getrlimit(unix.RLIMIT_NOFILE, &cur) == nil && cur.Max < u.LimitNOFILE {
			// systemd (PID 1) may raise the hard limit; a test machine without
			// CAP_SYS_RESOURCE cannot: keep its hard limit, and say so.
			fmt.Fprintf(os.Stderr, "boot test: LimitNOFILE=%d capped at this machine's hard limit %d (no CAP_SYS_RESOURCE)\n",
				u.LimitNOFILE, cur.Max)
			lim = &unix.Rlimit{Cur: cur.Max, Max: cur.Max}
			err = unix.Setrlimit(unix.RLIMIT_NOFILE, lim)
		}
		if err != nil {
			return fail(205, "Failed to set LimitNOFILE: %v", err)
		}
	}
	if u.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fail(227, "Failed to set NoNewPrivileges: %v", err)
		}
	}
	if u.User != "" {
		if err := syscall.Setgroups([]int{gid}); err != nil {
			return fail(216, "%v", err)
		}
		if err := syscall.Setgid(gid); err != nil {
			return fail(216, "%v", err)
		}
		if err := syscall.Setuid(uid); err != nil {
			return fail(217, "%v", err)
		}
	}
	dir := u.WorkingDirectory
	if dir == "" {
		dir = "/"
	}
	if err := os.Chdir(dir); err != nil {
		return fail(200, "Changing to the requested working directory failed: %v", err)
	}
	err = syscall.Exec(u.ExecStart[0], u.ExecStart, env)
	return fail(203, "Failed to execute %s: %v", u.ExecStart[0], err)
}

// sandbox applies ProtectSystem=strict (everything read-only but the API file
// systems and the state directories), ProtectHome=true (home directories hidden) and
// PrivateTmp (fresh /tmp and /var/tmp) in this process's own mount namespace.
func sandbox(u *Unit) error {
	if err := unix.Mount("none", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make mounts private: %w", err)
	}
	if u.ProtectSystem == "strict" {
		if err := unix.MountSetattr(unix.AT_FDCWD, "/", unix.AT_RECURSIVE, &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}); err != nil {
			return fmt.Errorf("read-only /: %w", err)
		}
		for _, api := range []string{"/dev", "/proc"} {
			if err := unix.MountSetattr(unix.AT_FDCWD, api, unix.AT_RECURSIVE, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}); err != nil {
				return fmt.Errorf("writable %s: %w", api, err)
			}
		}
		for _, d := range u.StateDirectory {
			p := filepath.Join("/var/lib", d)
			if err := unix.Mount(p, p, "", unix.MS_BIND, ""); err != nil {
				return fmt.Errorf("bind %s: %w", p, err)
			}
			if err := unix.MountSetattr(unix.AT_FDCWD, p, 0, &unix.MountAttr{Attr_clr: unix.MOUNT_ATTR_RDONLY}); err != nil {
				return fmt.Errorf("writable %s: %w", p, err)
			}
		}
	}
	if u.ProtectHome == "true" || u.ProtectHome == "yes" {
		for _, p := range []string{"/home", "/root", "/run/user"} {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0755"); err != nil {
					return fmt.Errorf("hide %s: %w", p, err)
				}
			}
		}
	}
	if u.PrivateTmp {
		for _, p := range []string{"/tmp", "/var/tmp"} {
			if err := unix.Mount("tmpfs", p, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=1777"); err != nil {
				return fmt.Errorf("private %s: %w", p, err)
			}
		}
	}
	return nil
}

// loginShell returns the user's shell from /etc/passwd.
func loginShell(name string) string {
	data, err := os.ReadFile("/etc/passwd")
	if err != nil {
		return "/bin/sh"
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) >= 7 && f[0] == name {
			return f[6]
		}
	}
	return "/bin/sh"
}
