-- The audit log of lookups and deliveries: who read what about whom, when, for what purpose, and
-- what they got. Append-only, and hash-chained so that a changed or deleted row is detected even
-- when the triggers below were dropped (see crates/lienthong-audit/src/chain.rs).
--
-- This migration runs with search_path = lienthong_audit (the schema is created before it), so
-- sqlx's own _sqlx_migrations table lives in this schema too and never meets another crate's.

CREATE TABLE lienthong_audit.events (
    -- Gapless: assigned by the appender while it holds the chain head's row lock.
    seq          bigint      PRIMARY KEY CHECK (seq > 0),
    at           timestamptz NOT NULL,
    partner      text        NOT NULL,
    method       text        NOT NULL,
    -- HMAC-SHA256 of the personal ID under the configured subject key; NULL when the call had no
    -- subject. Never the ID itself.
    subject_hash text,
    -- Field paths returned to the partner.
    fields       text[]      NOT NULL,
    purpose      text        NOT NULL,
    result       text        NOT NULL,
    detail       text        NOT NULL,
    prev_hash    bytea       NOT NULL CHECK (octet_length(prev_hash) = 32),
    hash         bytea       NOT NULL CHECK (octet_length(hash) = 32)
);

-- "What did this partner read, when" and "who read about this person".
CREATE INDEX events_partner_at ON lienthong_audit.events (partner, at);
CREATE INDEX events_subject ON lienthong_audit.events (subject_hash) WHERE subject_hash IS NOT NULL;

-- One row: the last seq appended and its hash. Appenders lock it (FOR UPDATE) to assign the next
-- seq, which serialises every appender of every process into one chain; verification also
-- compares it with the last row, so deleting rows at the end is detected.
CREATE TABLE lienthong_audit.chain_head (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    seq        bigint      NOT NULL CHECK (seq >= 0),
    hash       bytea       NOT NULL CHECK (octet_length(hash) = 32),
    updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO lienthong_audit.chain_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'));

CREATE FUNCTION lienthong_audit.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'lienthong_audit.% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON lienthong_audit.events
    FOR EACH ROW EXECUTE FUNCTION lienthong_audit.refuse_change();

CREATE TRIGGER events_no_truncate
    BEFORE TRUNCATE ON lienthong_audit.events
    FOR EACH STATEMENT EXECUTE FUNCTION lienthong_audit.refuse_change();

-- The head only moves forward, and is never removed.
CREATE FUNCTION lienthong_audit.head_moves_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'lienthong_audit.chain_head only moves forward: % -> % refused', OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER chain_head_forward
    BEFORE UPDATE ON lienthong_audit.chain_head
    FOR EACH ROW EXECUTE FUNCTION lienthong_audit.head_moves_forward();

CREATE TRIGGER chain_head_kept
    BEFORE DELETE ON lienthong_audit.chain_head
    FOR EACH ROW EXECUTE FUNCTION lienthong_audit.refuse_change();

CREATE TRIGGER chain_head_no_truncate
    BEFORE TRUNCATE ON lienthong_audit.chain_head
    FOR EACH STATEMENT EXECUTE FUNCTION lienthong_audit.refuse_change();
