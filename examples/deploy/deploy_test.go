// Package deploy holds the deployment files of examples/deploy and their tests: the
// Dockerfile, compose.yaml, kubernetes.yaml and panguard-auth.service are parsed and checked
// for the properties README.md promises, the Dockerfile's own build command is run, and the
// binary it builds is started the way the systemd unit and the image start it.
package deploy

import (
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"panguard.ai/auth/internal/server"
)

// repoRoot is the build context of the Dockerfile.
const repoRoot = "../.."

// secretVariables are the settings the service also reads from a file named by X_FILE; the
// deployment files must give each of them only that way.
var secretVariables = []string{"PANGUARD_JWT_SECRET", "PANGUARD_ENCRYPTION_KEY", "PANGUARD_SMTP_URL"}

// binaryName is where the Dockerfile puts the binary in the image.
const binaryName = "/panguard-auth"

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// shutdownTimeout is the service's default drain on SIGTERM, from its Config.
func shutdownTimeout(t *testing.T) time.Duration {
	t.Helper()
	f, ok := reflect.TypeOf(server.Config{}).FieldByName("ShutdownTimeout")
	if !ok {
		t.Fatal("server.Config has no ShutdownTimeout")
	}
	d, err := time.ParseDuration(f.Tag.Get("envDefault"))
	if err != nil {
		t.Fatalf("ShutdownTimeout default: %v", err)
	}
	return d
}

func TestSecretVariablesAreTheServicesFileSettings(t *testing.T) {
	for _, name := range secretVariables {
		if w := server.UnknownVariables(map[string]string{name + "_FILE": "x"}); len(w) > 0 {
			t.Errorf("%s_FILE is not a setting of the service: %v", name, w)
		}
	}
}

// --- Dockerfile --------------------------------------------------------------------------

type instruction struct {
	cmd   string   // upper case
	flags []string // leading --name=value
	args  string   // the rest
	line  int
}

type stage struct {
	image, name string
	ins         []instruction
}

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.ins {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

func (in instruction) flag(name string) (string, bool) {
	for _, f := range in.flags {
		if k, v, _ := strings.Cut(strings.TrimPrefix(f, "--"), "="); k == name {
			return v, true
		}
	}
	return "", false
}

// parseDockerfile splits a Dockerfile into stages of instructions: comments and blank lines
// dropped, backslash continuations joined, leading --flags separated.
func parseDockerfile(text string) ([]stage, error) {
	var stages []stage
	lines := strings.Split(text, "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		line := strings.TrimSpace(lines[i])
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			next := strings.TrimSpace(lines[i])
			if strings.HasPrefix(next, "#") {
				continue
			}
			line = strings.TrimSuffix(line, `\`) + " " + next
		}
		cmd, rest, _ := strings.Cut(line, " ")
		in := instruction{cmd: strings.ToUpper(cmd), line: start}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			f, r, _ := strings.Cut(rest, " ")
			in.flags = append(in.flags, f)
			rest = strings.TrimSpace(r)
		}
		in.args = rest
		if in.cmd == "FROM" {
			f := strings.Fields(rest)
			s := stage{image: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				s.name = f[2]
			} else if len(f) != 1 {
				return nil, fmt.Errorf("line %d: FROM %s", start, rest)
			}
			stages = append(stages, s)
			continue
		}
		if len(stages) == 0 {
			if in.cmd == "ARG" {
				continue
			}
			return nil, fmt.Errorf("line %d: %s before FROM", start, in.cmd)
		}
		stages[len(stages)-1].ins = append(stages[len(stages)-1].ins, in)
	}
	return stages, nil
}

// jsonArgs parses the exec (JSON array) form; the shell form is an error.
func jsonArgs(s string) ([]string, error) {
	var out []string
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		return nil, fmt.Errorf("not the exec form %q: %v", s, err)
	}
	return out, nil
}

func dockerfile(t *testing.T) (build, runtime stage) {
	t.Helper()
	stages, err := parseDockerfile(readFile(t, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 {
		t.Fatalf("want 2 stages (build, runtime), got %d", len(stages))
	}
	return stages[0], stages[1]
}

// goModVersion is the go directive of go.mod.
func goModVersion(t *testing.T) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(readFile(t, filepath.Join(repoRoot, "go.mod")))
	if m == nil {
		t.Fatal("go.mod has no go directive")
	}
	return m[1]
}

// imageUser is the numeric uid and gid of the runtime stage's last USER.
func imageUser(t *testing.T) (uid, gid int) {
	t.Helper()
	_, rt := dockerfile(t)
	users := rt.all("USER")
	if len(users) == 0 {
		t.Fatal("the runtime stage has no USER: it would run as root")
	}
	u := users[len(users)-1].args
	us, gs, ok := strings.Cut(u, ":")
	var err1, err2 error
	uid, err1 = strconv.Atoi(us)
	gid, err2 = strconv.Atoi(gs)
	if !ok || err1 != nil || err2 != nil {
		t.Fatalf("USER %s: want numeric uid:gid (Kubernetes' runAsNonRoot cannot check a name)", u)
	}
	return uid, gid
}

// buildCommand is the go build command line of the build stage, and the output path in it.
func buildCommand(t *testing.T) (cmd, out string) {
	t.Helper()
	b, _ := dockerfile(t)
	for _, in := range b.all("RUN") {
		if strings.Contains(in.args, "go build") {
			if cmd != "" {
				t.Fatal("more than one RUN runs go build")
			}
			cmd = in.args
		}
	}
	if cmd == "" {
		t.Fatal("the build stage has no RUN … go build")
	}
	m := regexp.MustCompile(`\s-o\s+(\S+)\s`).FindAllStringSubmatch(cmd, -1)
	if len(m) != 1 {
		t.Fatalf("want exactly one -o in %q", cmd)
	}
	return cmd, m[0][1]
}

func TestDockerfile(t *testing.T) {
	build, rt := dockerfile(t)
	cmd, out := buildCommand(t)
	uid, _ := imageUser(t)
	one := func(s stage, c string) string {
		t.Helper()
		ins := s.all(c)
		if len(ins) != 1 {
			t.Fatalf("stage %q: want one %s, got %d", s.name, c, len(ins))
		}
		return ins[0].args
	}
	for _, tc := range []struct {
		name string
		err  func() string // "" when the property holds
	}{
		{"the builder is the Go of go.mod", func() string {
			want := "golang:" + goModVersion(t)
			if build.image != want && !strings.HasPrefix(build.image, want+"-") {
				return fmt.Sprintf("FROM %s, want %s[-variant] (go.mod says go %s)", build.image, want, goModVersion(t))
			}
			if build.name == "" {
				return "the build stage has no name"
			}
			return ""
		}},
		{"the builder uses its own toolchain", func() string {
			for _, in := range build.all("ENV") {
				if strings.Contains(in.args, "GOTOOLCHAIN=local") {
					return ""
				}
			}
			return "no ENV GOTOOLCHAIN=local in the build stage"
		}},
		{"the build is static, trimmed and stamped", func() string {
			for _, want := range []string{"CGO_ENABLED=0 go build ", " -trimpath ", "-s -w", "-X main.version=${VERSION}", " ./service"} {
				if !strings.Contains(cmd+" ", want) {
					return fmt.Sprintf("%q lacks %q", cmd, want)
				}
			}
			if !slices.ContainsFunc(build.all("ARG"), func(in instruction) bool { return strings.HasPrefix(in.args, "VERSION") }) {
				return "no ARG VERSION in the build stage"
			}
			return ""
		}},
		{"the runtime image is distroless static or scratch", func() string {
			if rt.image != "gcr.io/distroless/static-debian12:nonroot" && rt.image != "scratch" {
				return "FROM " + rt.image
			}
			return ""
		}},
		{"the binary is copied from the build stage", func() string {
			for _, in := range rt.all("COPY") {
				from, _ := in.flag("from")
				if from == build.name && in.args == out+" "+binaryName {
					return ""
				}
			}
			return fmt.Sprintf("no COPY --from=%s %s %s", build.name, out, binaryName)
		}},
		{"a non-root numeric user", func() string {
			if uid == 0 {
				return "USER is root"
			}
			return ""
		}},
		{"the working directory is a volume the user owns", func() string {
			wd := one(rt, "WORKDIR")
			vols, err := jsonArgs(one(rt, "VOLUME"))
			if err != nil {
				return err.Error()
			}
			if !slices.Equal(vols, []string{wd}) {
				return fmt.Sprintf("VOLUME %v, WORKDIR %s", vols, wd)
			}
			for _, in := range rt.all("COPY") {
				owner, _ := in.flag("chown")
				if f := strings.Fields(in.args); len(f) == 2 && f[1] == wd && strings.HasPrefix(owner, strconv.Itoa(uid)+":") {
					return ""
				}
			}
			return fmt.Sprintf("nothing creates %s owned by %d", wd, uid)
		}},
		{"port 3000", func() string {
			if e := one(rt, "EXPOSE"); e != "3000" {
				return "EXPOSE " + e
			}
			return ""
		}},
		{"the health check is the binary's subcommand", func() string {
			hc := rt.all("HEALTHCHECK")
			if len(hc) != 1 {
				return "want one HEALTHCHECK"
			}
			c, rest, _ := strings.Cut(hc[0].args, " ")
			argv, err := jsonArgs(rest)
			if c != "CMD" || err != nil || !slices.Equal(argv, []string{binaryName, "healthcheck"}) {
				return fmt.Sprintf("HEALTHCHECK %s: want CMD [%q,\"healthcheck\"] (%v)", hc[0].args, binaryName, err)
			}
			return ""
		}},
		{"the entrypoint is the binary", func() string {
			argv, err := jsonArgs(one(rt, "ENTRYPOINT"))
			if err != nil || !slices.Equal(argv, []string{binaryName}) {
				return fmt.Sprintf("ENTRYPOINT %v (%v)", argv, err)
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := tc.err(); e != "" {
				t.Error(e)
			}
		})
	}
}

func TestDockerignoreKeepsLocalStateOut(t *testing.T) {
	lines := strings.Fields(readFile(t, filepath.Join(repoRoot, ".dockerignore")))
	for _, want := range []string{".git", "bin/", "*.db", "*.db-*"} {
		if !slices.Contains(lines, want) {
			t.Errorf(".dockerignore lacks %s", want)
		}
	}
	for _, needed := range []string{"go.mod", "go.sum", "service", "internal"} {
		for _, l := range lines {
			if ok, _ := filepath.Match(strings.TrimPrefix(l, "/"), needed); ok {
				t.Errorf(".dockerignore pattern %s excludes %s, which the build needs", l, needed)
			}
		}
	}
}

// The binary the Dockerfile's build command makes, built once for every test that runs it.
var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	binError error
)

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "panguard-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

// builtBinary runs the Dockerfile's go build line, with only its -o moved to a temporary
// directory, from the repository root (the build context).
func builtBinary(t *testing.T) string {
	t.Helper()
	cmd, out := buildCommand(t)
	binOnce.Do(func() {
		binPath = filepath.Join(binDir, "panguard-auth")
		line := strings.Replace(cmd, " -o "+out+" ", " -o '"+binPath+"' ", 1)
		c := exec.Command("sh", "-c", line)
		c.Dir = repoRoot
		c.Env = append(os.Environ(), "VERSION=deploy-test")
		if b, err := c.CombinedOutput(); err != nil {
			binError = fmt.Errorf("%s: %v\n%s", line, err, b)
		}
	})
	if binError != nil {
		t.Fatal(binError)
	}
	return binPath
}

// staticELF reports why the file at path is not a static executable, or "".
func staticELF(path string) (string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return "it has a program interpreter (PT_INTERP)", nil
		}
	}
	libs, err := f.ImportedLibraries()
	if err != nil && f.SectionByType(elf.SHT_DYNAMIC) != nil {
		return "", err
	}
	if len(libs) > 0 {
		return fmt.Sprintf("it needs %v (DT_NEEDED)", libs), nil
	}
	return "", nil
}

func TestTheBuiltBinaryIsStatic(t *testing.T) {
	bin := builtBinary(t)
	for _, tc := range []struct {
		name, path string
		static     bool
	}{
		{"the binary of the Dockerfile's build command", bin, true},
		// A control: the check must see a dynamic executable as one.
		{"a dynamically linked program (control)", "/usr/bin/systemd-analyze", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.path); err != nil && !tc.static {
				t.Skipf("no control binary: %v", err)
			}
			why, err := staticELF(tc.path)
			if err != nil {
				t.Fatal(err)
			}
			if (why == "") != tc.static {
				t.Errorf("%s: static=%v, want %v (%s)", tc.path, why == "", tc.static, why)
			}
		})
	}
}

func TestTheBuiltBinaryAnswersVersionAndHealthcheck(t *testing.T) {
	bin := builtBinary(t)
	_, rt := dockerfile(t)
	_, hcArgs, _ := strings.Cut(rt.all("HEALTHCHECK")[0].args, " ")
	hc, err := jsonArgs(hcArgs)
	if err != nil {
		t.Fatal(err)
	}
	nothing := "127.0.0.1:" + strconv.Itoa(freePort(t))
	for _, tc := range []struct {
		name     string
		argv     []string
		code     int
		inStdout string
		inStderr string
	}{
		{"version names the build's VERSION", []string{"version"}, 0, "panguard-auth deploy-test\n", ""},
		{"the image's HEALTHCHECK against nothing fails", hc[1:], 1, "", "not ready"},
		{"an unknown subcommand is a usage error", []string{"nonsense"}, 2, "", "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, bin, []string{"PANGUARD_ADDR=" + nothing}, "", tc.argv...)
			if code != tc.code || !strings.Contains(stdout, tc.inStdout) || !strings.Contains(stderr, tc.inStderr) {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					tc.argv, code, stdout, stderr, tc.code, tc.inStdout, tc.inStderr)
			}
		})
	}
}

func runCmd(t *testing.T, bin string, env []string, dir string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, bin, args...)
	c.Env, c.Dir = env, dir
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("%s %v: %v", bin, args, err)
	return 0, "", ""
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// --- systemd -----------------------------------------------------------------------------

// unit is a systemd unit file: section, key, every value in order.
type unit map[string]map[string][]string

func parseUnit(text string) (unit, error) {
	u, section := unit{}, ""
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				return nil, fmt.Errorf("line %d: %q", i+1, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u, nil
}

func (u unit) last(section, key string) (string, bool) {
	v := u[section][key]
	if len(v) == 0 {
		return "", false
	}
	return v[len(v)-1], true
}

// environment is the unit's Environment= assignments, later ones winning.
func (u unit) environment() map[string]string {
	env := map[string]string{}
	for _, line := range u["Service"]["Environment"] {
		for _, kv := range strings.Fields(line) {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
	}
	return env
}

// credentials maps each LoadCredential= id to its source path.
func (u unit) credentials() map[string]string {
	creds := map[string]string{}
	for _, c := range u["Service"]["LoadCredential"] {
		id, path, _ := strings.Cut(c, ":")
		creds[id] = path
	}
	return creds
}

func loadUnit(t *testing.T) (unit, string) {
	t.Helper()
	text := readFile(t, "panguard-auth.service")
	u, err := parseUnit(text)
	if err != nil {
		t.Fatal(err)
	}
	return u, text
}

func TestSystemdUnitSettings(t *testing.T) {
	u, _ := loadUnit(t)
	env := u.environment()
	creds := u.credentials()
	drain := shutdownTimeout(t)
	for _, tc := range []struct {
		key, want string
	}{
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"NoNewPrivileges", "yes"},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
		{"MemoryDenyWriteExecute", "yes"},
		{"CapabilityBoundingSet", ""},
		{"AmbientCapabilities", ""},
		{"Restart", "on-failure"},
		{"DynamicUser", "yes"},
		{"User", "panguard-auth"},
		{"StateDirectory", "panguard-auth"},
		{"WorkingDirectory", "%S/panguard-auth"},
		{"EnvironmentFile", "/etc/panguard-auth/env"},
		{"UMask", "0077"},
	} {
		t.Run(tc.key, func(t *testing.T) {
			if got, ok := u.last("Service", tc.key); !ok || got != tc.want {
				t.Errorf("%s=%q (set: %v), want %q", tc.key, got, ok, tc.want)
			}
		})
	}
	t.Run("SystemCallFilter", func(t *testing.T) {
		if f := u["Service"]["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
			t.Errorf("SystemCallFilter=%v, want @system-service first", f)
		}
	})
	t.Run("TimeoutStopSec outlasts the drain", func(t *testing.T) {
		v, _ := u.last("Service", "TimeoutStopSec")
		d, err := time.ParseDuration(v)
		if err != nil || d <= drain {
			t.Errorf("TimeoutStopSec=%q, want a duration above the %s drain (%v)", v, drain, err)
		}
	})
	t.Run("the SQLite file is in the state directory", func(t *testing.T) {
		if got := env["PANGUARD_DATABASE_URL"]; got != "sqlite://%S/panguard-auth/panguard-auth.db" {
			t.Errorf("PANGUARD_DATABASE_URL=%q", got)
		}
	})
	for _, name := range secretVariables {
		t.Run(name+" comes from a credential", func(t *testing.T) {
			if v, ok := env[name]; ok {
				t.Errorf("%s is set in the unit (%q): give it as a file", name, v)
			}
			id, ok := strings.CutPrefix(env[name+"_FILE"], "%d/")
			if !ok {
				t.Fatalf("%s_FILE=%q, want %%d/<credential>", name, env[name+"_FILE"])
			}
			if src, ok := creds[id]; !ok || !strings.HasPrefix(src, "/etc/panguard-auth/") {
				t.Errorf("no LoadCredential=%s:/etc/panguard-auth/… for %s_FILE (have %v)", id, name, creds)
			}
		})
	}
	t.Run("no unknown PANGUARD variables", func(t *testing.T) {
		if w := server.UnknownVariables(env); len(w) > 0 {
			t.Error(w)
		}
	})
}

// TestSystemdAnalyze runs systemd-analyze on the unit, with ExecStart pointing at the binary
// the Dockerfile's command builds (verify wants an executable there). Broken copies of the
// unit are the controls: the checks must notice them.
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed, so the unit cannot be verified here")
	}
	bin := builtBinary(t)
	_, text := loadUnit(t)
	execStart := regexp.MustCompile(`(?m)^ExecStart=.*$`)
	if n := len(execStart.FindAllString(text, -1)); n != 1 {
		t.Fatalf("want one ExecStart=, got %d", n)
	}
	shipped := execStart.ReplaceAllLiteralString(text, "ExecStart="+bin)
	for _, tc := range []struct {
		name  string
		unit  string
		args  []string
		clean bool
	}{
		{"verify: the unit", shipped, []string{"verify"}, true},
		{"verify: a misspelt key (control)", shipped + "\n[Service]\nProtectKernelTunabels=yes\n", []string{"verify"}, false},
		{"verify: a bad value (control)", strings.Replace(shipped, "ProtectSystem=strict", "ProtectSystem=very", 1), []string{"verify"}, false},
		{"security: exposure at most 2.0", shipped, []string{"security", "--offline=yes", "--threshold=20", "--no-pager"}, true},
		{"security: an unhardened unit (control)", "[Service]\nExecStart=" + bin + "\n", []string{"security", "--offline=yes", "--threshold=20", "--no-pager"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "panguard-auth.service")
			if err := os.WriteFile(path, []byte(tc.unit), 0o644); err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			c := exec.CommandContext(ctx, sa, append(tc.args, path)...)
			var stdout, stderr bytes.Buffer
			c.Stdout, c.Stderr = &stdout, &stderr
			err := c.Run()
			// verify exits 0 on warnings: anything it prints counts as a failure.
			clean := err == nil && stderr.Len() == 0 && (tc.args[0] != "verify" || stdout.Len() == 0)
			if clean != tc.clean {
				t.Errorf("systemd-analyze %v: clean=%v, want %v (err %v)\nstdout:\n%s\nstderr:\n%s",
					tc.args, clean, tc.clean, err, tail(stdout.String(), 2000), stderr.String())
			}
		})
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// --- the binary started as the unit and the image start it ---------------------------------

// TestServesAsDeployed starts the binary the way each deployment starts it and checks it gets
// ready, takes its secrets from the files, keeps its SQLite file 0600 where promised, and
// stops cleanly on SIGTERM within the deployment's stop timeout.
//
// systemd: the unit's Environment= lines with %S and %d pointing at temporary directories,
// the credentials written there under their LoadCredential= ids, an EnvironmentFile giving
// PANGUARD_ADDR, and the unit's WorkingDirectory. The image: no configuration, its WORKDIR
// (the SQLite default ./panguard-auth.db) and its HEALTHCHECK command.
func TestServesAsDeployed(t *testing.T) {
	bin := builtBinary(t)
	u, _ := loadUnit(t)
	_, rt := dockerfile(t)
	_, hcArgs, _ := strings.Cut(rt.all("HEALTHCHECK")[0].args, " ")
	hc, err := jsonArgs(hcArgs)
	if err != nil {
		t.Fatal(err)
	}
	stopSec, _ := u.last("Service", "TimeoutStopSec")
	unitStop, err := time.ParseDuration(stopSec)
	if err != nil {
		t.Fatal(err)
	}

	type layout struct {
		env        []string
		dir        string // working directory
		dbFile     string
		secretsSet bool // the secrets come from files, so none is generated
	}
	for _, tc := range []struct {
		name string
		make func(t *testing.T, addr string) layout
	}{
		{"as the systemd unit", func(t *testing.T, addr string) layout {
			stateRoot, credDir, etc := t.TempDir(), t.TempDir(), t.TempDir()
			sub := strings.NewReplacer("%S", stateRoot, "%d", credDir)
			sd, _ := u.last("Service", "StateDirectory")
			if err := os.Mkdir(filepath.Join(stateRoot, sd), 0o700); err != nil {
				t.Fatal(err)
			}
			for id := range u.credentials() {
				v := randomHex(t)
				if id == "smtp-url" {
					v = "smtp://127.0.0.1:2525"
				}
				if err := os.WriteFile(filepath.Join(credDir, id), []byte(v+"\n"), 0o400); err != nil {
					t.Fatal(err)
				}
			}
			// What an operator's /etc/panguard-auth/env holds, read as EnvironmentFile= reads it.
			envFile := filepath.Join(etc, "env")
			if err := os.WriteFile(envFile, []byte("# the operator's settings\nPANGUARD_ADDR="+addr+"\nPANGUARD_LOG_LEVEL=info\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			vars := map[string]string{}
			for k, v := range u.environment() {
				vars[k] = sub.Replace(v)
			}
			for _, line := range strings.Split(readFile(t, envFile), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
					vars[k] = v // EnvironmentFile= overrides Environment=
				}
			}
			env := []string{"PATH=/usr/bin:/bin"}
			for k, v := range vars {
				env = append(env, k+"="+v)
			}
			wd, _ := u.last("Service", "WorkingDirectory")
			return layout{env: env, dir: sub.Replace(wd), dbFile: filepath.Join(stateRoot, sd, "panguard-auth.db"), secretsSet: true}
		}},
		{"as the image", func(t *testing.T, addr string) layout {
			// The image sets no PANGUARD_* variable; the address is the test's.
			dir := t.TempDir()
			return layout{env: []string{"PANGUARD_ADDR=" + addr}, dir: dir, dbFile: filepath.Join(dir, "panguard-auth.db")}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := "127.0.0.1:" + strconv.Itoa(freePort(t))
			l := tc.make(t, addr)
			var logs lockedBuffer
			srv := exec.Command(bin)
			srv.Env, srv.Dir, srv.Stdout, srv.Stderr = l.env, l.dir, &logs, &logs
			if err := srv.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- srv.Wait() }()
			exited := false
			defer func() {
				if !exited {
					srv.Process.Kill()
					<-done
				}
			}()

			// Ready: the healthcheck subcommand (the image's HEALTHCHECK argv) exits 0.
			deadline := time.Now().Add(30 * time.Second)
			for {
				code, stdout, stderr := runCmd(t, bin, l.env, l.dir, hc[1:]...)
				if code == 0 {
					break
				}
				select {
				case err := <-done:
					exited = true
					t.Fatalf("the service exited before it was ready: %v\nlogs:\n%s", err, logs.String())
				default:
				}
				if time.Now().After(deadline) {
					t.Fatalf("healthcheck never passed: exit %d %s %s\nlogs:\n%s", code, stdout, stderr, logs.String())
				}
				time.Sleep(200 * time.Millisecond)
			}
			for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200} {
				res, err := http.Get("http://" + addr + path)
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					t.Errorf("GET %s: %d, want %d", path, res.StatusCode, want)
				}
			}
			fi, err := os.Stat(l.dbFile)
			if err != nil {
				t.Errorf("the SQLite file is not where the deployment keeps it: %v", err)
			} else if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: mode %v, want 0600", l.dbFile, fi.Mode().Perm())
			}

			if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				exited = true
				if err != nil {
					t.Errorf("exit after SIGTERM: %v\nlogs:\n%s", err, logs.String())
				}
			case <-time.After(unitStop):
				t.Fatalf("still running %s after SIGTERM (the unit's TimeoutStopSec)", unitStop)
			}
			out := logs.String()
			generated := strings.Contains(out, "no PANGUARD_JWT_SECRET configured") || strings.Contains(out, "no PANGUARD_ENCRYPTION_KEY configured")
			if generated == l.secretsSet {
				t.Errorf("secrets generated: %v, want %v (secrets given as files: %v)\nlogs:\n%s", generated, !l.secretsSet, l.secretsSet, out)
			}
			if strings.Contains(out, "is not a setting of this service") {
				t.Errorf("unknown variable warned about:\n%s", out)
			}

			// The operator's tool under the same environment, and the healthcheck once stopped.
			if code, stdout, stderr := runCmd(t, bin, l.env, l.dir, "migrate", "status"); code != 0 || strings.Contains(stdout, "pending") || !strings.Contains(stdout, "applied") {
				t.Errorf("migrate status: exit %d\n%s%s", code, stdout, stderr)
			}
			if code, _, _ := runCmd(t, bin, l.env, l.dir, hc[1:]...); code != 1 {
				t.Errorf("healthcheck of a stopped instance: exit %d, want 1", code)
			}
		})
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// --- YAML --------------------------------------------------------------------------------

// decodeStrict decodes one YAML document into v, refusing fields v does not declare: a
// misspelt or misplaced key fails here instead of being ignored.
func decodeStrict(doc []byte, v any) error {
	d := yaml.NewDecoder(bytes.NewReader(doc))
	d.KnownFields(true)
	return d.Decode(v)
}

// --- compose.yaml ------------------------------------------------------------------------

type composeFile struct {
	Name     string                    `yaml:"name"`
	Services map[string]composeService `yaml:"services"`
	Secrets  map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
	Volumes map[string]*struct{} `yaml:"volumes"`
}

type composeService struct {
	Build *struct {
		Context    string            `yaml:"context"`
		Dockerfile string            `yaml:"dockerfile"`
		Args       map[string]string `yaml:"args"`
	} `yaml:"build"`
	Image           string   `yaml:"image"`
	Restart         string   `yaml:"restart"`
	User            string   `yaml:"user"`
	ReadOnly        bool     `yaml:"read_only"`
	CapDrop         []string `yaml:"cap_drop"`
	SecurityOpt     []string `yaml:"security_opt"`
	StopGracePeriod string   `yaml:"stop_grace_period"`
	DependsOn       map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Environment map[string]string `yaml:"environment"`
	Secrets     []string          `yaml:"secrets"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck *struct {
		Test        []string `yaml:"test"`
		Interval    string   `yaml:"interval"`
		Timeout     string   `yaml:"timeout"`
		Retries     int      `yaml:"retries"`
		StartPeriod string   `yaml:"start_period"`
	} `yaml:"healthcheck"`
}

var interpolation = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)([^}]*))?\}`)

// interpolate resolves compose's ${VAR}, ${VAR:-default} and ${VAR:?error} from vars.
func interpolate(s string, vars map[string]string) (string, error) {
	var err error
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		p := interpolation.FindStringSubmatch(m)
		v := vars[p[1]]
		switch {
		case v != "":
			return v
		case p[2] == ":?":
			err = fmt.Errorf("${%s}: %s", p[1], p[3])
		case p[2] == ":-":
			return p[3]
		}
		return ""
	})
	return out, err
}

func loadCompose(t *testing.T) composeFile {
	t.Helper()
	var c composeFile
	if err := decodeStrict([]byte(readFile(t, "compose.yaml")), &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

func TestCompose(t *testing.T) {
	c := loadCompose(t)
	auth, db := c.Services["auth"], c.Services["db"]
	if auth.Image == "" || db.Image == "" {
		t.Fatalf("want services auth and db, got %v", slices.Sorted(maps.Keys(c.Services)))
	}
	uid, gid := imageUser(t)
	drain := shutdownTimeout(t)
	vars := map[string]string{"POSTGRES_PASSWORD": "pw-from-dot-env"}
	env := map[string]string{}
	for k, v := range auth.Environment {
		r, err := interpolate(v, vars)
		if err != nil {
			t.Fatalf("%s: %v", k, err)
		}
		env[k] = r
	}
	for _, tc := range []struct {
		name string
		err  func() string
	}{
		{"built from the Dockerfile with the repository as context", func() string {
			if auth.Build == nil {
				return "no build"
			}
			ctx := filepath.Clean(auth.Build.Context)
			if ctx != filepath.Clean(repoRoot) {
				return "context " + auth.Build.Context
			}
			if _, err := os.Stat(filepath.Join(ctx, auth.Build.Dockerfile)); err != nil || filepath.Clean(filepath.Join(ctx, auth.Build.Dockerfile)) != filepath.Clean(filepath.Join(repoRoot, "examples/deploy/Dockerfile")) {
				return fmt.Sprintf("dockerfile %s (%v)", auth.Build.Dockerfile, err)
			}
			return ""
		}},
		{"the image's non-root user", func() string {
			if auth.User != fmt.Sprintf("%d:%d", uid, gid) || uid == 0 {
				return fmt.Sprintf("user %q, want %d:%d", auth.User, uid, gid)
			}
			return ""
		}},
		{"read-only, no capabilities, no new privileges", func() string {
			if !auth.ReadOnly || !slices.Equal(auth.CapDrop, []string{"ALL"}) || !slices.Contains(auth.SecurityOpt, "no-new-privileges:true") {
				return fmt.Sprintf("read_only %v, cap_drop %v, security_opt %v", auth.ReadOnly, auth.CapDrop, auth.SecurityOpt)
			}
			return ""
		}},
		{"the health check is the binary's subcommand", func() string {
			if auth.Healthcheck == nil || !slices.Equal(auth.Healthcheck.Test, []string{"CMD", binaryName, "healthcheck"}) {
				return fmt.Sprintf("healthcheck %+v", auth.Healthcheck)
			}
			return ""
		}},
		{"it waits for a healthy PostgreSQL 16", func() string {
			if auth.DependsOn["db"].Condition != "service_healthy" {
				return fmt.Sprintf("depends_on %+v", auth.DependsOn)
			}
			if !strings.HasPrefix(db.Image, "postgres:16") {
				return "db image " + db.Image
			}
			if db.Healthcheck == nil || len(db.Healthcheck.Test) < 2 || db.Healthcheck.Test[0] != "CMD" || db.Healthcheck.Test[1] != "pg_isready" {
				return fmt.Sprintf("db healthcheck %+v", db.Healthcheck)
			}
			return ""
		}},
		{"the stop grace period outlasts the drain", func() string {
			d, err := time.ParseDuration(auth.StopGracePeriod)
			if err != nil || d <= drain {
				return fmt.Sprintf("stop_grace_period %q, want above %s", auth.StopGracePeriod, drain)
			}
			return ""
		}},
		{"PostgreSQL, its password from .env only", func() string {
			if _, err := interpolate(auth.Environment["PANGUARD_DATABASE_URL"], nil); err == nil {
				return "PANGUARD_DATABASE_URL works without POSTGRES_PASSWORD: a default password?"
			}
			if _, err := interpolate(db.Environment["POSTGRES_PASSWORD"], nil); err == nil {
				return "POSTGRES_PASSWORD has a default"
			}
			if u := env["PANGUARD_DATABASE_URL"]; u != "postgres://panguard:pw-from-dot-env@db:5432/panguard?sslmode=disable" {
				return "PANGUARD_DATABASE_URL " + u
			}
			return ""
		}},
		{"every secret is a compose secret given as _FILE", func() string {
			for _, name := range secretVariables {
				if v, ok := auth.Environment[name]; ok {
					return fmt.Sprintf("%s=%q in the environment", name, v)
				}
				s, ok := strings.CutPrefix(env[name+"_FILE"], "/run/secrets/")
				if !ok || !slices.Contains(auth.Secrets, s) || c.Secrets[s].File == "" {
					return fmt.Sprintf("%s_FILE=%q is not a secret of the service (%v, %v)", name, env[name+"_FILE"], auth.Secrets, c.Secrets)
				}
			}
			return ""
		}},
		{"no unknown PANGUARD variables", func() string {
			if w := server.UnknownVariables(env); len(w) > 0 {
				return strings.Join(w, "; ")
			}
			return ""
		}},
		{"the service accepts the configuration", func() string {
			cfg := map[string]string{}
			dir := t.TempDir()
			for k, v := range env {
				if name, ok := strings.CutPrefix(v, "/run/secrets/"); ok {
					v = filepath.Join(dir, name)
					content := randomHex(t)
					if strings.HasPrefix(k, "PANGUARD_SMTP_URL") {
						content = "smtps://user:pass@smtp.example.com"
					}
					if err := os.WriteFile(v, []byte(content+"\n"), 0o400); err != nil {
						t.Fatal(err)
					}
				}
				cfg[k] = v
			}
			if _, err := server.LoadConfig(cfg); err != nil {
				return err.Error()
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := tc.err(); e != "" {
				t.Error(e)
			}
		})
	}
}

// --- kubernetes.yaml ---------------------------------------------------------------------

type objectMeta struct {
	Name   string            `yaml:"name"`
	Labels map[string]string `yaml:"labels"`
}

type k8sSecret struct {
	APIVersion string            `yaml:"apiVersion"`
	Kind       string            `yaml:"kind"`
	Metadata   objectMeta        `yaml:"metadata"`
	Type       string            `yaml:"type"`
	StringData map[string]string `yaml:"stringData"`
}

type k8sService struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		Selector map[string]string `yaml:"selector"`
		Ports    []struct {
			Name       string `yaml:"name"`
			Port       int    `yaml:"port"`
			TargetPort string `yaml:"targetPort"`
		} `yaml:"ports"`
	} `yaml:"spec"`
}

type k8sDeployment struct {
	APIVersion string     `yaml:"apiVersion"`
	Kind       string     `yaml:"kind"`
	Metadata   objectMeta `yaml:"metadata"`
	Spec       struct {
		Replicas int `yaml:"replicas"`
		Selector struct {
			MatchLabels map[string]string `yaml:"matchLabels"`
		} `yaml:"selector"`
		Strategy struct {
			Type          string `yaml:"type"`
			RollingUpdate struct {
				MaxUnavailable string `yaml:"maxUnavailable"`
				MaxSurge       string `yaml:"maxSurge"`
			} `yaml:"rollingUpdate"`
		} `yaml:"strategy"`
		Template struct {
			Metadata objectMeta `yaml:"metadata"`
			Spec     podSpec    `yaml:"spec"`
		} `yaml:"template"`
	} `yaml:"spec"`
}

type podSpec struct {
	AutomountServiceAccountToken  *bool `yaml:"automountServiceAccountToken"`
	TerminationGracePeriodSeconds int   `yaml:"terminationGracePeriodSeconds"`
	SecurityContext               struct {
		RunAsNonRoot   *bool  `yaml:"runAsNonRoot"`
		RunAsUser      *int64 `yaml:"runAsUser"`
		RunAsGroup     *int64 `yaml:"runAsGroup"`
		FSGroup        *int64 `yaml:"fsGroup"`
		SeccompProfile struct {
			Type string `yaml:"type"`
		} `yaml:"seccompProfile"`
	} `yaml:"securityContext"`
	Containers []k8sContainer `yaml:"containers"`
	Volumes    []struct {
		Name   string `yaml:"name"`
		Secret *struct {
			SecretName  string `yaml:"secretName"`
			DefaultMode *int   `yaml:"defaultMode"`
			Items       []struct {
				Key  string `yaml:"key"`
				Path string `yaml:"path"`
			} `yaml:"items"`
		} `yaml:"secret"`
	} `yaml:"volumes"`
}

type k8sProbe struct {
	HTTPGet *struct {
		Path string `yaml:"path"`
		Port string `yaml:"port"`
	} `yaml:"httpGet"`
	PeriodSeconds    int `yaml:"periodSeconds"`
	TimeoutSeconds   int `yaml:"timeoutSeconds"`
	FailureThreshold int `yaml:"failureThreshold"`
}

type k8sContainer struct {
	Name            string `yaml:"name"`
	Image           string `yaml:"image"`
	ImagePullPolicy string `yaml:"imagePullPolicy"`
	Ports           []struct {
		Name          string `yaml:"name"`
		ContainerPort int    `yaml:"containerPort"`
	} `yaml:"ports"`
	Env []struct {
		Name      string `yaml:"name"`
		Value     string `yaml:"value"`
		ValueFrom *struct {
			SecretKeyRef *struct {
				Name string `yaml:"name"`
				Key  string `yaml:"key"`
			} `yaml:"secretKeyRef"`
		} `yaml:"valueFrom"`
	} `yaml:"env"`
	VolumeMounts []struct {
		Name      string `yaml:"name"`
		MountPath string `yaml:"mountPath"`
		ReadOnly  bool   `yaml:"readOnly"`
	} `yaml:"volumeMounts"`
	SecurityContext struct {
		AllowPrivilegeEscalation *bool `yaml:"allowPrivilegeEscalation"`
		ReadOnlyRootFilesystem   *bool `yaml:"readOnlyRootFilesystem"`
		RunAsNonRoot             *bool `yaml:"runAsNonRoot"`
		Capabilities             struct {
			Drop []string `yaml:"drop"`
		} `yaml:"capabilities"`
	} `yaml:"securityContext"`
	StartupProbe   *k8sProbe `yaml:"startupProbe"`
	LivenessProbe  *k8sProbe `yaml:"livenessProbe"`
	ReadinessProbe *k8sProbe `yaml:"readinessProbe"`
	Lifecycle      struct {
		PreStop *struct {
			Sleep *struct {
				Seconds int `yaml:"seconds"`
			} `yaml:"sleep"`
		} `yaml:"preStop"`
	} `yaml:"lifecycle"`
	Resources struct {
		Requests map[string]string `yaml:"requests"`
		Limits   map[string]string `yaml:"limits"`
	} `yaml:"resources"`
}

type manifests struct {
	secret     k8sSecret
	deployment k8sDeployment
	service    k8sService
}

func loadKubernetes(t *testing.T) manifests {
	t.Helper()
	d := yaml.NewDecoder(strings.NewReader(readFile(t, "kubernetes.yaml")))
	var m manifests
	seen := map[string]bool{}
	for {
		var n yaml.Node
		if err := d.Decode(&n); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		doc, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		var head struct {
			Kind string `yaml:"kind"`
		}
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatal(err)
		}
		var target any
		switch head.Kind {
		case "Secret":
			target = &m.secret
		case "Deployment":
			target = &m.deployment
		case "Service":
			target = &m.service
		default:
			t.Fatalf("unexpected kind %q", head.Kind)
		}
		if seen[head.Kind] {
			t.Fatalf("two objects of kind %s", head.Kind)
		}
		seen[head.Kind] = true
		if err := decodeStrict(doc, target); err != nil {
			t.Fatalf("%s: %v", head.Kind, err)
		}
	}
	for _, k := range []string{"Secret", "Deployment", "Service"} {
		if !seen[k] {
			t.Fatalf("no %s", k)
		}
	}
	return m
}

func TestKubernetes(t *testing.T) {
	m := loadKubernetes(t)
	pod := m.deployment.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(pod.Containers))
	}
	ctr := pod.Containers[0]
	uid, _ := imageUser(t)
	drain := shutdownTimeout(t)
	ports := map[string]int{}
	for _, p := range ctr.Ports {
		ports[p.Name] = p.ContainerPort
	}
	// env holds literal values; secret references become the Secret's placeholder.
	env := map[string]string{}
	for _, e := range ctr.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = m.secret.StringData[e.ValueFrom.SecretKeyRef.Key]
		default:
			env[e.Name] = e.Value
		}
	}
	probe := func(p *k8sProbe, path string) string {
		if p == nil || p.HTTPGet == nil {
			return "no httpGet probe"
		}
		if p.HTTPGet.Path != path || ports[p.HTTPGet.Port] != 3000 {
			return fmt.Sprintf("probes %s on port %q, want %s on the port of 3000", p.HTTPGet.Path, p.HTTPGet.Port, path)
		}
		return ""
	}
	is := func(b *bool) bool { return b != nil && *b }
	// secretFiles maps each file the pod mounts from the Secret to its key.
	secretFiles := map[string]string{}
	for _, vm := range ctr.VolumeMounts {
		for _, v := range pod.Volumes {
			if v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName == m.secret.Metadata.Name {
				for _, it := range v.Secret.Items {
					secretFiles[filepath.Join(vm.MountPath, it.Path)] = it.Key
				}
			}
		}
	}
	for _, tc := range []struct {
		name string
		err  func() string
	}{
		{"two replicas, never fewer while rolling", func() string {
			if m.deployment.Spec.Replicas != 2 || m.deployment.Spec.Strategy.RollingUpdate.MaxUnavailable != "0" {
				return fmt.Sprintf("replicas %d, maxUnavailable %q", m.deployment.Spec.Replicas, m.deployment.Spec.Strategy.RollingUpdate.MaxUnavailable)
			}
			return ""
		}},
		{"the selector picks the pods, the Service reaches them", func() string {
			sel := m.deployment.Spec.Selector.MatchLabels
			for k, v := range sel {
				if m.deployment.Spec.Template.Metadata.Labels[k] != v || m.service.Spec.Selector[k] != v {
					return fmt.Sprintf("label %s=%s not on the pods or the Service", k, v)
				}
			}
			if len(sel) == 0 || len(m.service.Spec.Selector) != len(sel) {
				return "selectors differ"
			}
			for _, p := range m.service.Spec.Ports {
				if ports[p.TargetPort] != 3000 {
					return "the Service targets " + p.TargetPort
				}
			}
			return ""
		}},
		{"non-root, as the image's user", func() string {
			sc := pod.SecurityContext
			if !is(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser != int64(uid) || uid == 0 || !is(ctr.SecurityContext.RunAsNonRoot) {
				return fmt.Sprintf("runAsNonRoot %v, runAsUser %v, image user %d", sc.RunAsNonRoot, sc.RunAsUser, uid)
			}
			return ""
		}},
		{"read-only root, no escalation, no capabilities", func() string {
			sc := ctr.SecurityContext
			if !is(sc.ReadOnlyRootFilesystem) || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || !slices.Equal(sc.Capabilities.Drop, []string{"ALL"}) {
				return fmt.Sprintf("%+v", sc)
			}
			if pod.SecurityContext.SeccompProfile.Type != "RuntimeDefault" {
				return "seccomp " + pod.SecurityContext.SeccompProfile.Type
			}
			return ""
		}},
		{"readiness on /readyz", func() string { return probe(ctr.ReadinessProbe, "/readyz") }},
		{"liveness on /healthz", func() string { return probe(ctr.LivenessProbe, "/healthz") }},
		{"startup on /healthz", func() string { return probe(ctr.StartupProbe, "/healthz") }},
		{"resources requested and limited", func() string {
			r := ctr.Resources
			if r.Requests["cpu"] == "" || r.Requests["memory"] == "" || r.Limits["memory"] == "" {
				return fmt.Sprintf("%+v", r)
			}
			return ""
		}},
		{"the grace period covers the preStop sleep and the drain", func() string {
			sleep := 0
			if p := ctr.Lifecycle.PreStop; p != nil && p.Sleep != nil {
				sleep = p.Sleep.Seconds
			}
			if grace := time.Duration(pod.TerminationGracePeriodSeconds) * time.Second; grace <= time.Duration(sleep)*time.Second+drain {
				return fmt.Sprintf("terminationGracePeriodSeconds %s <= preStop %ds + drain %s", grace, sleep, drain)
			}
			return ""
		}},
		{"every secret is a mounted file given as _FILE", func() string {
			for _, name := range secretVariables {
				if _, ok := env[name]; ok {
					return name + " is set as a variable"
				}
				key, ok := secretFiles[env[name+"_FILE"]]
				if !ok {
					return fmt.Sprintf("%s_FILE=%q is not a file mounted from the Secret (%v)", name, env[name+"_FILE"], secretFiles)
				}
				if _, ok := m.secret.StringData[key]; !ok {
					return fmt.Sprintf("the Secret has no key %s", key)
				}
			}
			for _, v := range pod.Volumes {
				if v.Secret != nil && (v.Secret.DefaultMode == nil || *v.Secret.DefaultMode&0o007 != 0) {
					return fmt.Sprintf("secret volume %s readable by others (defaultMode %v)", v.Name, v.Secret.DefaultMode)
				}
			}
			if pod.SecurityContext.FSGroup == nil {
				return "no fsGroup: the user could not read 0440 secret files"
			}
			return ""
		}},
		{"the database URL comes from the Secret", func() string {
			for _, e := range ctr.Env {
				if e.Name == "PANGUARD_DATABASE_URL" && e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == m.secret.Metadata.Name {
					if !strings.HasPrefix(env[e.Name], "postgres://") {
						return "the Secret's database-url is not PostgreSQL"
					}
					return ""
				}
			}
			return "PANGUARD_DATABASE_URL is not a secretKeyRef"
		}},
		{"every key of the Secret is used", func() string {
			used := map[string]bool{}
			for _, k := range secretFiles {
				used[k] = true
			}
			for _, e := range ctr.Env {
				if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
					used[e.ValueFrom.SecretKeyRef.Key] = true
				}
			}
			for k := range m.secret.StringData {
				if !used[k] {
					return "unused Secret key " + k
				}
			}
			return ""
		}},
		{"no unknown PANGUARD variables", func() string {
			if w := server.UnknownVariables(env); len(w) > 0 {
				return strings.Join(w, "; ")
			}
			return ""
		}},
		{"the placeholders are refused, real values accepted", func() string {
			dir := t.TempDir()
			load := func(real bool) error {
				cfg := map[string]string{}
				for k, v := range env {
					if key, ok := secretFiles[v]; ok {
						content := m.secret.StringData[key]
						if real && key != "smtp-url" {
							content = randomHex(t)
						}
						v = filepath.Join(dir, key)
						if err := os.WriteFile(v, []byte(content), 0o600); err != nil {
							t.Fatal(err)
						}
					}
					cfg[k] = v
				}
				_, err := server.LoadConfig(cfg)
				return err
			}
			if err := load(false); err == nil {
				return "the service would start with the Secret's placeholders"
			}
			if err := load(true); err != nil {
				return "with real secrets: " + err.Error()
			}
			return ""
		}},
		{"the comments say migrations are safe for replicas", func() string {
			if !strings.Contains(readFile(t, "kubernetes.yaml"), "under a PostgreSQL advisory lock") {
				return "no note on migrations under a lock"
			}
			return ""
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if e := tc.err(); e != "" {
				t.Error(e)
			}
		})
	}
}

// TestKubectlDryRun asks kubectl to read the manifests. Client-side dry runs still need an API
// server for discovery; with none (the KUBECONFIG here points nowhere, so no real cluster is
// ever contacted) it skips with kubectl's reason.
func TestKubectlDryRun(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, kubectl, "apply", "--dry-run=client", "--validate=false", "-f", "kubernetes.yaml")
	c.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(t.TempDir(), "none"))
	out, err := c.CombinedOutput()
	if err != nil {
		s := string(out)
		if strings.Contains(s, "connection refused") || strings.Contains(s, "couldn't get current server API group list") {
			t.Skipf("kubectl apply --dry-run=client needs an API server, and there is none here: %s", lastLine(s))
		}
		t.Fatalf("kubectl: %v\n%s", err, out)
	}
	for _, want := range []string{"secret/panguard-auth", "deployment.apps/panguard-auth", "service/panguard-auth"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("kubectl output lacks %s:\n%s", want, out)
		}
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}
