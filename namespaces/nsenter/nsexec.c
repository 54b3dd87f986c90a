// podrun_nsexec: start a process in a container's namespaces and cgroups
// from a multi-threaded Go process, without starting a second Go runtime:
// `podrun exec` (runtime.Exec) and the supervisor's exec probes
// (runtime.LightExec) both run through here, as runc's nsexec and crun do
// their exec in C.
//
// The fork happens in C and the children only make system calls until the
// command execs: a forked copy of a multi-threaded process is
// single-threaded, so it may setns into a user or mount namespace, which
// the Go process itself cannot. Joining a PID (or time) namespace only
// affects children, so the first child (after setns) clones the command
// with CLONE_PARENT: the command is a child of the Go process (which waits
// for it) and a member of the container's PID namespace. The first child
// exits at once.
//
// No process of the exec ever runs the host's podrun binary inside the
// container: there a "#!/proc/self/exe" script (or binfmt) would run that
// binary, and a process could reopen it for writing once podrun is gone
// (CVE-2019-5736). So the first child, while still on the host, execs a
// sealed, read-only view of podrun (internal/exeseal) with the arguments
// in a memfd; the C constructor of that program (podrun_dmz, before any Go
// code) does the rest. A static or dynamic podrun alike: its loader is
// found on the host.
//
// Errors are sent on the sync socket as a step, an index and an errno
// (struct nsexec_msg); the Go side words them. The sync socket is
// close-on-exec: EOF means the command exec'd.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>
#include "nsexec.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif
#ifndef SYS_sched_setattr
#define SYS_sched_setattr __NR_sched_setattr
#endif
#ifndef SYS_ioprio_set
#define SYS_ioprio_set __NR_ioprio_set
#endif

// fail reports the failed step to the parent and exits.
static void fail(const struct nsexec_args *a, int step, int index, int err)
{
	struct nsexec_msg m = {'E', step, index, err};
	(void)!write(a->syncfd, &m, sizeof(m));
	_exit(127);
}

// close_fds_from closes every fd from lo up except those in keep (n of
// them, -1 for none), so that no host fd (a directory above all:
// CVE-2024-21626) is open once the process is in the container's mount
// namespace and could reach it through /proc/self/fd.
static void close_fds_from(unsigned int lo, int *keep, int n)
{
	// Sorted, to close the gaps between them.
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
			int t = keep[j];
			keep[j] = keep[j - 1];
			keep[j - 1] = t;
		}
	unsigned int from = lo;
	for (int i = 0; i < n; i++) {
		if (keep[i] < 0 || (unsigned int)keep[i] < from)
			continue;
		if ((unsigned int)keep[i] > from && syscall(SYS_close_range, from, keep[i] - 1, 0) < 0)
			goto slow;
		from = (unsigned int)keep[i] + 1;
	}
	if (syscall(SYS_close_range, from, ~0U, 0) == 0)
		return;
slow:
	// Kernels before 5.9: one by one up to the fd limit.
	{
		struct rlimit rl;
		unsigned long max = 65536;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
			max = rl.rlim_cur;
		for (unsigned long fd = lo; fd < max; fd++) {
			int k = 0;
			for (int i = 0; i < n; i++)
				k |= keep[i] == (int)fd;
			if (!k)
				close((int)fd);
		}
	}
}

// setup_console makes a pty in the container's /dev/pts, sends the master
// to the console socket (the name as payload, as runc) and makes the slave
// the controlling terminal and stdio.
static void setup_console(const struct nsexec_args *a)
{
	int m = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0)
		fail(a, NSEXEC_PTY_OPEN, 0, errno);
	int unlock = 0;
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		fail(a, NSEXEC_PTY_UNLOCK, 0, errno);
	unsigned int n;
	if (ioctl(m, TIOCGPTN, &n) < 0)
		fail(a, NSEXEC_PTY_NUMBER, 0, errno);
	char name[32];
	int nl = snprintf(name, sizeof(name), "/dev/pts/%u", n);
	if (a->set_winsize) {
		struct winsize ws = {.ws_row = a->rows, .ws_col = a->cols};
		if (ioctl(m, TIOCSWINSZ, &ws) < 0)
			fail(a, NSEXEC_PTY_WINSIZE, 0, errno);
	}
	// The slave of this master, not whatever the path names now.
	int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		s = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		fail(a, NSEXEC_PTY_SLAVE, (int)n, errno);
	// A non-root process owns its terminal, as with runc; EINVAL (uid not
	// mapped) and EPERM are ignored as runc ignores them.
	if (a->console_uid != 0 && fchown(s, a->console_uid, (gid_t)-1) < 0 && errno != EINVAL && errno != EPERM)
		fail(a, NSEXEC_PTY_CHOWN, 0, errno);
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {.iov_base = name, .iov_len = (size_t)nl};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &m, sizeof(int));
	if (sendmsg(a->console, &msg, 0) < 0)
		fail(a, NSEXEC_PTY_SEND, 0, errno);
	close(m);
	close(a->console);
	if (setsid() < 0)
		fail(a, NSEXEC_SETSID, 0, errno);
	if (ioctl(s, TIOCSCTTY, 0) < 0)
		fail(a, NSEXEC_CTTY, 0, errno);
	for (int i = 0; i < 3; i++)
		if (dup3(s, i, 0) < 0)
			fail(a, NSEXEC_PTY_DUP, i, errno);
	close(s);
}

static void load_seccomp(const struct nsexec_args *a)
{
	struct sock_fprog prog = {.len = (unsigned short)a->seccomp_len, .filter = (struct sock_filter *)a->seccomp};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, a->seccomp_flags, &prog);
	if (r < 0)
		fail(a, NSEXEC_SECCOMP, 0, errno);
	if (!a->seccomp_listener)
		return;
	// The listener goes to the parent in one sendmsg (write(2) may be what
	// the filter notifies, sendmsg never is), which hands it to the agent
	// and answers with one byte; anything else: the parent gave up.
	int fd = (int)r;
	struct nsexec_msg m = {'S', 0, 0, 0};
	char cbuf[CMSG_SPACE(sizeof(int))];
	memset(cbuf, 0, sizeof(cbuf));
	struct iovec iov = {.iov_base = &m, .iov_len = sizeof(m)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	if (sendmsg(a->syncfd, &msg, 0) < 0)
		fail(a, NSEXEC_SECCOMP_SEND, 0, errno);
	close(fd);
	char ok;
	struct iovec riov = {.iov_base = &ok, .iov_len = 1};
	struct msghdr rmsg = {.msg_iov = &riov, .msg_iovlen = 1};
	if (recvmsg(a->syncfd, &rmsg, 0) != 1)
		_exit(127);
}

// lookup finds the executable as execvp(3) would, with the process's PATH
// (podrun's Go lookPath: stat, not a directory, some x bit).
static const char *lookup(const struct nsexec_args *a, char *buf, size_t size)
{
	const char *file = a->argv[0];
	struct stat st;
	if (strchr(file, '/') != NULL) {
		if (stat(file, &st) < 0)
			fail(a, NSEXEC_EXEC_STAT, 0, errno);
		if (S_ISDIR(st.st_mode) || (st.st_mode & 0111) == 0)
			fail(a, NSEXEC_EXEC_NOT_EXECUTABLE, 0, EACCES);
		return file;
	}
	const char *path = a->path != NULL ? a->path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
	size_t fl = strlen(file);
	for (const char *p = path;; p++) {
		const char *end = strchrnul(p, ':');
		size_t dl = (size_t)(end - p);
		if (dl + fl + 3 <= size) {
			memcpy(buf, p, dl);
			size_t o = dl;
			if (dl == 0)
				buf[o++] = '.';
			buf[o++] = '/';
			memcpy(buf + o, file, fl + 1);
			if (stat(buf, &st) == 0 && !S_ISDIR(st.st_mode) && (st.st_mode & 0111) != 0)
				return buf;
		}
		if (*end == '\0')
			break;
		p = end;
	}
	fail(a, NSEXEC_EXEC_NOT_FOUND, 0, 0);
	return NULL;
}

// command prepares the process in the container, in the order of podrun's
// Go init and runc: fds, terminal, scheduling attributes, seccomp (early
// without no_new_privs: loading needs CAP_SYS_ADMIN), rlimits, cwd,
// bounding set, ids with keep-caps, capability sets, no_new_privs, umask,
// the executable, seccomp (late, with no_new_privs), exec.
static void command(const struct nsexec_args *a)
{
	int keep[2] = {a->syncfd, a->console};
	close_fds_from(3 + (unsigned int)a->npreserve, keep, 2);
	if (a->console >= 0)
		setup_console(a);
	if (a->personality >= 0 && personality((unsigned long)a->personality) < 0)
		fail(a, NSEXEC_PERSONALITY, 0, errno);
	if (a->sched_attr != NULL && syscall(SYS_sched_setattr, 0, a->sched_attr, 0) < 0)
		fail(a, NSEXEC_SCHEDULER, 0, errno);
	if (a->ioprio >= 0 && syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, a->ioprio) < 0)
		fail(a, NSEXEC_IOPRIO, 0, errno);
	if (a->cpus_final != NULL && sched_setaffinity(0, (size_t)a->cpus_size, a->cpus_final) < 0)
		fail(a, NSEXEC_AFFINITY_FINAL, 0, errno);
	if (a->seccomp_len > 0 && a->seccomp_early)
		load_seccomp(a);
	for (int i = 0; i < a->nrlimits; i++) {
		struct rlimit64 rl = {a->rlimits[i].cur, a->rlimits[i].max};
		if (syscall(SYS_prlimit64, 0, a->rlimits[i].resource, &rl, NULL) < 0)
			fail(a, NSEXEC_RLIMIT, i, errno);
	}
	if (chdir(a->cwd != NULL ? a->cwd : "/") < 0)
		fail(a, NSEXEC_CHDIR, 0, errno);
	// A cwd reached through a link to a directory outside the root (a
	// /proc/self/fd/N): the kernel's getcwd says "(unreachable)".
	char buf[4096];
	if (syscall(SYS_getcwd, buf, sizeof(buf)) < 0) {
		if (errno != ENOENT && errno != EINVAL)
			fail(a, NSEXEC_GETCWD, 0, errno);
		fail(a, NSEXEC_CWD_OUTSIDE, 0, 0);
	}
	if (buf[0] != '/')
		fail(a, NSEXEC_CWD_OUTSIDE, 0, 0);
	if (a->set_caps) {
		for (int c = 0; c <= 63; c++) {
			if (a->bounding & (1ULL << c))
				continue;
			if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) {
				if (errno == EINVAL)
					break; // past the kernel's last capability
				fail(a, NSEXEC_BOUNDING, c, errno);
			}
		}
		if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
			fail(a, NSEXEC_KEEPCAPS, 0, errno);
	}
	// In a user namespace with setgroups "deny" an empty list fails
	// harmlessly.
	if (syscall(SYS_setgroups, a->ngroups, a->groups) < 0 && !(errno == EPERM && a->ngroups == 0))
		fail(a, NSEXEC_SETGROUPS, 0, errno);
	if (syscall(SYS_setresgid, a->gid, a->gid, a->gid) < 0)
		fail(a, NSEXEC_SETGID, 0, errno);
	if (syscall(SYS_setresuid, a->uid, a->uid, a->uid) < 0)
		fail(a, NSEXEC_SETUID, 0, errno);
	if (a->set_caps) {
		if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
			fail(a, NSEXEC_KEEPCAPS, 0, errno);
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2] = {
			{(uint32_t)a->effective, (uint32_t)a->permitted, (uint32_t)a->inheritable},
			{(uint32_t)(a->effective >> 32), (uint32_t)(a->permitted >> 32), (uint32_t)(a->inheritable >> 32)},
		};
		if (syscall(SYS_capset, &h, d) < 0)
			fail(a, NSEXEC_CAPSET, 0, errno);
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
			fail(a, NSEXEC_AMBIENT, 0, errno);
		for (int c = 0; c <= 63; c++) {
			if ((a->ambient & (1ULL << c)) && prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
				fail(a, NSEXEC_AMBIENT, c, errno);
		}
	}
	if (a->no_new_privs && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fail(a, NSEXEC_NO_NEW_PRIVS, 0, errno);
	if (a->umask >= 0)
		umask((mode_t)a->umask);
	const char *exe = lookup(a, buf, sizeof(buf));
	if (a->seccomp_len > 0 && !a->seccomp_early)
		load_seccomp(a);
	for (int fd = 3; fd < 3 + a->npreserve; fd++) {
		if (fcntl(fd, F_SETFD, 0) < 0)
			fail(a, NSEXEC_PRESERVE_FD, fd, errno);
	}
	// The system call: glibc's sigprocmask leaves out its signals 32, 33.
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &a->sigmask, NULL, sizeof(a->sigmask));
	execve(exe, a->argv, a->envp);
	fail(a, NSEXEC_EXECVE, 0, errno);
}

static int write_attr(const char *path, const char *alt, const char *value)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && alt != NULL)
		fd = open(alt, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	int err = errno;
	close(fd);
	errno = err;
	return n < 0 ? -1 : 0;
}

// joined runs in the sealed podrun: the first child once exec'd. It is
// still on the host and single-threaded, with all signals blocked.
static void joined(const struct nsexec_args *a, int in_cgroup2)
{
	// On the host's /proc, before any setns; inherited by the command:
	// oom_score_adj, and the LSM exec labels (AppArmor's onexec and
	// SELinux's exec_sid are copied on fork, applied at its execve).
	if (a->oom_score_adj != NULL && write_attr("/proc/self/oom_score_adj", NULL, a->oom_score_adj) < 0)
		fail(a, NSEXEC_OOM_SCORE_ADJ, 0, errno);
	if (a->apparmor != NULL &&
	    write_attr("/proc/thread-self/attr/apparmor/exec", "/proc/thread-self/attr/exec", a->apparmor) < 0)
		fail(a, NSEXEC_APPARMOR, 0, errno);
	if (a->selinux != NULL) {
		if (write_attr("/proc/thread-self/attr/keycreate", NULL, a->selinux) < 0)
			fail(a, NSEXEC_SELINUX_KEYCREATE, 0, errno);
		if (write_attr("/proc/thread-self/attr/exec", NULL, a->selinux) < 0)
			fail(a, NSEXEC_SELINUX, 0, errno);
	}
	// No process of the container may ptrace the command, which holds
	// host fds until it closes them, before its exec (which resets it).
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	// The initial CPU affinity is set before the cgroup is joined (so a
	// cpuset there narrows it), the final one in the command.
	if (a->cpus_initial != NULL && sched_setaffinity(0, (size_t)a->cpus_size, a->cpus_initial) < 0)
		fail(a, NSEXEC_AFFINITY_INITIAL, 0, errno);
	// v1: "0" written to `tasks` moves only this (single) thread, which
	// skips the global threadgroup rwsem that a cgroup.procs write takes
	// (an RCU grace period, 7-19 ms, after every quiet spell).
	for (int i = 0; i < a->ncgroups; i++) {
		if (write(a->cgroups[i], "0", 1) != 1)
			fail(a, NSEXEC_CGROUP, i, errno);
	}
	if (!in_cgroup2 && a->cgroup2_procs >= 0 && write(a->cgroup2_procs, "0", 1) != 1)
		fail(a, NSEXEC_CGROUP2, 0, errno);
	for (int i = 0; i < a->nns; i++) {
		if (setns(a->nsfds[i], 0) < 0)
			fail(a, NSEXEC_SETNS, i, errno);
	}
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, 0, 0, 0, 0);
	if (pid < 0)
		fail(a, NSEXEC_CLONE, 0, errno);
	if (pid == 0)
		command(a);
	(void)!write(a->pidfd, &pid, sizeof(pid));
	_exit(0);
}

// The arguments cross the exec as one flat buffer in a memfd: the struct,
// then what its pointers point to, each pointer replaced by its offset + 1
// (0: NULL), string arrays as arrays of such offsets.
struct flat {
	char *buf;
	size_t len, cap;
	int err;
};

static uintptr_t put(struct flat *f, const void *p, size_t n)
{
	if (p == NULL)
		return 0;
	size_t off = (f->len + 7) & ~(size_t)7;
	if (off + n > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		while (off + n > cap)
			cap *= 2;
		char *b = realloc(f->buf, cap);
		if (b == NULL) {
			f->err = ENOMEM;
			return 0;
		}
		f->buf = b;
		f->cap = cap;
	}
	memset(f->buf + f->len, 0, off - f->len);
	memcpy(f->buf + off, p, n);
	f->len = off + n;
	return off + 1;
}

static uintptr_t put_str(struct flat *f, const char *s) { return s ? put(f, s, strlen(s) + 1) : 0; }

static uintptr_t put_strv(struct flat *f, char **v)
{
	int n = 0;
	while (v[n] != NULL)
		n++;
	uintptr_t offs[n + 1];
	for (int i = 0; i < n; i++)
		offs[i] = put_str(f, v[i]);
	offs[n] = 0;
	return put(f, offs, sizeof(offs));
}

#define AT(base, off) ((off) ? (void *)((base) + (off) - 1) : NULL)

static void *unflatten(char *buf)
{
	struct nsexec_args *a = (struct nsexec_args *)buf;
	char ***vs[2] = {&a->argv, &a->envp};
	for (int i = 0; i < 2; i++) {
		uintptr_t *offs = AT(buf, (uintptr_t)*vs[i]);
		for (int j = 0; offs[j] != 0; j++)
			offs[j] = (uintptr_t)AT(buf, offs[j]);
		*vs[i] = (char **)offs;
	}
#define FIX(field) a->field = AT(buf, (uintptr_t)a->field)
	FIX(path);
	FIX(cwd);
	FIX(cgroups);
	FIX(nsfds);
	FIX(groups);
	FIX(rlimits);
	FIX(oom_score_adj);
	FIX(apparmor);
	FIX(selinux);
	FIX(sched_attr);
	FIX(cpus_initial);
	FIX(cpus_final);
	FIX(seccomp);
#undef FIX
	return a;
}

static int flatten(const struct nsexec_args *a, struct flat *f)
{
	struct nsexec_args c = *a;
	put(f, &c, sizeof(c)); // its place, at offset 0
	c.argv = (char **)put_strv(f, a->argv);
	c.envp = (char **)put_strv(f, a->envp);
	c.path = (const char *)put_str(f, a->path);
	c.cwd = (const char *)put_str(f, a->cwd);
	c.cgroups = (int *)put(f, a->cgroups, sizeof(int) * (size_t)a->ncgroups);
	c.nsfds = (int *)put(f, a->nsfds, sizeof(int) * (size_t)a->nns);
	c.groups = (uint32_t *)put(f, a->groups, sizeof(uint32_t) * (size_t)a->ngroups);
	c.rlimits = (struct nsexec_rlimit *)put(f, a->rlimits, sizeof(struct nsexec_rlimit) * (size_t)a->nrlimits);
	c.oom_score_adj = (const char *)put_str(f, a->oom_score_adj);
	c.apparmor = (const char *)put_str(f, a->apparmor);
	c.selinux = (const char *)put_str(f, a->selinux);
	c.sched_attr = (void *)put(f, a->sched_attr, a->sched_attr_size);
	c.cpus_initial = (void *)put(f, a->cpus_initial, (size_t)a->cpus_size);
	c.cpus_final = (void *)put(f, a->cpus_final, (size_t)a->cpus_size);
	c.seccomp = (void *)put(f, a->seccomp, 8 * (size_t)a->seccomp_len);
	if (f->err)
		return -f->err;
	memcpy(f->buf, &c, sizeof(c));
	return 0;
}

// arg_fds_cloexec sets or clears close-on-exec on the fds the arguments
// name (and memfd): cleared for the exec of the sealed podrun, set again
// there.
static int arg_fds_cloexec(const struct nsexec_args *a, int memfd, int on)
{
	int n = 0, fds[a->ncgroups + a->nns + 5];
	fds[n++] = a->syncfd;
	fds[n++] = a->pidfd;
	fds[n++] = memfd;
	fds[n++] = a->console;
	fds[n++] = a->cgroup2_procs;
	for (int i = 0; i < a->ncgroups; i++)
		fds[n++] = a->cgroups[i];
	for (int i = 0; i < a->nns; i++)
		fds[n++] = a->nsfds[i];
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0 && fcntl(fds[i], F_SETFD, on ? FD_CLOEXEC : 0) < 0)
			return -1;
	return 0;
}

// podrun_dmz is the constructor's first step: in the sealed podrun the
// first child exec'd (argv {"podrun-nsexec", memfd, born in the cgroup2
// cgroup}), it reads the
// arguments and goes on; it never returns then.
void podrun_dmz(int argc, char **argv, char **envp)
{
	(void)envp;
	if (argc != 3 || argv == NULL || strcmp(argv[0], "podrun-nsexec") != 0)
		return;
	int fd = atoi(argv[1]);
	struct stat st;
	char *buf = NULL;
	if (fstat(fd, &st) == 0 && st.st_size > (off_t)sizeof(struct nsexec_args) && (buf = malloc((size_t)st.st_size)) != NULL &&
	    pread(fd, buf, (size_t)st.st_size, 0) == st.st_size) {
		struct nsexec_args *a = unflatten(buf);
		if (arg_fds_cloexec(a, fd, 1) < 0)
			fail(a, NSEXEC_DMZ, 0, errno);
		close(fd);
		joined(a, strcmp(argv[2], "1") == 0);
	}
	_exit(126); // no way to report: the parent sees the exit status
}

static void first_child(const struct nsexec_args *a, int memfd, int into)
{
	// Go's signal handlers never run here: every signal stays blocked
	// until the command's exec, and the exec below resets the handlers.
	int stdio[3];
	for (int i = 0; i < 3; i++) {
		stdio[i] = a->stdio[i];
		// One of the others' targets: move it out of the way first.
		if (stdio[i] < 3 && stdio[i] != i && (stdio[i] = fcntl(stdio[i], F_DUPFD_CLOEXEC, 3)) < 0)
			fail(a, NSEXEC_STDIO, i, errno);
	}
	for (int i = 0; i < 3; i++) {
		if (stdio[i] == i ? fcntl(i, F_SETFD, 0) < 0 : dup2(stdio[i], i) < 0)
			fail(a, NSEXEC_STDIO, i, errno);
	}
	// Nothing else of the Go process reaches the sealed podrun: every fd
	// close-on-exec but those the arguments name.
	if (syscall(SYS_close_range, 3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
		// Kernels before 5.11: mark them one by one.
		struct rlimit rl;
		unsigned long max = 65536;
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < max)
			max = rl.rlim_cur;
		for (unsigned long fd = 3; fd < max; fd++)
			fcntl((int)fd, F_SETFD, FD_CLOEXEC);
	}
	if (arg_fds_cloexec(a, memfd, 0) < 0)
		fail(a, NSEXEC_DMZ, 0, errno);
	for (int fd = 3; fd < 3 + a->npreserve; fd++)
		if (fcntl(fd, F_SETFD, 0) < 0)
			fail(a, NSEXEC_PRESERVE_FD, fd, errno);
	char fds[16];
	snprintf(fds, sizeof(fds), "%d", memfd);
	char *argv[] = {"podrun-nsexec", fds, into ? "1" : "0", NULL}, *envp[] = {NULL};
	syscall(SYS_execveat, a->dmz, "", argv, envp, AT_EMPTY_PATH);
	fail(a, NSEXEC_DMZ, -1, errno);
}

int podrun_nsexec(const struct nsexec_args *a)
{
	struct flat f = {0};
	int err = flatten(a, &f);
	int memfd = -1;
	if (err == 0 && (memfd = (int)syscall(SYS_memfd_create, "podrun-exec", MFD_CLOEXEC)) < 0)
		err = -errno;
	if (err == 0 && write(memfd, f.buf, f.len) != (ssize_t)f.len)
		err = errno ? -errno : -EIO;
	free(f.buf);
	if (err != 0) {
		if (memfd >= 0)
			close(memfd);
		return err;
	}
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
		first_child(a, memfd, into);
	err = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(memfd);
	if (pid < 0)
		return -err;
	return pid;
}
