package kubenode

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/dsprobe/dsprobe/internal/testsupport/testhost"
)

// A node whose test process was killed leaves a running container, the
// processes that used its files, mounts, a cached CNI result and a log
// link; the next Start removes them all, and leaves a live process's node
// alone.
func TestRemovesAStaleNode(t *testing.T) {
	testhost.New(t) // skips or fails without root, as every test of a node
	runc := testhost.Tool(t, "runc")
	deadPID := exitedPID(t)
	stale, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, deadPID))
	if err != nil {
		t.Fatal(err)
	}
	live, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", dirPrefix, os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, dir := range []string{stale, live} {
			if err := teardown(dir, runc); err != nil {
				t.Errorf("tearing %s down: %v", dir, err)
			}
		}
	})

	// A container runc runs from the stale node's runc root.
	bundle := filepath.Join(stale, "bundle")
	if err := os.MkdirAll(filepath.Join(bundle, "rootfs", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, busyboxPath, filepath.Join(bundle, "rootfs", "bin", "busybox"))
	if out, err := exec.Command(runc, "spec", "--bundle", bundle).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v: %s", err, out)
	}
	setProcess(t, filepath.Join(bundle, "config.json"), "/bin/busybox", "sleep", "600")
	runcRoot := filepath.Join(stale, runcRootDir, "k8s.io")
	// runc names the container's cgroups after it: unique to this test.
	id := fmt.Sprintf("kubenode-orphan-%d", os.Getpid())
	// The container inherits runc's standard streams (no terminal): they
	// are /dev/null, since a pipe would stay open as long as it runs.
	runcLog := filepath.Join(t.TempDir(), "runc.log")
	if err := exec.Command(runc, "--log", runcLog, "--root", runcRoot, "run", "--detach", "--bundle", bundle, id).Run(); err != nil {
		out, _ := os.ReadFile(runcLog)
		t.Fatalf("runc run: %v: %s", err, out)
	}
	containerPID := containerInit(t, runc, runcRoot, id)

	// What a killed node leaves besides: a process started with its
	// files (a shim, say), a mount (a Pod's network namespace, say), a
	// cached CNI result. The live node has a mount of its own.
	followed := filepath.Join(stale, "containerd.log")
	if err := os.WriteFile(followed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	orphan := exec.Command("tail", "-f", followed) // runs until killed
	if err := orphan.Start(); err != nil {
		t.Fatal(err)
	}
	orphanDone := make(chan struct{})
	go func() { orphan.Wait(); close(orphanDone) }()
	t.Cleanup(func() { orphan.Process.Kill(); <-orphanDone })
	for _, dir := range []string{stale, live} {
		if err := os.MkdirAll(filepath.Join(dir, "mnt"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := unix.Mount("tmpfs", filepath.Join(dir, "mnt"), "tmpfs", 0, ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(cniResultsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	result := filepath.Join(cniResultsDir, filepath.Base(stale)+"-orphan-eth0")
	if err := os.WriteFile(result, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(containerLogLinks, 0o755); err != nil {
		t.Fatal(err)
	}
	logLink := filepath.Join(containerLogLinks, filepath.Base(stale)+".log")
	if err := os.Symlink(filepath.Join(stale, podLogsDir, "web_web-1_uid", "httpd", "0.log"), logLink); err != nil {
		t.Fatal(err)
	}

	removeStale(t, runc)

	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the stale node's directory: got %v, want it gone", err)
	}
	if running(containerPID) {
		t.Errorf("the stale node's container (pid %d) is still running", containerPID)
	}
	if running(orphan.Process.Pid) {
		t.Errorf("the process using the stale node's files (pid %d) is still running", orphan.Process.Pid)
	}
	if points, _ := mountPointsUnder(stale); len(points) > 0 {
		t.Errorf("got mounts %v of the stale node, want none", points)
	}
	if _, err := os.Stat(result); !os.IsNotExist(err) {
		t.Errorf("the stale node's CNI result: got %v, want it gone", err)
	}
	if _, err := os.Lstat(logLink); !os.IsNotExist(err) {
		t.Errorf("the stale node's container log link: got %v, want it gone", err)
	}
	if points, _ := mountPointsUnder(live); len(points) != 1 {
		t.Errorf("got mounts %v of the live node, want its one mount kept", points)
	}
}

// exitedPID returns the pid of a process that has exited.
func exitedPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	if processAlive(cmd.Process.Pid) {
		t.Skipf("pid %d was reused already", cmd.Process.Pid)
	}
	return cmd.Process.Pid
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o755); err != nil {
		t.Fatal(err)
	}
}

// setProcess makes the runtime spec at path run args without a terminal.
func setProcess(t *testing.T, path string, args ...string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var spec map[string]any
	if err := json.Unmarshal(b, &spec); err != nil {
		t.Fatal(err)
	}
	process := spec["process"].(map[string]any)
	process["args"], process["terminal"] = args, false
	if b, err = json.Marshal(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// containerInit returns the pid of the container's first process.
func containerInit(t *testing.T, runc, root, id string) int {
	t.Helper()
	out, err := exec.Command(runc, "--root", root, "state", id).Output()
	if err != nil {
		t.Fatalf("runc state %s: %v", id, err)
	}
	var state struct{ Pid int }
	if err := json.Unmarshal(out, &state); err != nil || state.Pid <= 0 {
		t.Fatalf("runc state %s: %s (%v)", id, out, err)
	}
	return state.Pid
}
