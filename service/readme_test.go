package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeStatement is one shell statement of a README block (continuation lines joined), with
// the answer the README shows for it.
type readmeStatement struct {
	line int    // where it starts in README.md
	text string // as written, newlines kept
	// want are the parts of the shown answer that must appear in the real one: its "ok" and
	// its "code".
	want []string
}

var (
	shownOK   = regexp.MustCompile(`"ok":(true|false)`)
	shownCode = regexp.MustCompile(`"code":"[a-z_]+"`)
)

// readmeBlocks returns the statements of every ```sh block of README.md, in order. Blocks
// meant only to be read (they start servers, or ask for passwords) are marked ```console.
func readmeBlocks(t *testing.T) []readmeStatement {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeStatement
	in, cont := false, false
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		switch {
		case !in && l == "```sh":
			in = true
			continue
		case in && l == "```":
			in = false
			continue
		case !in:
			continue
		}
		trimmed := strings.TrimSpace(l)
		if cont {
			out[len(out)-1].text += "\n" + l
			cont = strings.HasSuffix(l, "\\")
			continue
		}
		if strings.HasPrefix(trimmed, "#") {
			// A comment right after a statement shows its answer.
			if len(out) > 0 && (strings.HasPrefix(trimmed, "# {") || strings.HasPrefix(trimmed, "#  ")) && len(out[len(out)-1].want) < 2 {
				s := &out[len(out)-1]
				for _, re := range []*regexp.Regexp{shownOK, shownCode} {
					if m := re.FindString(trimmed); m != "" {
						s.want = append(s.want, m)
					}
				}
			}
			continue
		}
		if trimmed == "" {
			continue
		}
		out = append(out, readmeStatement{line: n, text: l})
		cont = strings.HasSuffix(l, "\\")
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReadmeRunsTopToBottom runs every ```sh block of README.md, in order, in one shell, as a
// newcomer would: against a live service (started as `make run 2> panguard.log` would be) in a
// directory that looks like the repository root. Every statement must succeed, and where the
// README shows an answer, the real answer must carry the same "ok" and "code".
func TestReadmeRunsTopToBottom(t *testing.T) {
	if _, err := exec.LookPath("oathtool"); err != nil {
		t.Fatal("the README uses oathtool: apt-get install oathtool (make test installs it)")
	}
	statements := readmeBlocks(t)
	if len(statements) < 40 {
		t.Fatalf("only %d statements found in README.md's sh blocks", len(statements))
	}
	// A working directory with the repository's files, so `make build` and `go tool
	// -modfile=.tools/…` work as written, and the database and log are the test's own.
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	entries, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "bin", ".git", "panguard-auth.db", "panguard-auth.db-wal", "panguard-auth.db-shm", "panguard-auth.db.migrate-lock", "panguard.log":
			continue
		}
		if err := os.Symlink(filepath.Join(root, e.Name()), filepath.Join(work, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	logFile, err := os.Create(filepath.Join(work, "panguard.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	addr := freePort(t)
	svc := exec.Command(serviceBinary(t))
	svc.Dir = work
	svc.Env = []string{"PATH=" + os.Getenv("PATH"), "PANGUARD_ADDR=" + addr, "PANGUARD_PUBLIC_URL=http://" + addr}
	svc.Stderr = logFile
	if err := svc.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Process.Kill(); svc.Wait() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, _, _ := runCLI(t, []string{"PANGUARD_ADDR=" + addr}, "healthcheck")
		if code == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the service did not become ready")
		}
		time.Sleep(200 * time.Millisecond)
	}

	var script strings.Builder
	script.WriteString("set -euo pipefail\n")
	script.WriteString(`expect() { local line=$1; shift; for w in "$@"; do case "$(cat "$OUT")" in *"$w"*) ;; *) echo "README.md:$line: the answer lacks $w" >&2; exit 1;; esac; done; }` + "\n")
	for _, s := range statements {
		text := strings.ReplaceAll(s.text, "localhost:3000", addr)
		fmt.Fprintf(&script, "echo '+ README.md:%d' >&2\n", s.line)
		if len(s.want) == 0 {
			script.WriteString(text + "\n")
			continue
		}
		fmt.Fprintf(&script, "{ %s\n} > \"$OUT\" || { echo 'README.md:%d failed' >&2; cat \"$OUT\" >&2; exit 1; }\ncat \"$OUT\"; echo\n", text, s.line)
		fmt.Fprintf(&script, "expect %d", s.line)
		for _, w := range s.want {
			fmt.Fprintf(&script, " '%s'", w)
		}
		script.WriteString("\n")
	}
	sh := exec.Command("bash", "-c", script.String())
	sh.Dir = work
	// The newcomer's environment: none of the PANGUARD_* settings a developer may have exported.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PANGUARD_") {
			sh.Env = append(sh.Env, kv)
		}
	}
	sh.Env = append(sh.Env, "OUT="+filepath.Join(work, ".answer"), "PANGUARD_ADDR="+addr)
	out, err := sh.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(work, "panguard.log"))
		t.Fatalf("README.md does not run top to bottom: %v\n%s\n--- service log (tail) ---\n%s", err, tail(string(out), 60), tail(string(log), 20))
	}
	t.Logf("ran %d statements of README.md", len(statements))
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
