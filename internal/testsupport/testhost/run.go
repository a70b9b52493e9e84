package testhost

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// commandTimeout bounds each ip or nft command. They take milliseconds; the
// bound only turns a wedged command into a failure with its command line.
const commandTimeout = 30 * time.Second

// run runs a command with stdin (none if empty) and returns its combined
// output; the error names the command line, stdin and output.
func (l *Lab) run(stdin, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(l.ctx, commandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), commandError(cmd.Args, stdin, out, err)
	}
	return string(out), nil
}

// ipBatch runs ip commands in a namespace with one ip process.
func (l *Lab) ipBatch(netns string, commands ...string) (string, error) {
	return l.run(strings.Join(commands, "\n")+"\n", "ip", "-n", netns, "-batch", "-")
}

func commandError(args []string, stdin string, out []byte, err error) error {
	msg := "testhost: " + quoteArgs(args)
	if stdin != "" {
		msg += " <<EOF\n" + stdin + "EOF"
	}
	if o := strings.TrimSpace(string(out)); o != "" {
		return fmt.Errorf("%s: %w\n%s", msg, err, o)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

// quoteArgs renders a command line a reader can paste into a shell.
func quoteArgs(args []string) string {
	quoted := make([]string, len(args))
	for i, a := range args {
		if a == "" || strings.ContainsAny(a, " \t\n\"'\\$`;&|<>(){}*?[]#~") {
			a = strconv.Quote(a)
		}
		quoted[i] = a
	}
	return strings.Join(quoted, " ")
}

// writeSysctls writes /proc/sys entries. Network sysctls belong to the
// namespace of the thread that opens them, so inside inNetns they configure
// that namespace.
func writeSysctls(values map[string]string) error {
	var errs []error
	for key, value := range values {
		if err := os.WriteFile(filepath.Join("/proc/sys", key), []byte(value), 0); err != nil {
			errs = append(errs, fmt.Errorf("testhost: sysctl %s=%s: %w", strings.ReplaceAll(key, "/", "."), value, err))
		}
	}
	return errors.Join(errs...)
}

// errGoexit is what inNetns returns when fn ends its goroutine with
// runtime.Goexit, typically t.FailNow called from fn.
var errGoexit = errors.New("testhost: fn called runtime.Goexit (t.Fatal or t.FailNow inside Do?)")

// inNetns runs fn on a fresh goroutine locked to an OS thread that has joined
// the named namespace, and waits for it. A panic in fn is re-raised on the
// caller's goroutine, after the thread has left the namespace.
func inNetns(netns string, fn func() error) error {
	// Buffered so the goroutine never waits for the receiver: it must reach
	// its end, where an unrestored thread is discarded.
	done := make(chan nsOutcome, 1)
	go func() {
		o := nsOutcome{err: errGoexit}
		runtime.LockOSThread()
		defer func() {
			if o.restored {
				runtime.UnlockOSThread()
			}
			// Otherwise the goroutine ends locked and the runtime terminates
			// the thread, so no other goroutine runs in a foreign namespace.
			done <- o
		}()
		o = enterAndRun(netns, fn)
	}()
	o := <-done
	if o.panicked {
		panic(fmt.Sprintf("%v\n\n[testhost: re-raised from the Do goroutine; its stack:]\n%s", o.panicVal, o.stack))
	}
	return o.err
}

// nsOutcome is how fn ended in enterAndRun.
type nsOutcome struct {
	err      error
	panicked bool
	panicVal any
	stack    []byte // of the panic
	restored bool   // false if the thread may still be in the namespace
}

// enterAndRun runs fn with the current, locked, thread in netns and moves the
// thread back.
func enterAndRun(netns string, fn func() error) (o nsOutcome) {
	o.restored = true // until the thread leaves its namespace
	orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		o.err = fmt.Errorf("testhost: opening this thread's network namespace: %w", err)
		return o
	}
	defer unix.Close(orig)
	path := filepath.Join(netnsRunDir, netns)
	target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		o.err = fmt.Errorf("testhost: opening network namespace %s: %w", path, err)
		return o
	}
	defer unix.Close(target)
	if err := unix.Setns(target, unix.CLONE_NEWNET); err != nil {
		// setns either switches or leaves the thread where it was.
		o.err = fmt.Errorf("testhost: setns %s: %w", path, err)
		return o
	}
	o.restored = false
	defer func() {
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			o.err = errors.Join(o.err, fmt.Errorf("testhost: returning from network namespace %s: %w", path, err))
			return
		}
		o.restored = true
	}()
	defer func() {
		if p := recover(); p != nil {
			o.panicked, o.panicVal, o.stack = true, p, debug.Stack()
		}
	}()
	o.err = fn()
	return o
}
