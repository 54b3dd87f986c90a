package probes

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"github.com/podrun/podrun/pod/manifest"
)

// The grpc handler makes the one call of gRPC's health protocol
// (grpc.health.v1.Health/Check) with net/http's own HTTP/2 over cleartext
// (Go >= 1.24) and hand-encoded protobuf: two one-field messages do not
// justify grpc-go. Like kubelet: plaintext only, host = the pod IP,
// success = status SERVING.

// servingStatus names HealthCheckResponse.ServingStatus values.
var servingStatus = map[uint64]string{0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

type grpcHandler struct {
	url     string
	service string
	client  *http.Client
}

func newGRPCHandler(g *manifest.GRPCAction, t Target) *grpcHandler {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, DisableKeepAlives: true, DialContext: dialer(t)}
	h := &grpcHandler{
		url:    "http://" + net.JoinHostPort(host("", t), strconv.Itoa(int(g.Port))) + "/grpc.health.v1.Health/Check",
		client: &http.Client{Transport: tr},
	}
	if g.Service != nil {
		h.service = *g.Service
	}
	return h
}

// appendFrame wraps a protobuf message in gRPC's length-prefixed framing.
func appendFrame(b, msg []byte) []byte {
	b = append(b, 0) // not compressed
	b = binary.BigEndian.AppendUint32(b, uint32(len(msg)))
	return append(b, msg...)
}

// healthRequest encodes HealthCheckRequest{service = 1}.
func healthRequest(service string) []byte {
	if service == "" {
		return nil
	}
	b := []byte{0x0a}
	b = binary.AppendUvarint(b, uint64(len(service)))
	return append(b, service...)
}

// healthStatus decodes HealthCheckResponse.status (field 1, varint),
// skipping unknown fields.
func healthStatus(msg []byte) (uint64, error) {
	var status uint64
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return 0, errors.New("bad protobuf key")
		}
		msg = msg[n:]
		switch key & 7 {
		case 0: // varint
			v, n := binary.Uvarint(msg)
			if n <= 0 {
				return 0, errors.New("bad protobuf varint")
			}
			msg = msg[n:]
			if key>>3 == 1 {
				status = v
			}
		case 1:
			if len(msg) < 8 {
				return 0, errors.New("short protobuf field")
			}
			msg = msg[8:]
		case 5:
			if len(msg) < 4 {
				return 0, errors.New("short protobuf field")
			}
			msg = msg[4:]
		case 2:
			l, n := binary.Uvarint(msg)
			if n <= 0 || uint64(len(msg)-n) < l {
				return 0, errors.New("bad protobuf length")
			}
			msg = msg[n+int(l):]
		default:
			return 0, errors.New("bad protobuf wire type")
		}
	}
	return status, nil
}

func (h *grpcHandler) Probe(ctx context.Context) (Result, string, error) {
	body := appendFrame(nil, healthRequest(h.service))
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return Failure, "", err
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("User-Agent", UserAgent)
	resp, err := h.client.Do(req)
	if err != nil {
		return Failure, fmt.Sprintf("failed to connect service %q: %v", req.URL.Host, unwrapURL(err)), nil
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return Failure, fmt.Sprintf("reading the health response: %v", err), nil
	}
	if resp.StatusCode != http.StatusOK {
		return Failure, fmt.Sprintf("rpc error: HTTP status %d", resp.StatusCode), nil
	}
	code := resp.Trailer.Get("Grpc-Status")
	if code == "" {
		code = resp.Header.Get("Grpc-Status") // a trailers-only response
	}
	if code != "0" {
		msg := resp.Trailer.Get("Grpc-Message") + resp.Header.Get("Grpc-Message")
		return Failure, fmt.Sprintf("rpc error: code = %s desc = %s", code, msg), nil
	}
	if len(data) < 5 || data[0] != 0 || int(binary.BigEndian.Uint32(data[1:5])) != len(data)-5 {
		return Failure, "malformed health response", nil
	}
	st, err := healthStatus(data[5:])
	if err != nil {
		return Failure, "malformed health response: " + err.Error(), nil
	}
	if st != 1 {
		name := servingStatus[st]
		if name == "" {
			name = strconv.FormatUint(st, 10)
		}
		return Failure, fmt.Sprintf("service unhealthy (responded with %q)", name), nil
	}
	return Success, "", nil
}
