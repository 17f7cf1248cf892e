package repl

import (
	"context"
	"errors"

	"github.com/sluicesql/sluice"
)

// Config configures the interactive shell.
type Config struct {
	// Format is the initial output format: table, csv or json.
	Format string
}

// Run starts the interactive shell on the terminal.
func Run(ctx context.Context, db *sluice.DB, cfg Config) error {
	return errors.New("the interactive shell is not built yet")
}
