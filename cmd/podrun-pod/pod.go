package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/internal/userfile"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
	"github.com/podrun/podrun/supervisor"
)

// podFlags configure where pods keep their data and how their network is
// set up; they sit on `podrun pod` and reach the supervisor it launches.
func podFlags() []cli.Flag {
	return []cli.Flag{
		storeFlag(),
		&cli.StringFlag{Name: "data-dir", EnvVars: []string{"PODRUN_POD_DATA"}, Value: "/var/lib/podrun/pods", Usage: "directory of the pods' volumes and logs"},
		&cli.StringFlag{Name: "seccomp-profile-root", EnvVars: []string{"PODRUN_SECCOMP_PROFILE_ROOT"}, Value: pod.DefaultSeccompProfileRoot, Usage: "directory of the Localhost seccomp profiles"},
		&cli.StringFlag{Name: "cgroup-root", EnvVars: []string{"PODRUN_POD_CGROUP_ROOT"}, Value: pod.DefaultCgroupRoot, Usage: "cgroup (relative to the hierarchies' roots) the pods' cgroups nest in"},
		&cli.StringFlag{Name: "cni-conf-dir", EnvVars: []string{"PODRUN_CNI_CONF_DIR"}, Value: pod.DefaultCNIConfDir, Usage: "directory of the CNI network conflists"},
		&cli.StringSliceFlag{Name: "cni-plugin-dir", EnvVars: []string{"PODRUN_CNI_PLUGIN_DIR"}, Value: cli.NewStringSlice(pod.DefaultCNIPluginDirs...), Usage: "directories of the CNI plugins"},
		// Set by launchOptions: the supervisor runs from a sealed copy whose
		// path means nothing on the host; the infra bind-mounts this one.
		&cli.StringFlag{Name: "pause-binary", Hidden: true},
		&cli.StringFlag{Name: "cni-cache-dir", EnvVars: []string{"PODRUN_CNI_CACHE_DIR"}, Value: pod.DefaultCNICacheDir, Usage: "directory of libcni's result cache"},
	}
}

func podCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name: "pod", Usage: "run Kubernetes Pod manifests on this host",
		Flags: podFlags(),
		Subcommands: []*cli.Command{
			podRunCommand(e), podInspectCommand(e), podExecCommand(e), podStopCommand(e), podRmCommand(e),
			// supervisor commands (pod_supervisor.go)
			podLsCommand(e), podStatusCommand(e), podLogsCommand(e), podEventsCommand(e),
			podWaitCommand(e), podRecoverCommand(e), podSuperviseCommand(e),
			podAttachCommand(e), // pod_attach.go
			podVolumeCommand(e), // pod_volume.go
		},
	}
}

// podManager is the pod.Manager of the global and pod flags.
func podManager(ctx *cli.Context, e *runccli.Env) (*pod.Manager, error) {
	s, err := image.Open(ctx.String("store"))
	if err != nil {
		return nil, fmt.Errorf("--store: %w", err)
	}
	root, err := filepath.Abs(e.RT.Root)
	if err != nil {
		return nil, err
	}
	if err := pod.FixUpDirs(filepath.Join(root, runtime.PodsDir), ctx.String("data-dir")); err != nil {
		return nil, err
	}
	return &pod.Manager{
		Runtime: e.RT, Images: s,
		StateDir: filepath.Join(root, runtime.PodsDir), DataDir: ctx.String("data-dir"),
		CNIConfDir: ctx.String("cni-conf-dir"), CNIPluginDirs: ctx.StringSlice("cni-plugin-dir"),
		CNICacheDir: ctx.String("cni-cache-dir"), Pause: ctx.String("pause-binary"),
		CgroupRoot: ctx.String("cgroup-root"), SeccompProfileRoot: ctx.String("seccomp-profile-root"),
	}, nil
}

// launchOptions runs `podrun <global flags> pod <pod flags> supervise NAME`
// with this invocation's settings.
func launchOptions(ctx *cli.Context, e *runccli.Env, name string) (supervisor.LaunchOptions, error) {
	exe, err := os.Executable()
	if err != nil {
		return supervisor.LaunchOptions{}, err
	}
	root, err := filepath.Abs(e.RT.Root)
	if err != nil {
		return supervisor.LaunchOptions{}, err
	}
	args := []string{"--root", root}
	if ctx.Bool("systemd-cgroup") {
		args = append(args, "--systemd-cgroup")
	}
	if ctx.Bool("debug") {
		args = append(args, "--debug")
	}
	// The supervisor runs in "/": relative directories are made absolute.
	abs := func(p string) string {
		if p == "" {
			return p // the default
		}
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	args = append(args, "pod", "--pause-binary", exe, "--store", abs(ctx.String("store")), "--data-dir", abs(ctx.String("data-dir")),
		"--cgroup-root", ctx.String("cgroup-root"), "--seccomp-profile-root", abs(ctx.String("seccomp-profile-root")),
		"--cni-conf-dir", abs(ctx.String("cni-conf-dir")), "--cni-cache-dir", abs(ctx.String("cni-cache-dir")))
	for _, d := range ctx.StringSlice("cni-plugin-dir") {
		args = append(args, "--cni-plugin-dir", abs(d))
	}
	args = append(args, "supervise")
	cfg, err := supervisor.ConfigFromEnv(supervisor.DefaultConfig())
	if err != nil {
		return supervisor.LaunchOptions{}, err
	}
	return supervisor.LaunchOptions{Exe: exe, Args: args, Name: name, Config: cfg}, nil
}

// loadPod returns the manager and the record of pod NAME (the argument).
func loadPod(ctx *cli.Context, e *runccli.Env, cmd string) (*pod.Manager, *pod.Sandbox, error) {
	if ctx.NArg() < 1 {
		return nil, nil, fmt.Errorf("%q requires a pod name", cmd)
	}
	m, err := podManager(ctx, e)
	if err != nil {
		return nil, nil, err
	}
	sb, err := m.Get(ctx.Args().First())
	if err != nil {
		return nil, nil, err
	}
	return m, sb, nil
}

// readManifest parses, defaults and validates the manifest of -f (a
// regular file or "-" for stdin, at most userfile.MaxSize bytes): a Pod
// and the ConfigMaps and Secrets beside it, to which those of
// --configmap and --secret are added. Its PersistentVolumeClaims are
// returned too: each names a claim volume to make.
func readManifest(path string, stdin io.Reader, configMaps, secrets []string) (*manifest.Pod, *manifest.Objects, []*manifest.PersistentVolumeClaim, error) {
	data, err := userfile.Read(path, stdin)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("pod run: manifest %s: %w", path, err)
	}
	st, err := manifest.ParseStream(data)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, f := range []struct {
		flag, kind string
		files      []string
	}{{"--configmap", "ConfigMap", configMaps}, {"--secret", "Secret", secrets}} {
		for _, path := range f.files {
			data, err := userfile.ReadFile(path)
			if err == nil {
				err = st.Objects.AddObject(data, f.kind)
			}
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s %s: %w", f.flag, path, err)
			}
		}
	}
	p := st.Pod
	p.Default()
	if err := p.Validate(); err != nil {
		return nil, nil, nil, err
	}
	if err := st.Objects.CheckNamespace(p.Metadata.Namespace); err != nil {
		return nil, nil, nil, err
	}
	return p, &st.Objects, st.PersistentVolumeClaims, nil
}

func podRunCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name: "run", Usage: "run a pod from a manifest", ArgsUsage: " ",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Required: true, Usage: "the Pod manifest (YAML or JSON; - for stdin); a YAML stream may add ConfigMaps, Secrets and PersistentVolumeClaims"},
			&cli.StringSliceFlag{Name: "configmap", Usage: "a ConfigMap (YAML or JSON file) the pod may use (repeatable)"},
			&cli.StringSliceFlag{Name: "secret", Usage: "a Secret (YAML or JSON file) the pod may use (repeatable)"},
			&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "return once the pod is started"},
			&cli.StringFlag{Name: "network", Usage: "CNI network (a conflist name in --cni-conf-dir); default: loopback only"},
		},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() > 0 {
				return fmt.Errorf("pod run: unexpected argument %q (the manifest comes with -f)", ctx.Args().First())
			}
			p, objs, claims, err := readManifest(ctx.String("file"), os.Stdin, ctx.StringSlice("configmap"), ctx.StringSlice("secret"))
			if err != nil {
				return err
			}
			if ign := p.Ignored(); len(ign) > 0 {
				fmt.Fprintf(ctx.App.ErrWriter, "podrun: ignoring fields that only mean something to a cluster: %s\n", strings.Join(ign, ", "))
			}
			m, err := podManager(ctx, e)
			if err != nil {
				return err
			}
			name := p.Metadata.Name
			if _, err := m.Get(name); err == nil {
				return fmt.Errorf("%w: %s", pod.ErrExist, name)
			}
			// Images first: a missing image fails before anything exists.
			images, err := m.ResolveImages(p)
			if err != nil {
				return err
			}
			// A claim in the stream is a named volume, made now if missing
			// (podman's kube play does the same with a PVC).
			for _, c := range claims {
				if err := m.EnsureClaim(c.Metadata.Name); err != nil {
					return fmt.Errorf("PersistentVolumeClaim %s: %w", c.Metadata.Name, err)
				}
			}
			o, err := launchOptions(ctx, e, name)
			if err != nil {
				return err
			}
			o.Pod, o.Options = p, pod.CreateOptions{Network: ctx.String("network"), Images: images, Objects: objs}
			// Ctrl-C from here on stops the pod rather than killing us.
			sigc := make(chan os.Signal, 2)
			if !ctx.Bool("detach") {
				signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM)
				defer signal.Stop(sigc)
			}
			if err := supervisor.Launch(o); err != nil {
				return err
			}
			if ctx.Bool("detach") {
				fmt.Fprintln(ctx.App.Writer, name)
				return nil
			}
			sb, err := m.Get(name)
			if err != nil {
				return err
			}
			return followPod(ctx, sb, o, sigc)
		},
	}
}

// followPod streams the pod's container output, prefixed by container
// name, until the pod finishes; a signal stops the pod (with its grace
// period) and the output is followed to the end.
func followPod(ctx *cli.Context, sb *pod.Sandbox, o supervisor.LaunchOptions, sigc chan os.Signal) error {
	stdout, stderr := ctx.App.Writer, ctx.App.ErrWriter
	width := 0
	for _, c := range append(append([]manifest.Container{}, sb.Pod.Spec.InitContainers...), sb.Pod.Spec.Containers...) {
		width = max(width, len(c.Name))
	}
	var mu sync.Mutex
	print := func(ctr, stream string, line []byte) {
		mu.Lock()
		defer mu.Unlock()
		w := stdout
		if stream == "stderr" {
			w = stderr
		}
		fmt.Fprintf(w, "%-*s | %s\n", width, ctr, line)
	}
	stopped := make(chan error, 1)
	go func() {
		if _, ok := <-sigc; !ok {
			return
		}
		fmt.Fprintf(stderr, "podrun: stopping pod %s\n", sb.Name)
		stopped <- supervisor.Stop(sb, -1, &o)
	}()
	if err := supervisor.FollowLogs(context.Background(), sb, "", print); err != nil {
		return err
	}
	select {
	case err := <-stopped:
		if err != nil {
			return err
		}
	default:
	}
	st, _, err := supervisor.Status(sb)
	if err != nil {
		return err
	}
	if st.Phase == manifest.PodFailed {
		return &runccli.ExitError{Code: 1}
	}
	return nil
}

func podInspectCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name: "inspect", Usage: "print a pod as a Kubernetes Pod (JSON: metadata, spec, status)", ArgsUsage: "NAME",
		Action: func(ctx *cli.Context) error {
			_, sb, err := loadPod(ctx, e, "pod inspect")
			if err != nil {
				return err
			}
			st, _, err := supervisor.Status(sb)
			if err != nil {
				return err
			}
			p := *sb.Pod
			if p.APIVersion == "" {
				p.APIVersion = "v1"
			}
			if p.Kind == "" {
				p.Kind = "Pod"
			}
			p.Status = st
			if p.Status.PodIP == "" && sb.IP != "" {
				p.Status.PodIP, p.Status.PodIPs = sb.IP, []manifest.PodIP{{IP: sb.IP}}
			}
			data, err := json.MarshalIndent(&p, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(ctx.App.Writer, "%s\n", data)
			return err
		},
	}
}

func podExecCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name: "exec", Usage: "run a command in a container of a pod", ArgsUsage: "NAME [--] COMMAND [ARG...]",
		// -it as kubectl exec -it (anywhere: kubectl.go).
		UseShortOptionHandling: true,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name (default: the first app container)"},
			&cli.BoolFlag{Name: "stdin", Aliases: []string{"i"}, Usage: "pass stdin to the command"},
			&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		},
		Action: func(ctx *cli.Context) error {
			m, sb, err := loadPod(ctx, e, "pod exec")
			if err != nil {
				return err
			}
			name, stdin, tty := ctx.String("container"), ctx.Bool("stdin"), ctx.Bool("tty")
			// kubectlArgs keeps "--" after the pod name; as kubectl
			// (since 1.24), the command must come after it.
			args := ctx.Args().Tail()
			if len(args) == 0 {
				return errors.New("pod exec: a command is required (pod exec NAME -- CMD...)")
			}
			if args[0] != "--" {
				return fmt.Errorf("pod exec: the command goes after \"--\" (pod exec NAME [-c CONTAINER] -- %s)", strings.Join(args, " "))
			}
			if args = args[1:]; len(args) == 0 {
				return errors.New("pod exec: a command is required (pod exec NAME -- CMD...)")
			}
			if name == "" {
				name = sb.Pod.Spec.Containers[0].Name
			}
			id, err := m.RunningContainer(sb, name)
			if err != nil {
				return err
			}
			p, err := e.RT.ExecProcess(id, runtime.ExecOverrides{Args: args, Terminal: tty})
			if err != nil {
				return err
			}
			if tty {
				sizeFromTerminal(p) // pod_attach.go
			}
			o := runtime.ExecOpts{Process: p, Stdio: runccli.StdioFiles()}
			if !stdin {
				devnull, err := os.Open(os.DevNull)
				if err != nil {
					return err
				}
				defer devnull.Close()
				o.Stdio[0] = devnull
			}
			var term *runccli.ForegroundTTY
			if tty {
				if term, err = runccli.NewTTYForProcess(); err != nil {
					return err
				}
				defer term.Close()
				o.ConsoleSocket = term.SocketPath()
			}
			child, err := e.RT.Exec(id, o)
			if err != nil {
				return err
			}
			// Terminal signals go to the command, as with kubectl exec.
			sigc := make(chan os.Signal, 8)
			signal.Notify(sigc, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
			defer signal.Stop(sigc)
			go func() {
				for sig := range sigc {
					child.Signal(sig)
				}
			}()
			if term != nil {
				if err := term.Attach(); err != nil {
					e.Log.Warnf("console: %v", err)
				}
			}
			st, err := child.Wait()
			if err != nil {
				return err
			}
			if ws, ok := st.Sys().(syscall.WaitStatus); ok {
				code := ws.ExitStatus()
				if ws.Signaled() {
					code = 128 + int(ws.Signal())
				}
				if code != 0 {
					return &runccli.ExitError{Code: code}
				}
			}
			return nil
		},
	}
}

// graceFlag is --timeout: seconds of grace; the manifest's when unset.
func graceFlag(ctx *cli.Context, def time.Duration) time.Duration {
	if ctx.IsSet("timeout") {
		return time.Duration(ctx.Int("timeout")) * time.Second
	}
	return def
}

func podStopCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name: "stop", Usage: "stop a pod's containers (preStop, SIGTERM, SIGKILL after the grace period; infra last)", ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "timeout", Usage: "grace period in seconds (default: the manifest's terminationGracePeriodSeconds)"},
		},
		Action: func(ctx *cli.Context) error {
			_, sb, err := loadPod(ctx, e, "pod stop")
			if err != nil {
				return err
			}
			o, err := launchOptions(ctx, e, sb.Name)
			if err != nil {
				return err
			}
			return supervisor.Stop(sb, graceFlag(ctx, -1), &o)
		},
	}
}

func podRmCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name: "rm", Usage: "remove a pod: containers, network, cgroups, volumes, logs and state", ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "force", Aliases: []string{"f"}, Usage: "stop a running pod first (SIGKILL unless --timeout)"},
			&cli.IntFlag{Name: "timeout", Usage: "with -f: grace period in seconds"},
		},
		Action: func(ctx *cli.Context) error {
			m, sb, err := loadPod(ctx, e, "pod rm")
			if err != nil {
				return err
			}
			running := supervisor.Alive(sb.StateDir) && !supervisor.Final(sb)
			if !running && !supervisor.Final(sb) && m.InfraRunning(sb) {
				running = true // no supervisor, but its containers live
			}
			if running && !ctx.Bool("force") {
				// A Succeeded or Failed pod's supervisor may still be
				// stopping the infra and draining logs: not running any
				// more, so wait for it to finish (bounded).
				if st, _, err := supervisor.Status(sb); err == nil && supervisor.Terminal(st.Phase) {
					for deadline := time.Now().Add(30 * time.Second); !supervisor.Final(sb) && supervisor.Alive(sb.StateDir) && time.Now().Before(deadline); {
						time.Sleep(10 * time.Millisecond)
					}
					running = !supervisor.Final(sb) && supervisor.Alive(sb.StateDir)
				}
			}
			if running {
				if !ctx.Bool("force") {
					return fmt.Errorf("pod %s is running: stop it first or use rm -f", sb.Name)
				}
				if supervisor.Alive(sb.StateDir) {
					if err := supervisor.Stop(sb, graceFlag(ctx, 0), nil); err != nil {
						e.Log.Warnf("stopping pod %s: %v", sb.Name, err)
					}
				}
			}
			// The supervisor ends once the pod is stopped; wait for it so
			// it does not write into what Destroy removes.
			// It answers the stop just before it exits: poll finely (a
			// 25 ms step cost rm -f a whole step in about half the runs).
			for deadline := time.Now().Add(5 * time.Second); supervisor.Alive(sb.StateDir) && time.Now().Before(deadline); {
				time.Sleep(time.Millisecond)
			}
			if supervisor.Alive(sb.StateDir) {
				return fmt.Errorf("pod %s: its supervisor is still running", sb.Name)
			}
			return m.Destroy(sb)
		},
	}
}
