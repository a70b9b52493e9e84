package kube_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/dsprobe/dsprobe/internal/kube"
	"github.com/dsprobe/dsprobe/internal/testsupport/kubelab"
)

// Two replicas on one Lease of a real API server: the first leads, the
// second waits; when the first stops it releases the Lease and the second
// takes over. Never do both lead at once.
func TestWhileLeadingInCluster(t *testing.T) {
	c := kubelab.Start(t)
	c.AddNamespace(t, "dsprobe", nil)

	var (
		mu              sync.Mutex
		leading, most   int
		started         = make(chan string, 4)
		replicasStopped sync.WaitGroup
	)
	lead := func(identity string) func(context.Context) {
		return func(ctx context.Context) {
			mu.Lock()
			leading++
			most = max(most, leading)
			mu.Unlock()
			started <- identity
			<-ctx.Done()
			mu.Lock()
			leading--
			mu.Unlock()
		}
	}
	replica := func(identity string) context.CancelFunc {
		ctx, cancel := context.WithCancel(t.Context())
		replicasStopped.Add(1)
		go func() {
			defer replicasStopped.Done()
			lease := kube.Lease{Namespace: "dsprobe", Name: "dsprobe-ladders", Identity: identity,
				Duration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 200 * time.Millisecond}
			if err := kube.WhileLeading(ctx, c.RESTConfig(), lease, lead(identity)); !errors.Is(err, context.Canceled) {
				t.Errorf("%s: got %v, want context.Canceled", identity, err)
			}
		}()
		return cancel
	}
	awaitLeader := func(want string) {
		t.Helper()
		select {
		case got := <-started:
			if got != want {
				t.Fatalf("got %s leading, want %s", got, want)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("no replica led within 30s, want %s", want)
		}
	}
	holder := func() string {
		l, err := c.Client.CoordinationV1().Leases("dsprobe").Get(t.Context(), "dsprobe-ladders", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return *l.Spec.HolderIdentity
	}

	stopA := replica("coordinator-a")
	awaitLeader("coordinator-a")
	stopB := replica("coordinator-b")
	if got := holder(); got != "coordinator-a" {
		t.Errorf("the Lease is held by %q, want coordinator-a", got)
	}
	stopA()
	awaitLeader("coordinator-b")
	if got := holder(); got != "coordinator-b" {
		t.Errorf("the Lease is held by %q, want coordinator-b", got)
	}
	stopB()
	replicasStopped.Wait()
	if most != 1 {
		t.Errorf("%d replicas led at once, want 1", most)
	}
	if err := kube.WhileLeading(t.Context(), c.RESTConfig(), kube.Lease{Name: "x"}, func(context.Context) {}); err == nil {
		t.Error("a Lease without namespace and identity: got no error")
	}
}
