package hashworker

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// ErrClosed is returned by IDKey after Close.
var ErrClosed = errors.New("hashworker: pool closed")

// hashTimeout bounds one derivation. A hash takes tens of milliseconds; at the lowest priority
// on a saturated machine it may take far longer, but a worker silent for this long is broken.
const hashTimeout = time.Minute

// Pool is a fixed set of worker processes; IDKey hands each derivation to an idle one. It is
// safe for concurrent use; callers beyond the pool's size wait for a worker (the service's
// hasher admits only as many hashes at once as the pool has workers).
type Pool struct {
	exe   string
	prio  Priority
	idle  chan *worker
	done  chan struct{}
	close sync.Once
}

// worker is one slot of the pool: a running process, or none yet (started on first use, and
// again after a failure).
type worker struct {
	cmd *exec.Cmd
	in  *os.File
	out *os.File
	r   *bufio.Reader
}

// Start starts n worker processes of the executable exe (the running service's own binary,
// whose main calls Main when IsWorker), which run at prio (Normal, or lowered to Low or
// Idle). It fails when a worker cannot be started or does not answer a first hash.
func Start(exe string, n int, prio Priority) (*Pool, error) {
	if n < 1 {
		return nil, fmt.Errorf("hashworker: %d workers", n)
	}
	if prio != Idle && prio != Low && prio != Normal {
		return nil, fmt.Errorf("hashworker: priority %q", prio)
	}
	p := &Pool{exe: exe, prio: prio, idle: make(chan *worker, n), done: make(chan struct{})}
	for range n {
		w := &worker{}
		if err := p.start(w); err != nil {
			p.idle <- w
			p.abandon()
			return nil, err
		}
		// A first tiny hash proves the executable really is a worker (and not, say, a
		// binary that ignores the argument and starts a server).
		if _, err := w.do(request{password: []byte("probe"), salt: make([]byte, 8), time: 1, memory: 8, threads: 1, keyLen: 16}); err != nil {
			w.stop()
			p.idle <- w
			p.abandon()
			return nil, fmt.Errorf("hashworker: %s does not answer as a hash worker: %w", exe, err)
		}
		p.idle <- w
	}
	return p, nil
}

// Size is the number of workers.
func (p *Pool) Size() int { return cap(p.idle) }

// IDKey derives an argon2id key (the arguments of golang.org/x/crypto/argon2.IDKey) in a
// worker. It returns ErrClosed after Close, the context's error when ctx ends while waiting
// for a worker, and an error when the worker fails (that worker is replaced for the next
// call); once a worker has the request, the derivation is not interrupted by ctx.
func (p *Pool) IDKey(ctx context.Context, password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) ([]byte, error) {
	var w *worker
	select {
	case w = <-p.idle:
	case <-p.done:
		return nil, ErrClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { p.idle <- w }()
	select {
	case <-p.done:
		return nil, ErrClosed
	default:
	}
	req := request{password: password, salt: salt, time: time, memory: memory, threads: threads, keyLen: keyLen}
	var err error
	// A worker that died while idle (killed by an operator or the OOM killer) fails the first
	// request it is given; a hash is a pure function, so one retry on a fresh process is safe.
	for range 2 {
		if w.cmd == nil {
			if err = p.start(w); err != nil {
				return nil, err
			}
		}
		var key []byte
		if key, err = w.do(req); err == nil {
			return key, nil
		}
		w.stop()
	}
	return nil, fmt.Errorf("hashworker: %w", err)
}

// Close stops the workers, waiting up to ten seconds for hashes in progress. It is safe to
// call more than once, and from several goroutines.
func (p *Pool) Close() {
	p.close.Do(func() {
		close(p.done)
		deadline := time.After(10 * time.Second)
		for range cap(p.idle) {
			select {
			case w := <-p.idle:
				w.stop()
			case <-deadline:
				return
			}
		}
	})
}

// abandon closes a pool whose Start failed part way: the slots never filled are filled with
// empty ones first, so Close does not wait for them.
func (p *Pool) abandon() {
	for len(p.idle) < cap(p.idle) {
		p.idle <- &worker{}
	}
	p.Close()
}

// start runs a worker process for slot w (which lowers itself to the pool's priority).
func (p *Pool) start(w *worker) error {
	cmd := exec.Command(p.exe, arg, string(p.prio))
	// The worker needs nothing from the environment, and must not hold the service's secrets.
	cmd.Env = []string{}
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("hashworker: start %s: %w", p.exe, err)
	}
	w.cmd, w.in, w.out = cmd, in.(*os.File), out.(*os.File)
	w.r = bufio.NewReader(w.out)
	return nil
}

// do sends one request and reads its key.
func (w *worker) do(req request) ([]byte, error) {
	deadline := time.Now().Add(hashTimeout)
	_ = w.in.SetWriteDeadline(deadline)
	_ = w.out.SetReadDeadline(deadline)
	if err := writeRequest(w.in, req); err != nil {
		return nil, err
	}
	var n [4]byte
	if _, err := io.ReadFull(w.r, n[:]); err != nil {
		return nil, err
	}
	if got := binary.BigEndian.Uint32(n[:]); got != req.keyLen {
		return nil, fmt.Errorf("answer of %d bytes, asked for %d", got, req.keyLen)
	}
	key := make([]byte, req.keyLen)
	if _, err := io.ReadFull(w.r, key); err != nil {
		return nil, err
	}
	return key, nil
}

// stop ends the slot's process (if any); the slot starts a new one on its next use.
func (w *worker) stop() {
	if w.cmd == nil {
		return
	}
	w.in.Close()
	done := make(chan struct{})
	go func() {
		_ = w.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(2 * time.Second):
		_ = w.cmd.Process.Kill()
		<-done
	}
	w.cmd, w.in, w.out, w.r = nil, nil, nil, nil
}
