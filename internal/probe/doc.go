// Package probe is what one prober does for one target: resolve A and AAAA
// separately, connect to every address of each requested family directly,
// run the application check on each connection, run its own Happy Eyeballs
// race for real, predict every client profile from the measured outcomes,
// and judge each family. It returns the cause of every failure as data;
// logging, metrics and spans are the caller's.
package probe
