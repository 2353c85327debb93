package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"panguard.ai/auth/internal/auth"
	"panguard.ai/auth/internal/store"
	"panguard.ai/auth/internal/storetest"
)

func TestFailedOutboxEntriesAreListedAndRetried(t *testing.T) {
	t.Parallel()
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		s := storetest.Open(t, dbURL)
		enqueue := func(id, kind, payload string, at time.Time) {
			t.Helper()
			if err := s.Enqueue(ctx, auth.OutboxEntry{ID: id, Kind: kind, Payload: payload, CreatedAt: at}); err != nil {
				t.Fatal(err)
			}
		}
		old := t0.Add(-48 * time.Hour)
		enqueue("obx_old", auth.OutboxEmail, `{"to":"old@example.com","template":"verify_email","link":"http://x/verify-email?token=vfy_1"}`, old)
		enqueue("obx_mail", auth.OutboxEmail, `{"to":"alice@example.com","template":"password_reset","link":"http://x/reset-password?token=rst_1"}`, t0)
		enqueue("obx_req", auth.OutboxResetRequest, `{"email":"bob@example.com","reason":"forgot"}`, t0.Add(time.Second))
		enqueue("obx_sent", auth.OutboxEmail, `{"to":"carol@example.com","template":"password_changed"}`, t0.Add(2*time.Second))
		enqueue("obx_pending", auth.OutboxEmail, `{"to":"dave@example.com","template":"password_changed"}`, t0.Add(3*time.Second))
		failedAt := t0.Add(time.Minute)
		for _, id := range []string{"obx_old", "obx_mail", "obx_req"} {
			if err := s.MarkOutboxRetry(ctx, id, failedAt, "dial tcp: connection refused", failedAt); err != nil {
				t.Fatal(err)
			}
			if err := s.MarkOutboxFailed(ctx, id, "553 <someone@example.com>: rejected", failedAt); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.MarkOutboxSent(ctx, "obx_sent", failedAt); err != nil {
			t.Fatal(err)
		}

		failed, err := s.FailedOutbox(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range failed {
			tmpl, to := f.Describe()
			got = append(got, f.ID+" "+f.Kind+" "+tmpl+" "+to)
			if f.Attempts != 2 || f.LastError != "553 <someone@example.com>: rejected" || !f.FailedAt.Equal(failedAt) {
				t.Errorf("%s: %+v", f.ID, f)
			}
		}
		want := []string{
			"obx_old email verify_email o***@example.com",
			"obx_mail email password_reset a***@example.com",
			"obx_req reset_request reset_request b***@example.com",
		}
		if !slices.Equal(got, want) {
			t.Fatalf("failed entries:\n%q\nwant\n%q", got, want)
		}
		if !failed[1].CreatedAt.Equal(t0) {
			t.Fatalf("created %v", failed[1].CreatedAt)
		}

		// A day on, the janitor drops the payload of what failed before: its links are dead.
		if err := s.Purge(ctx, t0.Add(-24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		failed, err = s.FailedOutbox(ctx)
		if err != nil || len(failed) != 3 || failed[0].Payload != "" || failed[1].Payload == "" {
			t.Fatalf("after purge: %+v %v", failed, err)
		}
		if tmpl, to := failed[0].Describe(); tmpl != "" || to != "" {
			t.Fatalf("a dropped payload described as %q %q", tmpl, to)
		}

		now := t0.Add(time.Hour)
		for id, want := range map[string]error{
			"obx_nope":    auth.ErrNoRecord,
			"obx_pending": auth.ErrNoRecord,
			"obx_sent":    auth.ErrNoRecord,
			"obx_old":     store.ErrPayloadDropped,
		} {
			if err := s.RetryOutbox(ctx, id, now); !errors.Is(err, want) {
				t.Errorf("retry %s: %v, want %v", id, err, want)
			}
		}
		if err := s.RetryOutbox(ctx, "obx_mail", now); err != nil {
			t.Fatal(err)
		}
		if err := s.RetryOutbox(ctx, "obx_mail", now); !errors.Is(err, auth.ErrNoRecord) {
			t.Fatalf("retrying a re-queued entry: %v", err)
		}
		retried, left, err := s.RetryAllOutbox(ctx, now)
		if err != nil || retried != 1 || left != 1 {
			t.Fatalf("retry all: %d re-queued, %d left, %v; want 1 and the dropped one", retried, left, err)
		}
		if retried, left, err := s.RetryAllOutbox(ctx, now); err != nil || retried != 0 || left != 1 {
			t.Fatalf("retry all again: %d, %d, %v", retried, left, err)
		}
		if pending, failedN, err := s.OutboxCounts(ctx); err != nil || pending != 3 || failedN != 1 {
			t.Fatalf("counts: %d pending, %d failed, %v", pending, failedN, err)
		}

		// The sender claims the re-queued entries at once, as new: no attempts counted, the
		// payload intact.
		claimed, err := s.ClaimOutbox(ctx, now, time.Minute, 10)
		if err != nil {
			t.Fatal(err)
		}
		byID := map[string]auth.OutboxEntry{}
		for _, e := range claimed {
			byID[e.ID] = e
		}
		if len(claimed) != 3 || byID["obx_mail"].Attempts != 0 || byID["obx_req"].Attempts != 0 ||
			byID["obx_mail"].Payload != `{"to":"alice@example.com","template":"password_reset","link":"http://x/reset-password?token=rst_1"}` {
			t.Fatalf("claimed %+v", claimed)
		}
		if failed, err := s.FailedOutbox(ctx); err != nil || len(failed) != 1 || failed[0].ID != "obx_old" {
			t.Fatalf("still failed: %+v %v", failed, err)
		}
	})
}
