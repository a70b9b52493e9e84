package kubenode

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

const (
	// dirPrefix starts the name of each node's directory under
	// os.TempDir(), followed by the test process's pid: what tells a
	// node whose test process died (removeStale) from a running one.
	dirPrefix = "dsprobe-kubenode-"
	// runcRootDir is where, under a node's directory, runc keeps its
	// containers' state: a directory per containerd namespace.
	runcRootDir = "runc"
	// cniResultsDir is where the CNI library caches each attachment's
	// result, NETWORK-CONTAINERID-IFNAME; containerd offers no other place.
	cniResultsDir = "/var/lib/cni/results"
	// shimSocketDir is where containerd's runc shims listen, whatever
	// containerd's own state directory.
	shimSocketDir = "/run/containerd/s"
	// containerLogLinks is where the kubelet links each container's log
	// file, whatever its root directory (for log collectors).
	containerLogLinks = "/var/log/containers"
)

// teardown removes a node's remains, whether its test ended or its test
// process died: it kills the processes started with the node's files (the
// kubelet, containerd, the runc shims), deletes its containers with runc
// (which kills their processes and removes their cgroups), unmounts
// everything under its directory (container root filesystems, Pod network
// namespaces, the kubelet's volumes), removes the CNI results, shim sockets
// and log links it left outside, and finally the directory. It goes on past
// errors and returns them all.
func teardown(dir, runc string) error {
	var errs []error
	killProcessesUsing(dir)
	ids, err := deleteContainers(dir, runc)
	errs = append(errs, err)
	errs = append(errs, unmountUnder(dir))
	cached, _ := filepath.Glob(filepath.Join(cniResultsDir, filepath.Base(dir)+"-*"))
	for _, f := range cached {
		errs = append(errs, os.Remove(f))
	}
	links, _ := filepath.Glob(filepath.Join(containerLogLinks, "*.log"))
	for _, link := range links {
		if target, err := os.Readlink(link); err == nil && strings.HasPrefix(target, dir+"/") {
			errs = append(errs, os.Remove(link))
		}
	}
	socket := filepath.Join(dir, "containerd.sock")
	for _, id := range ids {
		// containerd's shim socket name for the container (see
		// CreateSocketAddress in containerd's pkg/shim).
		sum := sha256.Sum256([]byte(filepath.Join(socket, "k8s.io", id)))
		if err := os.Remove(filepath.Join(shimSocketDir, fmt.Sprintf("%x", sum))); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, os.RemoveAll(dir))
	return errors.Join(errs...)
}

// killProcessesUsing kills every process whose command line names a path in
// dir and waits, a few seconds at most, for them to be gone.
func killProcessesUsing(dir string) {
	pids := processesUsing(dir)
	for _, pid := range pids {
		unix.Kill(pid, unix.SIGKILL)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(pids) > 0 && time.Now().Before(deadline) {
		pids = slices.DeleteFunc(pids, func(pid int) bool { return !running(pid) })
		time.Sleep(20 * time.Millisecond)
	}
}

func processesUsing(dir string) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(cmdline), dir+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

// running reports whether pid is a process that has not exited (a zombie
// waiting for its parent has).
func running(pid int) bool {
	stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and
	// may itself hold them.
	i := strings.LastIndexByte(string(stat), ')')
	return i < 0 || i+2 >= len(stat) || stat[i+2] != 'Z'
}

// deleteContainers force-deletes every container runc holds under dir and
// returns their IDs.
func deleteContainers(dir, runc string) ([]string, error) {
	root := filepath.Join(dir, runcRootDir)
	namespaces, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil // no container ever started
	}
	if err != nil {
		return nil, err
	}
	var ids []string
	var errs []error
	for _, ns := range namespaces {
		containers, err := os.ReadDir(filepath.Join(root, ns.Name()))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range containers {
			ids = append(ids, c.Name())
			ctx, cancel := context.WithTimeout(context.Background(), commandBudget)
			out, err := exec.CommandContext(ctx, runc, "--root", filepath.Join(root, ns.Name()), "delete", "--force", c.Name()).CombinedOutput()
			cancel()
			if err != nil {
				errs = append(errs, fmt.Errorf("runc delete --force %s: %w: %s", c.Name(), err, strings.TrimSpace(string(out))))
			}
		}
	}
	return ids, errors.Join(errs...)
}

// unmountUnder detaches every mount at or below dir, deepest first, until
// none is left (mounts may be stacked on one point).
func unmountUnder(dir string) error {
	for range 10 {
		points, err := mountPointsUnder(dir)
		if err != nil || len(points) == 0 {
			return err
		}
		// Deeper paths are longer: unmount children before parents.
		slices.SortFunc(points, func(a, b string) int { return len(b) - len(a) })
		for _, p := range points {
			if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("unmounting %s: %w", p, err)
			}
		}
	}
	points, _ := mountPointsUnder(dir)
	return fmt.Errorf("mounts under %s would not go: %v", dir, points)
}

func mountPointsUnder(dir string) ([]string, error) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	var points []string
	for line := range strings.Lines(string(b)) {
		fields := strings.Fields(line)
		if len(fields) < 5 {
			continue
		}
		p := unescapeMountinfo(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	return points, nil
}

// unescapeMountinfo undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// removeStale tears down the nodes of test processes that died before their
// cleanups ran (killed, or a go test timeout panic).
func removeStale(t testing.TB, runc string) {
	t.Helper()
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, dir := range dirs {
		pidText, _, ok := strings.Cut(strings.TrimPrefix(filepath.Base(dir), dirPrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || pid <= 0 || processAlive(pid) {
			continue
		}
		if err := teardown(dir, runc); err != nil {
			t.Logf("kubenode: removing the stale node %s: %v", dir, err)
		}
	}
}

// processAlive reports whether pid names a live process. A pid reused by an
// unrelated process counts as alive: keeping a stale node is harmless,
// tearing down a live one is not.
func processAlive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}
