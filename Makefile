# sluice — see README.md. `make run` starts the streaming demo on the
# built-in generator; `make test` is what CI runs.
GO ?= go
BIN := bin/sluice

.PHONY: build run test bench lint demo-batch demo-microbatch demo-changes demo-kafka

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/sluice

run: build
	./$(BIN) -f examples/demo.sql

test:
	$(GO) vet ./...
	$(GO) test -race ./...

bench: build
	$(GO) run ./cmd/sluicebench

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
