-- How far each audit topic has the chain. Appends commit to lienthong_audit.events only; a
-- publisher copies committed records to the topic in seq order and then moves its row here, in
-- one transaction that holds the row's lock for the whole batch, so one publisher at a time
-- (of any process) feeds a topic and a record committed but not yet published is published
-- after a broker outage or a crash, by whichever process configures that topic next.
CREATE TABLE lienthong_audit.topic_progress (
    topic      text        PRIMARY KEY,
    -- Every record with seq <= this one was acknowledged by the topic's broker.
    seq        bigint      NOT NULL CHECK (seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Progress only moves forward: a publisher that moved it back would republish what the topic
-- already has, and one that skipped ahead is refused by nothing here but noticed by consumers
-- as a gap in seq.
CREATE FUNCTION lienthong_audit.progress_moves_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.seq < OLD.seq THEN
        RAISE EXCEPTION 'lienthong_audit.topic_progress of % only moves forward: % -> % refused',
            OLD.topic, OLD.seq, NEW.seq
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END
$$;

CREATE TRIGGER topic_progress_forward
    BEFORE UPDATE ON lienthong_audit.topic_progress
    FOR EACH ROW EXECUTE FUNCTION lienthong_audit.progress_moves_forward();
