# sluice — see README.md. `make run` starts the streaming demo on the
# built-in generator; `make test` is what CI runs.
GO ?= go
BIN := bin/sluice

.PHONY: build run test bench bench-quick bench-nexmark lint crashtest soak demo-batch demo-microbatch demo-changes demo-kafka

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/sluice

run: build
	./$(BIN) -f examples/demo.sql

test:
	$(GO) vet ./...
	$(GO) test -race -timeout 60m ./...

# bench: the workload suite (cmd/sluicebench) against DuckDB, in one table;
# BENCH_FLAGS adds flags (e.g. -groupby for the group-by table with the Go
# loop, -workloads topn-10,hop-10s/1s, -rows 50000000).
bench:
	$(GO) run ./cmd/sluicebench $(BENCH_FLAGS)
	$(GO) test -run '^$$' -bench ValueDecode ./connectors/kafka

# bench-quick: the same workloads, inputs and thread counts on 500K rows, 2
# runs (under two minutes on an idle 2-core machine).
bench-quick:
	$(GO) run ./cmd/sluicebench -quick $(BENCH_FLAGS)

# bench-nexmark: every runnable Nexmark query (bench/nexmark/q*.sql) over
# NEXMARK_EVENTS events (default 1000000) into a blackhole sink, in events
# per CPU-second.
bench-nexmark:
	$(GO) test -run '^$$' -bench Nexmark -benchtime 1x ./bench/nexmark

# crashtest: kill -9 / SIGTERM / SIGINT every pipeline at random and at
# chosen moments (>= 20 kills each), restart it on its checkpoint directory,
# and compare the final output with a clean run's. CRASHTEST_FLAGS adds
# flags, e.g. CRASHTEST_FLAGS='-seed 123 -run gen- -v' to replay a failure.
crashtest: build
	$(GO) run ./cmd/crashtest -sluice $(BIN) $(CRASHTEST_FLAGS)

# soak: a TUMBLE and a HOP aggregate over the generator at 200k rows/s each
# and an interval join of Nexmark bids and auctions at 200k events/s,
# for 10 minutes, sampling throughput, p99 emit latency and RSS every 10 s;
# fails when RSS grows past its bound. SOAK_FLAGS='-duration 2m' shortens it.
soak: build
	$(GO) run ./cmd/soak -sluice $(BIN) $(SOAK_FLAGS)

lint:
	gofmt -l . | tee /dev/stderr | (! read)
	$(GO) vet ./...

demo-batch: build
	./$(BIN) -f examples/batch_csv_to_parquet.sql

demo-microbatch: build
	./$(BIN) -f examples/microbatch_to_parquet.sql

demo-changes: build
	./$(BIN) -f examples/continuous_changes.sql

demo-kafka:
	$(GO) build -o bin/kafkadev ./cmd/kafkadev
	$(MAKE) build
	bash examples/kafka_demo.sh
