package redisstore_test

import (
	"context"
	"io"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// hungClient returns a client whose server reads every request and never
// answers, over in-memory pipes (so it works inside a synctest bubble), and
// a function that closes the client and the server side of every pipe. The
// outage tests use it to check that a store call gives up at its timeout.
func hungClient() (*redis.Client, func()) {
	var mu sync.Mutex
	var conns []net.Conn
	c := redis.NewClient(&redis.Options{
		Addr:                     "127.0.0.1:6379",
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		ContextTimeoutEnabled:    true,
		MaxRetries:               -1,
		ReadTimeout:              time.Minute,
		WriteTimeout:             time.Minute,
		Protocol:                 2,
		DisableIdentity:          true,
		Dialer: func(context.Context, string, string) (net.Conn, error) {
			client, server := net.Pipe()
			mu.Lock()
			conns = append(conns, server)
			mu.Unlock()
			go func() { _, _ = io.Copy(io.Discard, server) }() // read requests, never answer
			return client, nil
		},
	})
	return c, func() {
		_ = c.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, s := range conns {
			s.Close()
		}
	}
}
