// podrun executes podrun-pod for the pod, image, bundle and completion
// command lines (main.go). This constructor does it before the Go runtime
// starts, so `podrun pod ...` costs one exec, not a Go runtime and every
// package's init first: it finds the command the way urfave/cli will (the
// first word after the global flags and their values, as
// runccli.CompanionLine, which TestDispatchAgreesWithGo holds it to) and
// execs podrun-pod from podrun's own directory. Anything else, or a
// failed exec, returns to Go, which looks on $PATH and reports.
#define _GNU_SOURCE
#include <limits.h>
#include <string.h>
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

int podrun_companion_line(int argc, char **argv)
{
	if (argc < 2)
		return 0;
	if (strcmp(argv[1], "__complete") == 0)
		return 1;
	for (int i = 1; i < argc; i++) {
		const char *t = argv[i];
		if (strcmp(t, "--") == 0)
			return 0;
		if (t[0] != '-' || t[1] == '\0')
			return in(companion, t, strlen(t));
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

__attribute__((constructor)) static void podrun_dispatch(int argc, char **argv, char **envp)
{
	if (!podrun_companion_line(argc, argv))
		return;
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
