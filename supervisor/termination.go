package supervisor

import (
	"bytes"
	"io"
	"os"

	"github.com/podrun/podrun/pod/manifest"
)

// kubelet's limits for a termination message taken from the logs
// (MaxContainerTerminationMessageLogLines and ...LogLength).
const (
	termLogLines = 80
	termLogBytes = 2 * 1024
	// termLogScan bounds what is read of each log file from its end.
	termLogScan = 256 * 1024
)

// terminationMessage is kubelet's getTerminationMessage: the content of
// the run's termination message file; with FallbackToLogsOnError, an
// empty or missing file and a non-zero exit take the tail of the run's
// log (the last 80 lines, at most 2 KiB). It runs off the loop, once the
// run's output is in its log, and reads only immutable state.
func (d *daemon) terminationMessage(c *ctr, r *run, exitCode int32) string {
	spec := c.spec
	if spec.TerminationMessagePath == "" {
		return ""
	}
	msg, err := d.sb.ReadTerminationMessage(c.name, r.attempt)
	if err != nil {
		return "Error on reading termination log: " + err.Error()
	}
	if msg == "" && spec.TerminationMessagePolicy == manifest.TerminationMessageFallbackToLogsOnError && exitCode != 0 {
		msg = TailMessages(d.logPath(c.name, r.attempt), termLogLines, termLogBytes)
	}
	return msg
}

// TailMessages returns the messages of the last lines of a run's CRI log
// (its rotated files too), one per line, cut to the last maxBytes.
func TailMessages(path string, lines, maxBytes int) string {
	files := LogFiles(path)
	var chunks [][]byte // newest file first
	n := 0
	for i := len(files) - 1; i >= 0 && n < lines; i-- {
		var out bytes.Buffer
		if err := WriteMessages(&out, tailReader(files[i], termLogScan)); err != nil {
			break
		}
		b := out.Bytes()
		n += bytes.Count(b, []byte{'\n'})
		chunks = append(chunks, b)
	}
	var all []byte
	for i := len(chunks) - 1; i >= 0; i-- {
		all = append(all, chunks[i]...)
	}
	// The last `lines` lines, then the last maxBytes of them.
	if k := bytes.Count(all, []byte{'\n'}); k > lines {
		for skip := k - lines; skip > 0; skip-- {
			all = all[bytes.IndexByte(all, '\n')+1:]
		}
	}
	if len(all) > maxBytes {
		all = all[len(all)-maxBytes:]
	}
	return string(all)
}

// tailReader reads the last limit bytes of a file, from the first line
// start in them.
func tailReader(path string, limit int64) io.Reader {
	f, err := os.Open(path)
	if err != nil {
		return bytes.NewReader(nil)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return bytes.NewReader(nil)
	}
	off := max(0, st.Size()-limit)
	b := make([]byte, st.Size()-off)
	n, _ := f.ReadAt(b, off)
	b = b[:n]
	if off > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		} else {
			b = nil
		}
	}
	return bytes.NewReader(b)
}
