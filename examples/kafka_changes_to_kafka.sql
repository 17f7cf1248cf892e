-- Seed pipeline over Kafka: a continuous changelog of the running total per
-- category, written to the topic `totals` as upserts keyed by category (the
-- compacted-topic convention: the latest record per key is the current
-- value, a record with no value deletes the key). Runs until Ctrl-C.
--
--   bin/kafkadev -addr 127.0.0.1:9092 -topics orders:4,totals:1 -produce orders -rate 200 &
--   bin/sluice --var brokers=127.0.0.1:9092 -f examples/kafka_changes_to_kafka.sql
--
-- For exactly-once output add 'group.id' to the source and
-- delivery = 'exactly-once', 'transactional.id' = 'totals-1' to the sink.
CREATE SOURCE orders (category VARCHAR, value BIGINT, ts TIMESTAMP)
WITH (connector = 'kafka', topic = 'orders', brokers = '${brokers}', format = 'json');

CREATE SINK totals WITH (connector = 'kafka', topic = 'totals', brokers = '${brokers}',
                         format = 'json', key = 'category')
AS SELECT category, SUM(value) AS total, COUNT(*) AS orders
FROM orders GROUP BY category
EMIT CHANGES;
