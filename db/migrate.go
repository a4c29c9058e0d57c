package db

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
)

// Migrations are files migrations/NNNN_name.{sqlite,pg}.sql, applied in order,
// each recorded in schema_migrations. Both dialects must have the same
// versions: the schemas differ only in types.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLockKey is the pg_advisory_lock key held while migrating: any
// constant unlikely to collide with another application's ("zhiyan" in ASCII).
const migrationLockKey = 0x7a6869_79616e

type migration struct {
	version int
	name    string
	sql     string
}

// migrations lists the embedded migrations of one dialect, oldest first.
func migrations(dialect string) ([]migration, error) {
	suffix := ".sqlite.sql"
	if dialect == Postgres {
		suffix = ".pg.sql"
	}
	names, err := fs.Glob(migrationFiles, "migrations/*"+suffix)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, path := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(path, "migrations/"), suffix)
		num, _, _ := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return nil, fmt.Errorf("db: migration %s: name must start with a number", path)
		}
		b, err := migrationFiles.ReadFile(path)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: name, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("db: two migrations numbered %d", ms[i].version)
		}
	}
	return ms, nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version BIGINT PRIMARY KEY,
	name TEXT NOT NULL,
	applied BIGINT NOT NULL
)`

// migrate applies pending migrations. On PostgreSQL an advisory lock on a
// dedicated connection serialises replicas; each migration is its own
// transaction. On SQLite one IMMEDIATE transaction holds the write lock for
// the whole run, so a second process waits (busy_timeout) and then finds
// nothing left to do.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrations(d.dialect)
	if err != nil {
		return err
	}
	if d.dialect == SQLite {
		err = d.inTx(ctx, func(tx *sql.Tx) error { return d.applyPending(ctx, tx, ms, true) })
		if err != nil {
			return fmt.Errorf("db: migrate: %w", err)
		}
		return nil
	}
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", int64(migrationLockKey)); err != nil {
		return fmt.Errorf("db: migrate: take lock: %w", err)
	}
	// Unlock even when ctx is done, or the lock would outlive this attempt on a pooled connection.
	defer conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrationLockKey))
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("db: migrate: %w", err)
	}
	for _, m := range ms {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("db: migrate: %w", err)
		}
		if err := d.applyPending(ctx, tx, []migration{m}, false); err != nil {
			tx.Rollback()
			return fmt.Errorf("db: migrate: %w", err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("db: migrate %s: commit: %w", m.name, err)
		}
	}
	return nil
}

// applyPending runs those of ms not yet recorded, inside tx.
func (d *DB) applyPending(ctx context.Context, tx *sql.Tx, ms []migration, createTable bool) error {
	if createTable {
		if _, err := tx.ExecContext(ctx, createMigrationsTable); err != nil {
			return err
		}
	}
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return err
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return err
		}
		applied[v] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("%s: %w", m.name, err)
		}
		_, err := tx.ExecContext(ctx, d.q("INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)"),
			m.version, m.name, micros(d.now()))
		if err != nil {
			return fmt.Errorf("%s: record: %w", m.name, err)
		}
	}
	return nil
}
