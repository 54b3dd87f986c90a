package pod

import (
	"fmt"

	"github.com/podrun/podrun/internal/rootonly"
)

// The pods' state and data dirs are root-only (0700): the data dir holds
// every pod's volumes (emptyDirs are 0777 for the containers' users) and
// logs, the state dir the supervisors' control sockets and the pods'
// hosts files; a host user who learns a pod's UID (it is in
// /proc/PID/cgroup) must reach none of them. Those an older podrun made
// 0711 are fixed up.

// privateDirs makes the state and data dirs (Create).
func (m *Manager) privateDirs() error { return eachDir(m.StateDir, m.DataDir, rootonly.Dir) }

// FixUpDirs fixes up a Manager's StateDir and DataDir if they exist,
// creating nothing: the CLI calls it for every pod command.
func FixUpDirs(stateDir, dataDir string) error { return eachDir(stateDir, dataDir, rootonly.FixUp) }

func eachDir(stateDir, dataDir string, f func(string) error) error {
	if err := f(stateDir); err != nil {
		return fmt.Errorf("pod state dir: %w", err)
	}
	if err := f(dataDir); err != nil {
		return fmt.Errorf("pod data dir: %w", err)
	}
	return nil
}
