-- Status pages created through `wac web`'s API (PUT /api/pages/SLUG; wac/pages/stored.py).
-- `page` is the page's JSON form (wac.pages.config.StatusPage.to_json), checked as the
-- targets file's `status_pages:` are before it is written. Pages of the targets file
-- are configuration and are not stored here; a slug of the file wins over a row here.
CREATE TABLE IF NOT EXISTS status_pages (
    slug       text        PRIMARY KEY,
    page       jsonb       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
