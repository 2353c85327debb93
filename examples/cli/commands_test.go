package main

import (
	"testing"
	"time"
)

func TestWhenRoundsToTheNearestUnit(t *testing.T) {
	now := time.Date(2026, 3, 7, 12, 0, 0, 0, time.UTC)
	const minute, hour, day = time.Minute, time.Hour, 24 * time.Hour
	tests := []struct {
		in   time.Duration
		want string
	}{
		{-time.Second, "(passed)"},
		{0, "(in 0 minutes)"},
		{29 * time.Second, "(in 0 minutes)"},
		{30 * time.Second, "(in 1 minute)"},
		{89 * time.Second, "(in 1 minute)"},
		{90 * time.Second, "(in 2 minutes)"},
		{59*minute + 29*time.Second, "(in 59 minutes)"},
		{59*minute + 30*time.Second, "(in 1 hour)"},
		{hour, "(in 1 hour)"},
		{hour + 29*minute, "(in 1 hour)"},
		{hour + 30*minute, "(in 2 hours)"},
		{23*hour + 29*minute, "(in 23 hours)"},
		{23*hour + 30*minute, "(in 24 hours)"},
		{23*hour + 59*minute, "(in 24 hours)"}, // a 24 h session just after login
		{24 * hour, "(in 24 hours)"},
		{47*hour + 29*minute, "(in 47 hours)"},
		{47*hour + 30*minute, "(in 2 days)"},
		{48 * hour, "(in 2 days)"},
		{13*day + 11*hour + 59*minute, "(in 13 days)"},
		{13*day + 12*hour, "(in 14 days)"},
		{13*day + 23*hour + 59*minute, "(in 14 days)"}, // a 14-day trial just after registering
		{14 * day, "(in 14 days)"},
		{14*day + 11*hour + 59*minute, "(in 14 days)"},
		{14*day + 12*hour, "(in 15 days)"},
	}
	for _, tt := range tests {
		t.Run(tt.in.String(), func(t *testing.T) {
			at := now.Add(tt.in)
			want := at.Local().Format("2006-01-02 15:04 MST") + " " + tt.want
			if got := whenFrom(at, now); got != want {
				t.Errorf("whenFrom(now%+v, now) = %q, want %q", tt.in, got, want)
			}
		})
	}
}
