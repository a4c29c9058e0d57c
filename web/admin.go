package web

import (
	"net/http"
	"strings"
	"time"

	"zhiyan/db"
)

func (a *App) users(r *http.Request, _ *caller) (any, error) {
	list, err := a.db.Users(r.Context())
	if err != nil {
		return nil, err
	}
	out := make([]userJSON, len(list))
	for i, u := range list {
		out[i] = toUserJSON(u)
	}
	return map[string]any{"users": out}, nil
}

func (a *App) createUser(r *http.Request, _ *caller) (any, error) {
	var in struct {
		Name     string `json:"name"`
		Password string `json:"password"`
		Admin    bool   `json:"admin"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if err := checkAccount(in.Name, in.Password); err != nil {
		return nil, err
	}
	u, err := a.db.CreateUser(r.Context(), strings.TrimSpace(in.Name), in.Password, in.Admin)
	if err != nil {
		return nil, err
	}
	return toUserJSON(u), nil
}

// updateUser disables or enables a user, grants or takes administration,
// or resets the password; the last two end the user's sessions.
func (a *App) updateUser(r *http.Request, c *caller) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	var in struct {
		Disabled *bool   `json:"disabled"`
		Admin    *bool   `json:"admin"`
		Password *string `json:"password"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if id == c.user.ID && ((in.Disabled != nil && *in.Disabled) || (in.Admin != nil && !*in.Admin)) {
		return nil, errorf(http.StatusBadRequest, "you cannot disable yourself or drop your own administration")
	}
	ctx := r.Context()
	if _, err := a.db.User(ctx, id); err != nil {
		return nil, err
	}
	if in.Password != nil {
		if err := checkPassword(*in.Password); err != nil {
			return nil, err
		}
		if err := a.db.SetPassword(ctx, id, *in.Password); err != nil {
			return nil, err
		}
	}
	if in.Admin != nil {
		if err := a.db.SetAdmin(ctx, id, *in.Admin); err != nil {
			return nil, err
		}
	}
	if in.Disabled != nil {
		if err := a.db.DisableUser(ctx, id, *in.Disabled); err != nil {
			return nil, err
		}
	}
	if (in.Password != nil || (in.Disabled != nil && *in.Disabled)) && id != c.user.ID {
		if err := a.db.DeleteUserSessions(ctx, id); err != nil {
			return nil, err
		}
	}
	u, err := a.db.User(ctx, id)
	if err != nil {
		return nil, err
	}
	return toUserJSON(u), nil
}

func (a *App) deleteUser(r *http.Request, c *caller) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	if id == c.user.ID {
		return nil, errorf(http.StatusBadRequest, "you cannot delete yourself")
	}
	if err := a.db.DeleteUser(r.Context(), id); err != nil {
		return nil, err
	}
	return map[string]bool{"ok": true}, nil
}

// keyJSON describes a key; the key itself is only ever in createKey's answer.
type keyJSON struct {
	ID                int64     `json:"id"`
	UserID            int64     `json:"user_id"`
	Name              string    `json:"name"`
	Prefix            string    `json:"prefix"`
	RequestsPerMinute int       `json:"requests_per_minute"`
	TokenQuota        int64     `json:"token_quota"`
	TokensUsed        int64     `json:"tokens_used"`
	Created           time.Time `json:"created"`
	LastUsed          time.Time `json:"last_used"`
	Revoked           bool      `json:"revoked"`
}

func toKeyJSON(k db.APIKey) keyJSON {
	return keyJSON{k.ID, k.UserID, k.Name, k.Prefix, k.Limits.RequestsPerMinute, k.Limits.TokenQuota,
		k.TokensUsed, k.Created, k.LastUsed, k.Revoked}
}

func (a *App) keys(r *http.Request, _ *caller) (any, error) {
	list, err := a.db.APIKeys(r.Context(), 0)
	if err != nil {
		return nil, err
	}
	out := make([]keyJSON, len(list))
	for i, k := range list {
		out[i] = toKeyJSON(k)
	}
	return map[string]any{"keys": out}, nil
}

func (a *App) createKey(r *http.Request, c *caller) (any, error) {
	var in struct {
		Name              string `json:"name"`
		UserID            int64  `json:"user_id"` // 0 = the caller
		RequestsPerMinute int    `json:"requests_per_minute"`
		TokenQuota        int64  `json:"token_quota"`
	}
	if err := decode(r, &in); err != nil {
		return nil, err
	}
	if in.RequestsPerMinute < 0 || in.TokenQuota < 0 {
		return nil, errorf(http.StatusBadRequest, "limits cannot be negative")
	}
	if strings.TrimSpace(in.Name) == "" || len(in.Name) > 200 {
		return nil, errorf(http.StatusBadRequest, "the key needs a name")
	}
	if in.UserID == 0 {
		in.UserID = c.user.ID
	}
	if _, err := a.db.User(r.Context(), in.UserID); err != nil {
		return nil, err
	}
	plain, k, err := a.db.CreateAPIKey(r.Context(), in.UserID, strings.TrimSpace(in.Name),
		db.KeyLimits{RequestsPerMinute: in.RequestsPerMinute, TokenQuota: in.TokenQuota})
	if err != nil {
		return nil, err
	}
	return map[string]any{"key": plain, "api_key": toKeyJSON(k)}, nil
}

func (a *App) revokeKey(r *http.Request, _ *caller) (any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return nil, err
	}
	if err := a.db.RevokeAPIKey(r.Context(), id); err != nil {
		return nil, err
	}
	return map[string]bool{"ok": true}, nil
}
