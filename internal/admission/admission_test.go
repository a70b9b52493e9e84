package admission

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func code(err error) codes.Code { return status.Code(err) }

func TestConcurrencyAndWaiting(t *testing.T) {
	l := New(Limits{MaxConcurrent: 2, MaxWaiting: 1})
	r1, err1 := l.Acquire(context.Background())
	r2, err2 := l.Acquire(context.Background())
	if err1 != nil || err2 != nil {
		t.Fatalf("got %v, %v for the first two jobs, want both admitted", err1, err2)
	}
	// The third waits for a slot; the fourth finds the queue full.
	third := make(chan error, 1)
	var r3 func()
	var mu sync.Mutex
	go func() {
		r, err := l.Acquire(context.Background())
		mu.Lock()
		r3 = r
		mu.Unlock()
		third <- err
	}()
	waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.waiting == 1 })
	if _, err := l.Acquire(context.Background()); code(err) != codes.ResourceExhausted {
		t.Fatalf("got %v for a job over the limits, want ResourceExhausted", err)
	}
	r1()
	if err := <-third; err != nil {
		t.Fatalf("got %v for the waiting job, want admitted once a slot freed", err)
	}
	r2()
	mu.Lock()
	r3()
	mu.Unlock()
}

func TestWaitingJobHonoursContext(t *testing.T) {
	l := New(Limits{MaxConcurrent: 1, MaxWaiting: 1})
	release, err := l.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Acquire(ctx); code(err) != codes.Canceled {
		t.Errorf("got %v, want Canceled", err)
	}
}

func TestRate(t *testing.T) {
	now := time.Unix(0, 0)
	l := New(Limits{MaxConcurrent: 100, Rate: 2, Burst: 3, Now: func() time.Time { return now }})
	admitted := 0
	for range 10 {
		if release, err := l.Acquire(context.Background()); err == nil {
			admitted++
			release()
		} else if code(err) != codes.ResourceExhausted {
			t.Fatalf("got %v, want ResourceExhausted", err)
		}
	}
	if admitted != 3 {
		t.Fatalf("got %d jobs admitted at once, want the burst of 3", admitted)
	}
	now = now.Add(time.Second) // two tokens at 2 jobs/s
	admitted = 0
	for range 10 {
		if release, err := l.Acquire(context.Background()); err == nil {
			admitted++
			release()
		}
	}
	if admitted != 2 {
		t.Errorf("got %d jobs admitted after 1 s, want 2", admitted)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never became true")
		}
		time.Sleep(time.Millisecond)
	}
}
