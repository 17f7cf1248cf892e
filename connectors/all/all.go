// Package all registers every connector, so the engine gets file,
// blackhole, datagen, generator, kafka, nexmark and stdout with one blank import.
package all

import (
	// Each import registers its connector in init.
	_ "github.com/sluicesql/sluice/connectors/blackhole"
	_ "github.com/sluicesql/sluice/connectors/datagen"
	_ "github.com/sluicesql/sluice/connectors/file"
	_ "github.com/sluicesql/sluice/connectors/generator"
	_ "github.com/sluicesql/sluice/connectors/kafka"
	_ "github.com/sluicesql/sluice/connectors/nexmark"
	_ "github.com/sluicesql/sluice/connectors/stdout"
)
