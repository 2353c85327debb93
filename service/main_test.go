package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"panguard.ai/auth/internal/storetest"
)

// rawCall makes one HTTP request and decodes a JSON answer, for tests of real processes.
func rawCall(t *testing.T, method, url, contentType, body string, hdr ...string) (int, map[string]any, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var env map[string]any
	raw, _ := io.ReadAll(res.Body)
	if err := json.Unmarshal(raw, &env); err != nil {
		t.Fatalf("%s %s: body is not a JSON envelope: %q", method, url, raw)
	}
	return res.StatusCode, env, res.Header
}

func TestRunServesAndShutsDownOnSignal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	metricsAddr := "127.0.0.1:" + strings.Split(freePort(t), ":")[1]
	go func() {
		done <- run(ctx, map[string]string{
			"PANGUARD_ADDR": "127.0.0.1:0", "PANGUARD_DATABASE_URL": storetest.SQLiteURL(t), "PANGUARD_LOG_LEVEL": "error",
			"PANGUARD_METRICS_ADDR": metricsAddr,
		}, ready)
	}()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	status, env, _ := rawCall(t, "POST", "http://"+addr+"/api/auth/register", "application/json",
		`{"email":"run@example.com","name":"Run","password":"password1"}`)
	if status != 200 || env["ok"] != true {
		t.Fatalf("register on the real server: %d %v", status, env)
	}
	// With PANGUARD_METRICS_ADDR, /metrics lives there and not on the public port.
	if st, _, _ := rawCall(t, "GET", "http://"+addr+"/metrics", "", ""); st != 404 {
		t.Fatalf("/metrics on the public port: %d", st)
	}
	res, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics on the metrics address: %d", res.StatusCode)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no graceful shutdown")
	}
}

// resetTokenRE finds a reset token in an email.
var resetTokenRE = regexp.MustCompile(`rst_[0-9a-f]{64}`)
