package api

import (
	"os"
	"testing"

	"pochta.dev/pochta/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopAll() // the PostgreSQL server of TestPostgres, if it started one
	os.Exit(code)
}
