package integration

// ConfigMaps and Secrets (in the manifest's YAML stream and from
// --configmap/--secret) used through env, envFrom and configMap, secret,
// downwardAPI and projected volumes, with manifests from the Kubernetes
// docs ("Configure a Pod to Use a ConfigMap", "Distribute Credentials
// Securely Using Secrets", "Expose Pod Information to Containers Through
// Files", "Projected Volumes"), checked inside the containers.

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/moby/sys/mountinfo"

	"github.com/podrun/podrun/pod/manifest"
)

// runWith is run with extra `pod run` flags.
func (e *svEnv) runWith(name, yaml string, flags ...string) {
	e.t.Helper()
	f := filepath.Join(e.t.TempDir(), name+".yaml")
	if err := os.WriteFile(f, []byte(yaml), 0o644); err != nil {
		e.t.Fatal(err)
	}
	e.pods = append(e.pods, name)
	e.mustPod(append([]string{"run", "-d", "-f", f}, flags...)...)
}

func (e *svEnv) succeeded(name string) {
	e.t.Helper()
	e.waitStatus(name, "Succeeded", func(s manifest.PodStatus) bool { return s.Phase == manifest.PodSucceeded })
}

func (e *svEnv) logsOf(pod, ctr string) string {
	e.t.Helper()
	return e.mustPod("logs", "-c", ctr, pod).Stdout
}

// "Configure a Pod to Use a ConfigMap": env from keys, envFrom, $(VAR) in
// the command, a configMap volume (all keys; items with a path and mode)
// laid out as kubelet's AtomicWriter, read-only, and a subPath into it.
func TestPodConfigMapDocs(t *testing.T) {
	e := newSvEnv(t)
	e.run("dapi-test-pod", `apiVersion: v1
kind: ConfigMap
metadata:
  name: special-config
  namespace: default
data:
  SPECIAL_LEVEL: very
  SPECIAL_TYPE: charm
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: env-config
  namespace: default
data:
  log_level: INFO
---
apiVersion: v1
kind: Pod
metadata:
  name: dapi-test-pod
spec:
  containers:
    - name: env
      image: busybox:test
      command: [ "/bin/sh", "-c", "echo $SPECIAL_LEVEL_KEY $LOG_LEVEL; env | grep -E '^SPECIAL_(LEVEL|TYPE)=' | sort" ]
      env:
        - name: SPECIAL_LEVEL_KEY
          valueFrom:
            configMapKeyRef:
              name: special-config
              key: SPECIAL_LEVEL
        - name: LOG_LEVEL
          valueFrom:
            configMapKeyRef:
              name: env-config
              key: log_level
      envFrom:
        - configMapRef:
            name: special-config
    - name: echo
      image: busybox:test
      command: [ "/bin/echo", "$(SPECIAL_LEVEL_KEY) $(SPECIAL_TYPE_KEY)" ]
      env:
        - name: SPECIAL_LEVEL_KEY
          valueFrom:
            configMapKeyRef:
              name: special-config
              key: SPECIAL_LEVEL
        - name: SPECIAL_TYPE_KEY
          valueFrom:
            configMapKeyRef:
              name: special-config
              key: SPECIAL_TYPE
    - name: volume
      image: busybox:test
      command: [ "/bin/sh", "-c", "ls /etc/config/; cat /etc/keys/keys; echo; readlink /etc/config/SPECIAL_LEVEL; ls -a /etc/config | grep -c '^[.][.]20'; stat -c %a /etc/config/..data/SPECIAL_LEVEL /etc/keys/..data/keys; stat -c %A /etc/config; cat /etc/level; echo; touch /etc/config/x 2>/dev/null || echo read-only" ]
      volumeMounts:
      - name: config-volume
        mountPath: /etc/config
      - name: keys-volume
        mountPath: /etc/keys
      - name: config-volume
        mountPath: /etc/level
        subPath: SPECIAL_LEVEL
  volumes:
    - name: config-volume
      configMap:
        name: special-config
    - name: keys-volume
      configMap:
        name: special-config
        defaultMode: 0600
        items:
        - key: SPECIAL_LEVEL
          path: keys
          mode: 0400
  restartPolicy: Never
`)
	e.succeeded("dapi-test-pod")
	for ctr, want := range map[string]string{
		"env":    "very INFO\nSPECIAL_LEVEL=very\nSPECIAL_TYPE=charm\n",
		"echo":   "very charm\n",
		"volume": "SPECIAL_LEVEL\nSPECIAL_TYPE\nvery\n..data/SPECIAL_LEVEL\n1\n644\n400\ndrwxrwxrwx\nvery\nread-only\n",
	} {
		if got := e.logsOf("dapi-test-pod", ctr); got != want {
			t.Errorf("container %s printed\n%s\nwant\n%s", ctr, got, want)
		}
	}
}

// "Distribute Credentials Securely Using Secrets": a secret volume (the
// docs' test-secret, with defaultMode 0400), a Secret given with --secret
// for env (backend-user) and a ConfigMap with --configmap for envFrom with
// a prefix. Secret volumes are tmpfs inside the container and on the host;
// no secret byte is on a disk under the pod's data or state dirs; pod rm
// leaves no mount behind.
func TestPodSecretDocs(t *testing.T) {
	e := newSvEnv(t)
	dir := t.TempDir()
	backend := filepath.Join(dir, "backend-user.yaml")
	os.WriteFile(backend, []byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: backend-user\ntype: Opaque\nstringData:\n  backend-username: backend-admin\n"), 0o644)
	cm := filepath.Join(dir, "cm.json")
	os.WriteFile(cm, []byte(`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app"}, "data": {"mode": "prod"}}`), 0o644)
	// A ConfigMap where a Secret belongs is refused, naming the flag.
	minimal := filepath.Join(dir, "pod.yaml")
	os.WriteFile(minimal, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: a, image: busybox:test}]}\n"), 0o644)
	r := e.pod("run", "-d", "-f", minimal, "--secret", cm)
	if r.Code == 0 || !strings.Contains(r.Stderr, "--secret "+cm+": kind: must be Secret, not \"ConfigMap\"") {
		t.Errorf("--secret with a ConfigMap: exit %d, stderr %q", r.Code, r.Stderr)
	}
	e.runWith("secret-test-pod", `apiVersion: v1
kind: Secret
metadata:
  name: test-secret
data:
  username: bXktYXBw
  password: Mzk1MjgkdmRnN0pi
---
apiVersion: v1
kind: Pod
metadata:
  name: secret-test-pod
spec:
  containers:
    - name: test-container
      image: busybox:test
      command: ["sh", "-c"]
      args:
      - |
        cd /etc/secret-volume; ls; test "$(cat username)" = my-app && echo username-ok; test "$(cat password)" = '39528$vdg7Jb' && echo password-ok; stat -c %a ..data/username; grep -c ' /etc/secret-volume tmpfs ' /proc/mounts; grep -c ' /etc/secret-400 tmpfs ' /proc/mounts; stat -c %a /etc/secret-400/..data/password; test "$SECRET_USERNAME" = backend-admin && echo env-ok; echo $APP_mode; stat -c %A /etc/secret-volume; sleep 3600
      env:
      - name: SECRET_USERNAME
        valueFrom:
          secretKeyRef:
            name: backend-user
            key: backend-username
      envFrom:
      - configMapRef:
          name: app
        prefix: APP_
      volumeMounts:
        - name: secret-volume
          mountPath: /etc/secret-volume
          readOnly: true
        - name: secret-400
          mountPath: /etc/secret-400
  volumes:
    - name: secret-volume
      secret:
        secretName: test-secret
    - name: secret-400
      secret:
        secretName: test-secret
        defaultMode: 0400
`, "--secret", backend, "--configmap", cm)
	want := "password\nusername\nusername-ok\npassword-ok\n644\n1\n1\n400\nenv-ok\nprod\ndrwxrwxrwt\n"
	if !waitFor(60e9, func() bool { return e.logsOf("secret-test-pod", "test-container") == want }) {
		t.Fatalf("container printed\n%s\nwant\n%s", e.logsOf("secret-test-pod", "test-container"), want)
	}

	// On the host: the secret volumes and the objects store are tmpfs;
	// nothing else under the data dir holds a secret. (The containers'
	// OCI config.json, with the env, is under --root, /run/podrun by
	// default, a tmpfs as containerd's bundles under /run.)
	tmpfs := map[string]bool{}
	ms, err := mountinfo.GetMounts(mountinfo.PrefixFilter(e.data))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.FSType == "tmpfs" {
			tmpfs[m.Mountpoint] = true
		}
	}
	var vols, objs int
	for mp := range tmpfs {
		switch {
		case strings.HasSuffix(mp, "/volumes/secret-volume"), strings.HasSuffix(mp, "/volumes/secret-400"):
			vols++
		case strings.HasSuffix(mp, "/objects"):
			objs++
		}
	}
	if vols != 2 || objs != 1 {
		t.Errorf("tmpfs mounts under the data dir: %v; want the 2 secret volumes and the objects store", tmpfs)
	}
	for _, root := range []string{e.data} {
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if d.IsDir() && tmpfs[p] {
				return filepath.SkipDir
			}
			if d.Type().IsRegular() {
				if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("39528$vdg7Jb")) || bytes.Contains(b, []byte("backend-admin")) {
					t.Errorf("a secret is on disk in %s", p)
				}
			}
			return nil
		})
	}
	e.mustPod("rm", "-f", "secret-test-pod")
	if ms, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(e.data)); len(ms) != 0 {
		t.Errorf("mounts left under the data dir after pod rm: %v", ms[0].Mountpoint)
	}
}

// "Expose Pod Information to Containers Through Files": labels and
// annotations as kubelet's FormatMap, and a container's cpu limit in
// millicores, in a downwardAPI volume.
func TestPodDownwardAPIVolumeDocs(t *testing.T) {
	e := newSvEnv(t)
	e.run("kubernetes-downwardapi-volume-example", `apiVersion: v1
kind: Pod
metadata:
  name: kubernetes-downwardapi-volume-example
  labels:
    zone: us-est-coast
    cluster: test-cluster1
    rack: rack-22
  annotations:
    build: two
    builder: john-doe
spec:
  restartPolicy: Never
  containers:
    - name: client-container
      image: busybox:test
      command: ["sh", "-c"]
      args:
      - cat /etc/podinfo/labels; echo; cat /etc/podinfo/annotations; echo; cat /etc/podinfo/cpu_limit; echo; cat /etc/podinfo/name; echo; grep -c ' /etc/podinfo tmpfs ' /proc/mounts
      resources:
        limits:
          cpu: "250m"
      volumeMounts:
        - name: podinfo
          mountPath: /etc/podinfo
  volumes:
    - name: podinfo
      downwardAPI:
        items:
          - path: "labels"
            fieldRef:
              fieldPath: metadata.labels
          - path: "annotations"
            fieldRef:
              fieldPath: metadata.annotations
          - path: "cpu_limit"
            resourceFieldRef:
              containerName: client-container
              resource: limits.cpu
              divisor: 1m
          - path: "name"
            fieldRef:
              fieldPath: metadata.name
`)
	e.succeeded("kubernetes-downwardapi-volume-example")
	want := "cluster=\"test-cluster1\"\nrack=\"rack-22\"\nzone=\"us-est-coast\"\nbuild=\"two\"\nbuilder=\"john-doe\"\n250\nkubernetes-downwardapi-volume-example\n1\n"
	if got := e.logsOf("kubernetes-downwardapi-volume-example", "client-container"); got != want {
		t.Errorf("container printed\n%s\nwant\n%s", got, want)
	}
}

// The "Projected Volumes" docs' all-in-one volume (a secret's key, labels
// and a cpu limit, a ConfigMap's key, into one directory), on a tmpfs, with
// fsGroup: group-owned by it, read-only masks, setgid directories.
func TestPodProjectedVolumeDocs(t *testing.T) {
	e := newSvEnv(t)
	e.run("volume-test", `apiVersion: v1
kind: Secret
metadata:
  name: mysecret
stringData:
  username: admin
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: myconfigmap
data:
  config: debug=true
---
apiVersion: v1
kind: Pod
metadata:
  name: volume-test
  labels:
    app: demo
spec:
  restartPolicy: Never
  securityContext:
    fsGroup: 2000
  containers:
  - name: container-test
    image: busybox:test
    command: ["sh", "-c", "cd /projected-volume; ls; ls my-group; cat my-group/my-username; echo; cat my-group/my-config; echo; cat labels; echo; cat cpu_limit; echo; stat -c '%A %g' . ..data/ ..data/my-group ..data/my-group/my-username; grep -c ' /projected-volume tmpfs ' /proc/mounts"]
    resources:
      limits:
        cpu: "2"
    volumeMounts:
    - name: all-in-one
      mountPath: "/projected-volume"
      readOnly: true
  volumes:
  - name: all-in-one
    projected:
      sources:
      - secret:
          name: mysecret
          items:
            - key: username
              path: my-group/my-username
      - downwardAPI:
          items:
            - path: "labels"
              fieldRef:
                fieldPath: metadata.labels
            - path: "cpu_limit"
              resourceFieldRef:
                containerName: container-test
                resource: limits.cpu
      - configMap:
          name: myconfigmap
          items:
            - key: config
              path: my-group/my-config
`)
	e.succeeded("volume-test")
	want := "cpu_limit\nlabels\nmy-group\nmy-config\nmy-username\nadmin\ndebug=true\napp=\"demo\"\n2\n" +
		"drwxrwsrwt 2000\ndrwxr-sr-x 2000\ndrwxr-sr-x 2000\n-rw-r--r-- 2000\n1\n"
	if got := e.logsOf("volume-test", "container-test"); got != want {
		t.Errorf("container printed\n%s\nwant\n%s", got, want)
	}
}

// A missing ConfigMap, Secret or key that is not optional: the pod is
// accepted and the container needing it waits with reason
// CreateContainerConfigError and kubelet's message (env and volume alike),
// while optional references that are missing leave the variable unset and
// the volume empty.
func TestPodMissingObjects(t *testing.T) {
	e := newSvEnv(t)
	e.run("missing", `apiVersion: v1
kind: ConfigMap
metadata:
  name: present
data:
  a: "1"
---
apiVersion: v1
kind: Pod
metadata:
  name: missing
spec:
  restartPolicy: Never
  containers:
  - name: badkey
    image: busybox:test
    command: ["true"]
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: present, key: nope}}
  - name: nosecret
    image: busybox:test
    command: ["true"]
    envFrom:
    - secretRef: {name: absent}
  - name: novolume
    image: busybox:test
    command: ["true"]
    volumeMounts: [{name: gone, mountPath: /gone}]
  - name: optional
    image: busybox:test
    command: ["sh", "-c", "echo ${X-unset} ${OPT_Y-unset}; ls -A /opt | grep -vc '^[.][.]'"]
    env:
    - name: X
      valueFrom: {configMapKeyRef: {name: present, key: nope, optional: true}}
    - name: OPT_Y
      valueFrom: {secretKeyRef: {name: absent, key: k, optional: true}}
    envFrom:
    - configMapRef: {name: absent, optional: true}
    volumeMounts: [{name: opt, mountPath: /opt}]
  volumes:
  - name: gone
    configMap: {name: present, items: [{key: nope, path: p}]}
  - name: opt
    secret: {secretName: absent, optional: true}
`)
	s := e.waitStatus("missing", "three CreateContainerConfigErrors and optional terminated", func(s manifest.PodStatus) bool {
		n := 0
		for _, c := range []string{"badkey", "nosecret", "novolume"} {
			if w := ctrStatus(s, c).State.Waiting; w != nil && w.Reason == "CreateContainerConfigError" {
				n++
			}
		}
		return n == 3 && ctrStatus(s, "optional").State.Terminated != nil
	})
	for ctr, msg := range map[string]string{
		"badkey":   "couldn't find key nope in ConfigMap default/present",
		"nosecret": `secret "absent" not found`,
		"novolume": `MountVolume.SetUp failed for volume "gone" : configmap references non-existent configmap key: nope`,
	} {
		if w := ctrStatus(s, ctr).State.Waiting; !strings.Contains(w.Message, msg) {
			t.Errorf("%s: waiting message %q, want it to contain %q", ctr, w.Message, msg)
		}
	}
	if got := e.logsOf("missing", "optional"); got != "unset unset\n0\n" {
		t.Errorf("optional printed %q", got)
	}
	// A stream with a bad document is refused, naming it.
	f := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(f, []byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {containers: [{name: a, image: busybox:test}]}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {k: '%%'}\n"), 0o644)
	if r := e.pod("run", "-d", "-f", f); r.Code == 0 || !strings.Contains(r.Stderr, "document 2: data.k: not valid base64") {
		t.Errorf("bad base64: exit %d, stderr %q", r.Code, r.Stderr)
	}
}

// A restarted container resolves its Secret again, also after the
// supervisor was killed and a new one recovered the pod: the objects
// outlive the supervisor (on their tmpfs), not only its memory.
func TestPodSecretsAfterRecovery(t *testing.T) {
	e := newSvEnv(t)
	e.run("sec-rec", `apiVersion: v1
kind: Secret
metadata: {name: creds}
stringData: {password: hunter2}
---
apiVersion: v1
kind: Pod
metadata: {name: sec-rec}
spec:
  restartPolicy: OnFailure
  containers:
  - name: crasher
    image: busybox:test
    command: ["sh", "-c", "echo $PASS; sleep 0.3; exit 1"]
    env:
    - name: PASS
      valueFrom: {secretKeyRef: {name: creds, key: password}}
`)
	e.waitStatus("sec-rec", "crasher restarted", func(s manifest.PodStatus) bool { return ctrStatus(s, "crasher").RestartCount >= 1 })
	e.killSupervisor("sec-rec")
	before := ctrStatus(e.status("sec-rec"), "crasher").RestartCount
	e.mustPod("recover", "sec-rec")
	s := e.waitStatus("sec-rec", "crasher restarted by the new supervisor", func(s manifest.PodStatus) bool {
		c := ctrStatus(s, "crasher")
		return c.RestartCount >= before+2 && c.State.Waiting == nil
	})
	if w := ctrStatus(s, "crasher").State.Waiting; w != nil {
		t.Fatalf("crasher waits: %+v", w)
	}
	if got := e.mustPod("logs", "--previous", "sec-rec").Stdout; got != "hunter2\n" {
		t.Errorf("the restarted run printed %q, want hunter2", got)
	}
}
