package exec

// KeyedChangelog is a ChangelogSource whose changes are upserts by a key
// (an upsert-json topic): each value of the key columns has at most one
// live row, and the source's retractions still carry the whole old row,
// so a consumer may read it as a retract stream or apply it by key.
type KeyedChangelog interface {
	ChangelogSource
	// ChangelogKey names the key columns in the schema's spelling; nil
	// when the source has no key.
	ChangelogKey() []string
}
