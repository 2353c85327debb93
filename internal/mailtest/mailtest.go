// Package mailtest runs a real SMTP server for tests and decodes what it receives.
package mailtest

import (
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	smtpmock "github.com/mocktools/go-smtp-mock/v2"
)

// StartSMTP runs a real SMTP server for the test (stopped when t ends) and returns it with
// its smtp:// URL.
func StartSMTP(t testing.TB) (*smtpmock.Server, string) {
	t.Helper()
	s := smtpmock.New(smtpmock.ConfigurationAttr{MultipleMessageReceiving: true, HostAddress: "127.0.0.1"})
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop() })
	return s, fmt.Sprintf("smtp://127.0.0.1:%d", s.PortNumber())
}

// Message is a delivered email, decoded.
type Message struct {
	To, Subject, Text, HTML string
}

// Decode parses a raw RFC 5322 message with a multipart/alternative body, failing t when it
// is not one.
func Decode(t testing.TB, raw string) Message {
	t.Helper()
	m, err := netmail.ReadMessage(strings.NewReader(raw))
	if err != nil {
		t.Fatalf("not an RFC 5322 message: %v\n%s", err, raw)
	}
	dec := new(mime.WordDecoder)
	subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
	r := Message{To: m.Header.Get("To"), Subject: subject}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q (%v): want multipart/alternative", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = p
		switch strings.ToLower(p.Header.Get("Content-Transfer-Encoding")) {
		case "quoted-printable":
			body = quotedprintable.NewReader(p)
		case "base64":
			body = base64.NewDecoder(base64.StdEncoding, p)
		}
		b, _ := io.ReadAll(body)
		ct, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		switch ct {
		case "text/plain":
			r.Text = string(b)
		case "text/html":
			r.HTML = string(b)
		}
	}
	return r
}

// Wait waits up to 10 s for n emails on s, takes them off the server and decodes them.
func Wait(t testing.TB, s *smtpmock.Server, n int) []Message {
	t.Helper()
	msgs, err := s.WaitForMessagesAndPurge(n, 10*time.Second)
	if err != nil {
		t.Fatalf("waiting for %d emails: %v", n, err)
	}
	out := make([]Message, len(msgs))
	for i, m := range msgs {
		out[i] = Decode(t, m.MsgRequest())
	}
	return out
}

// DecodeAll decodes messages a server received.
func DecodeAll(t testing.TB, ms []smtpmock.Message) []Message {
	out := make([]Message, len(ms))
	for i, m := range ms {
		out[i] = Decode(t, m.MsgRequest())
	}
	return out
}
