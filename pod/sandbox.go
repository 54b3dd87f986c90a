// Package pod is the sandbox of a Kubernetes Pod on one host: the infra
// (pause) container holding the pod's namespaces, its network (loopback or
// CNI), its cgroup, volumes and hosts files, and the OCI containers built
// from the manifest's containers that join it. It creates and destroys; the
// supervisor package decides when (starts, restarts, stops, status).
package pod

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/podrun/podrun/image"
	"github.com/podrun/podrun/image/fetch"
	"github.com/podrun/podrun/internal/atomicfile"
	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/internal/rootonly"
	"github.com/podrun/podrun/pod/manifest"
	"github.com/podrun/podrun/runtime"
)

// Typed errors.
var (
	ErrNotExist = errdefs.New(errdefs.ErrNotFound, "pod does not exist")
	ErrExist    = errdefs.New(errdefs.ErrAlreadyExists, "pod already exists")
	ErrNoInfra  = errdefs.New(errdefs.ErrFailedPrecondition, "the pod's infra container is not running")
)

// Annotations podrun puts on every OCI container of a pod, so that Destroy
// finds them (and only them) from the runtime's state.
const (
	AnnotationPodName   = "run.podrun.pod.name"
	AnnotationPodUID    = "run.podrun.pod.uid"
	AnnotationContainer = "run.podrun.pod.container"
	AnnotationAttempt   = "run.podrun.pod.attempt"
	// InfraName is the AnnotationContainer value of the infra container.
	InfraName = "POD"
)

// Manager creates and destroys pod sandboxes and their containers.
type Manager struct {
	// Runtime runs the OCI containers (its Root is podrun's --root).
	Runtime *runtime.Runtime
	// Images resolves the manifest's images.
	Images *image.Store
	// StateDir holds one directory per pod (<--root>/pods).
	StateDir string
	// DataDir holds the pods' volumes and logs (/var/lib/podrun/pods).
	DataDir string
	// Pause is the podrun binary the infra container runs in pause mode
	// (a static binary: it runs in an empty root). Default: os.Executable.
	Pause string
	// SeccompProfileRoot holds Localhost seccomp profiles (default
	// DefaultSeccompProfileRoot).
	SeccompProfileRoot string
	// CgroupRoot is the cgroup the pods' cgroups nest in, relative to
	// the hierarchies' roots (default DefaultCgroupRoot). Tests and other
	// users sharing the host give their own.
	CgroupRoot string
	// CNI: the conflist directory, the plugin directories and libcni's
	// cache (defaults: /etc/cni/net.d, /usr/lib/cni and /opt/cni/bin,
	// /var/lib/cni).
	CNIConfDir    string
	CNIPluginDirs []string
	CNICacheDir   string
	// Now is the clock (tests may fix it).
	Now func() time.Time

	// infra holds, by pod name, the infra inits this process created: it
	// is their parent and reaps them in Destroy. They are kept here, not
	// in the Sandbox, which is a record on disk.
	infraMu sync.Mutex
	infra   map[string]*runtime.Process
}

// Sandbox is a pod's record, persisted atomically at <StateDir>/<name>/pod.json.
type Sandbox struct {
	Name      string        `json:"name"`
	Namespace string        `json:"namespace"`
	UID       string        `json:"uid"`
	Pod       *manifest.Pod `json:"pod"`
	// Images maps each container name to the image ID it runs, resolved
	// once at creation so restarts run the same image.
	Images   map[string]string `json:"images"`
	InfraID  string            `json:"infraID"`
	InfraPid int               `json:"infraPid"`
	NetNS    string            `json:"netns,omitempty"`
	IPCNS    string            `json:"ipcns,omitempty"`
	UTSNS    string            `json:"utsns,omitempty"`
	PIDNS    string            `json:"pidns,omitempty"`
	IP       string            `json:"ip,omitempty"`
	// HostIPs are the node's addresses when the pod was made, primary
	// first (status.hostIP and hostIPs, the downward API's too).
	HostIPs []string `json:"hostIPs,omitempty"`
	// Network is the CNI network name; NetworkConf is the conflist used for
	// ADD, kept so DEL works even when the file is gone.
	Network      string            `json:"network,omitempty"`
	NetworkConf  json.RawMessage   `json:"networkConf,omitempty"`
	CNICacheDir  string            `json:"cniCacheDir,omitempty"`
	CNIPaths     []string          `json:"cniPaths,omitempty"`
	CgroupParent string            `json:"cgroupParent"`
	CgroupPaths  map[string]string `json:"cgroupPaths,omitempty"`
	StateDir     string            `json:"stateDir"`
	DataDir      string            `json:"dataDir"`
	// ClaimsDir holds the persistentVolumeClaim volumes (they outlive the pod).
	ClaimsDir string    `json:"claimsDir,omitempty"`
	Created   time.Time `json:"created"`
}

// CreateOptions are the choices of `pod run` that are not in the manifest.
type CreateOptions struct {
	// Network is a CNI network name (a conflist in CNIConfDir); "" gives
	// the pod a network namespace with loopback only.
	Network string
	// Images, when set, is what ResolveImages found for the pod's
	// containers (name → image ID), by a caller that checked the images
	// before asking for the sandbox: Create then skips the second lookup.
	// A container it lacks makes Create resolve them all itself.
	Images map[string]string `json:",omitempty"`
	// Objects are the ConfigMaps and Secrets the pod may reference; they
	// are kept on a tmpfs for the pod's life (objectvolumes.go).
	Objects *manifest.Objects `json:",omitempty"`
}

const recordName = "pod.json"

var nameRegexp = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

func (m *Manager) podDir(name string) string { return filepath.Join(m.StateDir, name) }

// Get loads the record of pod name.
func (m *Manager) Get(name string) (*Sandbox, error) {
	if !nameRegexp.MatchString(name) {
		return nil, fmt.Errorf("%w: %q", ErrNotExist, name)
	}
	data, err := os.ReadFile(filepath.Join(m.podDir(name), recordName))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, name)
	}
	if err != nil {
		return nil, err
	}
	var sb Sandbox
	if err := json.Unmarshal(data, &sb); err != nil {
		return nil, fmt.Errorf("pod %s: reading %s: %w", name, recordName, err)
	}
	return &sb, nil
}

// List loads every pod record, sorted by name; unreadable ones are skipped.
func (m *Manager) List() ([]*Sandbox, error) {
	ents, err := os.ReadDir(m.StateDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Sandbox
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		if sb, err := m.Get(e.Name()); err == nil {
			out = append(out, sb)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Save writes the record atomically.
func (sb *Sandbox) Save() error {
	data, err := json.MarshalIndent(sb, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteSync(filepath.Join(sb.StateDir, recordName), append(data, '\n'), 0o600)
}

// ContainerID is the OCI id of one run of a container of the pod: names
// of pods and containers have no "_", so the parts cannot collide.
func ContainerID(podName, ctr string, attempt int) string {
	return fmt.Sprintf("%s_%s_%d", podName, ctr, attempt)
}

func infraID(podName string) string { return podName + "_" + InfraName }

// maxIDLength bounds an OCI id: it names the container's state directory.
const maxIDLength = 255 // NAME_MAX

// checkIDLength refuses a pod whose container ids would not fit a
// directory name (a Kubernetes pod name may have 253 characters): the
// pod's name with its longest container name and a 10-digit attempt.
func checkIDLength(p *manifest.Pod) error {
	longest := InfraName
	for _, cs := range [][]manifest.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			if len(c.Name) > len(longest) {
				longest = c.Name
			}
		}
	}
	if n := len(ContainerID(p.Metadata.Name, longest, 1<<31-1)); n > maxIDLength {
		return fmt.Errorf("metadata.name: %d characters is too long: the id of container %q would have %d, more than %d",
			len(p.Metadata.Name), longest, n, maxIDLength)
	}
	return nil
}

// Create makes the sandbox of p (defaulted and valid): records it, resolves
// its images, makes volumes, the pod cgroup, the infra container (started)
// with its network, and the hosts files. On error everything is undone.
func (m *Manager) Create(p *manifest.Pod, o CreateOptions) (_ *Sandbox, retErr error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	name := p.Metadata.Name
	if !nameRegexp.MatchString(name) {
		return nil, fmt.Errorf("metadata.name: %q is not a valid pod name", name)
	}
	if err := checkIDLength(p); err != nil {
		return nil, err
	}
	cgRoot, err := m.cgroupRoot()
	if err != nil {
		return nil, err
	}
	images := o.Images
	if !coversAll(images, p) {
		if images, err = m.ResolveImages(p); err != nil {
			return nil, err
		}
	}
	// As a kubelet's node: spec.nodeName is this host's (pod inspect
	// and the downward API show it), status.hostIP its primary address.
	if p.Spec.NodeName == "" {
		p.Spec.NodeName = nodeName()
	}
	uid := p.Metadata.UID
	if uid == "" {
		uid = manifest.NewUID()
		p.Metadata.UID = uid
	}
	if err := m.privateDirs(); err != nil {
		return nil, err
	}
	dir := m.podDir(name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrExist, name)
		}
		return nil, err
	}
	// The uid names the pod's data dir, cgroup and CNI attachment. Claim it
	// with an exclusive mkdir before anything may be undone in its name: a
	// uid another pod holds fails here, without touching that pod.
	// (privateDirs made the root-only parent.)
	dataDir := filepath.Join(m.DataDir, uid)
	if err := os.Mkdir(dataDir, 0o700); err != nil {
		os.Remove(dir)
		if errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("metadata.uid: %s is the uid of another pod", uid)
		}
		return nil, err
	}
	ns := p.Metadata.Namespace
	if ns == "" {
		ns = "default"
	}
	sb := &Sandbox{
		Name: name, Namespace: ns, UID: uid, Pod: p, Images: images,
		HostIPs: hostIPs(), InfraID: infraID(name), StateDir: dir, ClaimsDir: m.ClaimsDir(), DataDir: dataDir,
		CgroupParent: "/" + cgRoot + "/pod-" + uid, Created: m.now().UTC(),
	}
	// The record exists before anything else, so Destroy (now on error, or
	// later after a crash) finds what to remove.
	if err := sb.Save(); err != nil {
		os.RemoveAll(dir)
		os.Remove(dataDir)
		return nil, err
	}
	defer func() {
		if retErr != nil {
			if err := m.Destroy(sb); err != nil {
				retErr = fmt.Errorf("%w (and cleaning up: %v)", retErr, err)
			}
		}
	}()
	if err := rootonly.Dir(sb.DataDir); err != nil {
		return nil, err
	}
	if o.Objects != nil {
		if err := o.Objects.CheckNamespace(ns); err != nil {
			return nil, err
		}
	}
	if err := sb.saveObjects(o.Objects); err != nil {
		return nil, err
	}
	if err := m.makeVolumes(sb); err != nil {
		return nil, err
	}
	if err := m.makePodCgroup(sb); err != nil {
		return nil, err
	}
	if err := sb.Save(); err != nil {
		return nil, err
	}
	if err := m.startInfra(sb); err != nil {
		return nil, err
	}
	if o.Network != "" {
		if err := m.networkAdd(sb, o.Network); err != nil {
			return nil, err
		}
	}
	if err := writeHostsFiles(sb); err != nil {
		return nil, err
	}
	if err := sb.Save(); err != nil {
		return nil, err
	}
	return sb, nil
}

// coversAll reports whether images names an image for every container of p.
func coversAll(images map[string]string, p *manifest.Pod) bool {
	for _, cs := range [][]manifest.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			if images[c.Name] == "" {
				return false
			}
		}
	}
	return true
}

// ResolveImages finds every container's image in the store (init and app
// containers): name → image ID. A missing image is pulled unless the pull
// policy is Never; such a container is left out of the map and waits
// with reason ErrImageNeverPull until the image is imported, as kubelet
// does. Call it before creating anything.
func (m *Manager) ResolveImages(p *manifest.Pod) (map[string]string, error) {
	out := map[string]string{}
	check := func(field string, cs []manifest.Container) error {
		for i, c := range cs {
			img, err := m.Images.Lookup(c.Image)
			if err != nil {
				if c.ImagePullPolicy == manifest.PullNever {
					continue
				}
				var perr error
				img, perr = fetch.Pull(contextBackground(), m.Images, c.Image, fetch.PullOptions{})
				if perr != nil {
					return fmt.Errorf("%s[%d].image: %q: not in the image store (%v) and pulling it failed: %v", field, i, c.Image, err, perr)
				}
			}
			if len(c.Command)+len(c.Args) == 0 {
				cfg, err := m.Images.Config(img)
				if err != nil {
					return fmt.Errorf("%s[%d].image: %w", field, i, err)
				}
				if len(cfg.Config.Entrypoint)+len(cfg.Config.Cmd) == 0 {
					return fmt.Errorf("%s[%d].command: the image %s has no Entrypoint or Cmd: the manifest must give a command", field, i, c.Image)
				}
			}
			out[c.Name] = img.ID
		}
		return nil
	}
	if err := check("spec.initContainers", p.Spec.InitContainers); err != nil {
		return nil, err
	}
	if err := check("spec.containers", p.Spec.Containers); err != nil {
		return nil, err
	}
	return out, nil
}
