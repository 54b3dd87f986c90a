package layer

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/podrun/podrun/overlay"
)

func TestDecompress(t *testing.T) {
	plain := []byte("not really a tar, but bytes")
	var gz, zs bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(plain)
	zw.Close()
	ze, _ := zstd.NewWriter(&zs)
	ze.Write(plain)
	ze.Close()
	for _, c := range []struct {
		data []byte
		want overlay.Compression
	}{{plain, overlay.Uncompressed}, {gz.Bytes(), overlay.Gzip}, {zs.Bytes(), overlay.Zstd}, {nil, overlay.Uncompressed}} {
		r, comp, err := Decompress(bytes.NewReader(c.data))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || comp != c.want || (len(c.data) > 0 && !bytes.Equal(got, plain)) {
			t.Errorf("Decompress: %q %s %v, want %s", got, comp, err, c.want)
		}
	}
}
