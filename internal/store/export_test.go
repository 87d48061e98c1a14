package store

// OpenUpTo opens a database with the migrations up to version upTo only.
var OpenUpTo = open

// SetFrequentMatches sets the count of full-text matches from which a
// search walks the date index, until the returned function restores it.
func SetFrequentMatches(n int) func() {
	old := frequentMatches
	frequentMatches = n
	return func() { frequentMatches = old }
}

// SetFirstWalkChunk sets how many index entries the first chunk of a walk
// on SQLite takes, until the returned function restores it.
func SetFirstWalkChunk(n int) func() {
	old := firstWalkChunk
	firstWalkChunk = n
	return func() { firstWalkChunk = old }
}

// MapError is mapError, for tests of driver errors.
var MapError = mapError

// SeeListStatements gives see each message list's statement (with ?
// placeholders) and arguments before it runs, until the returned function
// restores the store's own behaviour.
func SeeListStatements(see func(statement string, args []any)) func() {
	old := listStatementSeen
	listStatementSeen = see
	return func() { listStatementSeen = old }
}
