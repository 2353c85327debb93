package hashworker

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"
)

// TestMain lets this test binary serve as the workers it starts.
func TestMain(m *testing.M) {
	if IsWorker() {
		Main()
	}
	os.Exit(m.Run())
}

func startPool(t *testing.T, n int, prio Priority) *Pool {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(exe, n, prio)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// pids are the worker processes running now.
func pids(p *Pool) []int {
	var out []int
	for range p.Size() {
		w := <-p.idle
		if w.cmd != nil {
			out = append(out, w.cmd.Process.Pid)
		}
		defer func() { p.idle <- w }()
	}
	return out
}

// TestWorkersDeriveWhatXCryptoDerives: keys from the pool, from several goroutines at once and
// with several parameter sets, equal golang.org/x/crypto/argon2.IDKey's.
func TestWorkersDeriveWhatXCryptoDerives(t *testing.T) {
	p := startPool(t, 2, Idle)
	cases := []struct {
		time, memory uint32
		threads      uint8
		keyLen       uint32
	}{{1, 64, 1, 16}, {2, 1024, 1, 32}, {1, 512, 4, 64}, {3, 256, 2, 32}}
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cases[i%len(cases)]
			pw, salt := make([]byte, 1+i), make([]byte, 16)
			rand.Read(pw)
			rand.Read(salt)
			got, err := p.IDKey(context.Background(), pw, salt, c.time, c.memory, c.threads, c.keyLen)
			if err != nil {
				t.Error(err)
				return
			}
			if want := argon2.IDKey(pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
				t.Errorf("case %+v: key differs from x/crypto's", c)
			}
		}()
	}
	wg.Wait()
}

// TestWorkersRunLoweredWithoutTheServicesEnvironment: every thread of every worker runs in
// the scheduling class asked for, the caller keeps its own, and no worker inherits the
// environment (the service's secrets live there).
func TestWorkersRunLoweredWithoutTheServicesEnvironment(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("scheduling classes and /proc are Linux only")
	}
	t.Setenv("PANGUARD_JWT_SECRET", "not-for-workers")
	for _, c := range []struct {
		prio         Priority
		policy, nice int // fields 41 and 19 of /proc/…/stat; SCHED_IDLE is 5
	}{{Idle, 5, 0}, {Low, 0, 19}, {Normal, 0, 0}} {
		t.Run(string(c.prio), func(t *testing.T) {
			p := startPool(t, 2, c.prio)
			ps := pids(p)
			if len(ps) != 2 {
				t.Fatalf("%d workers running, want 2", len(ps))
			}
			for _, pid := range ps {
				tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
				if err != nil {
					t.Fatal(err)
				}
				for _, task := range tasks {
					policy, nice := schedOf(t, fmt.Sprintf("%d/task/%s", pid, task.Name()))
					if policy != c.policy || nice != c.nice {
						t.Errorf("worker %d thread %s: policy %d nice %d, want %d and %d", pid, task.Name(), policy, nice, c.policy, c.nice)
					}
				}
				env, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
				if err != nil {
					t.Fatal(err)
				}
				if len(env) != 0 {
					t.Errorf("worker %d has an environment: %q", pid, env)
				}
			}
			if policy, nice := schedOf(t, "self"); policy != 0 || nice != 0 {
				t.Errorf("the test process itself: policy %d nice %d, want 0 and 0", policy, nice)
			}
		})
	}
}

// schedOf reads the scheduling policy and niceness of /proc/ENTRY (a process or one of its
// threads; fields 41 and 19 of stat).
func schedOf(t *testing.T, entry string) (policy, nice int) {
	t.Helper()
	b, err := os.ReadFile("/proc/" + entry + "/stat")
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) is in parentheses and may hold spaces; fields from 3 on.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	if nice, err = strconv.Atoi(fields[16]); err != nil {
		t.Fatal(err)
	}
	if policy, err = strconv.Atoi(fields[38]); err != nil {
		t.Fatal(err)
	}
	return policy, nice
}

// TestAKilledWorkerIsReplaced: a worker killed while idle costs no request; the pool starts
// a new process and the key is still right.
func TestAKilledWorkerIsReplaced(t *testing.T) {
	p := startPool(t, 1, Idle)
	before := pids(p)
	proc, _ := os.FindProcess(before[0])
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	salt := make([]byte, 16)
	got, err := p.IDKey(context.Background(), []byte("pw"), salt, 1, 64, 1, 32)
	if err != nil {
		t.Fatalf("after the worker was killed: %v", err)
	}
	if !bytes.Equal(got, argon2.IDKey([]byte("pw"), salt, 1, 64, 1, 32)) {
		t.Fatal("wrong key from the replacement worker")
	}
	if after := pids(p); len(after) != 1 || after[0] == before[0] {
		t.Fatalf("workers %v after %v: want one new process", after, before)
	}
}

// TestStartRefusesAnExecutableThatIsNotAWorker: a binary that does not answer the protocol
// fails Start (so the service stops at start, not at the first login).
func TestStartRefusesAnExecutableThatIsNotAWorker(t *testing.T) {
	for _, exe := range []string{"/bin/true", "/nonexistent/panguard-auth"} {
		if _, err := os.Stat(exe); err != nil && exe == "/bin/true" {
			continue
		}
		start := time.Now()
		if p, err := Start(exe, 4, Low); err == nil {
			p.Close()
			t.Errorf("Start(%s) succeeded", exe)
		}
		// The slots never started must not hold the failure up (Close waits up to 10 s for
		// slots in use).
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Start(%s) took %v to fail", exe, d)
		}
	}
}

// TestClosedPoolRefuses: after Close, IDKey answers ErrClosed and the workers are gone.
func TestClosedPoolRefuses(t *testing.T) {
	p := startPool(t, 2, Low)
	ps := pids(p)
	p.Close()
	if _, err := p.IDKey(context.Background(), []byte("pw"), make([]byte, 16), 1, 64, 1, 32); !errors.Is(err, ErrClosed) {
		t.Fatalf("IDKey after Close = %v, want ErrClosed", err)
	}
	for _, pid := range ps {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil && runtime.GOOS == "linux" {
			t.Errorf("worker %d still running after Close", pid)
		}
	}
}

// TestServeRefusesMalformedRequests: a worker exits with an error on a request it cannot
// honour instead of allocating or deriving nonsense, and ends cleanly on an empty stream.
func TestServeRefusesMalformedRequests(t *testing.T) {
	ok := request{password: []byte("pw"), salt: make([]byte, 16), time: 1, memory: 64, threads: 1, keyLen: 32}
	encode := func(r request) []byte {
		var b bytes.Buffer
		writeRequest(&b, r)
		return b.Bytes()
	}
	with := func(f func(*request)) []byte { r := ok; f(&r); return encode(r) }
	for _, c := range []struct {
		name string
		in   []byte
		ok   bool
	}{
		{"an empty stream ends cleanly", nil, true},
		{"a good request", encode(ok), true},
		{"zero iterations", with(func(r *request) { r.time = 0 }), false},
		{"zero threads", with(func(r *request) { r.threads = 0 }), false},
		{"memory below 8 KiB per thread", with(func(r *request) { r.memory = 15; r.threads = 2 }), false},
		{"memory above 4 GiB", with(func(r *request) { r.memory = maxMemory + 1 }), false},
		{"no key", with(func(r *request) { r.keyLen = 0 }), false},
		{"a huge key", with(func(r *request) { r.keyLen = maxKey + 1 }), false},
		{"a truncated header", encode(ok)[:10], false},
		{"a truncated password", encode(ok)[:headerLen+1], false},
		{"a password length beyond the limit", func() []byte {
			b := encode(ok)
			b[12], b[13], b[14], b[15] = 0xff, 0xff, 0xff, 0xff
			return b
		}(), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			err := Serve(bytes.NewReader(c.in), &out)
			if (err == nil) != c.ok {
				t.Fatalf("Serve = %v, want ok=%v", err, c.ok)
			}
			if c.ok && len(c.in) > 0 && out.Len() != 4+32 {
				t.Fatalf("answer of %d bytes", out.Len())
			}
		})
	}
}
