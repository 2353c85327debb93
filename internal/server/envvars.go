package server

import (
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strings"
)

// secretVariables are the settings that may instead be read from a file named by the same
// variable with _FILE appended (container and orchestrator secrets).
var secretVariables = []string{
	"PANGUARD_JWT_SECRET", "PANGUARD_ENCRYPTION_KEY", "PANGUARD_ENCRYPTION_KEY_PREVIOUS", "PANGUARD_SMTP_URL",
	"PANGUARD_DATABASE_URL",
}

// otherTools are PANGUARD_* variables read by the CLI, the examples and the tests, not by the
// service: their presence is no typo.
var otherTools = []string{
	"PANGUARD_API_URL", "PANGUARD_ISSUER", "PANGUARD_SERVICE_KEY", "PANGUARD_RESILIENCE",
	"PANGUARD_REQUIRE_POSTGRES", "PANGUARD_TEST_POSTGRES_URL",
	"PANGUARD_CONTRACT_PROXY", "PANGUARD_CONTRACT_LOG", "PANGUARD_CONTRACT_BIN",
}

// maxSecretFile bounds a secret file, so a wrong path (a log, a device) is refused, not read.
const maxSecretFile = 64 << 10

// withSecretFiles returns environ with every secret X given as X_FILE read from that file
// (one trailing newline removed). It returns an error naming the variable when both are set
// or the file cannot be read.
func withSecretFiles(environ map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(environ))
	for k, v := range environ {
		out[k] = v
	}
	for _, name := range secretVariables {
		path, ok := environ[name+"_FILE"]
		if !ok || path == "" {
			continue
		}
		if environ[name] != "" {
			return nil, fmt.Errorf("config: set %s or %s_FILE, not both", name, name)
		}
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("config: %s_FILE: %w", name, err)
		}
		b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("config: %s_FILE: %w", name, err)
		}
		if len(b) > maxSecretFile {
			return nil, fmt.Errorf("config: %s_FILE: %s is larger than 64 KiB; is it the right file?", name, path)
		}
		v := strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
		if v == "" {
			return nil, fmt.Errorf("config: %s_FILE: %s is empty", name, path)
		}
		out[name] = v
	}
	return out, nil
}

// knownVariables lists every PANGUARD_* variable the service reads.
func knownVariables() []string {
	var names []string
	t := reflect.TypeOf(Config{})
	for i := range t.NumField() {
		if tag, _, _ := strings.Cut(t.Field(i).Tag.Get("env"), ","); tag != "" && tag != "-" {
			names = append(names, tag)
		}
	}
	for _, s := range secretVariables {
		names = append(names, s+"_FILE")
	}
	sort.Strings(names)
	return names
}

// UnknownVariables returns a warning for each PANGUARD_* variable in environ that neither the
// service nor its tools read — most likely a typo, silently ignored otherwise — naming the
// closest known variable.
func UnknownVariables(environ map[string]string) []string {
	known := knownVariables()
	isKnown := map[string]bool{}
	for _, k := range append(append([]string{}, known...), otherTools...) {
		isKnown[k] = true
	}
	var out []string
	for name := range environ {
		if !strings.HasPrefix(name, "PANGUARD_") || isKnown[name] {
			continue
		}
		best, bestD := "", -1
		for _, k := range known {
			if d := distance(name, k); bestD < 0 || d < bestD {
				best, bestD = k, d
			}
		}
		out = append(out, fmt.Sprintf("%s is not a setting of this service and is ignored; did you mean %s?", name, best))
	}
	sort.Strings(out)
	return out
}

// distance is the Levenshtein edit distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
