#!/usr/bin/env bash
# make demo-kafka: the Kafka seed pipelines with no Kafka installed.
# bin/kafkadev runs an in-process broker (franz-go's kfake) and produces
# orders; sluice reads them for a few seconds per pipeline and the results
# are read back with sluice itself.
set -euo pipefail
cd "$(dirname "$0")/.."

ADDR=${KAFKA_ADDR:-127.0.0.1:19092}
SECS=${DEMO_SECONDS:-12}
SLUICE=bin/sluice

# run_for N cmd…: run cmd, interrupt it (as Ctrl-C) after N seconds.
run_for() {
  local secs=$1; shift
  local rc=0
  timeout -s INT "$secs" "$@" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && [ "$rc" -ne 130 ]; then
    echo "demo: '$*' failed with status $rc" >&2
    exit "$rc"
  fi
}

rm -rf out/kafka_windowed
mkdir -p out
bin/kafkadev -addr "$ADDR" -topics orders:4,totals:1 -produce orders -rate 300 &
KAFKADEV=$!
trap 'kill "$KAFKADEV" 2>/dev/null || true; wait "$KAFKADEV" 2>/dev/null || true' EXIT
sleep 1

echo
echo "== 1. Kafka -> EMIT EVERY 5s (5s tumbling windows) -> Parquet, for ${SECS}s"
run_for "$SECS" "$SLUICE" --var brokers="$ADDR" -f examples/kafka_to_parquet.sql
echo "-- part files:"
ls out/kafka_windowed
echo "-- windows written (read back from Parquet):"
"$SLUICE" --format table -e "CREATE SOURCE w WITH (connector = 'file', path = 'out/kafka_windowed/', format = 'parquet');
SELECT window_start, category, total, orders FROM w ORDER BY window_start, category;"

echo
echo "== 2. Kafka -> EMIT CHANGES -> Kafka upsert topic 'totals', for 6s"
run_for 6 "$SLUICE" --var brokers="$ADDR" -f examples/kafka_changes_to_kafka.sql
echo "-- the totals topic (every upsert; the last per key is the current total):"
"$SLUICE" --format table -e "CREATE SOURCE totals (category VARCHAR, total BIGINT, orders BIGINT, _key VARCHAR, _offset BIGINT)
  WITH (connector = 'kafka', topic = 'totals', brokers = '$ADDR', format = 'json');
SELECT _key AS category, COUNT(*) AS upserts, MAX(total) AS current_total, MAX(orders) AS orders
FROM totals GROUP BY _key ORDER BY category;"
echo
echo "demo: done"
