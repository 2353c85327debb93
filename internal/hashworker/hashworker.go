// Package hashworker runs argon2id in child processes of the service's own binary.
//
// A password hash costs tens of milliseconds of CPU and 19 MiB of memory. Run inside the
// service, a login storm makes every cheap request wait: for the CPU, for a Go P, and above
// all for the garbage collector, which at ~80 hashes a second collects about ten times a
// second and stops every goroutine each time. A worker process has a heap of its own (its
// collections stop nobody else), and the service's Go processors stay free for requests. A
// worker may also lower its scheduling priority (Low, Idle) so the kernel gives the cores to
// the service first; BENCHMARKS.md measures what that costs.
//
// The hash itself is golang.org/x/crypto/argon2, unchanged. A worker reads one request at a
// time from its standard input and answers on its standard output; the password crosses a
// pipe between two processes of the same user and is never written anywhere else.
package hashworker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"

	"golang.org/x/crypto/argon2"
)

// arg is the first argument a worker process is started with; the second is its Priority.
const arg = "__panguard-hash-worker"

// Limits a worker enforces on a request, far above anything the service sends, so a
// corrupted stream fails instead of allocating without bound.
const (
	maxPassword = 1 << 16
	maxSalt     = 1 << 10
	maxKey      = 1 << 10
	maxMemory   = 4 << 20 // KiB: 4 GiB
)

// IsWorker reports whether this process was started by a Pool as a hash worker; the
// program's main (and a test binary's TestMain) calls Main when it is.
func IsWorker() bool { return len(os.Args) == 3 && os.Args[1] == arg }

// Main lowers the process to the Priority of its command line, then serves hash requests on
// standard input and output until standard input closes (the service ended or closed the
// pool), then exits the process; it never returns. A malformed request exits with status 2.
func Main() {
	if prio := Priority(os.Args[2]); prio != Idle && prio != Low && prio != Normal {
		fmt.Fprintln(os.Stderr, "hash worker: bad priority", os.Args[2])
		os.Exit(2)
	} else if prio == Normal {
		// Nothing to lower.
	} else if err := lowerPriority(prio); err != nil {
		// Hashing at normal priority still works; only the yielding to cheap work is lost.
		fmt.Fprintln(os.Stderr, "hash worker: cannot lower priority:", err)
	}
	if err := Serve(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "hash worker:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// Priority is the scheduling class a worker lowers itself to (on Linux; elsewhere workers run
// at the service's own priority).
type Priority string

const (
	// Idle runs hashing under SCHED_IDLE: a core runs it only when nothing else of any
	// priority wants that core, and a waking request preempts it at once.
	Idle Priority = "idle"
	// Low runs hashing at niceness 19: it still gets a small share (about 1.5 %) of a busy
	// core, but a waking request may wait for the end of the hash's time slice.
	Low Priority = "low"
	// Normal leaves hashing at the service's own priority: the workers still keep the
	// hashes' memory out of the service's heap.
	Normal Priority = "normal"
)

// request is one argon2id derivation.
type request struct {
	password, salt       []byte
	time, memory, keyLen uint32
	threads              uint8
}

// header is the fixed part of a request: time, memory (KiB), key length, password length,
// salt length (big-endian uint32 each), then threads (one byte).
const headerLen = 5*4 + 1

// Serve answers requests read from r on w, one at a time, until r ends. It returns nil at a
// clean end of r, and an error when a request is malformed or w fails.
func Serve(r io.Reader, w io.Writer) error {
	br, bw := bufio.NewReader(r), bufio.NewWriter(w)
	for {
		req, err := readRequest(br)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		key := argon2.IDKey(req.password, req.salt, req.time, req.memory, req.threads, req.keyLen)
		clear(req.password)
		// Collect the hash's memory now, while nothing else is live (about 0.1 ms), so the
		// next hash reuses it: left to the pacer, the garbage of finished hashes lets a worker
		// grow to four times one hash, and a tight memory limit instead returns the memory
		// to the kernel after every hash, whose page faults then cut the hash rate (measured).
		runtime.GC()
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(key)))
		bw.Write(n[:])
		bw.Write(key)
		if err := bw.Flush(); err != nil {
			return err
		}
	}
}

func readRequest(r *bufio.Reader) (request, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:1]); err != nil {
		return request{}, err // io.EOF: a clean end between requests
	}
	if _, err := io.ReadFull(r, h[1:]); err != nil {
		return request{}, fmt.Errorf("truncated request: %w", err)
	}
	req := request{
		time:    binary.BigEndian.Uint32(h[0:]),
		memory:  binary.BigEndian.Uint32(h[4:]),
		keyLen:  binary.BigEndian.Uint32(h[8:]),
		threads: h[20],
	}
	pwLen, saltLen := binary.BigEndian.Uint32(h[12:]), binary.BigEndian.Uint32(h[16:])
	switch {
	case req.time < 1, req.threads < 1, req.memory < 8*uint32(req.threads), req.memory > maxMemory:
		return request{}, fmt.Errorf("bad argon2id parameters t=%d m=%d p=%d", req.time, req.memory, req.threads)
	case req.keyLen < 1 || req.keyLen > maxKey, pwLen > maxPassword, saltLen > maxSalt:
		return request{}, errors.New("request lengths out of range")
	}
	buf := make([]byte, pwLen+saltLen)
	if _, err := io.ReadFull(r, buf); err != nil {
		return request{}, fmt.Errorf("truncated request: %w", err)
	}
	req.password, req.salt = buf[:pwLen:pwLen], buf[pwLen:]
	return req, nil
}

// writeRequest encodes one request; the Pool's side of Serve.
func writeRequest(w io.Writer, req request) error {
	buf := make([]byte, headerLen, headerLen+len(req.password)+len(req.salt))
	binary.BigEndian.PutUint32(buf[0:], req.time)
	binary.BigEndian.PutUint32(buf[4:], req.memory)
	binary.BigEndian.PutUint32(buf[8:], req.keyLen)
	binary.BigEndian.PutUint32(buf[12:], uint32(len(req.password)))
	binary.BigEndian.PutUint32(buf[16:], uint32(len(req.salt)))
	buf[20] = req.threads
	buf = append(append(buf, req.password...), req.salt...)
	_, err := w.Write(buf)
	clear(buf)
	return err
}
