// podrun's pause process: the infra container of a pod runs the podrun
// binary itself with _PODRUN_PAUSE set, and this constructor takes over
// before the Go runtime starts, so the pause costs a few pages of memory
// rather than a Go runtime (threads, heap, every package's init).
//
// It keeps the pod's namespaces alive, reaps zombies (it is pid 1 of the
// pod when the pod shares one PID namespace) and exits 0 on SIGTERM or
// SIGINT, as Kubernetes' pause does. Ordinary podrun commands pay one
// getenv.
#define _GNU_SOURCE
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig)
{
	(void)sig;
	_exit(0);
}

static void on_child(int sig)
{
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
}

__attribute__((constructor)) static void podrun_pause(void)
{
	const char *v = getenv("_PODRUN_PAUSE");
	if (v == NULL || strcmp(v, "1") != 0)
		return;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_child;
	sa.sa_flags = SA_NOCLDSTOP | SA_RESTART;
	sigaction(SIGCHLD, &sa, NULL);
	for (;;)
		pause();
}
