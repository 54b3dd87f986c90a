#include <stdint.h>
#include <sys/types.h>

struct nsexec_rlimit {
	int resource;
	uint64_t cur, max;
};

struct nsexec_args {
	char **argv, **envp;
	const char *path; // PATH to search for argv[0] (NULL: the default)
	const char *cwd;
	int stdio[3];
	int errfd; // write end of the error pipe (CLOEXEC)
	int pidfd; // write end of the pid pipe: the command's pid
	int *cgroups; // open v1 "tasks" files (or cgroup.procs): "0" is written
	int ncgroups;
	int cgroup2_dir; // a cgroup2 directory for CLONE_INTO_CGROUP, or -1
	int cgroup2_procs; // its cgroup.procs, used if clone3 is missing
	int *nsfds; // namespace fds, in joining order (user first)
	char **nsnames;
	int nns;
	uint32_t uid, gid;
	uint32_t *groups;
	int ngroups;
	int set_caps;
	uint64_t bounding, effective, permitted, inheritable, ambient;
	int no_new_privs;
	int userns; // a user namespace is joined: setgroups may be denied
	struct nsexec_rlimit *rlimits;
	int nrlimits;
	const char *oom_score_adj; // NULL: inherit
	const char *lsm_attr; // "exec <profile>" (AppArmor) or an SELinux label
	void *seccomp; // struct sock_filter[]
	int seccomp_len;
	unsigned int seccomp_flags;
};

int podrun_nsexec(const struct nsexec_args *a);
