package main

import (
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
)

// forbidden are packages podrun must not link: each start of a container
// runs podrun twice (the CLI and the re-executed init) and pays for every
// linked package's init and pages. They belong to podrun-pod (pods,
// images, bundles, completion). A package path matches an entry equal to
// it or under it.
var forbidden = []string{
	"net/http", "crypto/tls", "crypto/x509", "mime", // image pull
	"archive/tar", "compress", "github.com/klauspost/compress", // image import, layer unpack
	"go.yaml.in/yaml", "gopkg.in/yaml.v2", "gopkg.in/yaml.v3", "sigs.k8s.io/yaml", // manifests
	"github.com/containernetworking",                                   // CNI
	"github.com/moby/profiles",                                         // a pod's RuntimeDefault seccomp profile
	"github.com/russross/blackfriday", "github.com/cpuguy83/go-md2man", // urfave/cli's docs (urfave_cli_no_docs)
	"github.com/podrun/podrun/pod",
	"github.com/podrun/podrun/supervisor",
	"github.com/podrun/podrun/probes",
	"github.com/podrun/podrun/image/fetch",
	"github.com/podrun/podrun/overlay/layer",
}

// The build tags of the Makefile's podrun.
const buildTags = "netgo osusergo urfave_cli_no_docs"

// TestLeanDeps fails when podrun links a forbidden package again, naming
// the chain that brings it in.
func TestLeanDeps(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(goruntime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(goBin, "list", "-deps", "-tags", buildTags, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	importers := map[string]string{} // package -> one package importing it
	var pkgs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs = append(pkgs, f[0])
		for _, imp := range f[1:] {
			if _, ok := importers[imp]; !ok {
				importers[imp] = f[0]
			}
		}
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list gave %d packages", len(pkgs))
	}
	for _, p := range pkgs {
		for _, bad := range forbidden {
			if p == bad || strings.HasPrefix(p, bad+"/") {
				chain := []string{p}
				for q := p; importers[q] != "" && len(chain) < 20; q = importers[q] {
					chain = append(chain, importers[q])
				}
				t.Errorf("podrun links %s (%s)", p, strings.Join(chain, " <- "))
			}
		}
	}
}
