-- Index layout for FerretDB v1 on PostgreSQL. Installed by pasokh/infra/postgres.py into the
-- `ferretdb` database at every start (psql -v ON_ERROR_STOP=1; safe to run again: it also brings the
-- indexes of an existing cluster to this layout).
--
-- Why: FerretDB keeps each document in a jsonb column `_jsonb` and, for an index on field f, creates a
-- btree index on the expression (_jsonb -> 'f'). But it filters only by equality, with containment,
--     WHERE _jsonb -> 'f' @> '"value"'
-- which a btree cannot serve, so every find/update by _id or by an indexed field scans the whole
-- table (measured: 47 updates/s at 50,000 documents), and it never sorts by them either (its ORDER BY
-- pushdown is for $natural only). So:
--   1. each distinct key (_jsonb -> 'f') of a table's indexes gets one GIN jsonb_path_ops index, which
--      serves `@>` (the same updates run at ~940/s, flat in the collection size). Not for a time field
--      (named `at` or `…_at`): Pasokh only ever asks for ranges of those, which FerretDB v1 does not push
--      down to PostgreSQL, so such an index would be written on every change and never read. One per
--      key, not one per key of every index: `state` is a key of four notification indexes.
--      fastupdate = off: new entries go straight into the index, not into a pending list that every
--      search must also scan until it is flushed (FerretDB's documents change on every update);
--   2. each non-unique btree FerretDB creates is replaced at once by an index of the same name and
--      keys that holds no entry (`WHERE false`): PostgreSQL never used it, and every insert and update
--      (a new row version, the whole document being one column) paid for it. FerretDB still finds an
--      index of that name to drop (dropIndexes). Unique btrees stay: they enforce the uniqueness.
--
-- How: an event trigger runs after every CREATE INDEX and applies both rules to the table; a second
-- one, after every DROP INDEX, drops the GIN companions no remaining index asks for (dropping a
-- collection drops the table and with it every index). Companions are named
-- <table>_<md5 of the key>_gin; those of earlier versions of this file, <btree index>_gin<n>.

-- The FerretDB tables: outside PostgreSQL's own and the public schema.
CREATE OR REPLACE FUNCTION pasokh_ferretdb_schema(schema_name name) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT schema_name NOT IN ('pg_catalog', 'information_schema', 'public') AND schema_name NOT LIKE 'pg\_%'
$$;

-- The field of a key that is exactly (_jsonb -> 'field'), else NULL.
CREATE OR REPLACE FUNCTION pasokh_key_field(expr text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT substring(expr FROM '^\(?_jsonb -> ''([^'']+)''::text\)?$')
$$;

-- Whether pasokh_layout is at work in this transaction.
CREATE OR REPLACE FUNCTION pasokh_busy() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('pasokh.layout', true), 'off') = 'on'
$$;

-- Rules 1 and 2 for one table.
CREATE OR REPLACE FUNCTION pasokh_layout(tbl oid) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  idx record;
  key record;
  wanted text[] := '{}';
  field text;
BEGIN
  -- The DROP and CREATE INDEX below fire the triggers again; they leave them alone (pasokh_busy).
  PERFORM set_config('pasokh.layout', 'on', true);
  -- Rule 2: non-unique btrees become empty placeholders.
  FOR idx IN SELECT c.relname AS index_name, s.nspname AS schema_name, pg_get_indexdef(i.indexrelid) AS def
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace s ON s.oid = c.relnamespace
               JOIN pg_am am ON am.oid = c.relam
              WHERE i.indrelid = tbl AND am.amname = 'btree' AND NOT i.indisunique AND i.indpred IS NULL
                AND pasokh_ferretdb_schema(s.nspname) LOOP
    EXECUTE format('DROP INDEX %I.%I', idx.schema_name, idx.index_name);
    EXECUTE idx.def || ' WHERE false';
  END LOOP;

  -- Rule 1: one GIN per key field of the btrees (placeholders included), times aside.
  FOR key IN SELECT DISTINCT s.nspname AS schema_name, t.relname AS table_name,
                    pg_get_indexdef(i.indexrelid, n, true) AS expr
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_class t ON t.oid = i.indrelid
               JOIN pg_namespace s ON s.oid = t.relnamespace
               JOIN pg_am am ON am.oid = c.relam
               CROSS JOIN LATERAL generate_series(1, i.indnkeyatts) AS n
              WHERE i.indrelid = tbl AND am.amname = 'btree' AND pasokh_ferretdb_schema(s.nspname) LOOP
    field := pasokh_key_field(key.expr);
    CONTINUE WHEN field IS NULL OR field = 'at' OR field LIKE '%\_at';
    wanted := wanted || key.expr;
    -- 40 + 1 + 10 + 4 characters stay within PostgreSQL's 63-byte names.
    EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON %I.%I USING gin ((%s) jsonb_path_ops) '
                   'WITH (fastupdate = off)',
                   left(key.table_name, 40) || '_' || left(md5(key.expr), 10) || '_gin',
                   key.schema_name, key.table_name, key.expr);
  END LOOP;

  -- Companions no key asks for any more, and those of the earlier naming (one per btree key).
  FOR idx IN SELECT c.relname AS index_name, s.nspname AS schema_name,
                    pg_get_indexdef(i.indexrelid, 1, true) AS expr
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace s ON s.oid = c.relnamespace
               JOIN pg_am am ON am.oid = c.relam
              WHERE i.indrelid = tbl AND am.amname = 'gin' AND c.relname ~ '_gin[0-9]*$' LOOP
    CONTINUE WHEN idx.expr = ANY (wanted) AND idx.index_name !~ '_gin[0-9]+$';
    EXECUTE format('DROP INDEX IF EXISTS %I.%I', idx.schema_name, idx.index_name);
  END LOOP;
  PERFORM set_config('pasokh.layout', 'off', true);
END $$;

CREATE OR REPLACE FUNCTION pasokh_add_gin() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  cmd record;
  tbl oid;
BEGIN
  IF pasokh_busy() THEN
    RETURN;
  END IF;
  FOR cmd IN SELECT objid FROM pg_event_trigger_ddl_commands() WHERE command_tag = 'CREATE INDEX' LOOP
    SELECT i.indrelid INTO tbl
      FROM pg_index i
      JOIN pg_class c ON c.oid = i.indexrelid
      JOIN pg_namespace s ON s.oid = c.relnamespace
      JOIN pg_am am ON am.oid = c.relam
     WHERE i.indexrelid = cmd.objid
       AND am.amname = 'btree' AND i.indpred IS NULL AND pasokh_ferretdb_schema(s.nspname);
    CONTINUE WHEN tbl IS NULL;
    PERFORM pasokh_layout(tbl);
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION pasokh_drop_gin() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
  tbl oid;
BEGIN
  IF pasokh_busy() THEN
    RETURN;
  END IF;
  -- A FerretDB index dropped (dropIndexes): the companions of every table of its schema are brought
  -- in line (which table it was on is no longer in the catalog).
  FOR tbl IN SELECT DISTINCT t.oid
               FROM pg_event_trigger_dropped_objects() d
               JOIN pg_namespace s ON s.nspname = d.schema_name
               JOIN pg_class t ON t.relnamespace = s.oid AND t.relkind = 'r'
              WHERE d.object_type = 'index' AND d.object_name !~ '_gin[0-9]*$'
                AND pasokh_ferretdb_schema(d.schema_name) LOOP
    PERFORM pasokh_layout(tbl);
  END LOOP;
END $$;

DROP EVENT TRIGGER IF EXISTS pasokh_add_gin;
CREATE EVENT TRIGGER pasokh_add_gin ON ddl_command_end WHEN TAG IN ('CREATE INDEX')
  EXECUTE FUNCTION pasokh_add_gin();

DROP EVENT TRIGGER IF EXISTS pasokh_drop_gin;
CREATE EVENT TRIGGER pasokh_drop_gin ON sql_drop WHEN TAG IN ('DROP INDEX')
  EXECUTE FUNCTION pasokh_drop_gin();

-- An existing cluster's tables, brought to this layout.
DO $$
DECLARE
  tbl oid;
BEGIN
  FOR tbl IN SELECT DISTINCT i.indrelid
               FROM pg_index i
               JOIN pg_class c ON c.oid = i.indexrelid
               JOIN pg_namespace s ON s.oid = c.relnamespace
               JOIN pg_am am ON am.oid = c.relam
              WHERE am.amname = 'btree' AND pasokh_ferretdb_schema(s.nspname) LOOP
    PERFORM pasokh_layout(tbl);
  END LOOP;
END $$;
