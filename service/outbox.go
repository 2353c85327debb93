package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
)

// addressRE finds email addresses in an error text (an SMTP server's rejection often quotes
// the recipient), so listings mask them like the recipient column.
var addressRE = regexp.MustCompile(`[^\s<>"'(),;:]+@[^\s<>"'(),;:]+`)

// maxErrorLen bounds the last error printed per message, so one line stays one line.
const maxErrorLen = 160

// errorSummary is an outbox entry's last error as one line, addresses masked, cut short.
func errorSummary(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = addressRE.ReplaceAllStringFunc(s, auth.MaskEmail)
	if r := []rune(s); len(r) > maxErrorLen {
		s = string(r[:maxErrorLen-1]) + "…"
	}
	return orDash(s)
}

// orDash is s, or "-" for an empty column.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func outboxFailed(ctx context.Context, inv invocation, _ []string) error {
	st, err := openStore(ctx, inv.environ)
	if err != nil {
		return err
	}
	defer st.Close()
	failed, err := st.FailedOutbox(ctx)
	if err != nil {
		return err
	}
	if len(failed) == 0 {
		fmt.Fprintln(inv.stdout, "no failed messages")
		return nil
	}
	tw := tabwriter.NewWriter(inv.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tTEMPLATE\tTO\tATTEMPTS\tCREATED\tFAILED\tLAST ERROR")
	for _, f := range failed {
		// Never the payload itself: it holds the links, and so tokens.
		template, to := f.Describe()
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", f.ID, f.Kind, orDash(template), orDash(to), f.Attempts,
			f.CreatedAt.UTC().Format(time.RFC3339), f.FailedAt.UTC().Format(time.RFC3339), errorSummary(f.LastError))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(inv.stdout, "%d failed; send them again with: %s outbox retry ID|--all\n", len(failed), progName)
	return nil
}

func outboxRetry(ctx context.Context, inv invocation, args []string) error {
	all := inv.flags.Lookup("all").Value.String() == "true"
	switch {
	case all && len(args) > 0:
		return usageError{"give an ID or --all, not both"}
	case !all && len(args) != 1:
		return usageError{"give one ID, or --all"}
	}
	st, err := openStore(ctx, inv.environ)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	if !all {
		err := st.RetryOutbox(ctx, args[0], now)
		switch {
		case errors.Is(err, auth.ErrNoRecord):
			return fmt.Errorf("no failed message has the id %s (see: %s outbox failed)", args[0], progName)
		case errors.Is(err, store.ErrPayloadDropped):
			return fmt.Errorf("%s cannot be sent again: %v", args[0], store.ErrPayloadDropped)
		case err != nil:
			return err
		}
		fmt.Fprintf(inv.stdout, "re-queued 1 message (%s); running instances send it within seconds\n", args[0])
		return nil
	}
	retried, left, err := st.RetryAllOutbox(ctx, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(inv.stdout, "re-queued %d message(s); running instances send them within seconds\n", retried)
	if left > 0 {
		fmt.Fprintf(inv.stdout, "%d failed message(s) queued more than a day ago cannot be sent again: their content was dropped\n", left)
	}
	return nil
}
