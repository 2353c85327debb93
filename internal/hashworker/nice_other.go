//go:build !linux

package hashworker

// lowerPriority does nothing where per-thread priorities are not available: the workers then
// run at the service's own priority (their separate heap still keeps the service's collector
// out of the hashing).
func lowerPriority(Priority) error { return nil }
