// podrun_nsexec: run a command in a container's namespaces and cgroups
// from a long-lived, multi-threaded Go process, without starting a second Go
// runtime (that is what makes an exec probe cost a fork+exec, not a podrun
// re-exec).
//
// The fork happens in C and the child only makes system calls until it
// execs: a forked copy of a multi-threaded process is single-threaded, so it
// may setns into a user or mount namespace, which the Go process itself
// cannot. Joining a PID namespace only affects children, so the first child
// (after setns) clones the command with CLONE_PARENT: the command is a child
// of the Go process (which waits for it) and a member of the container's
// PID namespace. The first child exits at once.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "nsexec.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

// fail reports "what: strerror" on the error pipe and exits.
static void fail(int errfd, const char *what, int err)
{
	char buf[256];
	size_t n = strlen(what);
	if (n > 120)
		n = 120;
	memcpy(buf, what, n);
	const char *e = strerror(err); // glibc: a static table, no allocation
	size_t m = strlen(e);
	if (m > 120)
		m = 120;
	buf[n] = ':';
	buf[n + 1] = ' ';
	memcpy(buf + n + 2, e, m);
	(void)!write(errfd, buf, n + 2 + m);
	_exit(127);
}

static void exec_path(const struct nsexec_args *a)
{
	const char *file = a->argv[0];
	if (strchr(file, '/') != NULL) {
		execve(file, a->argv, a->envp);
		fail(a->errfd, file, errno);
	}
	const char *path = a->path != NULL ? a->path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	char buf[4096];
	int err = ENOENT;
	size_t fl = strlen(file);
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dl = (size_t)(end - p);
		if (dl + fl + 2 <= sizeof(buf)) {
			memcpy(buf, p, dl);
			size_t o = dl;
			if (dl == 0)
				buf[o++] = '.';
			buf[o++] = '/';
			memcpy(buf + o, file, fl + 1);
			execve(buf, a->argv, a->envp);
			if (errno != ENOENT && errno != ENOTDIR)
				err = errno;
		}
		if (*end == '\0')
			break;
		p = end;
	}
	fail(a->errfd, file, err);
}

static void command(const struct nsexec_args *a)
{
	int errfd = a->errfd;
	if (a->cwd != NULL && chdir(a->cwd) < 0)
		fail(errfd, "chdir", errno);
	if (a->set_caps) {
		for (int c = 0; c <= 63; c++) {
			if (!(a->bounding & (1ULL << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
				fail(errfd, "dropping bounding capabilities", errno);
		}
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			fail(errfd, "keepcaps", errno);
	}
	// In a user namespace with setgroups "deny" only an empty list can
	// fail harmlessly (the caller's groups are unmapped there anyway).
	if (syscall(SYS_setgroups, a->ngroups, a->groups) < 0 && !(errno == EPERM && a->userns && a->ngroups == 0))
		fail(errfd, "setgroups", errno);
	if (syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0)
		fail(errfd, "setgid", errno);
	if (syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0)
		fail(errfd, "setuid", errno);
	if (a->set_caps) {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2] = {
			{(uint32_t)a->effective, (uint32_t)a->permitted, (uint32_t)a->inheritable},
			{(uint32_t)(a->effective >> 32), (uint32_t)(a->permitted >> 32), (uint32_t)(a->inheritable >> 32)},
		};
		if (syscall(SYS_capset, &h, d) < 0)
			fail(errfd, "capset", errno);
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
			fail(errfd, "keepcaps", errno);
		for (int c = 0; c <= 63; c++) {
			if (a->ambient & (1ULL << c))
				if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
					fail(errfd, "ambient capabilities", errno);
		}
	}
	if (a->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(errfd, "no_new_privs", errno);
	if (a->seccomp_len > 0) {
		struct sock_fprog prog = {.len = (unsigned short)a->seccomp_len, .filter = (struct sock_filter *)a->seccomp};
		if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, a->seccomp_flags, &prog) < 0)
			fail(errfd, "loading seccomp filter", errno);
	}
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	exec_path(a);
}

static void first_child(const struct nsexec_args *a, int in_cgroup2)
{
	int errfd = a->errfd;
	// Go's handlers must not run here: defaults, then the fds.
	for (int s = 1; s < 65; s++) {
		struct sigaction sa = {.sa_handler = SIG_DFL};
		if (s != SIGKILL && s != SIGSTOP)
			sigaction(s, &sa, NULL);
	}
	if (dup2(a->stdio[0], 0) < 0 || dup2(a->stdio[1], 1) < 0 || dup2(a->stdio[2], 2) < 0)
		fail(errfd, "stdio", errno);
	// Nothing else of the Go process reaches the command.
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		// Kernels before 5.11: mark them one by one.
		struct rlimit rl;
		unsigned long max = 65536;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
			max = rl.rlim_cur;
		for (unsigned long fd = 3; fd < max; fd++)
			fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	// On the host's /proc and with the caller's privileges, before any
	// setns; all of it is inherited by the command: rlimits (raising a
	// hard limit needs CAP_SYS_RESOURCE), oom_score_adj, and the LSM exec
	// label (AppArmor's onexec and SELinux's exec_sid are copied on fork
	// and applied at the command's execve).
	for (int i = 0; i < a->nrlimits; i++) {
		struct rlimit64 rl = {a->rlimits[i].cur, a->rlimits[i].max};
		if (syscall(SYS_prlimit64, 0, a->rlimits[i].resource, &rl, NULL) < 0)
			fail(errfd, "setting rlimit", errno);
	}
	if (a->oom_score_adj != NULL) {
		int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, a->oom_score_adj, strlen(a->oom_score_adj)) < 0)
			fail(errfd, "oom_score_adj", errno);
		close(fd);
	}
	if (a->lsm_attr != NULL) {
		int fd = open("/proc/thread-self/attr/apparmor/exec", O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			fd = open("/proc/thread-self/attr/exec", O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, a->lsm_attr, strlen(a->lsm_attr)) < 0)
			fail(errfd, "setting the LSM exec label", errno);
		close(fd);
	}
	// v1: "0" written to `tasks` moves only this (single) thread, which
	// skips the global threadgroup rwsem that a cgroup.procs write takes
	// (an RCU grace period, 7-19 ms, after every quiet spell).
	for (int i = 0; i < a->ncgroups; i++) {
		if (write(a->cgroups[i], "0", 1) != 1)
			fail(errfd, "joining the container's cgroup", errno);
	}
	if (!in_cgroup2 && a->cgroup2_procs >= 0 && write(a->cgroup2_procs, "0", 1) != 1)
		fail(errfd, "joining the container's cgroup2 cgroup", errno);
	for (int i = 0; i < a->nns; i++) {
		if (setns(a->nsfds[i], 0) < 0)
			fail(errfd, a->nsnames[i], errno);
	}
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail(errfd, "clone", errno);
	if (pid == 0)
		command(a);
	(void)!write(a->pidfd, &pid, sizeof(pid));
	_exit(0);
}

int podrun_nsexec(const struct nsexec_args *a)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid_t pid = -1;
	int into = 0;
	if (a->cgroup2_dir >= 0) {
		// Born in the cgroup2 cgroup: no migration, no global lock.
		struct clone_args ca = {.flags = CLONE_INTO_CGROUP, .exit_signal = SIGCHLD, .cgroup = (uint64_t)a->cgroup2_dir};
		pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
		into = pid >= 0;
	}
	if (pid < 0)
		pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
	if (pid == 0)
		first_child(a, into);
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return -err;
	return pid;
}
