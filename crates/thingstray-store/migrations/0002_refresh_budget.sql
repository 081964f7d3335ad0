-- The service's refresh budget: one row every replica's claims go through (claims.rs).
-- `tokens` is a bucket of up to a second's worth of refreshes, refilled at the service's
-- rate on the database's clock from `at`; `paused_until` is SmartThings' 429 pause, which
-- is the app's (all its sessions'), not one replica's.
CREATE TABLE thingstray_refresh_budget (
    id            boolean PRIMARY KEY DEFAULT true CHECK (id),
    tokens        double precision NOT NULL DEFAULT 0,
    at            timestamptz,
    paused_until  timestamptz
);
INSERT INTO thingstray_refresh_budget DEFAULT VALUES;
