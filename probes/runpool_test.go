package probes

import (
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRunPool: runs one after the other share one goroutine, runs at once
// get one each, an idle goroutine ends after runWorkerIdle, and stop ends
// the rest once their runs are done.
func TestRunPool(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var p runPool
		workers := func() int {
			p.mu.Lock()
			defer p.mu.Unlock()
			return len(p.idle)
		}
		var ran atomic.Int32
		wait := func(f func()) {
			done := make(chan struct{})
			p.do(func() { f(); close(done) })
			<-done
			synctest.Wait() // the goroutine lists itself as idle
		}
		for range 3 {
			wait(func() { ran.Add(1) })
		}
		require.Equal(t, 1, workers(), "runs one after the other share a goroutine")

		release := make(chan struct{})
		var started sync.WaitGroup
		for range 4 {
			started.Add(1)
			p.do(func() { started.Done(); <-release; ran.Add(1) })
		}
		started.Wait()
		close(release)
		synctest.Wait()
		require.Equal(t, 4, workers(), "runs at once get a goroutine each")

		time.Sleep(runWorkerIdle / 2)
		wait(func() { ran.Add(1) })
		time.Sleep(runWorkerIdle/2 + time.Millisecond)
		synctest.Wait()
		require.Equal(t, 1, workers(), "goroutines idle for runWorkerIdle end; the one used since stays")

		busy := make(chan struct{})
		p.do(func() { <-busy; ran.Add(1) })
		stopped := make(chan struct{})
		go func() { p.stop(); close(stopped) }()
		synctest.Wait()
		select {
		case <-stopped:
			t.Fatal("stop returned before the busy run ended")
		default:
		}
		close(busy)
		<-stopped
		require.EqualValues(t, 9, ran.Load())
	})
}
