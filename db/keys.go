package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// KeyLimits bounds what an API key may do; 0 means unlimited.
type KeyLimits struct {
	RequestsPerMinute int
	TokenQuota        int64 // total prompt+completion tokens over the key's life
}

// APIKey is a key for the /v1 and /api routes. The key itself is shown
// once, at creation, and stored only as its SHA-256.
type APIKey struct {
	ID         int64
	UserID     int64
	Name       string
	Prefix     string // the key's first 8 characters, to recognise it by
	Limits     KeyLimits
	TokensUsed int64
	Created    time.Time
	LastUsed   time.Time // zero if never used
	Revoked    bool
}

// KeyPrefix starts every API key, so leaked keys are easy to spot and grep for.
const KeyPrefix = "zy-"

// lastUsedGranularity limits LookupAPIKey's writes: LastUsed is refreshed at
// most once a minute per key, not on every request.
const lastUsedGranularity = time.Minute

const keyColumns = "id, user_id, name, prefix, requests_per_minute, token_quota, tokens_used, created, last_used, revoked"

func scanKey(row interface{ Scan(...any) error }, extra ...any) (APIKey, error) {
	var k APIKey
	var created, lastUsed int64
	dest := append([]any{&k.ID, &k.UserID, &k.Name, &k.Prefix, &k.Limits.RequestsPerMinute, &k.Limits.TokenQuota,
		&k.TokensUsed, &created, &lastUsed, &k.Revoked}, extra...)
	err := row.Scan(dest...)
	k.Created, k.LastUsed = fromMicros(created), fromMicros(lastUsed)
	return k, err
}

// CreateAPIKey makes a key for userID and returns it in plain (once) with its record.
func (d *DB) CreateAPIKey(ctx context.Context, userID int64, name string, l KeyLimits) (string, APIKey, error) {
	if l.RequestsPerMinute < 0 || l.TokenQuota < 0 {
		return "", APIKey{}, errors.New("db: negative key limit")
	}
	plain := KeyPrefix + randomToken(32)
	k, err := scanKey(d.queryRow(ctx, `INSERT INTO api_keys
		(user_id, name, prefix, key_hash, requests_per_minute, token_quota, created)
		VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING `+keyColumns,
		userID, name, plain[:8], hashToken(plain), l.RequestsPerMinute, l.TokenQuota, micros(d.now())))
	if isForeignKey(err) {
		return "", APIKey{}, fmt.Errorf("db: key for user %d: %w", userID, ErrNotFound)
	}
	if err != nil {
		return "", APIKey{}, fmt.Errorf("db: create key: %w", err)
	}
	return plain, k, nil
}

// LookupAPIKey returns the key and its user for a presented key; ErrNotFound
// if it is unknown, revoked, or its user is disabled. The lookup is by hash,
// so its timing says nothing about how much of a guess was right.
func (d *DB) LookupAPIKey(ctx context.Context, plain string) (APIKey, User, error) {
	var u User
	var created int64
	k, err := scanKey(d.queryRow(ctx, "SELECT "+prefixed("k.", keyColumns)+", "+prefixed("u.", userColumns)+`
		FROM api_keys k JOIN users u ON u.id = k.user_id
		WHERE k.key_hash = ? AND NOT k.revoked AND NOT u.disabled`, hashToken(plain)),
		&u.ID, &u.Name, &u.Admin, &u.Platform, &u.ExternalID, &created, &u.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, User{}, ErrNotFound
	}
	if err != nil {
		return APIKey{}, User{}, fmt.Errorf("db: lookup key: %w", err)
	}
	u.Created = fromMicros(created)
	if now := d.now(); now.Sub(k.LastUsed) >= lastUsedGranularity {
		if _, err := d.exec(ctx, "UPDATE api_keys SET last_used = ? WHERE id = ?", micros(now), k.ID); err != nil {
			return APIKey{}, User{}, fmt.Errorf("db: touch key %d: %w", k.ID, err)
		}
		k.LastUsed = time.UnixMicro(micros(now))
	}
	return k, u, nil
}

// APIKey returns one key by id, revoked or not (for ownership checks).
func (d *DB) APIKey(ctx context.Context, id int64) (APIKey, error) {
	k, err := scanKey(d.queryRow(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return APIKey{}, ErrNotFound
	}
	if err != nil {
		return APIKey{}, fmt.Errorf("db: key %d: %w", id, err)
	}
	return k, nil
}

// APIKeys lists a user's keys, or everyone's when userID is 0, oldest first.
func (d *DB) APIKeys(ctx context.Context, userID int64) ([]APIKey, error) {
	var rows *sql.Rows
	var err error
	if userID == 0 {
		rows, err = d.query(ctx, "SELECT "+keyColumns+" FROM api_keys ORDER BY id")
	} else {
		rows, err = d.query(ctx, "SELECT "+keyColumns+" FROM api_keys WHERE user_id = ? ORDER BY id", userID)
	}
	if err != nil {
		return nil, fmt.Errorf("db: keys: %w", err)
	}
	defer rows.Close()
	var ks []APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, fmt.Errorf("db: keys: %w", err)
		}
		ks = append(ks, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: keys: %w", err)
	}
	return ks, nil
}

// RevokeAPIKey revokes a key for good. The caller checks who may.
func (d *DB) RevokeAPIKey(ctx context.Context, id int64) error {
	if err := affected(d.exec(ctx, "UPDATE api_keys SET revoked = ? WHERE id = ?", true, id)); err != nil {
		return fmt.Errorf("db: revoke key %d: %w", id, err)
	}
	return nil
}

// AddKeyUsage adds tokens to a key's count and returns the new total, in one
// statement so concurrent requests never lose an addition.
func (d *DB) AddKeyUsage(ctx context.Context, id int64, tokens int64) (int64, error) {
	var total int64
	err := d.queryRow(ctx, "UPDATE api_keys SET tokens_used = tokens_used + ?, last_used = ? WHERE id = ? RETURNING tokens_used",
		tokens, micros(d.now()), id).Scan(&total)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("db: add usage to key %d: %w", id, err)
	}
	return total, nil
}
