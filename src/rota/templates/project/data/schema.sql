-- The table of the data job contacts.import (jobs/contacts.yaml) in data/local.db.
-- `rota init` created data/local.db from this file; data jobs never create tables. To start
-- over, delete data/local.db and run:
--   python3 -c "import sqlite3; sqlite3.connect('data/local.db').executescript(open('data/schema.sql').read())"
CREATE TABLE IF NOT EXISTS contacts (
    email TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    country TEXT,
    since DATE
);
