// Package sidebyside holds no code: its test measures a real prober process
// against blackbox_exporter on one machine (scripts/sidebyside.sh runs it
// at length and prints the ratios the performance issue sets goals for).
//
// It is test support: only tests and other test support may import it.
// It must depend on the standard library alone.
package sidebyside
