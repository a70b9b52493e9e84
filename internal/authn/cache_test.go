package authn

import (
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	now := time.Unix(0, 0)
	c := newTTLCache[int](2, 10*time.Second)
	c.now = func() time.Time { return now }
	c.put("a", 1)
	now = now.Add(time.Second)
	c.put("b", 2)
	c.put("c", 3) // full: a, the closest to expiring, goes
	if _, ok := c.get("a"); ok {
		t.Error("a kept beyond the size")
	}
	if v, ok := c.get("c"); !ok || v != 3 {
		t.Errorf("c: got %v, %v", v, ok)
	}
	now = now.Add(10 * time.Second)
	if _, ok := c.get("b"); ok {
		t.Error("b kept beyond its TTL")
	}
}
