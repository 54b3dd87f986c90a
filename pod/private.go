package pod

import (
	"fmt"

	"github.com/podrun/podrun/internal/rootonly"
)

// PrivateDirs (called by Create, and by the CLI for every pod command)
// makes the pods' state and data dirs root-only (0700), and
// fixes up those an older podrun made 0711: the data dir holds every
// pod's volumes (emptyDirs are 0777 for the containers' users) and logs,
// the state dir the supervisors' control sockets and the pods' hosts
// files; a host user who learns a pod's UID (it is in /proc/PID/cgroup)
// must reach none of them.
func (m *Manager) PrivateDirs() error {
	if err := rootonly.Dir(m.StateDir); err != nil {
		return fmt.Errorf("pod state dir: %w", err)
	}
	if err := rootonly.Dir(m.DataDir); err != nil {
		return fmt.Errorf("pod data dir: %w", err)
	}
	return nil
}
