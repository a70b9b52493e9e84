package admission

import (
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Limits configures a Limiter. Every zero value has a safe meaning.
type Limits struct {
	// MaxConcurrent jobs run at once. If zero, 4.
	MaxConcurrent int
	// MaxWaiting jobs may wait for a free slot; more are refused. Zero
	// means none wait: a job either runs at once or is refused.
	MaxWaiting int
	// Rate is how many new jobs per second are admitted on average, with
	// Burst jobs at once. A zero Rate means no rate limit.
	Rate  float64
	Burst int
	// Now is the clock of the rate limit; nil means time.Now.
	Now func() time.Time
}

// Limiter admits jobs. The zero value is not usable; use New.
type Limiter struct {
	slots chan struct{}

	mu      sync.Mutex
	waiting int
	max     int
	rate    float64
	burst   float64
	tokens  float64
	last    time.Time
	now     func() time.Time
}

// New returns a Limiter for l.
func New(l Limits) *Limiter {
	if l.MaxConcurrent <= 0 {
		l.MaxConcurrent = 4
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	burst := float64(max(l.Burst, 1))
	return &Limiter{
		slots:  make(chan struct{}, l.MaxConcurrent),
		max:    max(l.MaxWaiting, 0),
		rate:   l.Rate,
		burst:  burst,
		tokens: burst,
		last:   l.Now(),
		now:    l.Now,
	}
}

// Acquire admits one job or refuses it with a ResourceExhausted status (or
// the context's error while waiting). The caller must call release once the
// job is done.
func (l *Limiter) Acquire(ctx context.Context) (release func(), err error) {
	if err := l.takeToken(); err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
		return l.release, nil
	default:
	}
	l.mu.Lock()
	if l.waiting >= l.max {
		l.mu.Unlock()
		return nil, status.Errorf(codes.ResourceExhausted, "busy: %d jobs running and %d waiting; retry later", cap(l.slots), l.waiting)
	}
	l.waiting++
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.waiting--
		l.mu.Unlock()
	}()
	select {
	case l.slots <- struct{}{}:
		return l.release, nil
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
}

func (l *Limiter) release() { <-l.slots }

func (l *Limiter) takeToken() error {
	if l.rate <= 0 {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.tokens = min(l.burst, l.tokens+now.Sub(l.last).Seconds()*l.rate)
	l.last = now
	if l.tokens < 1 {
		wait := time.Duration((1 - l.tokens) / l.rate * float64(time.Second))
		return status.Error(codes.ResourceExhausted, fmt.Sprintf("rate limit of %g jobs/s exceeded; retry in %v", l.rate, wait.Round(time.Millisecond)))
	}
	l.tokens--
	return nil
}
