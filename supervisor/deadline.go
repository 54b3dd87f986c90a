package supervisor

import (
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// kubelet's reason and message for a pod past its activeDeadlineSeconds
// (pkg/kubelet/active_deadline.go).
const (
	reasonDeadlineExceeded  = "DeadlineExceeded"
	messageDeadlineExceeded = "Pod was active on the node longer than the specified deadline"
)

// ActiveDeadline returns when a pod started at start runs out of its
// spec.activeDeadlineSeconds; ok is false when it has none.
func ActiveDeadline(p *manifest.Pod, start time.Time) (at time.Time, ok bool) {
	d := p.Spec.ActiveDeadlineSeconds
	if d == nil || start.IsZero() {
		return time.Time{}, false
	}
	return start.Add(time.Duration(*d) * time.Second), true
}

// armDeadline starts the timer of the pod's active deadline (also for an
// adopted pod: the deadline counts from status.startTime).
func (d *daemon) armDeadline() {
	if d.rec.Status.StartTime == nil || Terminal(d.rec.Status.Phase) {
		return
	}
	at, ok := ActiveDeadline(d.sb.Pod, d.rec.Status.StartTime.Time)
	if !ok {
		return
	}
	time.AfterFunc(at.Sub(d.now()), func() { d.post(d.deadlineExceeded) })
}

// deadlineExceeded fails the pod and stops its containers, as kubelet's
// ShouldEvict does for the active deadline.
func (d *daemon) deadlineExceeded() {
	s := &d.rec.Status
	if d.stopping || Terminal(s.Phase) {
		return
	}
	s.Phase, s.Reason, s.Message = manifest.PodFailed, reasonDeadlineExceeded, messageDeadlineExceeded
	d.event(Normal, reasonDeadlineExceeded, "pod", messageDeadlineExceeded)
	d.stop(d.grace(), nil)
	d.save()
}
