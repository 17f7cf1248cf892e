-- make run: orders and revenue per category in 1-second event-time windows,
-- over the built-in generator (10,000 orders/s for 6 seconds). Each window is
-- printed once, as the watermark passes its end (EMIT FINAL), so the rows come
-- out live, about one window a second, and two runs print exactly the same
-- thing: the generator's event times and values depend only on its seed.
-- (EMIT EVERY 1s would re-emit running totals on processing time instead, as
-- examples/running_totals.sql does; its snapshots depend on when each second
-- falls, and only its last table is the same on every run.)
CREATE SOURCE orders (
  category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH (connector = 'generator', rows_per_second = '10000', max_rows = '60000',
        categories = '5', max_out_of_orderness = '1s', seed = '7');

SELECT window_start, category, COUNT(*) AS orders, SUM(value) AS total
FROM TUMBLE(orders, ts, INTERVAL '1' SECOND)
GROUP BY window_start, category
EMIT FINAL;
