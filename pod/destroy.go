package pod

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/runtime"
)

// ContainerIDs lists the OCI containers of the pod (the infra too), from
// the runtime's state: ids named after the pod and annotated with its UID.
func (m *Manager) ContainerIDs(sb *Sandbox) ([]string, error) {
	ids, err := m.Runtime.IDs()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if !strings.HasPrefix(id, sb.Name+"_") {
			continue
		}
		st, err := m.Runtime.State(id)
		// A container whose state cannot be read (a crash mid-create) is
		// the pod's by its name: delete --force handles a partial state.
		if err == nil && st.Annotations[AnnotationPodUID] != sb.UID {
			continue
		}
		out = append(out, id)
	}
	return out, nil
}

// ErrNotRunning: the container has no running run.
var ErrNotRunning = errdefs.New(errdefs.ErrFailedPrecondition, "container is not running")

// NoContainerError is the answer for a container name the pod's manifest
// does not have (NotFound).
func NoContainerError(pod, name string) error {
	return errdefs.Newf(errdefs.ErrNotFound, "pod %s has no container %q", pod, name)
}

// RunningContainer returns the OCI id of the running run of container
// name (the newest attempt), e.g. for exec.
func (m *Manager) RunningContainer(sb *Sandbox, name string) (string, error) {
	if _, _, _, ok := FindContainer(sb.Pod, name); !ok {
		return "", NoContainerError(sb.Name, name)
	}
	ids, err := m.ContainerIDs(sb)
	if err != nil {
		return "", err
	}
	best, bestAttempt := "", -1
	for _, id := range ids {
		st, err := m.Runtime.State(id)
		if err != nil || st.Annotations[AnnotationContainer] != name || st.Status != runtime.Running {
			continue
		}
		a, err := strconv.Atoi(st.Annotations[AnnotationAttempt])
		if err == nil && a > bestAttempt {
			best, bestAttempt = id, a
		}
	}
	if best == "" {
		return "", fmt.Errorf("pod %s: container %s: %w", sb.Name, name, ErrNotRunning)
	}
	return best, nil
}

// Destroy removes everything of the pod: every container (delete --force),
// the network (CNI DEL, while the infra still holds the namespace), the
// infra container, the pod cgroup, the volumes and data dir (logs), the
// state dir. It is idempotent and works after a crash of anything: each
// step tolerates what is already gone; the record goes last, so a failed
// Destroy can be run again.
func (m *Manager) Destroy(sb *Sandbox) error {
	var errs []error
	ids, err := m.ContainerIDs(sb)
	if err != nil {
		errs = append(errs, err)
	}
	for _, id := range ids {
		if id == sb.InfraID {
			continue
		}
		if err := m.RemoveContainer(sb, id); err != nil {
			errs = append(errs, fmt.Errorf("container %s: %w", id, err))
		}
	}
	netns := ""
	if m.InfraRunning(sb) {
		netns = sb.NetNS
	}
	if err := networkDel(sb, netns); err != nil {
		errs = append(errs, err)
	}
	if err := m.Runtime.Delete(sb.InfraID, true); err != nil && !errors.Is(err, runtime.ErrNotExist) {
		errs = append(errs, fmt.Errorf("infra container: %w", err))
	}
	if p := m.takeInfra(sb.Name); p != nil {
		p.Wait() // reap our child
	}
	if err := destroyPodCgroup(sb); err != nil {
		errs = append(errs, err)
	}
	if sb.DataDir != "" {
		if err := unmountUnder(sb.DataDir); err != nil {
			errs = append(errs, err)
		} else if err := os.RemoveAll(sb.DataDir); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("destroying pod %s: %w", sb.Name, errors.Join(errs...))
	}
	// Nothing is mounted in the state dir (the containers' overlays live
	// in their own mount namespaces).
	if err := os.RemoveAll(sb.StateDir); err != nil {
		return fmt.Errorf("destroying pod %s: %w", sb.Name, err)
	}
	// The pods dir and the data dir go with their last pod (rmdir only
	// succeeds when empty), so a runtime root ends as it began.
	os.Remove(filepath.Dir(sb.StateDir))
	os.Remove(filepath.Dir(sb.DataDir))
	return nil
}
