package server

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// rpcWireMaxBytes caps the bytes read from the wire for one RPC request: a message of
// MaxBodyBytes, plus room for the envelope prefix and for the few bytes gzip adds to data it
// cannot compress.
const rpcWireMaxBytes = MaxBodyBytes + 1<<10

// rpcHandlerOptions are the options every RPC handler gets, whatever its service (ours,
// health, reflection, and any mounted later): a request size limit applied to each message
// after decompression, so a small compressed body cannot grow into gigabytes, a gzip reader
// that stops inflating at that limit, and codecs whose decoding errors describe the problem
// without naming Go types or packages.
func rpcHandlerOptions() connect.HandlerOption {
	return connect.WithHandlerOptions(
		connect.WithReadMaxBytes(MaxBodyBytes),
		connect.WithCompression("gzip",
			func() connect.Decompressor { return &cappedGzip{} },
			func() connect.Compressor { return gzip.NewWriter(io.Discard) }),
		connect.WithCodec(protoCodec{}),
		connect.WithCodec(jsonCodec{name: "json"}),
		connect.WithCodec(jsonCodec{name: "json; charset=utf-8"}),
	)
}

// capRPCBody cuts every RPC request body off after rpcWireMaxBytes, so an oversized
// (compressed) body is refused after a few KiB instead of being read and discarded to its
// end. Client streams are capped in total too: the only one, reflection's, sends requests of
// a few dozen bytes and lives no longer than the request timeout.
func capRPCBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil && r.Body != http.NoBody {
			r.Body = &cappedBody{ReadCloser: r.Body, left: rpcWireMaxBytes}
		}
		next.ServeHTTP(w, r)
	})
}

// cappedBody is http.MaxBytesReader with an error connect-go passes on as
// resource_exhausted; http.MaxBytesError would reach the client as a message naming
// http.MaxBytesReader.
type cappedBody struct {
	io.ReadCloser
	left int64
	err  error
}

// Read implements io.Reader.
func (b *cappedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	// Reading one byte past the cap tells a body of exactly the cap from a longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	if int64(n) <= b.left {
		b.left -= int64(n)
		b.err = err
		return n, err
	}
	n = int(b.left)
	b.left = 0
	b.err = connect.NewError(connect.CodeResourceExhausted, fmt.Errorf("request body is larger than %d KiB", MaxBodyBytes>>10))
	return n, b.err
}

// cappedGzip is the gzip reader connect-go uses by default, except that it stops one byte
// past MaxBodyBytes: connect-go reads that far to see a message is too large, then inflates
// the rest only to report its size, which would cost a CPU-second per few compressed
// megabytes. Its errors also keep compress/gzip's package prefix out of answers.
type cappedGzip struct {
	gz   gzip.Reader
	left int64
}

// Reset implements connect.Decompressor.
func (d *cappedGzip) Reset(r io.Reader) error {
	d.left = MaxBodyBytes + 1
	if err := d.gz.Reset(r); err != nil {
		return errors.New("request body is not valid gzip")
	}
	return nil
}

// Read implements connect.Decompressor.
func (d *cappedGzip) Read(p []byte) (int, error) {
	if d.left <= 0 {
		return 0, fmt.Errorf("request body is larger than %d KiB once decompressed", MaxBodyBytes>>10)
	}
	if int64(len(p)) > d.left {
		p = p[:d.left]
	}
	n, err := d.gz.Read(p)
	d.left -= int64(n)
	if err != nil && err != io.EOF {
		err = errors.New("request body is not valid gzip")
	}
	return n, err
}

// Close implements connect.Decompressor.
func (d *cappedGzip) Close() error { return d.gz.Close() }

// errNotMessage is only reachable if a handler is built with a non-protobuf message type.
var errNotMessage = errors.New("message is not a protocol buffer")

// protoCodec is connect-go's binary codec with decoding errors that name no Go type.
type protoCodec struct{}

// Name implements connect.Codec.
func (protoCodec) Name() string { return "proto" }

// Marshal implements connect.Codec.
func (protoCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, errNotMessage
	}
	return proto.Marshal(m)
}

// MarshalAppend lets connect-go reuse its buffers, as it does with its own codec.
func (protoCodec) MarshalAppend(dst []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, errNotMessage
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, m)
}

// Unmarshal implements connect.Codec.
func (protoCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return errNotMessage
	}
	if err := proto.Unmarshal(b, m); err != nil {
		// The protobuf runtime's text is "proto: …" and connect-go's adds the Go type; the
		// client only needs to know the bytes do not fit the operation.
		if strings.Contains(err.Error(), "invalid UTF-8") {
			return errors.New("request body has a string that is not valid UTF-8")
		}
		return errors.New("request body is not valid protobuf for this operation")
	}
	return nil
}

// jsonCodec is connect-go's protojson codec (unknown fields ignored, as there) with decoding
// errors that name the offending field, if any, but no Go type or package.
type jsonCodec struct{ name string }

// Name implements connect.Codec.
func (c jsonCodec) Name() string { return c.name }

// Marshal implements connect.Codec.
func (jsonCodec) Marshal(v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, errNotMessage
	}
	return protojson.MarshalOptions{}.Marshal(m)
}

// MarshalAppend lets connect-go reuse its buffers, as it does with its own codec.
func (jsonCodec) MarshalAppend(dst []byte, v any) ([]byte, error) {
	m, ok := v.(proto.Message)
	if !ok {
		return nil, errNotMessage
	}
	return protojson.MarshalOptions{}.MarshalAppend(dst, m)
}

var (
	protojsonBadValue  = regexp.MustCompile(`invalid value for\s+\w+\s+field\s+(\w+)`)
	protojsonDuplicate = regexp.MustCompile(`duplicate field\s+"?(\w+)"?`)
)

// Unmarshal implements connect.Codec.
func (jsonCodec) Unmarshal(b []byte, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return errNotMessage
	}
	if len(b) == 0 {
		return errors.New("request body must be a JSON object")
	}
	err := protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(b, m)
	if err == nil {
		return nil
	}
	// protojson's messages are not a stable API, so these only refine the answer: text that
	// stops matching falls back to the general one. A field is named only when the message
	// has it, so the answer never echoes the client's input.
	msg := err.Error()
	md := m.ProtoReflect().Descriptor()
	if g := protojsonBadValue.FindStringSubmatch(msg); g != nil {
		if fd := fieldNamed(md, g[1], 4); fd != nil {
			return fmt.Errorf("field %s must be %s", fd.JSONName(), jsonKindOf(fd))
		}
	}
	if g := protojsonDuplicate.FindStringSubmatch(msg); g != nil {
		if fd := fieldNamed(md, g[1], 4); fd != nil {
			return fmt.Errorf("field %s appears more than once", fd.JSONName())
		}
	}
	if strings.Contains(msg, "invalid UTF-8") {
		return errors.New("request body is not valid UTF-8")
	}
	return errors.New("request body is not valid JSON for this operation")
}

// fieldNamed finds the field called name (JSON or proto spelling) in md or the messages it
// nests, down to depth levels.
func fieldNamed(md protoreflect.MessageDescriptor, name string, depth int) protoreflect.FieldDescriptor {
	if depth == 0 {
		return nil
	}
	fields := md.Fields()
	if fd := fields.ByJSONName(name); fd != nil {
		return fd
	}
	if fd := fields.ByTextName(name); fd != nil {
		return fd
	}
	for i := range fields.Len() {
		if sub := fields.Get(i).Message(); sub != nil {
			if fd := fieldNamed(sub, name, depth-1); fd != nil {
				return fd
			}
		}
	}
	return nil
}

// jsonKindOf says what JSON a field takes, in the words the REST errors use.
func jsonKindOf(fd protoreflect.FieldDescriptor) string {
	switch {
	case fd.IsList():
		return "an array"
	case fd.IsMap():
		return "an object"
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BytesKind:
		return "a base64 string"
	case protoreflect.BoolKind:
		return "a boolean"
	case protoreflect.EnumKind:
		return "one of its enum names"
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return "an object"
	default:
		return "a number"
	}
}
