package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/podrun/podrun/intelrdt"
	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/lsm"
	"github.com/podrun/podrun/namespaces"
	"github.com/podrun/podrun/procattr"
)

// validateLinuxKnobs checks the kernel knobs of linux: time offsets,
// personality, mount label and Intel RDT. Host features are looked up only
// for a knob that is set.
func validateLinuxKnobs(l *specs.Linux) error {
	if err := namespaces.ValidateTimeOffsets(l.TimeOffsets, l.Namespaces); err != nil {
		return err
	}
	if err := procattr.ValidatePersonality(l.Personality); err != nil {
		return err
	}
	if err := (lsm.Host{}).CheckMountLabel(l.MountLabel); err != nil {
		return err
	}
	if l.IntelRdt != nil {
		if err := intelrdt.Validate(l.IntelRdt); err != nil {
			return err
		}
		if _, err := intelrdt.HostMountpoint(); err != nil {
			return fmt.Errorf("linux.intelRdt: %w", err)
		}
	}
	return nil
}

// validateProcessKnobs checks the LSM labels and scheduling attributes of
// a process (field is its name in errors).
func validateProcessKnobs(p *specs.Process, field string) error {
	if err := (lsm.Host{}).Check(lsm.Labels{AppArmorProfile: p.ApparmorProfile, SELinuxLabel: p.SelinuxLabel}, field); err != nil {
		return err
	}
	if err := procattr.ValidateScheduler(p.Scheduler, field+".scheduler"); err != nil {
		return err
	}
	if err := procattr.ValidateIOPriority(p.IOPriority, field+".ioPriority"); err != nil {
		return err
	}
	return procattr.ValidateAffinity(p.ExecCPUAffinity, field+".execCPUAffinity")
}

// intelRdtFile records, in the state dir, the resctrl groups create made,
// so that delete removes exactly those.
const intelRdtFile = "intelrdt.json"

// applyIntelRdt puts the init in its resctrl group (linux.intelRdt).
func (c *Container) applyIntelRdt(pid int) error {
	s, err := c.Spec()
	if err != nil {
		return err
	}
	l := s.Linux
	if l == nil || l.IntelRdt == nil {
		return nil
	}
	root, err := intelrdt.HostMountpoint()
	if err != nil {
		return fmt.Errorf("linux.intelRdt: %w", err)
	}
	g, applyErr := intelrdt.Apply(root, c.State.ID, l.IntelRdt, pid)
	// Recorded even on error: a failed create removes what was made.
	if b, err := json.Marshal(g); err == nil {
		if err := atomicfile.Write(filepath.Join(c.dir, intelRdtFile), b, 0o600); err != nil && applyErr == nil {
			applyErr = err
		}
	}
	return applyErr
}

// destroyIntelRdt removes the resctrl groups create recorded.
func (c *Container) destroyIntelRdt() error {
	b, err := os.ReadFile(filepath.Join(c.dir, intelRdtFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var g intelrdt.Group
	if err := json.Unmarshal(b, &g); err != nil {
		return fmt.Errorf("%s: %w", intelRdtFile, err)
	}
	return g.Destroy()
}
