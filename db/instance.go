package db

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
)

// instanceLockClass is the first key of the two-key advisory locks that mark
// live handles; the second is the handle's instance id. ("zy" in ASCII.)
const instanceLockClass = 0x7a79

// newInstanceID returns a random id in [1, 2³¹): it must fit the int4 key of
// pg_advisory_lock and read back unchanged from pg_locks.objid.
func newInstanceID() int64 {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return int64(binary.LittleEndian.Uint32(b[:])&0x7fffffff) | 1
}

// holdInstanceLock takes this handle's advisory lock on a connection kept
// out of the pool until Close. If that connection drops, the lock goes with
// it and another replica may mark this one's streaming answers interrupted
// early; FinishMessage still writes the final state over that.
func (d *DB) holdInstanceLock(ctx context.Context) error {
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("db: instance lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1::int4, $2::int4)", instanceLockClass, d.instance); err != nil {
		conn.Close()
		return fmt.Errorf("db: instance lock: %w", err)
	}
	// Server-side keepalives: if this host dies without closing the socket,
	// the server frees the lock within about a minute instead of hours.
	// Best effort: over a Unix socket they do not apply.
	conn.ExecContext(ctx, "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3")
	d.lockConn = conn
	return nil
}
