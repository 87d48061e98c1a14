package store

// OpenUpTo opens a database with the migrations up to version upTo only.
var OpenUpTo = open
