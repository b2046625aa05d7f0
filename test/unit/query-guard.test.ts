import { refusedQuery } from '../../src/verify/fingerprint/query-guard.js'

describe('validation queries: reads only', () => {
  test.each([
    'SELECT status, count(*) FROM shop.orders GROUP BY status',
    "select 'pg_terminate_backend(1)' AS text_not_a_call",
    "SELECT 1 -- pg_read_file('/etc/passwd')",
    'SELECT /* lo_import( /* nested */ ) */ 1',
    'SELECT $q$ dblink_exec( $q$ AS body',
    "SELECT E'it\\'s pg_ls_dir(' AS escaped",
    'SELECT "pg_read_file" FROM audit_columns',
    'WITH t AS (SELECT 1) SELECT * FROM t',
    '(SELECT 1) UNION (SELECT 2)',
    'VALUES (1), (2)',
    'TABLE shop.orders',
    'SELECT lock, lo_price FROM shop.orders'
  ])('%s runs', (sql) => {
    expect(refusedQuery(sql)).toBeUndefined()
  })

  test.each([
    ['SELECT pg_terminate_backend(pid) FROM pg_stat_activity', 'it calls pg_terminate_backend'],
    ['SELECT pg_catalog.pg_cancel_backend(42)', 'it calls pg_cancel_backend'],
    ['SELECT "pg_read_file"(\'/etc/passwd\')', 'it calls pg_read_file'],
    ["select PG_READ_BINARY_FILE ('x')", 'it calls pg_read_binary_file'],
    ["SELECT * FROM pg_ls_dir('.')", 'it calls pg_ls_dir'],
    ["SELECT (pg_stat_file('postgresql.conf')).size", 'it calls pg_stat_file'],
    ["SELECT lo_export(16384, '/tmp/x')", 'it calls lo_export'],
    ["SELECT * FROM dblink('host=evil', 'SELECT 1') AS t(x int)", 'it calls dblink'],
    ["SELECT query_to_xml('SELECT pg_terminate_backend(1)', true, true, '')", 'it calls query_to_xml'],
    ['SELECT pg_advisory_lock(1)', 'it calls pg_advisory_lock'],
    ['SELECT U&"pg_\\0072ead_file"(\'/etc/passwd\')', 'it calls pg_read_file'],
    ["SELECT * FROM pg_logical_slot_get_changes('sync', NULL, NULL)", 'it calls pg_logical_slot_get_changes'],
    ["SELECT pg_drop_replication_slot('sync')", 'it calls pg_drop_replication_slot'],
    ["SELECT U&\"pg_!0072ead_file\" UESCAPE '!' ('x')", 'it uses UESCAPE'],
    ["COPY (SELECT 1) TO PROGRAM 'id'", 'it starts with COPY'],
    ["COPY t FROM '/etc/passwd'", 'it starts with COPY'],
    ['LOCK TABLE shop.orders IN ACCESS EXCLUSIVE MODE', 'it starts with LOCK'],
    ['DO $$ BEGIN PERFORM 1; END $$', 'it starts with DO'],
    ['-- only a comment', 'it starts with nothing']
  ])('%s is refused', (sql, why) => {
    expect(refusedQuery(sql)).toContain(why)
  })
})
