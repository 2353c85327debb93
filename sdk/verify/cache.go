package verify

import (
	"context"
	"sync"
	"time"
)

// boundedCache is a string-keyed map holding at most size entries: two generations, the
// current one filling up to size/2 before it becomes the old one and the previous old one is
// dropped. A hit in the old generation moves the entry forward, so entries in use survive
// (an approximate LRU with O(1) operations and no per-entry bookkeeping). size <= 0 disables
// the cache. Safe for concurrent use.
type boundedCache[V any] struct {
	mu       sync.RWMutex
	half     int
	cur, old map[string]V
}

func newBoundedCache[V any](size int) *boundedCache[V] {
	if size <= 0 {
		return &boundedCache[V]{}
	}
	return &boundedCache[V]{half: max(size/2, 1), cur: map[string]V{}}
}

func (c *boundedCache[V]) get(k string) (V, bool) {
	c.mu.RLock()
	v, ok := c.cur[k]
	if ok {
		c.mu.RUnlock()
		return v, true
	}
	v, ok = c.old[k]
	c.mu.RUnlock()
	if ok {
		c.put(k, v)
	}
	return v, ok
}

func (c *boundedCache[V]) put(k string, v V) {
	if c.half == 0 {
		return
	}
	c.mu.Lock()
	if _, ok := c.cur[k]; !ok && len(c.cur) >= c.half {
		c.old, c.cur = c.cur, make(map[string]V, c.half)
	}
	c.cur[k] = v
	c.mu.Unlock()
}

func (c *boundedCache[V]) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.cur) + len(c.old)
}

// flight is one call shared by concurrent callers asking for the same thing.
type flight[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// wait returns the flight's result, or ctx's error if ctx ends first (the call goes on for
// the others and for the cache).
func (f *flight[T]) wait(ctx context.Context) (T, error) {
	select {
	case <-f.done:
		return f.val, f.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// group runs one fn per key at a time: callers arriving while it runs share its result.
// fn runs detached from any one caller's cancellation, bounded by timeout, so a caller
// giving up does not fail the others.
type group[T any] struct {
	mu sync.Mutex
	m  map[string]*flight[T]
}

func (g *group[T]) do(ctx context.Context, key string, timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	g.mu.Lock()
	f, ok := g.m[key]
	if !ok {
		f = &flight[T]{done: make(chan struct{})}
		if g.m == nil {
			g.m = map[string]*flight[T]{}
		}
		g.m[key] = f
		go func() {
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
			f.val, f.err = fn(fctx)
			cancel()
			g.mu.Lock()
			delete(g.m, key)
			g.mu.Unlock()
			close(f.done)
		}()
	}
	g.mu.Unlock()
	return f.wait(ctx)
}
