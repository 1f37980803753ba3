-- Notices of the public status pages (wac/pages): announcements and maintenance posts.
-- Pages themselves are configuration (the targets file's `status_pages:`), so `page`
-- is the slug, not a foreign key: a notice of a page that is gone is simply not shown.
CREATE TABLE IF NOT EXISTS status_notices (
    id         bigserial   PRIMARY KEY,
    page       text        NOT NULL,
    kind       text        NOT NULL CHECK (kind IN ('info', 'maintenance')),
    title      text        NOT NULL CHECK (length(title) BETWEEN 1 AND 120),
    body       text        NOT NULL DEFAULT '' CHECK (length(body) <= 5000),
    starts     timestamptz,
    ends       timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (starts IS NULL OR ends IS NULL OR ends > starts)
);
CREATE INDEX IF NOT EXISTS status_notices_page ON status_notices (page, ends);
