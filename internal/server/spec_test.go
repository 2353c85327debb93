package server

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/server/restapi"
)

// The contract as third-party tools read it: every operation says its security (public ones
// with `security: []`), declares the answers every request may get, and the error code is an
// enum of exactly the reasons the service answers with.
func TestTheContractDeclaresWhatTheServiceAnswers(t *testing.T) {
	t.Parallel()
	spec, err := restapi.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.Security == nil {
				t.Errorf("%s: no security (public operations say security: [])", name)
				continue
			}
			want := []string{"413", "415", "500", "503"}
			if len(*op.Security) > 0 {
				want = append(want, "401")
			}
			if strings.HasPrefix(path, "/api/admin/") {
				want = append(want, "403")
			}
			for _, status := range want {
				if op.Responses.Value(status) == nil {
					t.Errorf("%s: does not declare %s", name, status)
				}
			}
		}
	}
	var enum []string
	for _, v := range spec.Components.Schemas["ErrorEnvelope"].Value.Properties["code"].Value.Enum {
		enum = append(enum, v.(string))
	}
	answered := []string{string(codeInvalidJSON), string(codeTooLarge), string(codeUnsupportedMedia), string(codeMethodNotAllowed)}
	for _, c := range auth.Codes {
		if !slices.Contains(answered, string(c)) {
			answered = append(answered, string(c))
		}
	}
	sort.Strings(enum)
	sort.Strings(answered)
	if strings.Join(enum, ",") != strings.Join(answered, ",") {
		t.Fatalf("ErrorEnvelope.code enum\n %v\nthe service answers\n %v", enum, answered)
	}
}
