package kube

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Lease names the coordination.k8s.io Lease replicas elect a leader with,
// and how its holder keeps it.
type Lease struct {
	Namespace, Name string
	// Identity is this replica's name in the Lease (its Pod's name).
	Identity string
	// Duration is how long the others wait after the holder stopped
	// renewing before one takes over, RenewDeadline how long the holder
	// tries to renew before it gives up leading, RetryPeriod how often
	// each tries. Zero means client-go's usual 15s, 10s and 2s.
	Duration, RenewDeadline, RetryPeriod time.Duration
}

// WhileLeading runs lead whenever this replica holds the Lease, until ctx
// ends: lead's context ends when the lease is lost (this replica could not
// renew it within RenewDeadline, before Duration lets another take over)
// or ctx ends, and the lease is released when ctx ends, so another replica
// takes over at once rather than after Duration. lead must return soon
// after its context ends: then one replica at a time runs it. WhileLeading
// returns when ctx ends, once lead has returned.
func WhileLeading(ctx context.Context, cfg *rest.Config, lease Lease, lead func(context.Context)) error {
	if lease.Namespace == "" || lease.Name == "" || lease.Identity == "" {
		return errors.New("the leader election Lease needs a namespace, a name and this replica's identity")
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("building the Kubernetes client: %w", err)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: lease.Namespace, Name: lease.Name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: lease.Identity},
	}
	for ctx.Err() == nil {
		if err := leadOnce(ctx, lock, lease, lead); err != nil {
			return err
		}
	}
	return ctx.Err()
}

// leadOnce stands for election once: it returns when this replica, having
// led, lost the lease, or when ctx ends, and in either case only once lead
// has returned. client-go starts lead on a goroutine of its own and does
// not wait for it, so leadOnce does.
func leadOnce(ctx context.Context, lock resourcelock.Interface, lease Lease, lead func(context.Context)) error {
	var (
		mu      sync.Mutex
		over    bool // set when this round ends: a late start must not lead
		running sync.WaitGroup
	)
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		Name:            lease.Name,
		LeaseDuration:   cmp.Or(lease.Duration, 15*time.Second),
		RenewDeadline:   cmp.Or(lease.RenewDeadline, 10*time.Second),
		RetryPeriod:     cmp.Or(lease.RetryPeriod, 2*time.Second),
		ReleaseOnCancel: true,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				mu.Lock()
				if over {
					mu.Unlock()
					return
				}
				running.Add(1)
				mu.Unlock()
				defer running.Done()
				lead(ctx)
			},
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election on Lease %s/%s: %w", lease.Namespace, lease.Name, err)
	}
	elector.Run(ctx)
	mu.Lock()
	over = true
	mu.Unlock()
	running.Wait()
	return nil
}
