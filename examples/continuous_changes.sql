-- Seed pipeline (c): the Flink streaming job. A continuous changelog of the
-- running sum per category, printed as it changes (+I, -U, +U).
CREATE SOURCE orders (category VARCHAR, value BIGINT, ts TIMESTAMP)
WITH (connector = 'generator', rows_per_second = '20', max_rows = '100', categories = '3', seed = '5');

SELECT category, SUM(value) AS total FROM orders GROUP BY category EMIT CHANGES;
