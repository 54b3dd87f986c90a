package main

// The pod commands backed by the supervisor: ls, status, logs, events,
// wait, recover, and the hidden supervise (the daemon itself).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"sigs.k8s.io/yaml"

	"github.com/podrun/podrun/cmd/internal/runccli"
	"github.com/podrun/podrun/pod"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/supervisor"
)

// svRecoverIfNeeded adopts the pod with a new supervisor when its old one
// died (commands that need a live supervisor call it).
func svRecoverIfNeeded(ctx *cli.Context, e *runccli.Env, sb *pod.Sandbox) error {
	if supervisor.Alive(sb.StateDir) || supervisor.Final(sb) {
		return nil
	}
	lo, err := launchOptions(ctx, e, sb.Name)
	if err != nil {
		return err
	}
	return supervisor.Recover(sb, lo)
}

// svGetPod is loadPod for the commands that take the pod name alone.
func svGetPod(ctx *cli.Context, e *runccli.Env, cmd string) (*pod.Manager, *pod.Sandbox, error) {
	if ctx.NArg() > 1 {
		return nil, nil, fmt.Errorf("%q takes one pod name, got %d arguments", cmd, ctx.NArg())
	}
	return loadPod(ctx, e, cmd)
}

// ---- ls ----

func podLsCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name:      "ls",
		Aliases:   []string{"list"},
		Usage:     "list pods (NAME READY STATUS RESTARTS AGE, as kubectl get pods)",
		ArgsUsage: " ",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "quiet", Aliases: []string{"q"}, Usage: "names only"}},
		Action: func(ctx *cli.Context) error {
			if err := runccli.CheckArgs(ctx, "pod ls", 0); err != nil {
				return err
			}
			m, err := podManager(ctx, e)
			if err != nil {
				return err
			}
			sbs, err := m.List()
			if err != nil {
				return err
			}
			if ctx.Bool("quiet") {
				for _, sb := range sbs {
					fmt.Fprintln(ctx.App.Writer, sb.Name)
				}
				return nil
			}
			tw := tabwriter.NewWriter(ctx.App.Writer, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "NAME\tREADY\tSTATUS\tRESTARTS\tAGE")
			for _, sb := range sbs {
				fmt.Fprintln(tw, svRow(sb, false))
			}
			return tw.Flush()
		},
	}
}

// svRow is one kubectl-style line of a pod.
func svRow(sb *pod.Sandbox, wide bool) string {
	st, _, err := supervisor.Status(sb)
	sidecars := supervisor.Sidecars(sb.Pod)
	status := supervisor.DisplayStatus(&st, sidecars, supervisor.Stopping(sb))
	if err != nil {
		status = "Unknown"
	}
	r, t := supervisor.ReadyCount(&st, sidecars)
	if t == 0 {
		t = len(sb.Pod.Spec.Containers)
	}
	n, last := supervisor.Restarts(&st, sidecars)
	restarts := strconv.Itoa(n)
	if n > 0 && !last.IsZero() {
		restarts += " (" + humanAge(time.Since(last)) + " ago)"
	}
	row := fmt.Sprintf("%s\t%d/%d\t%s\t%s\t%s", sb.Name, r, t, status, restarts, humanAge(time.Since(sb.Created)))
	if wide {
		ip := sb.IP
		if ip == "" {
			ip = "<none>"
		}
		host, _ := os.Hostname()
		row += fmt.Sprintf("\t%s\t%s", ip, host)
	}
	return row
}

// humanAge is kubectl's duration.HumanDuration, roughly.
func humanAge(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	s := int(d.Seconds())
	switch {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case d < 10*time.Minute:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", s/60)
		}
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", s/60)
	case d < 8*time.Hour:
		if h, m := s/3600, (s%3600)/60; m != 0 {
			return fmt.Sprintf("%dh%dm", h, m)
		}
		return fmt.Sprintf("%dh", s/3600)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", s/3600)
	default:
		return fmt.Sprintf("%dd", s/86400)
	}
}

// ---- status ----

func podStatusCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name:      "status",
		Usage:     "show a pod's status (phase, conditions, container states)",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json, yaml or wide"}},
		Action: func(ctx *cli.Context) error {
			_, sb, err := svGetPod(ctx, e, "pod status")
			if err != nil {
				return err
			}
			st, _, err := supervisor.Status(sb)
			if err != nil {
				return err
			}
			w := ctx.App.Writer
			switch o := ctx.String("output"); o {
			case "json":
				b, err := json.MarshalIndent(st, "", "  ")
				if err != nil {
					return err
				}
				fmt.Fprintln(w, string(b))
			case "yaml":
				b, err := json.Marshal(st)
				if err != nil {
					return err
				}
				y, err := yaml.JSONToYAML(b)
				if err != nil {
					return err
				}
				w.Write(y)
			case "", "wide":
				tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
				hdr := "NAME\tREADY\tSTATUS\tRESTARTS\tAGE"
				if o == "wide" {
					hdr += "\tIP\tNODE"
				}
				fmt.Fprintln(tw, hdr)
				fmt.Fprintln(tw, svRow(sb, o == "wide"))
				tw.Flush()
				svDescribe(w, &st)
			default:
				return fmt.Errorf("--output: unknown format %q (want json, yaml or wide)", o)
			}
			return nil
		},
	}
}

// svDescribe prints phase, conditions and containers, as kubectl describe.
func svDescribe(w interface{ Write([]byte) (int, error) }, st *manifest.PodStatus) {
	fmt.Fprintf(w, "\nPhase: %s\n", st.Phase)
	if st.Message != "" {
		fmt.Fprintf(w, "Message: %s\n", st.Message)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Conditions:\n  TYPE\tSTATUS\tREASON\tLAST TRANSITION")
	for _, c := range st.Conditions {
		t := ""
		if c.LastTransitionTime != nil {
			t = c.LastTransitionTime.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, t)
	}
	tw.Flush()
	tw = tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "Containers:\n  NAME\tSTATE\tREADY\tSTARTED\tRESTARTS\tLAST STATE")
	row := func(prefix string, c manifest.ContainerStatus) {
		started := "false"
		if c.Started != nil && *c.Started {
			started = "true"
		}
		fmt.Fprintf(tw, "  %s%s\t%s\t%v\t%s\t%d\t%s\n", prefix, c.Name, svState(c.State), c.Ready, started, c.RestartCount, svState(c.LastTerminationState))
	}
	for _, c := range st.InitContainerStatuses {
		row("init:", c)
	}
	for _, c := range st.ContainerStatuses {
		row("", c)
	}
	tw.Flush()
}

func svState(s manifest.ContainerState) string {
	switch {
	case s.Running != nil:
		return "Running"
	case s.Waiting != nil:
		return "Waiting (" + s.Waiting.Reason + ")"
	case s.Terminated != nil:
		t := s.Terminated
		out := fmt.Sprintf("Terminated (%s, exit %d", t.Reason, t.ExitCode)
		if t.Signal != 0 {
			out += ", signal " + strconv.Itoa(int(t.Signal))
		}
		return out + ")"
	}
	return "-"
}

// ---- logs ----

func podLogsCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name:      "logs",
		Usage:     "print a container's logs",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "container", Aliases: []string{"c"}, Usage: "container name (default: the only container)"},
			&cli.BoolFlag{Name: "follow", Aliases: []string{"f"}, Usage: "follow the log"},
			&cli.BoolFlag{Name: "previous", Aliases: []string{"p"}, Usage: "the previous run of the container"},
		},
		Action: func(ctx *cli.Context) error {
			_, sb, err := svGetPod(ctx, e, "pod logs")
			if err != nil {
				return err
			}
			name := ctx.String("container")
			if name == "" {
				if len(sb.Pod.Spec.Containers) != 1 {
					var names []string
					for _, c := range sb.Pod.Spec.Containers {
						names = append(names, c.Name)
					}
					return fmt.Errorf("a container name must be specified for pod %s, choose one of: [%s]", sb.Name, strings.Join(names, " "))
				}
				name = sb.Pod.Spec.Containers[0].Name
			}
			if _, _, _, ok := pod.FindContainer(sb.Pod, name); !ok {
				return fmt.Errorf("--container: pod %s has no container %q", sb.Name, name)
			}
			if ctx.Bool("previous") || !ctx.Bool("follow") {
				if ctx.Bool("follow") {
					return errors.New("--follow and --previous cannot be used together")
				}
				return supervisor.PrintLogs(ctx.App.Writer, sb, name, ctx.Bool("previous"))
			}
			if err := svRecoverIfNeeded(ctx, e, sb); err != nil {
				return err
			}
			c, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			w := ctx.App.Writer
			return supervisor.FollowLogs(c, sb, name, func(_, _ string, line []byte) {
				w.Write(append(line, '\n'))
			})
		},
	}
}

// ---- events ----

func podEventsCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name:      "events",
		Usage:     "list what happened to a pod",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "json (one event per line)"}},
		Action: func(ctx *cli.Context) error {
			_, sb, err := svGetPod(ctx, e, "pod events")
			if err != nil {
				return err
			}
			evs, err := supervisor.ReadEvents(supervisor.EventsPath(sb.StateDir))
			if err != nil {
				return err
			}
			switch ctx.String("output") {
			case "json":
				enc := json.NewEncoder(ctx.App.Writer)
				for _, ev := range evs {
					enc.Encode(ev)
				}
				return nil
			case "":
			default:
				return fmt.Errorf("--output: unknown format %q (want json)", ctx.String("output"))
			}
			tw := tabwriter.NewWriter(ctx.App.Writer, 0, 8, 3, ' ', 0)
			fmt.Fprintln(tw, "TIME\tTYPE\tREASON\tOBJECT\tMESSAGE")
			for _, ev := range evs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ev.Time.UTC().Format("2006-01-02T15:04:05.000Z"), ev.Type, ev.Reason, ev.Object, ev.Message)
			}
			return tw.Flush()
		},
	}
}

// ---- wait ----

func podWaitCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name:      "wait",
		Usage:     "wait for a pod condition (--for condition=Ready) or phase (--for phase=Succeeded)",
		ArgsUsage: "NAME",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "for", Required: true, Usage: "condition=TYPE[=STATUS] or phase=PHASE"},
			&cli.DurationFlag{Name: "timeout", Value: 30 * time.Second, Usage: "give up after this long"},
		},
		Action: func(ctx *cli.Context) error {
			_, sb, err := svGetPod(ctx, e, "pod wait")
			if err != nil {
				return err
			}
			match, err := svWaitFor(ctx.String("for"))
			if err != nil {
				return err
			}
			if err := svRecoverIfNeeded(ctx, e, sb); err != nil {
				return err
			}
			deadline := time.Now().Add(ctx.Duration("timeout"))
			for {
				st, _, err := supervisor.Status(sb)
				if err != nil {
					return err
				}
				ok, never := match(&st)
				if ok {
					fmt.Fprintf(ctx.App.Writer, "pod/%s condition met\n", sb.Name)
					return nil
				}
				if never {
					return fmt.Errorf("pod/%s: the pod is %s; --for %s can no longer be met", sb.Name, st.Phase, ctx.String("for"))
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("timed out waiting for the condition on pods/%s", sb.Name)
				}
				time.Sleep(100 * time.Millisecond)
			}
		},
	}
}

// svWaitFor parses --for into a matcher returning (met, can never be met).
func svWaitFor(s string) (func(*manifest.PodStatus) (bool, bool), error) {
	kind, rest, ok := strings.Cut(s, "=")
	if !ok || rest == "" {
		return nil, fmt.Errorf("--for: %q: want condition=TYPE[=STATUS] or phase=PHASE", s)
	}
	switch strings.ToLower(kind) {
	case "condition":
		typ, want, _ := strings.Cut(rest, "=")
		if want == "" {
			want = "True"
		}
		return func(st *manifest.PodStatus) (bool, bool) {
			for _, c := range st.Conditions {
				if strings.EqualFold(string(c.Type), typ) && strings.EqualFold(string(c.Status), want) {
					return true, false
				}
			}
			return false, supervisor.Terminal(st.Phase)
		}, nil
	case "phase":
		return func(st *manifest.PodStatus) (bool, bool) {
			if strings.EqualFold(string(st.Phase), rest) {
				return true, false
			}
			return false, supervisor.Terminal(st.Phase)
		}, nil
	case "delete":
		return nil, errors.New("--for: delete is not supported; use pod rm")
	}
	return nil, fmt.Errorf("--for: %q: want condition=TYPE[=STATUS] or phase=PHASE", s)
}

// ---- recover, supervise ----

func podRecoverCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name:      "recover",
		Usage:     "start a new supervisor that adopts a pod whose supervisor died",
		ArgsUsage: "NAME",
		Action: func(ctx *cli.Context) error {
			_, sb, err := svGetPod(ctx, e, "pod recover")
			if err != nil {
				return err
			}
			return svRecoverIfNeeded(ctx, e, sb)
		},
	}
}

func podSuperviseCommand(e *runccli.Env) *cli.Command {
	return &cli.Command{
		Name:      "supervise",
		Hidden:    true,
		Usage:     "the pod's supervisor (started by pod run and pod recover)",
		ArgsUsage: "NAME | --fd-holder INFRA_PID",
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "fd-holder", Hidden: true}},
		Action: func(ctx *cli.Context) error {
			if ctx.NArg() != 1 {
				return errors.New(`"pod supervise" requires exactly 1 argument`)
			}
			if ctx.Bool("fd-holder") {
				pid, err := strconv.Atoi(ctx.Args().First())
				if err != nil {
					return fmt.Errorf("--fd-holder: bad infra pid %q", ctx.Args().First())
				}
				return supervisor.RunHolder(pid)
			}
			m, err := podManager(ctx, e)
			if err != nil {
				return err
			}
			lo, err := launchOptions(ctx, e, ctx.Args().First())
			if err != nil {
				return err
			}
			deps := supervisor.Deps{
				Manager:    m,
				Handlers:   &supervisor.ProbeHandlers{Runtime: e.RT},
				Exe:        "/proc/self/exe", // our sealed binary; os.Executable() is a path of its view only
				HolderArgs: append(lo.Args, "--fd-holder"),
			}
			return supervisor.Supervise(deps, ctx.Args().First())
		},
	}
}
