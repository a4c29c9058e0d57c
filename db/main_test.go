package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if dsn := os.Getenv(crashChildEnv); dsn != "" {
		crashChild(dsn) // never returns
	}
	code := m.Run()
	pg.stop()
	os.Exit(code)
}

// forEachStore runs fn against a fresh SQLite file and, when one can be had,
// a fresh PostgreSQL database.
func forEachStore(t *testing.T, fn func(t *testing.T, d *DB)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, openSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, openPostgres(t)) })
}

func openSQLite(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), filepath.Join(t.TempDir(), "zhiyan.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func openPostgres(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), newPostgresDB(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// newPostgresDB creates an empty database for the test and returns its DSN,
// or skips the test when no PostgreSQL is available.
func newPostgresDB(t *testing.T) string {
	t.Helper()
	admin, err := pg.adminDSN()
	if err != nil {
		if os.Getenv("ZHIYAN_REQUIRE_POSTGRES") != "" {
			t.Fatalf("no PostgreSQL, and ZHIYAN_REQUIRE_POSTGRES is set: %v", err)
		}
		t.Skipf("no PostgreSQL: %v", err)
	}
	name := fmt.Sprintf("zhiyan_test_%d_%d", os.Getpid(), pg.seq.Add(1))
	if _, err := pg.admin.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := pg.admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

// pg is the PostgreSQL server the tests share: the one ZHIYAN_TEST_POSTGRES
// names (a DSN of a role that may create databases), or a throwaway one
// started from the initdb and postgres binaries. Each test gets its own
// database on it.
var pg postgresServer

type postgresServer struct {
	once  sync.Once
	dsn   string
	err   error
	admin *sql.DB
	seq   atomic.Int64

	dir string
	cmd *exec.Cmd
}

func (p *postgresServer) adminDSN() (string, error) {
	p.once.Do(func() {
		p.dsn = os.Getenv("ZHIYAN_TEST_POSTGRES")
		if p.dsn == "" {
			p.dsn, p.err = p.start()
		}
		if p.err == nil {
			p.admin, p.err = sql.Open("pgx", p.dsn)
		}
		if p.err == nil {
			p.err = p.admin.Ping()
		}
	})
	return p.dsn, p.err
}

// pgBinary finds a PostgreSQL server program on PATH or where Debian's
// postgresql package puts it.
func pgBinary(name string) (string, error) {
	if path, err := exec.LookPath(name); err == nil {
		return path, nil
	}
	matches, _ := filepath.Glob(filepath.Join("/usr/lib/postgresql/*/bin", name))
	if len(matches) > 0 {
		return matches[len(matches)-1], nil
	}
	return "", fmt.Errorf("set ZHIYAN_TEST_POSTGRES to a DSN, or install PostgreSQL (%s not found)", name)
}

// start runs initdb and postgres in a temporary directory, listening on a
// free loopback port. PostgreSQL refuses to run as root, so as root it runs
// as the "postgres" user.
func (p *postgresServer) start() (string, error) {
	initdb, err := pgBinary("initdb")
	if err != nil {
		return "", err
	}
	postgres, err := pgBinary("postgres")
	if err != nil {
		return "", err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return "", errors.New("running as root and there is no postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	p.dir, err = os.MkdirTemp("", "zhiyan-pg-")
	if err != nil {
		return "", err
	}
	if cred != nil {
		if err := os.Chown(p.dir, int(cred.Uid), int(cred.Gid)); err != nil {
			return "", err
		}
	}
	data := filepath.Join(p.dir, "data")
	cmd := exec.Command(initdb, "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("initdb: %v\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", err
	}
	p.cmd = exec.Command(postgres, "-D", data, "-k", p.dir, "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200")
	// Pdeathsig: if the test binary dies, so does the server (SIGQUIT = immediate shutdown).
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGQUIT}
	log, err := os.Create(filepath.Join(p.dir, "postgres.log"))
	if err != nil {
		return "", err
	}
	defer log.Close()
	p.cmd.Stdout, p.cmd.Stderr = log, log
	if err := p.cmd.Start(); err != nil {
		return "", fmt.Errorf("start postgres: %w", err)
	}
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		db, err := sql.Open("pgx", dsn)
		if err == nil {
			err = db.Ping()
			db.Close()
		}
		if err == nil {
			return dsn, nil
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(p.dir, "postgres.log"))
			return "", fmt.Errorf("postgres did not start: %v\n%s", err, b)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// stop shuts the throwaway server down (SIGINT = fast shutdown) and removes it.
func (p *postgresServer) stop() {
	if p.admin != nil {
		p.admin.Close()
	}
	if p.cmd != nil && p.cmd.Process != nil {
		p.cmd.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			p.cmd.Process.Kill()
			<-done
		}
	}
	if p.dir != "" && strings.Contains(p.dir, "zhiyan-pg-") {
		os.RemoveAll(p.dir)
	}
}
