#include <stdint.h>
#include <sys/types.h>

struct nsexec_rlimit {
	int resource;
	uint64_t cur, max;
};

// The steps that can fail, reported to the parent with an index (which
// rlimit, namespace, cgroup, fd) and the errno; Go words the error (nsexec.go).
enum nsexec_step {
	NSEXEC_STDIO = 1,
	NSEXEC_RLIMIT,
	NSEXEC_OOM_SCORE_ADJ,
	NSEXEC_APPARMOR,
	NSEXEC_SELINUX_KEYCREATE,
	NSEXEC_SELINUX,
	NSEXEC_AFFINITY_INITIAL,
	NSEXEC_CGROUP,
	NSEXEC_CGROUP2,
	NSEXEC_SETNS,
	NSEXEC_CLONE,
	NSEXEC_CLOSE_FDS,
	NSEXEC_PTY_OPEN,
	NSEXEC_PTY_UNLOCK,
	NSEXEC_PTY_NUMBER,
	NSEXEC_PTY_SLAVE,
	NSEXEC_PTY_WINSIZE,
	NSEXEC_PTY_CHOWN,
	NSEXEC_PTY_SEND,
	NSEXEC_SETSID,
	NSEXEC_CTTY,
	NSEXEC_PTY_DUP,
	NSEXEC_PERSONALITY,
	NSEXEC_SCHEDULER,
	NSEXEC_IOPRIO,
	NSEXEC_AFFINITY_FINAL,
	NSEXEC_SECCOMP,
	NSEXEC_SECCOMP_SEND,
	NSEXEC_CHDIR,
	NSEXEC_GETCWD,
	NSEXEC_CWD_OUTSIDE,
	NSEXEC_BOUNDING,
	NSEXEC_KEEPCAPS,
	NSEXEC_SETGROUPS,
	NSEXEC_SETGID,
	NSEXEC_SETUID,
	NSEXEC_CAPSET,
	NSEXEC_AMBIENT,
	NSEXEC_NO_NEW_PRIVS,
	NSEXEC_EXEC_STAT, // argv[0] has a '/': stat failed
	NSEXEC_EXEC_NOT_EXECUTABLE, // a directory or no x bit
	NSEXEC_EXEC_NOT_FOUND, // not in PATH
	NSEXEC_EXECVE,
	NSEXEC_PRESERVE_FD,
	NSEXEC_DMZ, // the exec of the sealed podrun failed
};

// What the command sends on the sync socket (SOCK_SEQPACKET): an error
// (then it exits), or the seccomp listener fd (SCM_RIGHTS) after which it
// waits for one byte back. EOF without either: it exec'd.
struct nsexec_msg {
	int32_t type; // 'E' or 'S'
	int32_t step, index, err;
};

struct nsexec_args {
	char **argv, **envp;
	const char *path; // PATH to search for argv[0] (NULL: the default)
	const char *cwd; // NULL: "/"
	int stdio[3];
	int syncfd; // the child's end of the sync socket (CLOEXEC)
	int pidfd; // write end of the pid pipe: the command's pid
	int *cgroups; // open v1 "tasks" files: "0" is written
	int ncgroups;
	int cgroup2_dir; // a cgroup2 directory for CLONE_INTO_CGROUP, or -1
	int cgroup2_procs; // its cgroup.procs, written if not born there, or -1
	int *nsfds; // namespace fds, in joining order (user first)
	int nns;
	uint32_t uid, gid;
	uint32_t *groups;
	int ngroups;
	int set_caps;
	uint64_t bounding, effective, permitted, inheritable, ambient;
	int no_new_privs;
	int umask; // -1: keep
	struct nsexec_rlimit *rlimits;
	int nrlimits;
	const char *oom_score_adj; // NULL: inherit
	const char *apparmor; // "exec <profile>", or NULL
	const char *selinux; // an SELinux label, or NULL
	long personality; // -1: keep
	void *sched_attr; // struct sched_attr for sched_setattr, or NULL
	int sched_attr_size;
	int ioprio; // -1: keep
	void *cpus_initial, *cpus_final; // cpu_set_t masks, or NULL
	int cpus_size;
	int console; // console socket: make a pty, send its master; or -1
	uint32_t console_uid; // owner of the slave (if not 0)
	int set_winsize;
	uint16_t rows, cols;
	int npreserve; // fds 3 .. 3+npreserve-1 reach the command
	void *seccomp; // struct sock_filter[]
	int seccomp_len;
	unsigned int seccomp_flags;
	int seccomp_early; // loaded before the credentials change (no no_new_privs)
	int seccomp_listener; // the filter returns a listener fd to send
	int dmz; // a sealed, read-only handle on podrun (see podrun_dmz)
	uint64_t sigmask; // the command's signal mask (the kernel's 64-bit set)
};

int podrun_nsexec(const struct nsexec_args *a);

// podrun_dmz is the rest of podrun_nsexec's child, run from the
// constructor of the sealed podrun it execs, before anything else; it
// returns if argv is not its own.
void podrun_dmz(int argc, char **argv, char **envp);
