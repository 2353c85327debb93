// Package contract checks that the running service keeps to openapi.yaml: its test drives a
// REST scenario through a Prism validation proxy (`prism proxy --errors openapi.yaml`) in
// front of a real service process and fails on every answer Prism finds outside the
// contract. `.ci/prism-check` (and `make contract`) start the service and Prism and run it;
// without PANGUARD_CONTRACT_PROXY the test is skipped, so `go test ./...` needs neither.
package contract
