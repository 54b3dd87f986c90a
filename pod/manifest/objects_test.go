package manifest

import (
	"errors"
	"strings"
	"testing"
)

const streamPod = `apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  containers:
  - name: a
    image: busybox
    envFrom:
    - configMapRef: {name: cfg}
      prefix: CFG_
    - secretRef: {name: missing, optional: true}
    env:
    - name: LEVEL
      valueFrom: {configMapKeyRef: {name: cfg, key: level}}
    - name: PASS
      valueFrom: {secretKeyRef: {name: creds, key: password}}
    - name: GONE
      valueFrom: {secretKeyRef: {name: creds, key: nope, optional: true}}
    - name: BOTH
      value: $(CFG_level)-$(PASS)
`

func TestParseStreamObjects(t *testing.T) {
	data := `# a comment
` + streamPod + `---
apiVersion: v1
kind: ConfigMap
metadata: {name: cfg}
data: {level: debug}
binaryData: {blob: AAEC}
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: default}
type: kubernetes.io/basic-auth
data: {username: YWRtaW4=}
stringData: {password: s3cr3t}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: data}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
`
	st, err := ParseStream([]byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if st.Pod == nil || st.Pod.Metadata.Name != "web" {
		t.Fatalf("pod = %+v", st.Pod)
	}
	cm := st.Objects.ConfigMaps["cfg"]
	if cm == nil || cm.Data["level"] != "debug" || string(cm.BinaryData["blob"]) != "\x00\x01\x02" {
		t.Fatalf("configmap = %+v", cm)
	}
	s := st.Objects.Secrets["creds"]
	if s == nil || string(s.Data["username"]) != "admin" || string(s.Data["password"]) != "s3cr3t" || s.StringData != nil {
		t.Fatalf("secret = %+v (stringData must be merged into data)", s)
	}
	if len(st.PersistentVolumeClaims) != 1 || st.PersistentVolumeClaims[0].Spec.Resources.Requests["storage"] != "1Gi" {
		t.Fatalf("pvcs = %+v", st.PersistentVolumeClaims)
	}
	p := st.Pod
	p.Default()
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	env, err := p.ContainerEnv(&p.Spec.Containers[0], FieldValues{Objects: &st.Objects})
	if err != nil {
		t.Fatal(err)
	}
	want := "CFG_level=debug LEVEL=debug PASS=s3cr3t BOTH=debug-s3cr3t"
	if got := strings.Join(env, " "); got != want {
		t.Errorf("env = %q, want %q", got, want)
	}
}

func TestContainerEnvMissing(t *testing.T) {
	st, err := ParseStream([]byte(streamPod))
	if err != nil {
		t.Fatal(err)
	}
	c := &st.Pod.Spec.Containers[0]
	c.EnvFrom = nil
	_, err = st.Pod.ContainerEnv(c, FieldValues{})
	if err == nil || err.Error() != `configmap "cfg" not found` {
		t.Errorf("missing configmap: err = %v", err)
	}
	o := &Objects{ConfigMaps: map[string]*ConfigMap{"cfg": {Data: map[string]string{"other": "x"}}}}
	st.Pod.Metadata.Namespace = "default"
	_, err = st.Pod.ContainerEnv(c, FieldValues{Objects: o})
	if err == nil || err.Error() != "couldn't find key level in ConfigMap default/cfg" {
		t.Errorf("missing key: err = %v", err)
	}
}

func TestParseStreamErrors(t *testing.T) {
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
	for name, tc := range map[string]struct{ data, want string }{
		"no pod":          {cm, "no Pod in the manifest"},
		"two pods":        {streamPod + "---\n" + streamPod, "document 2: kind: a second Pod"},
		"unknown kind":    {streamPod + "---\napiVersion: v1\nkind: Service\nmetadata: {name: s}\n", `document 2: kind: "Service" is not one of`},
		"unknown field":   {streamPod + "---\n" + cm + "datas: {a: b}\n", "document 2: datas: unknown field"},
		"bad base64":      {streamPod + "---\n" + cm + "binaryData: {a: '%%%'}\n", "document 2: binaryData.a: not valid base64"},
		"secret base64":   {streamPod + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ndata: {a: not-base64!}\n", "document 2: data.a: not valid base64"},
		"bad key":         {streamPod + "---\n" + cm + "data: {'..x': b}\n", `document 2: data...x: "..x" is not a valid key`},
		"dup key":         {streamPod + "---\n" + cm + "data: {a: b}\nbinaryData: {a: AA==}\n", "binaryData.a: duplicate of data.a"},
		"dup configmap":   {streamPod + "---\n" + cm + "---\n" + cm, `document 3: metadata.name: ConfigMap "c" given twice`},
		"tls keys":        {streamPod + "---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\ntype: kubernetes.io/tls\ndata: {tls.crt: AA==}\n", "data[tls.key]: required for type kubernetes.io/tls"},
		"no name":         {streamPod + "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n", "metadata.name: required"},
		"api version":     {streamPod + "---\napiVersion: v2\nkind: ConfigMap\nmetadata: {name: c}\n", `apiVersion: must be v1, not "v2"`},
		"pvc unknown":     {streamPod + "---\napiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: d}\nspec: {size: 1}\n", "spec.size: unknown field"},
		"too large value": {streamPod + "---\n" + cm + "data: {a: '" + strings.Repeat("x", maxObjectData) + "'}\n", "at most 1048576"},
	} {
		_, err := ParseStream([]byte(tc.data))
		if err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: err = %v, want %q (and ErrInvalid)", name, err, tc.want)
		}
	}
}

func TestAddObject(t *testing.T) {
	var o Objects
	if err := o.AddObject([]byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"s"},"data":{"k":"dg=="}}`), "Secret"); err != nil {
		t.Fatal(err)
	}
	if string(o.Secrets["s"].Data["k"]) != "v" || o.Secrets["s"].Type != "Opaque" {
		t.Errorf("secret = %+v", o.Secrets["s"])
	}
	err := o.AddObject([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), "Secret")
	if err == nil || !strings.Contains(err.Error(), `must be Secret, not "ConfigMap"`) {
		t.Errorf("wrong kind: err = %v", err)
	}
	o.ConfigMaps = map[string]*ConfigMap{"c": {Metadata: ObjectMeta{Name: "c", Namespace: "prod"}}}
	if err := o.CheckNamespace("default"); err == nil || !strings.Contains(err.Error(), `"prod" is not the pod's namespace "default"`) {
		t.Errorf("namespace: err = %v", err)
	}
}

func TestObjectVolumesValidate(t *testing.T) {
	base := "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: busybox}]\n  volumes:\n"
	for name, tc := range map[string]struct{ vol, want string }{
		"ok":            {`  - {name: v, projected: {defaultMode: 0400, sources: [{configMap: {name: c, items: [{key: k, path: a/b, mode: 0600}]}}, {secret: {name: s}}, {downwardAPI: {items: [{path: labels, fieldRef: {fieldPath: metadata.labels}}]}}]}}`, ""},
		"mode":          {`  - {name: v, configMap: {name: c, defaultMode: 1000}}`, "spec.volumes[0].configMap.defaultMode: 1000 must be a file mode"},
		"secret name":   {`  - {name: v, secret: {}}`, "spec.volumes[0].secret.secretName: required"},
		"dup path":      {`  - {name: v, projected: {sources: [{configMap: {name: c, items: [{key: k, path: p}]}}, {secret: {name: s, items: [{key: k, path: p}]}}]}}`, `projected.sources[1].secret.items[0].path: conflicting duplicate path "p"`},
		"field path":    {`  - {name: v, downwardAPI: {items: [{path: ip, fieldRef: {fieldPath: status.podIP}}]}}`, `fieldRef.fieldPath: "status.podIP" is not supported in a volume`},
		"container":     {`  - {name: v, downwardAPI: {items: [{path: cpu, resourceFieldRef: {resource: limits.cpu}}]}}`, "resourceFieldRef.containerName: required in a volume"},
		"two sources":   {`  - {name: v, projected: {sources: [{configMap: {name: c}, secret: {name: s}}]}}`, "sources[0]: exactly one of configMap, secret, downwardAPI is required"},
		"token":         {`  - {name: v, projected: {sources: [{serviceAccountToken: {path: t}}]}}`, "spec.volumes[0].projected.sources[0].serviceAccountToken: not supported by podrun"},
		"trust bundle":  {`  - {name: v, projected: {sources: [{clusterTrustBundle: {path: t}}]}}`, "projected.sources[0].clusterTrustBundle: not supported by podrun"},
		"two vol kinds": {`  - {name: v, configMap: {name: c}, secret: {secretName: s}}`, "exactly one volume source may be given"},
	} {
		p, err := Parse([]byte(base + tc.vol + "\n"))
		if err == nil {
			err = p.Validate()
		}
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

func TestObjectVolumeDefaultMode(t *testing.T) {
	p, err := Parse([]byte("apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec:\n  containers: [{name: a, image: busybox}]\n  volumes:\n  - {name: a, configMap: {name: c}}\n  - {name: b, secret: {secretName: s, defaultMode: 0400}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p.Default()
	if m := p.Spec.Volumes[0].ConfigMap.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("configMap defaultMode = %v, want 0644", m)
	}
	if m := p.Spec.Volumes[1].Secret.DefaultMode; m == nil || *m != 0o400 {
		t.Errorf("secret defaultMode = %v, want the manifest's 0400", m)
	}
}
