package manifest

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/podrun/podrun/internal/errdefs"
	"github.com/podrun/podrun/internal/userfile"
)

// ErrInvalid is wrapped by every parse and validation error.
var ErrInvalid = errdefs.New(errdefs.ErrInvalidArgument, "invalid pod manifest")

// FieldError is one problem at a field path such as
// "spec.containers[1].ports[0].containerPort".
type FieldError struct {
	Path string
	Msg  string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// Unwrap makes errors.Is(err, ErrInvalid) hold.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// ErrorList is every field error found, printed on one line.
type ErrorList []*FieldError

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "; ")
}

// Unwrap makes errors.Is(err, ErrInvalid) and errors.As(err, **FieldError) work.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

func (l ErrorList) err() error {
	if len(l) == 0 {
		return nil
	}
	return l
}

// maxManifest bounds the input; a Pod manifest is a few kB.
const maxManifest = userfile.MaxSize

// Parse reads one Pod from JSON or from a YAML stream holding exactly one
// non-empty document. Decoding is strict: an unknown field is an error naming
// its path, as is a value of the wrong type. Cluster-only fields are accepted
// and listed by Ignored. A status and a metadata.uid in the manifest are
// dropped (and listed): podrun computes its own, as the API server does. Parse neither defaults nor validates; call
// Default then Validate.
//
// Hostile input is bounded: more than userfile.MaxSize bytes, or objects
// and lists nested more than userfile.MaxDepth deep, are refused before a
// parser recurses into them.
func Parse(data []byte) (*Pod, error) {
	if len(data) > maxManifest {
		return nil, &FieldError{Msg: "manifest " + userfile.ErrTooLarge.Error()}
	}
	doc := data
	if t := bytes.TrimSpace(data); len(t) == 0 || t[0] != '{' {
		docs := splitYAML(data)
		switch len(docs) {
		case 0:
			return nil, &FieldError{Msg: "empty manifest: want one Pod"}
		case 1:
		default:
			return nil, &FieldError{Msg: fmt.Sprintf("%d YAML documents: want exactly one Pod", len(docs))}
		}
		doc = docs[0]
	}
	obj, err := decodeDocument(doc)
	if err != nil {
		return nil, err
	}
	var errs ErrorList
	if v, _ := obj["apiVersion"].(string); v != "v1" {
		errs = append(errs, &FieldError{"apiVersion", fmt.Sprintf("must be v1, not %q", v)})
	}
	if v, _ := obj["kind"].(string); v != "Pod" {
		errs = append(errs, &FieldError{"kind", fmt.Sprintf("must be Pod, not %q", v)})
	}
	if len(errs) > 0 {
		return nil, errs
	}
	var dropped []string
	if st, ok := obj["status"]; ok {
		delete(obj, "status")
		if m, ok := st.(map[string]any); !ok || len(m) > 0 {
			dropped = append(dropped, "status")
		}
	}
	// The uid is the API server's to assign, to every new pod: it names the
	// pod's data dir, cgroup and CNI attachment, so a uid from the manifest
	// (another pod's, or one with a ';' that CNI refuses) is dropped and
	// reported, and Default generates one.
	if md, ok := obj["metadata"].(map[string]any); ok {
		if _, ok := md["uid"]; ok {
			delete(md, "uid")
			dropped = append(dropped, "metadata.uid")
		}
	}

	p := &Pod{}
	if err := strictUnmarshal(obj, reflect.TypeFor[Pod](), p); err != nil {
		return nil, err
	}
	p.ignored = dropped
	return p, nil
}

// decodeDocument decodes one JSON object or YAML document into a tree
// (numbers as json.Number), refusing a key given twice.
func decodeDocument(doc []byte) (map[string]any, error) {
	js := bytes.TrimSpace(doc)
	if len(js) == 0 || js[0] != '{' {
		if err := userfile.CheckYAMLDepth(doc); err != nil {
			return nil, &FieldError{Msg: "manifest " + err.Error()}
		}
		var err error
		// Strict: a key given twice is an error, as in Kubernetes' strict
		// field validation, not a silent last-one-wins.
		if js, err = yaml.YAMLToJSONStrict(doc); err != nil {
			msg := strings.Join(strings.Fields(strings.TrimPrefix(err.Error(), "yaml: ")), " ")
			return nil, &FieldError{Msg: "yaml: " + msg}
		}
	}
	if err := userfile.CheckDepth(js); err != nil {
		return nil, &FieldError{Msg: "manifest " + err.Error()}
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	tree, err := (&treeDecoder{dec: dec}).value()
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, &FieldError{Msg: "trailing data after the object"}
	}
	obj, ok := tree.(map[string]any)
	if !ok {
		return nil, &FieldError{Msg: "manifest is not an object"}
	}
	return obj, nil
}

// strictUnmarshal checks obj against t (unknown fields, wrong types) and
// decodes it into out, a *t.
func strictUnmarshal(obj map[string]any, t reflect.Type, out any) error {
	s := strictWalker{}
	obj2 := s.walk(obj, t, "")
	if len(s.errs) > 0 {
		return s.errs
	}
	norm, err := json.Marshal(obj2)
	if err != nil {
		return &FieldError{Msg: err.Error()}
	}
	if err := json.Unmarshal(norm, out); err != nil {
		// The walker checked every type; reaching this is a bug, still
		// reported as an error rather than a panic.
		return &FieldError{Msg: err.Error()}
	}
	return nil
}

// treeDecoder decodes one JSON value like Decode into an any (numbers as
// json.Number), but fails on a key given twice in an object, naming it. The
// path of the value being decoded is kept as a stack of segments and made
// a string only for an error: building it per value cost a 4 MiB manifest
// hundreds of MiB.
type treeDecoder struct {
	dec  *json.Decoder
	path []pathSeg
}

// pathSeg is an object key, or a list index when key is "" and index >= 0.
type pathSeg struct {
	key   string
	index int
}

func (d *treeDecoder) pathString() string {
	var b strings.Builder
	for _, s := range d.path {
		if s.index >= 0 {
			fmt.Fprintf(&b, "[%d]", s.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

func (d *treeDecoder) fail(err error) *FieldError { return jsonErr(d.pathString(), err) }

func (d *treeDecoder) value() (any, error) {
	tok, err := d.dec.Token()
	if err != nil {
		return nil, d.fail(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			m := map[string]any{}
			for d.dec.More() {
				kt, err := d.dec.Token()
				if err != nil {
					return nil, d.fail(err)
				}
				k, _ := kt.(string)
				d.path = append(d.path, pathSeg{key: k, index: -1})
				if _, dup := m[k]; dup {
					return nil, &FieldError{Path: d.pathString(), Msg: "duplicate field"}
				}
				if m[k], err = d.value(); err != nil {
					return nil, err
				}
				d.path = d.path[:len(d.path)-1]
			}
			if _, err := d.dec.Token(); err != nil { // '}'
				return nil, d.fail(err)
			}
			return m, nil
		case '[':
			l := []any{}
			for i := 0; d.dec.More(); i++ {
				d.path = append(d.path, pathSeg{index: i})
				v, err := d.value()
				if err != nil {
					return nil, err
				}
				d.path = d.path[:len(d.path)-1]
				l = append(l, v)
			}
			if _, err := d.dec.Token(); err != nil { // ']'
				return nil, d.fail(err)
			}
			return l, nil
		}
		return nil, &FieldError{Path: d.pathString(), Msg: fmt.Sprintf("json: unexpected %v", t)}
	}
	return tok, nil
}

func jsonErr(path string, err error) *FieldError {
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &FieldError{Path: path, Msg: "json: " + strings.TrimPrefix(err.Error(), "json: ")}
}

// splitYAML splits a stream at "---" document separators and drops
// documents holding only comments or blank lines.
func splitYAML(data []byte) [][]byte {
	var docs [][]byte
	var cur bytes.Buffer
	content := false
	flush := func() {
		if content {
			docs = append(docs, append([]byte(nil), cur.Bytes()...))
		}
		cur.Reset()
		content = false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), maxManifest+1)
	for sc.Scan() {
		line := sc.Text()
		if line == "---" || strings.HasPrefix(line, "--- ") || strings.HasPrefix(line, "---\t") {
			flush()
			rest := strings.TrimSpace(line[3:])
			if rest != "" && !strings.HasPrefix(rest, "#") {
				cur.WriteString(rest + "\n") // "--- {inline: doc}"
				content = true
			}
			continue
		}
		if line == "..." {
			flush()
			continue
		}
		t := strings.TrimSpace(line)
		if t != "" && !strings.HasPrefix(t, "#") && !strings.HasPrefix(t, "%") {
			content = true
		}
		cur.WriteString(line + "\n")
	}
	flush()
	return docs
}

// strictWalker checks a decoded JSON tree against a Go type: unknown fields
// and wrong types become field errors with full paths (encoding/json's
// DisallowUnknownFields names neither the path nor every error). It returns
// the tree with quantities given as numbers turned into strings, as
// Kubernetes accepts `cpu: 2`.
type strictWalker struct {
	errs ErrorList
}

var (
	rawType   = reflect.TypeFor[json.RawMessage]()
	intOrType = reflect.TypeFor[IntOrString]()
	timeType  = reflect.TypeFor[Time]()
	bytesType = reflect.TypeFor[[]byte]()
)

func (s *strictWalker) fail(path, format string, a ...any) {
	if len(s.errs) < 50 {
		s.errs = append(s.errs, &FieldError{path, fmt.Sprintf(format, a...)})
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

func (s *strictWalker) walk(v any, t reflect.Type, path string) any {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil // null is the zero value, as in encoding/json
	}
	switch t {
	case rawType:
		return v
	case intOrType:
		switch x := v.(type) {
		case string:
		case json.Number:
			if _, err := strconv.ParseInt(x.String(), 10, 32); err != nil {
				s.fail(path, "must be an integer or a port name, not %s", x)
			}
		default:
			s.fail(path, "must be an integer or a string, not %s", kindName(v))
		}
		return v
	case bytesType: // base64, as encoding/json decodes []byte
		str, ok := v.(string)
		if !ok {
			s.fail(path, "must be a base64 string, not %s", kindName(v))
		} else if _, err := base64.StdEncoding.DecodeString(str); err != nil {
			s.fail(path, "not valid base64: %v", err)
		}
		return v
	case timeType:
		if _, ok := v.(string); !ok {
			s.fail(path, "must be an RFC 3339 time string, not %s", kindName(v))
		}
		return v
	}
	switch t.Kind() {
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			s.fail(path, "must be an object, not %s", kindName(v))
			return v
		}
		fields := structFields(t)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			f, ok := fields[k]
			if !ok {
				s.fail(join(path, k), "unknown field")
				continue
			}
			if f.Tag.Get("podrun") == "quantity" {
				m[k] = s.quantities(m[k], f.Type, join(path, k))
				continue
			}
			m[k] = s.walk(m[k], f.Type, join(path, k))
		}
		return m
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			s.fail(path, "must be a list, not %s", kindName(v))
			return v
		}
		for i := range l {
			l[i] = s.walk(l[i], t.Elem(), fmt.Sprintf("%s[%d]", path, i))
		}
		return l
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			s.fail(path, "must be an object, not %s", kindName(v))
			return v
		}
		for _, k := range slices.Sorted(maps.Keys(m)) { // errors in a stable order
			m[k] = s.walk(m[k], t.Elem(), join(path, k))
		}
		return m
	case reflect.String:
		if _, ok := v.(string); !ok {
			s.fail(path, "must be a string, not %s", kindName(v))
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			s.fail(path, "must be a boolean, not %s", kindName(v))
		}
	case reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			s.fail(path, "must be an integer, not %s", kindName(v))
			break
		}
		bits := t.Bits()
		if _, err := strconv.ParseInt(n.String(), 10, bits); err != nil {
			// 1.0 from YAML is an integer in Kubernetes too.
			f, ferr := strconv.ParseFloat(n.String(), 64)
			if ferr != nil || f != math.Trunc(f) || math.Abs(f) > float64(int64(1)<<(bits-1)-1) {
				s.fail(path, "must be a %d-bit integer, not %s", bits, n)
				break
			}
			return json.Number(strconv.FormatInt(int64(f), 10))
		}
	default:
		s.fail(path, "unsupported Go type %s (bug)", t)
	}
	return v
}

// quantities accepts a quantity (or a map of them) as a string or number.
func (s *strictWalker) quantities(v any, t reflect.Type, path string) any {
	one := func(v any, path string) any {
		switch x := v.(type) {
		case string:
			return x
		case json.Number:
			return x.String()
		}
		s.fail(path, "must be a quantity string, not %s", kindName(v))
		return v
	}
	if v == nil {
		return nil
	}
	if t.Kind() == reflect.Map {
		m, ok := v.(map[string]any)
		if !ok {
			s.fail(path, "must be an object, not %s", kindName(v))
			return v
		}
		for _, k := range slices.Sorted(maps.Keys(m)) {
			m[k] = one(m[k], join(path, k))
		}
		return m
	}
	return one(v, path)
}

// structFields maps JSON names to fields, descending into embedded structs
// (Probe's inline ProbeHandler).
func structFields(t reflect.Type) map[string]reflect.StructField {
	out := map[string]reflect.StructField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			for k, v := range structFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f
	}
	return out
}

// Ignored lists the field paths of cluster-only fields present in the pod
// (e.g. "spec.nodeSelector", "spec.containers[0].terminationMessagePath"),
// which podrun accepts and does not act on. It is computed from the pod, so
// it holds for a pod loaded back from podrun's state too.
func (p *Pod) Ignored() []string {
	out := append([]string(nil), p.ignored...)
	tagged(reflect.ValueOf(p).Elem(), "", "ignored", &out)
	return out
}

// tagged appends the paths of non-empty raw fields carrying podrun:"<tag>".
func tagged(v reflect.Value, path, tag string, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			tagged(v.Elem(), path, tag, out)
		}
	case reflect.Slice:
		if v.Type() == rawType {
			return
		}
		for i := 0; i < v.Len(); i++ {
			tagged(v.Index(i), fmt.Sprintf("%s[%d]", path, i), tag, out)
		}
	case reflect.Struct:
		t := v.Type()
		if t == timeType || t == intOrType {
			return
		}
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fp := path
			if !(f.Anonymous && name == "") {
				fp = join(path, name)
			}
			fv := v.Field(i)
			if f.Type == rawType {
				if f.Tag.Get("podrun") == tag && present(fv.Bytes()) {
					*out = append(*out, fp)
				}
				continue
			}
			tagged(fv, fp, tag, out)
		}
	}
}

func present(raw []byte) bool {
	t := bytes.TrimSpace(raw)
	return len(t) > 0 && string(t) != "null"
}
