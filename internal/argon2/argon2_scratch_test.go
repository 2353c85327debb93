package argon2

import (
	"bytes"
	"crypto/rand"
	"runtime"
	"testing"

	xargon2 "golang.org/x/crypto/argon2"
)

// TestMatchesXCrypto checks this copy against the original: fresh memory, memory reused from
// a hash of other parameters (so it holds old blocks), and several lanes.
func TestMatchesXCrypto(t *testing.T) {
	var s Scratch
	for _, c := range []struct {
		time, memory uint32
		threads      uint8
		keyLen       uint32
	}{
		{2, 1024, 1, 32}, {1, 64, 1, 16}, {3, 2048, 1, 32}, {2, 1024, 1, 32}, {2, 512, 4, 64}, {1, 4096, 2, 32},
	} {
		pw, salt := make([]byte, 20), make([]byte, 16)
		rand.Read(pw)
		rand.Read(salt)
		want := xargon2.IDKey(pw, salt, c.time, c.memory, c.threads, c.keyLen)
		if got := s.IDKey(pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
			t.Fatalf("Scratch.IDKey%v differs from x/crypto", c)
		}
		if got := IDKey(pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
			t.Fatalf("IDKey%v differs from x/crypto", c)
		}
		if got, want := Key(pw, salt, c.time, c.memory, c.threads, c.keyLen), xargon2.Key(pw, salt, c.time, c.memory, c.threads, c.keyLen); !bytes.Equal(got, want) {
			t.Fatalf("Key%v differs from x/crypto", c)
		}
	}
}

func TestScratchDoesNotAllocateOnceGrown(t *testing.T) {
	var s Scratch
	pw, salt := []byte("correct horse"), make([]byte, 16)
	s.IDKey(pw, salt, 1, 4096, 1, 32)
	// A handful of small allocations (the BLAKE2b states, the key) remain; the 4 MiB of
	// blocks do not.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 5 {
		s.IDKey(pw, salt, 1, 4096, 1, 32)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<10 {
		t.Fatalf("%d bytes allocated by 5 hashes", n)
	}
}
