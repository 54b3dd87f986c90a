package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"github.com/podrun/podrun/internal/checkreport"
)

func runReport(args []string) error {
	// List the descriptors first, with raw system calls: the first
	// os.Open makes the Go runtime create its epoll descriptors, which
	// the report must not show.
	fds, fdErr := listFDs()

	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	var sysctls, paths multiFlag
	fs.Var(&sysctls, "sysctl", "sysctl to report, e.g. net.ipv4.ip_forward (repeatable)")
	fs.Var(&paths, "path", "path to check for existence and access (repeatable)")
	out := fs.String("out", "", "write the report to this file instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("report: unexpected arguments %q", fs.Args())
	}

	r := &checkreport.Report{
		Args:   os.Args,
		Pid:    os.Getpid(),
		Ppid:   os.Getppid(),
		Pgid:   syscall.Getpgrp(),
		UID:    os.Getuid(),
		GID:    os.Getgid(),
		EUID:   os.Geteuid(),
		EGID:   os.Getegid(),
		Env:    os.Environ(),
		FDs:    fds,
		Groups: []int{},
	}
	fail := func(what string, err error) {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", what, err))
	}
	if fdErr != nil {
		fail("fds", fdErr)
	}
	if sid, _, e := syscall.RawSyscall(syscall.SYS_GETSID, 0, 0, 0); e != 0 {
		fail("getsid", e)
	} else {
		r.Sid = int(sid)
	}
	if g, err := syscall.Getgroups(); err != nil {
		fail("getgroups", err)
	} else {
		if g != nil {
			r.Groups = g
		}
	}
	var uts syscall.Utsname
	if err := syscall.Uname(&uts); err != nil {
		fail("uname", err)
	} else {
		r.Hostname = cstr(uts.Nodename[:])
		r.Domainname = cstr(uts.Domainname[:])
	}
	if wd, err := syscall.Getwd(); err != nil {
		fail("getcwd", err)
	} else {
		r.Cwd = wd
	}

	r.Namespaces = map[string]string{}
	if ents, err := os.ReadDir("/proc/self/ns"); err != nil {
		fail("namespaces", err)
	} else {
		for _, e := range ents {
			if t, err := os.Readlink("/proc/self/ns/" + e.Name()); err != nil {
				fail("namespace "+e.Name(), err)
			} else {
				r.Namespaces[e.Name()] = t
			}
		}
	}

	if data, err := os.ReadFile("/proc/self/mountinfo"); err != nil {
		fail("mountinfo", err)
	} else if r.Mounts, err = checkreport.ParseMountinfo(string(data)); err != nil {
		fail("mountinfo", err)
	}

	readStatus(r, fail)
	readRlimits(r, fail)

	if data, err := os.ReadFile("/proc/self/cgroup"); err != nil {
		fail("cgroup", err)
	} else if r.Cgroups, err = checkreport.ParseCgroups(string(data)); err != nil {
		fail("cgroup", err)
	}

	if data, err := os.ReadFile("/proc/self/oom_score_adj"); err != nil {
		fail("oom_score_adj", err)
	} else if r.OOMScoreAdj, err = strconv.Atoi(strings.TrimSpace(string(data))); err != nil {
		fail("oom_score_adj", err)
	}

	if len(sysctls) > 0 {
		r.Sysctls = map[string]checkreport.Sysctl{}
		for _, name := range sysctls {
			r.Sysctls[name] = readSysctl(name)
		}
	}
	if len(paths) > 0 {
		r.Paths = map[string]checkreport.PathInfo{}
		for _, p := range paths {
			r.Paths[p] = checkPath(p)
		}
	}

	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if *out != "" {
		return os.WriteFile(*out, b, 0o644)
	}
	_, err = os.Stdout.Write(b)
	return err
}

func cstr(b []int8) string {
	s := make([]byte, 0, len(b))
	for _, c := range b {
		if c == 0 {
			break
		}
		s = append(s, byte(c))
	}
	return string(s)
}

// listFDs lists /proc/self/fd without the os package (see runReport),
// leaving out the descriptor used to read the directory.
func listFDs() ([]checkreport.FD, error) {
	dfd, err := syscall.Open("/proc/self/fd", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	var names []string
	buf := make([]byte, 16384)
	for {
		n, err := syscall.ReadDirent(dfd, buf)
		if err != nil {
			syscall.Close(dfd)
			return nil, err
		}
		if n <= 0 {
			break
		}
		_, _, names = syscall.ParseDirent(buf[:n], -1, names)
	}
	fds := []checkreport.FD{}
	link := make([]byte, 4096)
	for _, name := range names {
		n, err := strconv.Atoi(name)
		if err != nil || n == dfd {
			continue
		}
		fd := checkreport.FD{FD: n}
		if l, err := syscall.Readlink("/proc/self/fd/"+name, link); err == nil {
			fd.Target = string(link[:l])
		} else {
			fd.Target = "error: " + err.Error()
		}
		fd.IsTerminal = isTerminal(n)
		fds = append(fds, fd)
	}
	syscall.Close(dfd)
	sort.Slice(fds, func(i, j int) bool { return fds[i].FD < fds[j].FD })
	return fds, nil
}

func isTerminal(fd int) bool {
	var t syscall.Termios
	_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
	return e == 0
}

func readStatus(r *checkreport.Report, fail func(string, error)) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		fail("status", err)
		return
	}
	st := checkreport.ParseStatus(string(data))
	sets := []struct {
		key string
		set *checkreport.CapSet
	}{
		{"CapInh", &r.Capabilities.Inheritable},
		{"CapPrm", &r.Capabilities.Permitted},
		{"CapEff", &r.Capabilities.Effective},
		{"CapBnd", &r.Capabilities.Bounding},
		{"CapAmb", &r.Capabilities.Ambient},
	}
	for _, s := range sets {
		v, ok := st[s.key]
		if !ok {
			fail("status", fmt.Errorf("no %s field", s.key))
			continue
		}
		if *s.set, err = checkreport.ParseCapSet(v); err != nil {
			fail("status", err)
		}
	}
	statusInt := func(key string) int {
		v, ok := st[key]
		if !ok {
			fail("status", fmt.Errorf("no %s field", key))
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			fail("status "+key, err)
		}
		return n
	}
	r.NoNewPrivs = statusInt("NoNewPrivs") == 1
	r.Seccomp = statusInt("Seccomp")
	if _, ok := st["Seccomp_filters"]; ok {
		r.SeccompFilters = statusInt("Seccomp_filters")
	}
	if v, ok := st["Umask"]; ok {
		u, err := strconv.ParseUint(v, 8, 32)
		if err != nil {
			fail("status Umask", err)
		}
		r.Umask = uint32(u)
	} else {
		// Kernels before 4.7 have no Umask field.
		old := syscall.Umask(0)
		syscall.Umask(old)
		r.Umask = uint32(old)
	}
}

func readRlimits(r *checkreport.Report, fail func(string, error)) {
	r.Rlimits = map[string]checkreport.Rlimit{}
	for res, name := range checkreport.RlimitNames {
		var l syscall.Rlimit
		if err := syscall.Getrlimit(res, &l); err != nil {
			fail(name, err)
			continue
		}
		r.Rlimits[name] = checkreport.Rlimit{Soft: l.Cur, Hard: l.Max}
	}
	if l, err := originalNofile(); err != nil {
		fail("RLIMIT_NOFILE", err)
	} else if l != nil {
		r.Rlimits["RLIMIT_NOFILE"] = *l
	}
}

// originalNofile returns the RLIMIT_NOFILE the checker was started with,
// or nil when it is the current one.
//
// At start-up the Go runtime raises its soft RLIMIT_NOFILE to hard-1
// when it was lower, and puts the original back in the children it
// starts, just before they exec. So when the soft limit is hard-1, start
// a traced child: it stops at its exec with the original limit, which
// /proc/PID/limits shows; then kill it.
func originalNofile() (*checkreport.Rlimit, error) {
	var cur syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &cur); err != nil {
		return nil, err
	}
	if cur.Max == 0 || cur.Cur != cur.Max-1 {
		return nil, nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	pid, err := syscall.ForkExec("/proc/self/exe", []string{"checker", "exit", "0"}, &syscall.ProcAttr{
		Sys: &syscall.SysProcAttr{Ptrace: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return nil, fmt.Errorf("cannot learn the original limit (Go raised it): %w", err)
	}
	defer func() {
		var ws syscall.WaitStatus
		syscall.Kill(pid, syscall.SIGKILL)
		syscall.Wait4(pid, &ws, 0, nil)
	}()
	var ws syscall.WaitStatus
	if _, err := syscall.Wait4(pid, &ws, 0, nil); err != nil {
		return nil, err
	}
	if !ws.Stopped() {
		return nil, fmt.Errorf("cannot learn the original limit (Go raised it): traced child did not stop: %v", ws)
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "Max open files") {
			continue
		}
		fields := strings.Fields(strings.TrimPrefix(line, "Max open files"))
		if len(fields) < 2 {
			break
		}
		soft, err1 := parseLimit(fields[0])
		hard, err2 := parseLimit(fields[1])
		if err1 != nil || err2 != nil {
			break
		}
		return &checkreport.Rlimit{Soft: soft, Hard: hard}, nil
	}
	return nil, fmt.Errorf("no Max open files line in /proc/%d/limits", pid)
}

func parseLimit(s string) (uint64, error) {
	if s == "unlimited" {
		return checkreport.RlimInfinity, nil
	}
	return strconv.ParseUint(s, 10, 64)
}

func readSysctl(name string) checkreport.Sysctl {
	p := name
	if !strings.Contains(p, "/") {
		p = strings.ReplaceAll(p, ".", "/")
	}
	data, err := os.ReadFile("/proc/sys/" + strings.TrimPrefix(p, "/"))
	if err != nil {
		return checkreport.Sysctl{Error: err.Error()}
	}
	return checkreport.Sysctl{Value: strings.TrimSpace(string(data))}
}

func checkPath(p string) checkreport.PathInfo {
	var info checkreport.PathInfo
	fi, err := os.Stat(p)
	if err != nil {
		info.Error = err.Error()
		return info
	}
	info.Exists = true
	info.IsDir = fi.IsDir()
	info.Mode = fi.Mode().String()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.UID = int(st.Uid)
		info.GID = int(st.Gid)
	}
	const rOK, wOK = 4, 2
	info.Readable = syscall.Access(p, rOK) == nil
	info.Writable = syscall.Access(p, wOK) == nil
	return info
}
