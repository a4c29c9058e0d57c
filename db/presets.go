package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Preset is a scenario prompt on the start screen.
type Preset struct {
	ID       int64
	OwnerID  int64  // 0 for a built-in preset everyone sees
	Category string // "office", "writing", "life"
	Name     string
	Prompt   string
}

// nullOwner stores owner 0 as NULL, so user presets can cascade on delete.
func nullOwner(id int64) sql.NullInt64 { return sql.NullInt64{Int64: id, Valid: id != 0} }

// Presets returns the built-in presets followed by ownerID's own (none when
// ownerID is 0), each group oldest first.
func (d *DB) Presets(ctx context.Context, ownerID int64) ([]Preset, error) {
	rows, err := d.query(ctx, `SELECT id, owner_id, category, name, prompt FROM presets
		WHERE owner_id IS NULL OR owner_id = ? ORDER BY owner_id IS NOT NULL, id`, ownerID)
	if err != nil {
		return nil, fmt.Errorf("db: presets: %w", err)
	}
	defer rows.Close()
	var ps []Preset
	for rows.Next() {
		var p Preset
		var owner sql.NullInt64
		if err := rows.Scan(&p.ID, &owner, &p.Category, &p.Name, &p.Prompt); err != nil {
			return nil, fmt.Errorf("db: presets: %w", err)
		}
		p.OwnerID = owner.Int64
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("db: presets: %w", err)
	}
	return ps, nil
}

// SavePreset inserts p when p.ID is 0 and otherwise updates the preset with
// that id and owner (ErrNotFound if p.OwnerID does not own it).
func (d *DB) SavePreset(ctx context.Context, p Preset) (Preset, error) {
	if p.Name == "" {
		return Preset{}, errors.New("db: preset needs a name")
	}
	if p.ID == 0 {
		err := d.queryRow(ctx, "INSERT INTO presets (owner_id, category, name, prompt, created) VALUES (?, ?, ?, ?, ?) RETURNING id",
			nullOwner(p.OwnerID), p.Category, p.Name, p.Prompt, micros(d.now())).Scan(&p.ID)
		if isForeignKey(err) {
			return Preset{}, fmt.Errorf("db: preset for user %d: %w", p.OwnerID, ErrNotFound)
		}
		if err != nil {
			return Preset{}, fmt.Errorf("db: save preset %q: %w", p.Name, err)
		}
		return p, nil
	}
	err := affected(d.exec(ctx, "UPDATE presets SET category = ?, name = ?, prompt = ? WHERE id = ? AND "+ownerIs(p.OwnerID),
		p.Category, p.Name, p.Prompt, p.ID, p.OwnerID))
	if err != nil {
		return Preset{}, fmt.Errorf("db: save preset %d: %w", p.ID, err)
	}
	return p, nil
}

// DeletePreset deletes ownerID's preset id (ownerID 0: a built-in one).
func (d *DB) DeletePreset(ctx context.Context, ownerID, id int64) error {
	if err := affected(d.exec(ctx, "DELETE FROM presets WHERE id = ? AND "+ownerIs(ownerID), id, ownerID)); err != nil {
		return fmt.Errorf("db: delete preset %d: %w", id, err)
	}
	return nil
}

// ownerIs matches owner_id against the next argument, 0 meaning NULL.
// The argument is always passed, so placeholders stay numbered alike.
func ownerIs(ownerID int64) string {
	if ownerID == 0 {
		return "owner_id IS NULL AND ? = 0"
	}
	return "owner_id = ?"
}

// Setting returns the value stored under key; ErrNotFound if none.
func (d *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := d.queryRow(ctx, "SELECT value FROM settings WHERE key = ?", key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("db: setting %q: %w", key, err)
	}
	return v, nil
}

// SetSetting stores value under key, replacing any previous value.
func (d *DB) SetSetting(ctx context.Context, key, value string) error {
	_, err := d.exec(ctx, "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
		key, value)
	if err != nil {
		return fmt.Errorf("db: set setting %q: %w", key, err)
	}
	return nil
}
