package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// prompter asks questions on stderr and reads the answers from stdin. All line reads share
// one buffered reader, so piped input with one answer per line works across prompts.
type prompter struct {
	in    *bufio.Reader
	raw   io.Reader
	out   io.Writer
	isTTY bool
	fd    int
}

// newPrompter reads answers from stdin and writes prompts to out. Secrets are read without
// echo when stdin is a terminal.
func newPrompter(stdin io.Reader, out io.Writer) *prompter {
	p := &prompter{in: bufio.NewReader(stdin), raw: stdin, out: out}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.isTTY, p.fd = true, int(f.Fd())
	}
	return p
}

// errNoInput is returned when stdin ends before an answer.
func errNoInput(label string) error {
	return &cliError{reason: "no_input", code: 1,
		msg: fmt.Sprintf("No answer to %q: standard input ended. Give the value as a flag, or one answer per line on stdin.", strings.TrimSuffix(label, ":"))}
}

// readLine reads one line, without its line ending. When stdin is not a terminal nothing
// echoes the answer, so it ends the prompt's line itself to keep stderr readable.
func (p *prompter) readLine(label string) (string, error) {
	s, err := p.in.ReadString('\n')
	if !p.isTTY {
		fmt.Fprintln(p.out)
	}
	if err != nil && !(errors.Is(err, io.EOF) && s != "") {
		if errors.Is(err, io.EOF) {
			return "", errNoInput(label)
		}
		return "", err
	}
	return strings.TrimRight(s, "\r\n"), nil
}

// line asks for a visible value and returns it trimmed of surrounding spaces.
func (p *prompter) line(label string) (string, error) {
	fmt.Fprint(p.out, label+" ")
	s, err := p.readLine(label)
	return strings.TrimSpace(s), err
}

// secret asks for a value without echo when stdin is a terminal; from a pipe or file it
// reads a line. Spaces inside and around the value are kept.
func (p *prompter) secret(label string) (string, error) {
	fmt.Fprint(p.out, label+" ")
	if p.isTTY {
		b, err := term.ReadPassword(p.fd)
		fmt.Fprintln(p.out)
		if err != nil {
			return "", fmt.Errorf("cannot read %s: %w", strings.TrimSuffix(label, ":"), err)
		}
		return string(b), nil
	}
	return p.readLine(label)
}

// newPassword asks for a password twice and insists the two answers match.
func (p *prompter) newPassword(label, confirmLabel string) (string, error) {
	pw, err := p.secret(label)
	if err != nil {
		return "", err
	}
	again, err := p.secret(confirmLabel)
	if err != nil {
		return "", err
	}
	if pw != again {
		return "", &cliError{reason: "password_mismatch", msg: "The passwords do not match; nothing was changed.", code: 1}
	}
	return pw, nil
}

// valueOr returns flagValue when set, else asks with p.line.
func (p *prompter) valueOr(flagValue, label string) (string, error) {
	if v := strings.TrimSpace(flagValue); v != "" {
		return v, nil
	}
	return p.line(label)
}
