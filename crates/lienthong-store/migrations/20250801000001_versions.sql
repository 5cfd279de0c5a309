-- The store's tables, all in schema lienthong_store (created by Store::connect before the
-- migrations run, so that the store shares a database with other tables without touching them).
--
-- Every version of every record is kept: a new version closes the current one (valid_to = the
-- new one's valid_from), so "what did this record say on a given date" is one indexed lookup.
-- The current version of a record is the one with valid_to NULL; a deletion at the source is a
-- version of its own with deleted = true.

CREATE SEQUENCE lienthong_store.version_seq;

CREATE TABLE lienthong_store.versions (
    -- person, civil_servant, organisation, administrative_unit, social_insurance
    entity          text        NOT NULL,
    -- The canonical record id (for administrative units: the Kafka record key).
    record_id       text        COLLATE "C" NOT NULL,
    version_id      bigint      NOT NULL DEFAULT nextval('lienthong_store.version_seq'),
    -- Query columns, derived from the body when the version is stored.
    -- The register's personal ID when the resolver matched, else the one the record stated.
    personal_id     text        COLLATE "C",
    organisation_id text        COLLATE "C",
    -- The full name folded (lower case, no tone marks, đ → d) for prefix search.
    name_folded     text        COLLATE "C" NOT NULL DEFAULT '',
    birth_date      date,
    -- Organisation and administrative-unit code.
    code            text        COLLATE "C",
    -- The whole protobuf value as it came (ResolvedPerson, ResolvedCivilServant, Organisation,
    -- AdministrativeUnit, SocialInsuranceRecord); NULL for a version written by a tombstone.
    body            bytea,
    source_position text,
    -- Stable across redelivery: a record whose key is stored already changes nothing.
    idempotency_key text        COLLATE "C" NOT NULL,
    valid_from      timestamptz NOT NULL,
    valid_to        timestamptz,
    deleted         boolean     NOT NULL,
    kafka_topic     text,
    kafka_partition integer,
    kafka_offset    bigint,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, record_id, version_id),
    UNIQUE (entity, idempotency_key),
    CHECK (valid_to IS NULL OR valid_to >= valid_from),
    CHECK (deleted OR body IS NOT NULL)
) PARTITION BY LIST (entity);

CREATE TABLE lienthong_store.person PARTITION OF lienthong_store.versions
    FOR VALUES IN ('person');
CREATE TABLE lienthong_store.civil_servant PARTITION OF lienthong_store.versions
    FOR VALUES IN ('civil_servant');
CREATE TABLE lienthong_store.organisation PARTITION OF lienthong_store.versions
    FOR VALUES IN ('organisation');
CREATE TABLE lienthong_store.administrative_unit PARTITION OF lienthong_store.versions
    FOR VALUES IN ('administrative_unit');
CREATE TABLE lienthong_store.social_insurance PARTITION OF lienthong_store.versions
    FOR VALUES IN ('social_insurance');

-- At most one current version per record.
CREATE UNIQUE INDEX versions_current ON lienthong_store.versions (entity, record_id)
    WHERE valid_to IS NULL;

-- Lookups read current, live versions only; these partial indexes hold just those.
CREATE INDEX person_personal_id ON lienthong_store.person (personal_id)
    WHERE valid_to IS NULL AND NOT deleted;
CREATE INDEX civil_servant_personal_id ON lienthong_store.civil_servant (personal_id)
    WHERE valid_to IS NULL AND NOT deleted;
-- Search: by name and by organisation in the page order (name_folded, record_id), so that a
-- page is one index range scan even when thousands match; a birth date matches a few dozen
-- people in a million, whom sorting costs nothing, so its index holds the date alone (every
-- index is paid for at each insert).
CREATE INDEX civil_servant_by_name ON lienthong_store.civil_servant (name_folded, record_id)
    WHERE valid_to IS NULL AND NOT deleted;
CREATE INDEX civil_servant_by_organisation
    ON lienthong_store.civil_servant (organisation_id, name_folded, record_id)
    WHERE valid_to IS NULL AND NOT deleted;
CREATE INDEX civil_servant_by_birth_date ON lienthong_store.civil_servant (birth_date)
    WHERE valid_to IS NULL AND NOT deleted;
CREATE INDEX organisation_code ON lienthong_store.organisation (code)
    WHERE valid_to IS NULL AND NOT deleted;
CREATE INDEX administrative_unit_code ON lienthong_store.administrative_unit (code)
    WHERE valid_to IS NULL AND NOT deleted;
CREATE INDEX social_insurance_personal_id ON lienthong_store.social_insurance (personal_id)
    WHERE valid_to IS NULL AND NOT deleted;

-- Personal IDs the population register re-issued: old number → the number that replaced it.
-- A chain (A → B → C) is followed at query time.
CREATE TABLE lienthong_store.superseded_ids (
    old_id          text        COLLATE "C" PRIMARY KEY,
    current_id      text        COLLATE "C" NOT NULL,
    -- The register's change time (PopulationRecord.updated_at): when two changes claim one old
    -- number, the later one wins whatever order they are read in.
    changed_at      timestamptz,
    kafka_topic     text,
    kafka_partition integer,
    kafka_offset    bigint,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (old_id <> current_id)
);

CREATE INDEX superseded_ids_current ON lienthong_store.superseded_ids (current_id);
