-- Seed pipeline (a): the Spark batch job. CSV in, sum per category, Parquet out.
CREATE SOURCE sales WITH (connector = 'file', path = 'testdata/data/sales.csv', format = 'csv');

-- mode = 'overwrite': a re-run replaces the file atomically (the default,
-- 'error', refuses to write over it).
CREATE SINK totals WITH (connector = 'file', path = 'out/totals.parquet', format = 'parquet',
                         mode = 'overwrite')
AS SELECT category, SUM(value) AS total FROM sales GROUP BY category;

-- Read the result back.
CREATE SOURCE totals_back WITH (connector = 'file', path = 'out/totals.parquet', format = 'parquet');
SELECT category, total FROM totals_back ORDER BY category;
