-- Results of every probe (tcp, tls, dns, icmp and push beside http): which probe made
-- the row (`probe`; NULL means http, as in a message without the field) and what it saw
-- beyond the common columns (`details`: the message's object, bounded by the v1 model:
-- DNS answers and rcode, TLS version, cipher and verification, ICMP loss and round
-- trips, the start of a TCP reply). Both NULL on the rows of HTTP checks, so those rows
-- are no larger. Adding nullable columns without a default rewrites no partition.
ALTER TABLE checks ADD COLUMN probe text, ADD COLUMN details jsonb;

-- The current status names the probe of the target's newest check (NULL: http).
ALTER TABLE targets ADD COLUMN last_probe text;
