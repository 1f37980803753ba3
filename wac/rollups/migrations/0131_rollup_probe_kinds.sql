-- The error kinds of the probes beside HTTP (wac/result.py, ERROR_KINDS): ICMP's lost
-- echo requests (`packet_loss`), failed assertions (`assertion`) and missed heartbeats
-- (`heartbeat`) get a failure counter of their own in every tier, as the other kinds
-- have. Nullable, no default: adding them rewrites no table, and the buckets rolled up
-- before read as none of these (they counted such rows, if any, in fail_other).
ALTER TABLE rollup_minute
    ADD COLUMN fail_packet_loss integer,
    ADD COLUMN fail_assertion integer,
    ADD COLUMN fail_heartbeat integer;
ALTER TABLE rollup_hour
    ADD COLUMN fail_packet_loss integer,
    ADD COLUMN fail_assertion integer,
    ADD COLUMN fail_heartbeat integer;
ALTER TABLE rollup_day
    ADD COLUMN fail_packet_loss integer,
    ADD COLUMN fail_assertion integer,
    ADD COLUMN fail_heartbeat integer;
