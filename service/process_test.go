package main

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"panguard.ai/auth/internal/loadgen"
)

// builtBinary is the service built once per test run, for tests that need a real process.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func serviceBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "panguard-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "panguard-auth")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// proc is a running service process.
type proc struct {
	cmd  *exec.Cmd
	base string
}

// startProcess runs the real binary with env (PANGUARD_ADDR is chosen here) and waits until
// it answers.
func startProcess(t *testing.T, env ...string) *proc {
	t.Helper()
	return startCommand(t, nil, env...)
}

// startCommand is startProcess with command-line arguments.
func startCommand(t *testing.T, args []string, env ...string) *proc {
	t.Helper()
	addr := freePort(t)
	cmd := exec.Command(serviceBinary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "PANGUARD_ADDR=" + addr, "PANGUARD_LOG_LEVEL=warn"}, env...)
	cmd.Stderr = testLogWriter{t}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, base: "http://" + addr}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if res, err := http.Get(p.base + "/api/auth/me"); err == nil {
			res.Body.Close()
			return p
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("service process did not start")
	return nil
}

// peakRSS is the high-water resident set size of the process plus that of each of its child
// processes (the hash workers: their memory is the service's too).
func (p *proc) peakRSS(t *testing.T) int64 {
	rss, err := loadgen.FamilyPeakRSS(p.cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("peak RSS of the service and its %d child processes: %.1f MiB", len(loadgen.Family(p.cmd.Process.Pid))-1, float64(rss)/(1<<20))
	return rss
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(b []byte) (int, error) {
	w.t.Logf("service: %s", strings.TrimSpace(string(b)))
	return len(b), nil
}

// TestThousandConcurrentLoginsStayBounded: hashing is bounded, so 1000 logins at once (at the
// production argon2id cost) neither pile up memory nor fail with 5xx other than the fast 503
// of a full hashing queue. Each names another address, as credential stuffing does (the same
// hash as a real account's); logins at one account from one client are limited to a few at a
// time by the brute-force budget, which would keep the hashing idle.
func TestThousandConcurrentLoginsStayBounded(t *testing.T) {
	p := startProcess(t, "PANGUARD_DATABASE_URL=sqlite://"+filepath.Join(t.TempDir(), "auth.db"), "PANGUARD_RATE_LIMIT=0")
	status, _, _ := rawCall(t, "POST", p.base+"/api/auth/register", "application/json", `{"email":"mem@example.com","name":"M","password":"password1"}`)
	if status != 200 {
		t.Fatalf("register: %d", status)
	}
	const n = 1000
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: n}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequestWithContext(ctx, "POST", p.base+"/api/auth/login", strings.NewReader(fmt.Sprintf(`{"email":"mem%d@example.com","password":"password1"}`, i)))
			req.Header.Set("Content-Type", "application/json")
			res, err := client.Do(req)
			code := -1
			if err == nil {
				code = res.StatusCode
				res.Body.Close()
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	rss := p.peakRSS(t)
	t.Logf("1000 concurrent logins in %v: statuses %v, peak RSS %.1f MiB", time.Since(start).Round(time.Millisecond), codes, float64(rss)/(1<<20))
	if codes[401] == 0 || codes[401]+codes[503] != n {
		t.Fatalf("statuses %v: want only 401 and the fast 503 of a full hashing queue", codes)
	}
	if rss > 256<<20 {
		t.Fatalf("peak RSS %.1f MiB, want < 256 MiB", float64(rss)/(1<<20))
	}
}
