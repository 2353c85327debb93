package sdk

import (
	"net/http"
	"testing"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/server"
)

// The SDK reads errors the way the service writes them: every kind of the service's error
// table maps back to the same Connect code from its HTTP status, and every reason the
// domain answers with has a sentinel.
func TestSDKMapsErrorsLikeTheServiceTable(t *testing.T) {
	table := server.ErrorTable()
	for _, k := range auth.Kinds {
		m, ok := table[k]
		if !ok {
			t.Errorf("kind %d is missing from the service's error table", k)
			continue
		}
		if m.Status < 400 || m.Status > 599 || http.StatusText(m.Status) == "" {
			t.Errorf("kind %d maps to status %d", k, m.Status)
		}
		if got := codeForStatus(m.Status); got != m.Connect {
			t.Errorf("status %d: the SDK reads Connect code %v, the service sends %v", m.Status, got, m.Connect)
		}
	}
	have := map[string]bool{}
	for _, s := range sentinels {
		have[s.Reason] = true
	}
	for _, c := range auth.Codes {
		if !have[string(c)] {
			t.Errorf("reason %q has no SDK sentinel", c)
		}
	}
}
