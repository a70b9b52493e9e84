// Command coordinator fans probe jobs out to probers: see
// internal/coordinator.
package main
