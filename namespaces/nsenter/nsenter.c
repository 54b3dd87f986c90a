// The one step of podrun that must run before the Go runtime starts.
//
// setns(2) into a user namespace fails with EINVAL in a multi-threaded
// process, and the Go runtime starts threads before main(). So when podrun
// re-executes itself to enter a container whose user namespace already
// exists, this constructor joins it while the process is still
// single-threaded, and unshares the other namespaces the container asks for
// (so they are owned by that user namespace). Every other namespace is
// joined later from Go, on the init's locked main thread.
//
// setns(2) into a time namespace likewise needs a single-threaded caller
// (EUSERS otherwise), so an existing time namespace (exec into a container
// that has one) is joined here too, first, from _PODRUN_TIMENS_FD. And a
// new time namespace with offsets (linux.timeOffsets, the lines of
// _PODRUN_TIMENS_OFFSETS) is made here, last: the offsets can only be
// written before any process is in it, which clone(CLONE_NEWTIME) rules
// out, so the init unshares it, writes them and then enters it itself.
//
// It does nothing unless those variables are set, so ordinary podrun
// commands pay only three getenvs. Before all that, it is the helper of
// an exec when argv says so (podrun_dmz in nsexec.c), or a hook's
// trampoline (run_hook), and it sets the signal mask podrun was started
// with when podrun asks (restore_sigmask; package sigfwd says why).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "nsexec.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static void die(const char *what, const char *arg)
{
	// The parent reads stderr of a failed init; keep runc's one-line shape.
	fprintf(stderr, "nsenter: %s %s: %s\n", what, arg, strerror(errno));
	_exit(1);
}

// set_sigmask sets the kernel's 64-bit signal mask from its hexadecimal
// form (bit n-1 for signal n): the system call, as glibc's sigprocmask
// leaves out its own signals 32 and 33.
static void set_sigmask(const char *hex)
{
	uint64_t mask = strtoull(hex, NULL, 16);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof(mask));
}

// run_hook is the trampoline of a hook that a run or exec with blocked
// signals starts (sigfwd.HookCommand): argv {"podrun-hook", mask, path,
// hook argv...}. It sets the mask podrun was started with and executes the
// hook, or reports the errno of that execve on fd 3 (made close-on-exec
// here: EOF there means the hook runs). It runs first, before any step
// that the environment drives: the environment is the hook's.
static void run_hook(int argc, char **argv, char **envp)
{
	if (argc < 4 || strcmp(argv[0], "podrun-hook") != 0)
		return;
	fcntl(3, F_SETFD, FD_CLOEXEC);
	set_sigmask(argv[1]);
	execve(argv[2], argv + 3, envp);
	int err = errno;
	ssize_t n = write(3, &err, sizeof(err)); // nothing to do if it fails
	(void)n;
	_exit(127);
}

// restore_sigmask sets the signal mask of a process podrun started with
// its own binary (the init) to the one podrun was started with, before
// the Go runtime starts: podrun blocked some (cmd/podrun/dispatch.c),
// and the container's process inherits the init's.
static void restore_sigmask(void)
{
	const char *mask = getenv("_PODRUN_SIGMASK");
	if (mask == NULL)
		return;
	set_sigmask(mask);
	unsetenv("_PODRUN_SIGMASK");
}

static void join_time(void)
{
	const char *time_s = getenv("_PODRUN_TIMENS_FD");
	if (time_s == NULL)
		return;
	int tfd = atoi(time_s);
	if (setns(tfd, CLONE_NEWTIME) < 0)
		die("setns time namespace fd", time_s);
	close(tfd);
	unsetenv("_PODRUN_TIMENS_FD");
}

static void new_time(void)
{
	const char *offsets = getenv("_PODRUN_TIMENS_OFFSETS");
	if (offsets == NULL)
		return;
	if (unshare(CLONE_NEWTIME) < 0)
		die("linux.timeOffsets:", "unshare time namespace");
	// timens_offsets is the process's (its leader's): we are single-threaded.
	int fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("linux.timeOffsets: open", "/proc/self/timens_offsets");
	size_t n = strlen(offsets);
	if (write(fd, offsets, n) != (ssize_t)n)
		die("linux.timeOffsets: write", "/proc/self/timens_offsets");
	close(fd);
	fd = open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWTIME) < 0)
		die("linux.timeOffsets: entering", "the new time namespace");
	close(fd);
	unsetenv("_PODRUN_TIMENS_OFFSETS");
}

static void join_user(void)
{
	const char *fd_s = getenv("_PODRUN_USERNS_FD");
	if (fd_s == NULL)
		return;
	const char *flags_s = getenv("_PODRUN_UNSHARE");
	int fd = atoi(fd_s);
	if (setns(fd, CLONE_NEWUSER) < 0)
		die("setns user namespace fd", fd_s);
	close(fd);
	// Become root of the joined namespace, as runc's nsexec does: our
	// host ids are not mapped there, and files the init makes (the
	// container's /dev, mount points) would get the overflow id (EOVERFLOW).
	if (setresgid(0, 0, 0) < 0)
		die("setresgid to 0 in the joined user namespace (is gid 0 mapped?)", fd_s);
	if (setresuid(0, 0, 0) < 0)
		die("setresuid to 0 in the joined user namespace (is uid 0 mapped?)", fd_s);
	if (flags_s != NULL && *flags_s != '\0') {
		int flags = (int)strtol(flags_s, NULL, 10);
		if (flags != 0 && unshare(flags) < 0)
			die("unshare namespaces", flags_s);
	}
	unsetenv("_PODRUN_USERNS_FD");
	unsetenv("_PODRUN_UNSHARE");
}

// INIT_TIMERSLACK_NS is the timer slack of the init's Go runtime threads.
#define INIT_TIMERSLACK_NS 1000000UL

// init_timerslack widens the timer slack of `podrun init` before the Go
// runtime starts, so that every thread it makes inherits it. Go's sysmon
// thread sleeps 20 us at a time for its first 50 rounds and again after
// each wake-up: about 50 of the init's 100 context switches per start on
// these machines. With 1 ms of slack the kernel lets those sleeps run
// longer (the init lives ~8 ms; its sysmon has nothing to do in it). The
// init resets its main thread's slack first thing (namespaces.Init), so
// hooks and the container's process get the slack podrun had.
static void init_timerslack(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "init") == 0 && getenv("_PODRUN_SYNC_FD"))
		prctl(PR_SET_TIMERSLACK, INIT_TIMERSLACK_NS, 0, 0, 0);
}

// glibc passes init_array functions argc, argv and envp.
__attribute__((constructor)) static void podrun_nsenter(int argc, char **argv, char **envp)
{
	podrun_dmz(argc, argv, envp); // returns unless this is an exec's helper
	run_hook(argc, argv, envp);   // returns unless this is a hook's trampoline
	restore_sigmask();
	init_timerslack(argc, argv);
	join_time();
	join_user();
	new_time();
}
