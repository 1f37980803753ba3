-- Minutes whose rollups are out of date because rows of them reached `checks` late (a
-- store catching up after an outage). The store adds the minutes of its late rows in
-- the same transaction as the rows; each rollup pass recomputes the minutes (and the
-- hours and days they are part of) and deletes the marks it has seen. Insert-only from
-- the store's side, no key: a store never waits on the rollup, and a minute marked
-- twice is recomputed once.
CREATE TABLE rollup_dirty (
    minute timestamptz NOT NULL
);
