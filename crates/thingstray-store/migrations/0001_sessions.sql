-- ThingsTray's session store, version 1. Applied once, in a transaction, by the first
-- replica that starts (under an advisory lock, so replicas starting together do not race).

-- Settings and secrets of the service: the OAuth-In app (client id, redirect URI, scopes),
-- the ST Schema connector, the service secret. `value` is plain JSON (never a secret);
-- `secret` is sealed with the operator's key, its row name as associated data.
CREATE TABLE thingstray_settings (
    name        text PRIMARY KEY,
    value       text,
    secret      bytea,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per user's session. `tokens` is the sealed pair (access and refresh token,
-- expiry, scope) with the row's id as associated data: a sealed pair copied into another
-- row does not open. The plain columns say when work is due, never what the tokens are.
CREATE TABLE thingstray_sessions (
    id              text PRIMARY KEY,            -- the installed app id (OAuth-In, ST Schema)
    kind            text NOT NULL CHECK (kind IN ('oauth', 'schema')),
    name            text,                        -- the operator's label, optional
    location_id     text,
    schema_urls     text,                        -- ST Schema: the grant's callbackUrls, JSON
    tokens          bytea,
    expires_at      timestamptz,
    refresh_due     timestamptz,
    status          text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'ended')),
    ended           text,                        -- why SmartThings ended it
    claimed_until   timestamptz,                 -- a replica's claim on a due refresh
    claimed_by      text,
    failures        integer NOT NULL DEFAULT 0,
    rotations       bigint NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX thingstray_sessions_due ON thingstray_sessions (refresh_due) WHERE status = 'active';
CREATE INDEX thingstray_sessions_location ON thingstray_sessions (location_id);

-- Sign-ins in progress: any replica starts one, any finishes it. The exported sign-in
-- (state, PKCE verifier) is sealed; a row lives 30 minutes and is used once.
CREATE TABLE thingstray_sign_ins (
    state_hash  text PRIMARY KEY,                -- SHA-256 of the state, hex
    sign_in     bytea NOT NULL,
    name        text,
    expires_at  timestamptz NOT NULL
);
