-- Micro-batch: a live running total per category over the built-in generator.
-- 10,000 orders/s for 6 seconds; the table is re-emitted every second.
CREATE SOURCE orders (
  category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '2' SECOND
) WITH (connector = 'generator', rows_per_second = '10000', max_rows = '60000',
        categories = '5', max_out_of_orderness = '1s', seed = '7');

SELECT category, COUNT(*) AS orders, SUM(value) AS total
FROM orders
GROUP BY category
EMIT EVERY 1s FULL;
