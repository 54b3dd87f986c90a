package supervisor

import (
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/podrun/podrun/pod/manifest"
)

// TestCStatusSteps runs every step from every state: the allowed ones
// move the status as kubelet does, the others are refused and change
// nothing.
func TestCStatusSteps(t *testing.T) {
	at := time.Unix(1_000_000, 0)
	end := &manifest.ContainerStateTerminated{ExitCode: 1, Reason: "Error"}
	states := map[string]func() *cstatus{
		"waiting": func() *cstatus {
			s := cstatus(newCStatus(&manifest.Container{Name: "c"}, "", manifest.ReasonContainerCreating))
			return &s
		},
		"backoff": func() *cstatus { // waiting in CrashLoopBackOff after an end
			s := cstatus(newCStatus(&manifest.Container{Name: "c"}, "", manifest.ReasonCrashLoopBackOff))
			s.LastTerminationState = manifest.ContainerState{Terminated: end}
			return &s
		},
		"running": func() *cstatus {
			s := cstatus(newCStatus(&manifest.Container{Name: "c"}, "", ""))
			if err := s.Running("c1", at, false, false); err != nil {
				t.Fatal(err)
			}
			return &s
		},
		"started": func() *cstatus {
			s := cstatus(newCStatus(&manifest.Container{Name: "c"}, "", ""))
			if err := s.Running("c1", at, true, true); err != nil {
				t.Fatal(err)
			}
			return &s
		},
		"restartNow": func() *cstatus { // ended, restarting without back-off
			s := cstatus(newCStatus(&manifest.Container{Name: "c"}, "", ""))
			s.State = manifest.ContainerState{Terminated: end}
			s.LastTerminationState = s.State
			return &s
		},
		"terminated": func() *cstatus {
			s := cstatus(newCStatus(&manifest.Container{Name: "c"}, "", ""))
			s.State = manifest.ContainerState{Terminated: end}
			return &s
		},
	}
	type step struct {
		do    func(s *cstatus) error
		check func(t *testing.T, s *cstatus) // after an allowed step
	}
	steps := map[string]step{
		"Waiting": {func(s *cstatus) error { return s.Waiting("CreateContainerError", "boom") }, func(t *testing.T, s *cstatus) {
			if w := s.State.Waiting; w == nil || w.Reason != "CreateContainerError" || w.Message != "boom" {
				t.Errorf("state %+v", s.State)
			}
		}},
		"Running": {func(s *cstatus) error { return s.Running("c2", at, false, false) }, func(t *testing.T, s *cstatus) {
			if r := s.State.Running; r == nil || !r.StartedAt.Equal(at) || s.ContainerID != "podrun://c2" || *s.Started || s.Ready {
				t.Errorf("status %+v", s)
			}
		}},
		"StartupDone": {func(s *cstatus) error { return s.StartupDone(true) }, func(t *testing.T, s *cstatus) {
			if !*s.Started || !s.Ready || s.State.Running == nil {
				t.Errorf("status %+v", s)
			}
		}},
		"SetReady": {func(s *cstatus) error { return s.SetReady(true) }, func(t *testing.T, s *cstatus) {
			if !s.Ready {
				t.Error("not ready")
			}
		}},
		"Terminated": {func(s *cstatus) error {
			return s.Terminated(&manifest.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}, true)
		}, func(t *testing.T, s *cstatus) {
			if tt := s.State.Terminated; tt == nil || tt.Reason != "Completed" || *s.Started || !s.Ready {
				t.Errorf("status %+v (an init container done is ready, not started)", s)
			}
		}},
		"RestartPending": {func(s *cstatus) error { return s.RestartPending("back-off 10s") }, func(t *testing.T, s *cstatus) {
			if s.LastTerminationState.Terminated != end {
				t.Errorf("lastState %+v, want the end", s.LastTerminationState)
			}
			if w := s.State.Waiting; w == nil || w.Reason != manifest.ReasonCrashLoopBackOff || w.Message != "back-off 10s" {
				t.Errorf("state %+v", s.State)
			}
		}},
		"RestartPendingNow": {func(s *cstatus) error { return s.RestartPending("") }, func(t *testing.T, s *cstatus) {
			if s.LastTerminationState.Terminated != end || s.State.Terminated != end {
				t.Errorf("status %+v: want terminated, with the end as lastState", s)
			}
		}},
		"Restarting": {func(s *cstatus) error { return s.Restarting() }, func(t *testing.T, s *cstatus) {
			if s.RestartCount != 1 {
				t.Errorf("restartCount %d", s.RestartCount)
			}
		}},
		"RestartCancelled": {func(s *cstatus) error { return s.RestartCancelled() }, nil},
	}
	allowed := map[string][]string{
		"Waiting":           {"waiting", "backoff", "restartNow", "terminated"},
		"Running":           {"waiting", "backoff", "restartNow", "terminated"},
		"StartupDone":       {"running"},
		"SetReady":          {"running", "started"},
		"Terminated":        {"waiting", "backoff", "running", "started"},
		"RestartPending":    {"restartNow", "terminated"},
		"RestartPendingNow": {"restartNow", "terminated"},
		"Restarting":        {"backoff", "restartNow"},
		"RestartCancelled":  {"waiting", "backoff", "restartNow", "terminated"},
	}
	for sname, mk := range states {
		for stname, st := range steps {
			t.Run(sname+"/"+stname, func(t *testing.T) {
				s := mk()
				before := *s
				err := st.do(s)
				ok := false
				for _, a := range allowed[stname] {
					ok = ok || a == sname
				}
				if !ok {
					var se *statusError
					if !errors.As(err, &se) {
						t.Fatalf("error %v, want the step refused", err)
					}
					if !reflect.DeepEqual(*s, before) {
						t.Errorf("a refused step changed the status: %+v", s)
					}
					return
				}
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if st.check != nil {
					st.check(t, s)
				}
			})
		}
	}
	// A cancelled back-off shows the last end again; a cancelled
	// retry of a create (no end yet) stays waiting.
	s := states["backoff"]()
	if err := s.RestartCancelled(); err != nil || s.State.Terminated != end {
		t.Errorf("cancelled back-off: %v, state %+v", err, s.State)
	}
	s = states["waiting"]()
	if err := s.RestartCancelled(); err != nil || s.State.Waiting == nil {
		t.Errorf("cancelled retry: %v, state %+v", err, s.State)
	}
}

// TestCStatusOnlyWriter: outside cstatus.go, no statement assigns
// through a container's status (ctr.st); its methods move it.
func TestCStatusOnlyWriter(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	for _, name := range files {
		if name == "cstatus.go" || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		throughSt := func(e ast.Expr) bool {
			for {
				switch x := e.(type) {
				case *ast.SelectorExpr:
					if x.Sel.Name == "st" {
						return true
					}
					e = x.X
				case *ast.IndexExpr:
					e = x.X
				case *ast.StarExpr:
					e = x.X
				case *ast.ParenExpr:
					e = x.X
				default:
					return false
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			var lhs []ast.Expr
			switch s := n.(type) {
			case *ast.AssignStmt:
				lhs = s.Lhs
			case *ast.IncDecStmt:
				lhs = []ast.Expr{s.X}
			}
			for _, e := range lhs {
				if sel, ok := e.(*ast.SelectorExpr); ok && sel.Sel.Name != "st" && throughSt(sel.X) {
					t.Errorf("%s: writes a container status directly; use cstatus's methods", fset.Position(e.Pos()))
				}
			}
			return true
		})
	}
}
