// podrun executes podrun-pod for the pod, image, bundle and completion
// command lines (main.go). This constructor does it before the Go runtime
// starts, so `podrun pod ...` costs one exec, not a Go runtime and every
// package's init first: it finds the command the way urfave/cli will (the
// first word after the global flags and their values, as
// runccli.CompanionLine, which TestDispatchAgreesWithGo holds it to) and
// execs podrun-pod from podrun's own directory. Anything else, or a
// failed exec, returns to Go, which looks on $PATH and reports.
//
// For run and exec it blocks the signals they forward to the container
// that Go would otherwise have to enable one at a time (see
// block_forwarded).
#define _GNU_SOURCE
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *const value_flags[] = {"root", "log", "log-format", "rootless", "criu", NULL};
static const char *const bool_flags[] = {"debug", "systemd-cgroup", "help", "h", "version", "v", NULL};
static const char *const companion[] = {"image", "bundle", "pod", "completion", NULL};

static int in(const char *const *set, const char *s, size_t n)
{
	for (; *set != NULL; set++)
		if (strlen(*set) == n && strncmp(*set, s, n) == 0)
			return 1;
	return 0;
}

// command returns the index in argv of the command urfave/cli will run:
// the first word after the global flags and their values; 0 when there is
// none or a flag urfave/cli refuses comes first.
static int command(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *t = argv[i];
		if (strcmp(t, "--") == 0)
			return 0;
		if (t[0] != '-' || t[1] == '\0')
			return i;
		const char *name = t[1] == '-' ? t + 2 : t + 1;
		size_t n = strcspn(name, "=");
		if (in(value_flags, name, n)) {
			if (name[n] != '=')
				i++; // its value
			continue;
		}
		if (!in(bool_flags, name, n))
			return 0; // urfave/cli refuses it
	}
	return 0;
}

int podrun_companion_line(int argc, char **argv)
{
	if (argc < 2)
		return 0;
	if (strcmp(argv[1], "__complete") == 0)
		return 1;
	int i = command(argc, argv);
	return i > 0 && in(companion, argv[i], strlen(argv[i]));
}

// The signal mask podrun was started with and the signals block_forwarded
// added to it (bit n-1 for signal n, the kernel's 64-bit sigset): 0 and 0
// unless this is a run or exec. main hands them to package sigfwd.
uint64_t podrun_sigfwd_orig, podrun_sigfwd_set;

// block_forwarded blocks, in a run or exec, the signals a foreground one
// forwards to the container and that Go's runtime ignores unless
// signal.Notify asks for them: SIGUSR1, SIGUSR2, SIGALRM, SIGXCPU, SIGXFSZ,
// SIGVTALRM, SIGIO, SIGPWR and the realtime ones from 35 (glibc keeps 32
// and 33; Go unblocks 34, musl's, on every thread and never catches it, so
// neither podrun nor runc can forward it). Go enables a signal with a
// round trip to its signal-mask thread (two thread wake-ups each way),
// 57 signals for all; blocked before the runtime starts, these
// 38 stay blocked on every thread it makes and are read from a signalfd
// (package sigfwd). The others (SIGTERM, SIGINT,
// SIGHUP, SIGQUIT, SIGCHLD, the stop and continue signals...) Go would
// act on itself, so they stay with signal.Notify. Children get the mask
// podrun started with back (sigfwd.ChildEnv, nsenter.c's hook step).
static void block_forwarded(int argc, char **argv)
{
	int i = command(argc, argv);
	if (i == 0 || (strcmp(argv[i], "run") != 0 && strcmp(argv[i], "exec") != 0))
		return;
	static const int sigs[] = {SIGUSR1, SIGUSR2, SIGALRM, SIGXCPU, SIGXFSZ, SIGVTALRM, SIGIO, SIGPWR};
	uint64_t set = 0, old = 0;
	for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		set |= 1ULL << (sigs[k] - 1);
	for (int s = 35; s <= 64; s++)
		set |= 1ULL << (s - 1);
	// The system call, not glibc's sigprocmask: the kernel's 64-bit set.
	if (syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, &old, sizeof(set)) < 0)
		return; // Go enables them all then, as before
	podrun_sigfwd_orig = old;
	podrun_sigfwd_set = set;
}

__attribute__((constructor)) static void podrun_dispatch(int argc, char **argv, char **envp)
{
	if (!podrun_companion_line(argc, argv)) {
		block_forwarded(argc, argv);
		return;
	}
	static const char name[] = "/podrun-pod";
	char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - sizeof(name));
	if (n <= 0)
		return;
	path[n] = '\0';
	char *slash = strrchr(path, '/');
	if (slash == NULL)
		return;
	memcpy(slash, name, sizeof(name));
	execve(path, argv, envp);
}
