-- Seed pipeline (a): the Spark batch job. CSV in, sum per category, Parquet out.
CREATE SOURCE sales WITH (connector = 'file', path = 'testdata/data/sales.csv', format = 'csv');

CREATE SINK totals WITH (connector = 'file', path = 'out/totals.parquet', format = 'parquet')
AS SELECT category, SUM(value) AS total FROM sales GROUP BY category;

-- Read the result back.
CREATE SOURCE totals_back WITH (connector = 'file', path = 'out/totals.parquet', format = 'parquet');
SELECT category, total FROM totals_back ORDER BY category;
