-- Initial schema (SQLite). Keep in step with 0001_init.pg.sql: same tables,
-- columns and indexes; only the types differ. Times are Unix microseconds.

CREATE TABLE users (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	name TEXT NOT NULL,
	-- lower-cased name of a web user (unique); NULL for bot users
	name_key TEXT,
	password_hash TEXT NOT NULL DEFAULT '',
	admin INTEGER NOT NULL DEFAULT 0,
	platform TEXT NOT NULL DEFAULT '',
	external_id TEXT NOT NULL DEFAULT '',
	disabled INTEGER NOT NULL DEFAULT 0,
	created BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_name_key ON users (name_key);
CREATE UNIQUE INDEX users_platform ON users (platform, external_id) WHERE platform <> '';

CREATE TABLE sessions (
	id TEXT PRIMARY KEY,
	token_hash TEXT NOT NULL UNIQUE,
	user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf TEXT NOT NULL,
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

CREATE TABLE setup_tokens (
	token_hash TEXT PRIMARY KEY,
	expires BIGINT NOT NULL
);

CREATE TABLE api_keys (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	name TEXT NOT NULL,
	prefix TEXT NOT NULL,
	key_hash TEXT NOT NULL UNIQUE,
	requests_per_minute INTEGER NOT NULL DEFAULT 0,
	token_quota BIGINT NOT NULL DEFAULT 0,
	tokens_used BIGINT NOT NULL DEFAULT 0,
	created BIGINT NOT NULL,
	last_used BIGINT NOT NULL DEFAULT 0,
	revoked INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_user ON api_keys (user_id);

CREATE TABLE conversations (
	id TEXT PRIMARY KEY,
	owner_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	title TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	system TEXT NOT NULL DEFAULT '',
	scenario TEXT NOT NULL DEFAULT '',
	settings TEXT NOT NULL DEFAULT '',
	source TEXT NOT NULL DEFAULT 'web',
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL
);
CREATE INDEX conversations_owner ON conversations (owner_id, updated);
CREATE INDEX conversations_updated ON conversations (updated);

CREATE TABLE messages (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	role TEXT NOT NULL,
	content TEXT NOT NULL DEFAULT '',
	reasoning TEXT NOT NULL DEFAULT '',
	tool_calls TEXT NOT NULL DEFAULT '',
	model TEXT NOT NULL DEFAULT '',
	prompt_tokens INTEGER NOT NULL DEFAULT 0,
	completion_tokens INTEGER NOT NULL DEFAULT 0,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	status TEXT NOT NULL DEFAULT 'complete',
	error TEXT NOT NULL DEFAULT '',
	-- the writing process (DB handle) of a streaming message, to tell a live stream from a dead one
	instance BIGINT NOT NULL DEFAULT 0,
	created BIGINT NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, id);
CREATE INDEX messages_streaming ON messages (status) WHERE status = 'streaming';

CREATE TABLE presets (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	-- NULL for built-in presets everyone sees
	owner_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
	category TEXT NOT NULL,
	name TEXT NOT NULL,
	prompt TEXT NOT NULL,
	created BIGINT NOT NULL
);
CREATE INDEX presets_owner ON presets (owner_id);

CREATE TABLE settings (
	key TEXT PRIMARY KEY,
	value TEXT NOT NULL
);
