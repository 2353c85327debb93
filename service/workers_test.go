package main

import (
	"os"
	"testing"

	"panguard.ai/auth/internal/hashworker"
)

// TestMain lets this test binary serve as the hash workers of the services the tests run in
// this process (run starts them from os.Executable, which is the test binary here).
func TestMain(m *testing.M) {
	if hashworker.IsWorker() {
		hashworker.Main()
	}
	os.Exit(m.Run())
}
