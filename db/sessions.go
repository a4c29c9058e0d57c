package db

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Session is a logged-in browser. The token that names it is given to the
// client once and stored only as its SHA-256.
type Session struct {
	ID      string // random, not the token: safe to show or log
	UserID  int64
	CSRF    string // the double-submit token the client echoes on state-changing requests
	Expires time.Time
}

// randomToken returns n random bytes, base64url without padding.
func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// hashToken is the stored form of a session token, setup token or API key.
// A plain hash is enough: the tokens carry 256 random bits, so there is
// nothing to brute-force, and lookup by hash keeps comparison out of Go.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// CreateSession starts a session for userID lasting ttl and returns its
// token (32 random bytes, base64url) to put in the cookie.
func (d *DB) CreateSession(ctx context.Context, userID int64, ttl time.Duration) (string, Session, error) {
	token := randomToken(32)
	now := time.UnixMicro(micros(d.now())) // the stored precision, so s equals what LookupSession returns
	s := Session{ID: randomToken(16), UserID: userID, CSRF: randomToken(32), Expires: now.Add(ttl)}
	// Sweep expired sessions while here: logins are rare enough for it to be free.
	if _, err := d.exec(ctx, "DELETE FROM sessions WHERE expires <= ?", micros(now)); err != nil {
		return "", Session{}, fmt.Errorf("db: sweep sessions: %w", err)
	}
	_, err := d.exec(ctx, "INSERT INTO sessions (id, token_hash, user_id, csrf, created, expires) VALUES (?, ?, ?, ?, ?, ?)",
		s.ID, hashToken(token), userID, s.CSRF, micros(now), micros(s.Expires))
	if isForeignKey(err) {
		return "", Session{}, fmt.Errorf("db: session for user %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return "", Session{}, fmt.Errorf("db: create session: %w", err)
	}
	return token, s, nil
}

// LookupSession returns the live session named by token and its user;
// ErrNotFound if it is unknown, expired, or its user is disabled.
func (d *DB) LookupSession(ctx context.Context, token string) (Session, User, error) {
	var s Session
	var expires int64
	row := d.queryRow(ctx, `SELECT s.id, s.user_id, s.csrf, s.expires, `+prefixed("u.", userColumns)+`
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.token_hash = ? AND s.expires > ? AND NOT u.disabled`, hashToken(token), micros(d.now()))
	var u User
	var created int64
	err := row.Scan(&s.ID, &s.UserID, &s.CSRF, &expires,
		&u.ID, &u.Name, &u.Admin, &u.Platform, &u.ExternalID, &created, &u.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, User{}, ErrNotFound
	}
	if err != nil {
		return Session{}, User{}, fmt.Errorf("db: lookup session: %w", err)
	}
	s.Expires = fromMicros(expires)
	u.Created = fromMicros(created)
	return s, u, nil
}

// DeleteSession ends the session named by token (logout). Unknown tokens are not an error.
func (d *DB) DeleteSession(ctx context.Context, token string) error {
	if _, err := d.exec(ctx, "DELETE FROM sessions WHERE token_hash = ?", hashToken(token)); err != nil {
		return fmt.Errorf("db: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user (password change, disable).
func (d *DB) DeleteUserSessions(ctx context.Context, userID int64) error {
	if _, err := d.exec(ctx, "DELETE FROM sessions WHERE user_id = ?", userID); err != nil {
		return fmt.Errorf("db: delete sessions of user %d: %w", userID, err)
	}
	return nil
}

// CreateSetupToken makes a one-time token for the first-admin setup link.
func (d *DB) CreateSetupToken(ctx context.Context, ttl time.Duration) (string, error) {
	token := randomToken(32)
	now := d.now()
	if _, err := d.exec(ctx, "DELETE FROM setup_tokens WHERE expires <= ?", micros(now)); err != nil {
		return "", fmt.Errorf("db: sweep setup tokens: %w", err)
	}
	if _, err := d.exec(ctx, "INSERT INTO setup_tokens (token_hash, expires) VALUES (?, ?)",
		hashToken(token), micros(now.Add(ttl))); err != nil {
		return "", fmt.Errorf("db: create setup token: %w", err)
	}
	return token, nil
}

// ConsumeSetupToken uses up a setup token: it succeeds once per token, before
// it expires, and returns ErrNotFound otherwise. The delete is the check, so
// two racing requests cannot both succeed.
func (d *DB) ConsumeSetupToken(ctx context.Context, token string) error {
	err := affected(d.exec(ctx, "DELETE FROM setup_tokens WHERE token_hash = ? AND expires > ?",
		hashToken(token), micros(d.now())))
	if err != nil && !errors.Is(err, ErrNotFound) {
		return fmt.Errorf("db: consume setup token: %w", err)
	}
	return err
}
