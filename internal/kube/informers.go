package kube

import (
	"context"
	"errors"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// informerSet runs shared informers for one purpose (Discovery's prober
// Pods, EvidenceCache's objects): Start lists and starts watching, failing
// at once when the API server refuses, and Stop ends the watches.
type informerSet struct {
	// what names the purpose in errors ("kubernetes discovery"), objects
	// what it lists ("prober Pods").
	what, objects string
	factories     []informers.SharedInformerFactory
	synced        []cache.InformerSynced
	stop          context.CancelFunc

	mu sync.Mutex
	// listErr is the API server's last refusal of a List or Watch, so
	// that Start can say why the caches never filled.
	listErr error
	// refused, while Start waits, ends its wait at once when the API
	// server refuses the credentials or their rights: retrying cannot help.
	refused context.CancelCauseFunc
}

// prepare makes an informer keep only what transform keeps of each object
// and report the API server's refusals to Start (recordListError), and
// makes Start wait for its first List.
func (s *informerSet) prepare(inf cache.SharedIndexInformer, transform cache.TransformFunc) error {
	if err := errors.Join(inf.SetTransform(transform), inf.SetWatchErrorHandlerWithContext(s.recordListError)); err != nil {
		return fmt.Errorf("%s: %w", s.what, err)
	}
	s.synced = append(s.synced, inf.HasSynced)
	return nil
}

// recordListError keeps err for Start's error, then does what an informer
// does by default (log it; the informer backs off and lists again).
func (s *informerSet) recordListError(ctx context.Context, r *cache.Reflector, err error) {
	s.mu.Lock()
	s.listErr = err
	if s.refused != nil && (apierrors.IsForbidden(err) || apierrors.IsUnauthorized(err)) {
		s.refused(err)
	}
	s.mu.Unlock()
	cache.DefaultWatchErrorHandler(ctx, r, err)
}

// Start lists and starts watching, and returns once every cache holds the
// first List; or at once with the API server's error when it refuses the
// credentials or their rights (RBAC: list and watch on every kind
// watched); or when ctx ends, with the last error of the API server, if
// any.
func (s *informerSet) Start(ctx context.Context) error {
	wait, refused := context.WithCancelCause(ctx)
	defer refused(nil)
	s.mu.Lock()
	s.refused = refused
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.refused = nil
		s.mu.Unlock()
	}()
	// The informers run until Stop, not until ctx, which only bounds the
	// first sync.
	run, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop = stop
	for _, f := range s.factories {
		f.Start(run.Done())
	}
	if cache.WaitForCacheSync(wait.Done(), s.synced...) {
		return nil
	}
	s.mu.Lock()
	listErr := s.listErr
	s.mu.Unlock()
	if listErr != nil {
		return fmt.Errorf("%s: listing the %s: %w", s.what, s.objects, listErr)
	}
	return fmt.Errorf("%s: waiting for the first list of %s: %w", s.what, s.objects, context.Cause(ctx))
}

// Stop ends the watches and waits for the informers' goroutines.
func (s *informerSet) Stop() {
	if s.stop == nil {
		return
	}
	s.stop()
	for _, f := range s.factories {
		f.Shutdown()
	}
}

// hasSynced reports whether every cache holds its first List.
func (s *informerSet) hasSynced() bool {
	for _, synced := range s.synced {
		if !synced() {
			return false
		}
	}
	return true
}
