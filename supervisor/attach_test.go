package supervisor

import (
	"io"
	"net"
	"testing"
)

// The hub sends output to every attached client, drops one that has gone
// (the log copy goes on), and once the output has ended ends every attach
// and takes no new one.
func TestAttachHub(t *testing.T) {
	h := &attachHub{}
	live, liveFar := net.Pipe()
	gone, goneFar := net.Pipe()
	defer live.Close()
	defer liveFar.Close()
	liveDone, goneDone := h.add(live), h.add(gone)
	goneFar.Close()
	got := make(chan string, 1)
	go func() { b, _ := io.ReadAll(liveFar); got <- string(b) }()
	if n, err := h.Write([]byte("out\n")); n != 4 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	select {
	case <-goneDone:
	default:
		t.Error("a gone client was not dropped")
	}
	h.closeAll()
	<-liveDone
	if s := <-got; s != "out\n" {
		t.Errorf("client got %q", s)
	}
	if h.add(liveFar) != nil {
		t.Error("attach accepted after the output ended")
	}
}
