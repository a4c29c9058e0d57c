package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// User is a web account or a user met on a chat platform (a bot user, with
// Platform and ExternalID set and no password).
type User struct {
	ID         int64
	Name       string
	Admin      bool
	Platform   string // "wechat", "wecom", "feishu", "dingtalk"; "" for web users
	ExternalID string // the platform's user id; "" for web users
	Created    time.Time
	Disabled   bool
}

// MaxNameLen bounds user names, in characters.
const MaxNameLen = 64

const userColumns = "id, name, admin, platform, external_id, created, disabled"

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created int64
	err := row.Scan(&u.ID, &u.Name, &u.Admin, &u.Platform, &u.ExternalID, &created, &u.Disabled)
	u.Created = fromMicros(created)
	return u, err
}

// checkName rejects names that would be confusing to show or log in.
func checkName(name string) error {
	if strings.TrimSpace(name) != name || name == "" {
		return errors.New("db: user name must be non-empty without surrounding spaces")
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return fmt.Errorf("db: user name must be valid UTF-8 of at most %d characters", MaxNameLen)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return errors.New("db: user name contains a control character")
		}
	}
	return nil
}

// CreateUser adds a web user. Names are unique regardless of case (ErrExists).
func (d *DB) CreateUser(ctx context.Context, name, password string, admin bool) (User, error) {
	if err := checkName(name); err != nil {
		return User{}, err
	}
	if password == "" {
		return User{}, errors.New("db: empty password")
	}
	hash, err := hashPassword(password)
	if err != nil {
		return User{}, fmt.Errorf("db: hash password: %w", err)
	}
	row := d.queryRow(ctx, `INSERT INTO users (name, name_key, password_hash, admin, created)
		VALUES (?, ?, ?, ?, ?) RETURNING `+userColumns,
		name, strings.ToLower(name), hash, admin, micros(d.now()))
	u, err := scanUser(row)
	if isUnique(err) {
		return User{}, fmt.Errorf("db: user %q: %w", name, ErrExists)
	}
	if err != nil {
		return User{}, fmt.Errorf("db: create user %q: %w", name, err)
	}
	return u, nil
}

// Authenticate returns the enabled web user with this name and password.
// Unknown names, wrong passwords and disabled users all give
// ErrBadCredentials after the same password-hashing work.
func (d *DB) Authenticate(ctx context.Context, name, password string) (User, error) {
	var hash string
	row := d.queryRow(ctx, "SELECT "+userColumns+", password_hash FROM users WHERE name_key = ?", strings.ToLower(name))
	var u User
	var created int64
	err := row.Scan(&u.ID, &u.Name, &u.Admin, &u.Platform, &u.ExternalID, &created, &u.Disabled, &hash)
	u.Created = fromMicros(created)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && hash == "") {
		checkPassword(dummyHash(), password)
		return User{}, ErrBadCredentials
	}
	if err != nil {
		return User{}, fmt.Errorf("db: authenticate: %w", err)
	}
	ok, err := checkPassword(hash, password)
	if err != nil {
		return User{}, fmt.Errorf("db: authenticate user %d: %w", u.ID, err)
	}
	if !ok || u.Disabled {
		return User{}, ErrBadCredentials
	}
	return u, nil
}

// User returns the user with this id.
func (d *DB) User(ctx context.Context, id int64) (User, error) {
	u, err := scanUser(d.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("db: user %d: %w", id, err)
	}
	return u, nil
}

// Users lists every user, web and bot, oldest first.
func (d *DB) Users(ctx context.Context) ([]User, error) {
	rows, err := d.query(ctx, "SELECT "+userColumns+" FROM users ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("db: users: %w", err)
	}
	defer rows.Close()
	var us []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("db: users: %w", err)
		}
		us = append(us, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: users: %w", err)
	}
	return us, nil
}

// CountUsers counts web users (bot users do not need a first admin).
func (d *DB) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := d.queryRow(ctx, "SELECT COUNT(*) FROM users WHERE platform = ''").Scan(&n); err != nil {
		return 0, fmt.Errorf("db: count users: %w", err)
	}
	return n, nil
}

// SetPassword replaces a web user's password. It does not end their
// sessions: call DeleteUserSessions for that.
func (d *DB) SetPassword(ctx context.Context, id int64, password string) error {
	if password == "" {
		return errors.New("db: empty password")
	}
	hash, err := hashPassword(password)
	if err != nil {
		return fmt.Errorf("db: hash password: %w", err)
	}
	if err := affected(d.exec(ctx, "UPDATE users SET password_hash = ? WHERE id = ? AND platform = ''", hash, id)); err != nil {
		return fmt.Errorf("db: set password of user %d: %w", id, err)
	}
	return nil
}

// SetAdmin grants or withdraws admin rights.
func (d *DB) SetAdmin(ctx context.Context, id int64, admin bool) error {
	if err := affected(d.exec(ctx, "UPDATE users SET admin = ? WHERE id = ?", admin, id)); err != nil {
		return fmt.Errorf("db: set admin of user %d: %w", id, err)
	}
	return nil
}

// DisableUser disables or re-enables a user. A disabled user cannot log in,
// and their sessions and API keys stop working (they are kept, not deleted).
func (d *DB) DisableUser(ctx context.Context, id int64, disabled bool) error {
	if err := affected(d.exec(ctx, "UPDATE users SET disabled = ? WHERE id = ?", disabled, id)); err != nil {
		return fmt.Errorf("db: disable user %d: %w", id, err)
	}
	return nil
}

// DeleteUser deletes a user with their sessions, keys, presets,
// conversations and messages.
func (d *DB) DeleteUser(ctx context.Context, id int64) error {
	if err := affected(d.exec(ctx, "DELETE FROM users WHERE id = ?", id)); err != nil {
		return fmt.Errorf("db: delete user %d: %w", id, err)
	}
	return nil
}

// PlatformUser finds or creates the user a chat platform knows as
// externalID. displayName is used on creation and refreshed when it changes.
func (d *DB) PlatformUser(ctx context.Context, platform, externalID, displayName string) (User, error) {
	if platform == "" || externalID == "" {
		return User{}, errors.New("db: platform user needs a platform and an external id")
	}
	if displayName == "" {
		displayName = externalID
	}
	// Insert-if-absent, then read: two concurrent first messages from one
	// person must end up as one user.
	_, err := d.exec(ctx, `INSERT INTO users (name, platform, external_id, created) VALUES (?, ?, ?, ?)
		ON CONFLICT (platform, external_id) WHERE platform <> '' DO NOTHING`,
		displayName, platform, externalID, micros(d.now()))
	if err != nil {
		return User{}, fmt.Errorf("db: platform user %s/%s: %w", platform, externalID, err)
	}
	u, err := scanUser(d.queryRow(ctx, "SELECT "+userColumns+" FROM users WHERE platform = ? AND external_id = ?",
		platform, externalID))
	if err != nil {
		return User{}, fmt.Errorf("db: platform user %s/%s: %w", platform, externalID, err)
	}
	if u.Name != displayName {
		if _, err := d.exec(ctx, "UPDATE users SET name = ? WHERE id = ?", displayName, u.ID); err != nil {
			return User{}, fmt.Errorf("db: rename platform user %d: %w", u.ID, err)
		}
		u.Name = displayName
	}
	return u, nil
}
