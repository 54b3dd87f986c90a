package runtime

// Status is a container's state in the OCI lifecycle.
type Status string

// The states. Paused is a frozen cgroup (pause/resume).
const (
	Creating Status = "creating"
	Created  Status = "created"
	Running  Status = "running"
	Paused   Status = "paused"
	Stopped  Status = "stopped"
)

// transitions is the container state machine: which status may follow which.
// Stopped is reachable from everywhere because the init can die at any time.
var transitions = map[Status][]Status{
	Creating: {Created, Stopped},
	Created:  {Running, Paused, Stopped}, // runc pauses a created container too
	Running:  {Paused, Stopped},
	Paused:   {Running, Stopped},
	Stopped:  {},
}

// canTransition reports whether from -> to is a legal step.
func canTransition(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}
