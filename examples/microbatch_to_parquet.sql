-- Seed pipeline (b): the Spark Structured Streaming job. A stream, summed per
-- category in 5-second event-time windows, appended to Parquet every 5s as
-- the watermark closes windows (Spark's append output mode).
CREATE SOURCE orders (
  category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (connector = 'generator', rows_per_second = '2000', max_rows = '30000', categories = '4', seed = '3');

-- mode = 'overwrite': a re-run replaces the folder's part files, and its
-- manifest (out/windowed/_sluice_manifest.json) lists only the committed ones,
-- so reading it back never counts a run twice.
CREATE SINK windowed WITH (connector = 'file', path = 'out/windowed/', format = 'parquet',
                           mode = 'overwrite')
AS SELECT window_start, category, SUM(value) AS total
FROM TUMBLE(orders, ts, INTERVAL '5' SECOND)
GROUP BY window_start, category
EMIT EVERY 5s;

CREATE SOURCE windowed_back WITH (connector = 'file', path = 'out/windowed/', format = 'parquet');
SELECT category, SUM(total) AS total FROM windowed_back GROUP BY category ORDER BY category;
