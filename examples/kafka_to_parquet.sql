-- Seed pipeline over Kafka: orders from a Kafka topic, summed per category
-- in 5-second event-time windows, appended to Parquet every 5s as the
-- watermark closes windows. Runs until Ctrl-C; what was committed stays.
--
--   bin/kafkadev -addr 127.0.0.1:9092 -topics orders:4 -produce orders -rate 200 &
--   bin/sluice --var brokers=127.0.0.1:9092 -f examples/kafka_to_parquet.sql
--
-- Each partition has its own watermark; 'watermark.idle_timeout' keeps a
-- partition that stops receiving orders from holding the others back.
CREATE SOURCE orders (
  category VARCHAR, value BIGINT, ts TIMESTAMP,
  WATERMARK FOR ts AS ts - INTERVAL '1' SECOND
) WITH (connector = 'kafka', topic = 'orders', brokers = '${brokers}', format = 'json',
        'scan.startup.mode' = 'earliest', 'watermark.idle_timeout' = '2s');

CREATE SINK windowed WITH (connector = 'file', path = 'out/kafka_windowed/', format = 'parquet', mode = 'overwrite')
AS SELECT window_start, category, SUM(value) AS total, COUNT(*) AS orders
FROM TUMBLE(orders, ts, INTERVAL '5' SECOND)
GROUP BY window_start, category
EMIT EVERY 5s;
