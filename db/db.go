// Package db stores zhiyan's accounts, sessions, API keys, conversations and
// messages in SQLite (the default) or PostgreSQL, behind one database/sql API.
// It knows nothing about HTTP, models or generation: callers check ownership
// of what they pass in except where a method takes an owner id.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // driver "pgx"
	"modernc.org/sqlite"               // driver "sqlite"
)

// Errors returned by the store; compare with errors.Is.
var (
	ErrNotFound       = errors.New("db: not found")
	ErrExists         = errors.New("db: already exists")
	ErrBadCredentials = errors.New("db: bad credentials")
)

// Dialect names returned by DB.Dialect.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// DB is a handle on one store. It is safe for concurrent use.
type DB struct {
	sql     *sql.DB
	dialect string
	// now is the clock; tests replace it to expire sessions and keys.
	now func() time.Time
	// instance tags the streaming messages this handle writes. On PostgreSQL
	// the handle holds an advisory lock named after it on lockConn for its
	// whole life, so other replicas can tell its answers are still live.
	instance int64
	lockConn *sql.Conn
}

// Open connects to the store named by dsn and brings its schema up to date.
// A dsn starting with postgres:// or postgresql:// selects PostgreSQL;
// anything else is a SQLite file path (a "file:" URI is accepted). SQLite
// runs in WAL mode with a busy timeout and foreign keys on. Migrations run
// under a lock so several replicas may start at once; then messages left
// streaming by a crashed process are marked interrupted.
func Open(ctx context.Context, dsn string) (*DB, error) {
	d := &DB{now: time.Now, instance: newInstanceID()}
	var err error
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		d.dialect = Postgres
		d.sql, err = sql.Open("pgx", dsn)
	} else {
		d.dialect = SQLite
		d.sql, err = sql.Open("sqlite", sqliteDSN(dsn))
	}
	if err != nil {
		return nil, fmt.Errorf("db: open %s: %w", d.dialect, err)
	}
	if err := d.sql.PingContext(ctx); err != nil {
		d.sql.Close()
		return nil, fmt.Errorf("db: connect to %s: %w", d.dialect, err)
	}
	if err := d.migrate(ctx); err != nil {
		d.sql.Close()
		return nil, err
	}
	if d.dialect == Postgres {
		if err := d.holdInstanceLock(ctx); err != nil {
			d.Close()
			return nil, err
		}
	}
	if _, err := d.MarkInterrupted(ctx); err != nil {
		d.Close()
		return nil, err
	}
	return d, nil
}

// sqliteDSN turns a path or file: URI into a modernc DSN with the pragmas
// every connection needs. Transactions begin IMMEDIATE so a writer takes the
// write lock up front (waiting out busy_timeout) instead of failing with
// SQLITE_BUSY when a read transaction tries to upgrade.
func sqliteDSN(dsn string) string {
	if !strings.HasPrefix(dsn, "file:") {
		dsn = "file:" + (&url.URL{Path: dsn}).EscapedPath()
	}
	params := []string{
		"_pragma=busy_timeout(10000)",
		"_pragma=foreign_keys(1)",
		"_pragma=journal_mode(WAL)",
		// FULL: a commit the caller has seen survives power loss, not just a crash.
		"_pragma=synchronous(FULL)",
		"_txlock=immediate",
	}
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + strings.Join(params, "&")
}

// Close closes the connection pool, which releases the instance lock.
func (d *DB) Close() error {
	if d.lockConn != nil {
		d.lockConn.Close()
	}
	return d.sql.Close()
}

// Dialect reports "sqlite" or "postgres".
func (d *DB) Dialect() string { return d.dialect }

// Check verifies the store: SQLite's integrity_check, or a round trip to
// PostgreSQL (which checks itself).
func (d *DB) Check(ctx context.Context) error {
	if d.dialect == Postgres {
		var one int
		if err := d.sql.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
			return fmt.Errorf("db: check: %w", err)
		}
		return nil
	}
	rows, err := d.sql.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("db: integrity check: %w", err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("db: integrity check: %w", err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("db: integrity check: %w", err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("db: integrity check failed: %s", strings.Join(problems, "; "))
	}
	return nil
}

// q rewrites a query written with ? placeholders for the dialect: PostgreSQL
// wants $1, $2, … Queries here never contain ? inside literals.
func (d *DB) q(query string) string {
	if d.dialect != Postgres || !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (d *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return d.sql.ExecContext(ctx, d.q(query), args...)
}

func (d *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return d.sql.QueryRowContext(ctx, d.q(query), args...)
}

func (d *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return d.sql.QueryContext(ctx, d.q(query), args...)
}

// inTx runs fn in a transaction, committing if it returns nil.
func (d *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := d.sql.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		// SQLITE_CONSTRAINT_UNIQUE, SQLITE_CONSTRAINT_PRIMARYKEY
		return se.Code() == 2067 || se.Code() == 1555
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23505"
	}
	return false
}

// isForeignKey reports whether err is a foreign-key violation, e.g. an
// owner id that does not exist.
func isForeignKey(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code() == 787 // SQLITE_CONSTRAINT_FOREIGNKEY
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "23503"
	}
	return false
}

// affected turns "no row changed" into ErrNotFound.
func affected(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Times are stored as Unix microseconds in a BIGINT: the same type, order
// and precision in both dialects.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us)
}

// prefixed qualifies each column of a comma-separated list: prefixed("u.", "id, name") = "u.id, u.name".
func prefixed(prefix, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = prefix + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}
