package verify_test

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// BenchmarkVerify is the common case: a client calling again and again with the same token,
// keys and verified token cached. Per op: one cache lookup and the time checks.
func BenchmarkVerify(b *testing.B) {
	iss := newIssuer(b, "k1")
	v := iss.verifier(b, nil)
	tok := iss.token("k1", nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, tok); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifications/s")
}

// BenchmarkVerifyDistinctTokens gives every op a token never seen before (keys cached): the
// full parse, Ed25519 verification and claim checks, i.e. the cost of a cache miss.
func BenchmarkVerifyDistinctTokens(b *testing.B) {
	iss := newIssuer(b, "k1")
	v := iss.verifier(b, nil)
	ctx := context.Background()
	if _, err := v.Verify(ctx, iss.token("k1", nil)); err != nil {
		b.Fatal(err)
	}
	tokens := make([]string, b.N)
	for i := range tokens {
		tokens[i] = iss.token("k1", func(_, c map[string]any) { c["sid"] = fmt.Sprint("ses_", i) })
	}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		if _, err := v.Verify(ctx, tokens[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "verifications/s")
}
