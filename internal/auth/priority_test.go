package auth

import (
	"context"
	"crypto/rand"
	"runtime"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestLowPriorityHashesAgreeWithOrdinaryOnes: a hasher on niced threads and one on the
// caller's produce hashes each other verifies, and reused scratch memory changes nothing,
// including after a hash of a larger memory cost.
func TestLowPriorityHashesAgreeWithOrdinaryOnes(t *testing.T) {
	p := HashParams{MemoryKiB: 1024, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}
	niced := NewHasher(p, rand.Reader, 2, time.Second)
	niced.SetNice(19)
	plain := NewHasher(p, rand.Reader, 1, time.Second)
	big := NewHasher(HashParams{MemoryKiB: 4096, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, rand.Reader, 1, time.Second)
	ctx := context.Background()
	bigHash, err := big.Hash(ctx, "pw-big")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		for _, pair := range [][2]*Hasher{{niced, plain}, {plain, niced}} {
			enc, err := pair[0].Hash(ctx, "pw")
			if err != nil {
				t.Fatal(err)
			}
			if ok, rehash, err := pair[1].Verify(ctx, "pw", enc); !ok || rehash || err != nil {
				t.Fatalf("round %d: verify = %v %v %v", i, ok, rehash, err)
			}
			if ok, _, _ := pair[1].Verify(ctx, "wrong", enc); ok {
				t.Fatalf("round %d: a wrong password verified", i)
			}
		}
		// Larger than the configured cost: verified (and flagged for upgrade) in memory of its own.
		if ok, rehash, err := niced.Verify(ctx, "pw-big", bigHash); !ok || !rehash || err != nil {
			t.Fatalf("round %d: verify of the larger hash = %v %v %v", i, ok, rehash, err)
		}
	}
}

// TestNicedHashRunsOnANicedThread checks the mechanism itself: the thread a low-priority hash
// runs on has the niceness asked for, and the caller's thread keeps its own.
func TestNicedHashRunsOnANicedThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("per-thread priority is Linux only")
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	own, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	h := NewHasher(HashParams{MemoryKiB: 64, Iterations: 1, Parallelism: 1, SaltLen: 16, KeyLen: 32}, rand.Reader, 1, time.Second)
	h.SetNice(19)
	var seen int
	h.observeThread = func() { seen, _ = unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid()) }
	if _, err := h.Hash(context.Background(), "pw"); err != nil {
		t.Fatal(err)
	}
	// getpriority(2) answers 20 - nice.
	if seen != 20-19 {
		t.Fatalf("the hashing thread's getpriority = %d, want 1 (nice 19)", seen)
	}
	if after, _ := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid()); after != own {
		t.Fatalf("the caller's thread changed priority: %d → %d", own, after)
	}
}
