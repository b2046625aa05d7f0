import type pg from 'pg'
import { withClient } from './testbed.js'

// What the kill-and-resume tests share. The five tables they copy: two big ones (over a pair's share of the rows, so
// the stream splits the first into block ranges, and loaded beside the dump on the dump path), a
// mid one referencing a big one, and small ones, one referencing a big one, so loading a big table
// again must take their foreign keys along.
export const TABLES: Record<string, number> = {
  big_a: 300_000,
  big_b: 200_000,
  mid: 60_000,
  small_a: 2_000,
  small_b: 500
}
export const SOURCE_SQL = `
  CREATE TABLE big_a (id int PRIMARY KEY, v text, w text);
  INSERT INTO big_a SELECT g, md5(g::text), md5((g * 3)::text) FROM generate_series(1, ${TABLES.big_a}) g;
  CREATE TABLE big_b (id int PRIMARY KEY, v text, w text);
  INSERT INTO big_b SELECT g, md5(g::text), md5((g * 5)::text) FROM generate_series(1, ${TABLES.big_b}) g;
  CREATE TABLE mid (id int PRIMARY KEY, a_id int REFERENCES big_a, v text);
  INSERT INTO mid SELECT g, g, md5(g::text) FROM generate_series(1, ${TABLES.mid}) g;
  CREATE TABLE small_a (id int PRIMARY KEY, b_id int REFERENCES big_b);
  INSERT INTO small_a SELECT g, g FROM generate_series(1, ${TABLES.small_a}) g;
  CREATE TABLE small_b (id serial PRIMARY KEY, note text);
  INSERT INTO small_b (note) SELECT 'n' || g FROM generate_series(1, ${TABLES.small_b}) g;
  CREATE INDEX big_a_v ON big_a (v); CREATE INDEX big_b_w ON big_b (w);`

/** Resolves once the killed run's sessions have left the target database: nothing of it can commit after. */
export async function sessionsGone(targetSuperUrl: (database: string) => string, database: string): Promise<void> {
  for (;;) {
    const { rows } = await withClient(targetSuperUrl('postgres'), (client: pg.Client) =>
      client.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1', [database])
    )
    if (rows[0].n === 0) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
