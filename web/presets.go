package web

import (
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"zhiyan/db"
)

// builtin is a scenario preset shipped with zhiyan, in both UI languages.
type builtin struct {
	Key      string `json:"key"` // "office.email"
	Category string `json:"category"`
	NameZh   string `json:"name_zh"`
	NameEn   string `json:"name_en"`
	PromptZh string `json:"prompt_zh"`
	PromptEn string `json:"prompt_en"`
}

//go:embed presets.json
var presetsJSON []byte

var categories = []string{"office", "writing", "life"}

// builtins are the presets of presets.json; they live in the binary, not
// in the database, so a new release's presets reach every user. A user who
// edits one gets an own copy, and the built-in is hidden for that user.
var builtins = func() []builtin {
	var b []builtin
	if err := json.Unmarshal(presetsJSON, &b); err != nil {
		panic("web: presets.json: " + err.Error())
	}
	return b
}()

type presetJSON struct {
	ID       int64  `json:"id"`
	Category string `json:"category"`
	Name     string `json:"name"`
	Prompt   string `json:"prompt"`
}

// hiddenKey is the settings key of the built-ins a user has hidden.
func hiddenKey(userID int64) string { return fmt.Sprintf("web.hidden_presets.%d", userID) }

func (a *App) hidden(r *http.Request, userID int64) ([]string, error) {
	v, err := a.db.Setting(r.Context(), hiddenKey(userID))
	if errors.Is(err, db.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []string
	_ = json.Unmarshal([]byte(v), &keys) // unreadable: nothing hidden
	return keys, nil
}

func (a *App) setHidden(r *http.Request, userID int64, keys []string) error {
	b, err := json.Marshal(keys)
	if err != nil {
		return err
	}
	return a.db.SetSetting(r.Context(), hiddenKey(userID), string(b))
}

func (a *App) presets(r *http.Request, c *caller) (any, error) {
	hidden, err := a.hidden(r, c.user.ID)
	if err != nil {
		return nil, err
	}
	list, err := a.db.Presets(r.Context(), c.user.ID)
	if err != nil {
		return nil, err
	}
	mine := []presetJSON{}
	for _, p := range list {
		if p.OwnerID == c.user.ID {
			mine = append(mine, presetJSON{p.ID, p.Category, p.Name, p.Prompt})
		}
	}
	shown := []builtin{}
	for _, b := range builtins {
		if !slices.Contains(hidden, b.Key) {
			shown = append(shown, b)
		}
	}
	return map[string]any{"builtin": shown, "mine": mine, "hidden": len(hidden)}, nil
}

// savePreset creates (id 0) or updates one of the caller's presets; with
// "replaces" naming a built-in, that built-in is hidden for the caller.
func (a *App) savePreset(r *http.Request, c *caller) (any, error) {
	var in struct {
		presetJSON
		Replaces string `json:"replaces,omitempty"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	in.Name = strings.TrimSpace(in.Name)
	switch {
	case !slices.Contains(categories, in.Category):
		return nil, errorf(http.StatusBadRequest, "the category must be office, writing or life")
	case in.Name == "" || len(in.Name) > 200:
		return nil, errorf(http.StatusBadRequest, "the preset needs a name")
	case len(in.Prompt) > 64<<10:
		return nil, errorf(http.StatusBadRequest, "the prompt is too long")
	}
	p, err := a.db.SavePreset(r.Context(), db.Preset{ID: in.ID, OwnerID: c.user.ID, Category: in.Category, Name: in.Name, Prompt: in.Prompt})
	if err != nil {
		return nil, err
	}
	if in.Replaces != "" {
		if err := a.hide(r, c.user.ID, in.Replaces); err != nil {
			return nil, err
		}
	}
	return presetJSON{p.ID, p.Category, p.Name, p.Prompt}, nil
}

func (a *App) hide(r *http.Request, userID int64, key string) error {
	if !slices.ContainsFunc(builtins, func(b builtin) bool { return b.Key == key }) {
		return errorf(http.StatusBadRequest, "no built-in preset %q", key)
	}
	hidden, err := a.hidden(r, userID)
	if err != nil || slices.Contains(hidden, key) {
		return err
	}
	return a.setHidden(r, userID, append(hidden, key))
}

func (a *App) deletePreset(r *http.Request, c *caller) (any, error) {
	if key := r.PathValue("id"); strings.Contains(key, ".") {
		// A built-in's key: hide it.
		if err := a.hide(r, c.user.ID, key); err != nil {
			return nil, err
		}
		return map[string]bool{"ok": true}, nil
	}
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	if err := a.db.DeletePreset(r.Context(), c.user.ID, id); err != nil {
		return nil, err
	}
	return map[string]bool{"ok": true}, nil
}

// restorePresets shows every built-in preset again.
func (a *App) restorePresets(r *http.Request, c *caller) (any, error) {
	if err := a.setHidden(r, c.user.ID, []string{}); err != nil {
		return nil, err
	}
	return map[string]bool{"ok": true}, nil
}
