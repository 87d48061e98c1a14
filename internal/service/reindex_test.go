package service_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/service/servicetest"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"

	"golang.org/x/text/encoding/charmap"
)

// Mail stored before the search learnt word forms is found by them once
// the background reindex has parsed its sources again, on both backends.
func TestReindexSearchParsesStoredSources(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			dsn := ""
			if backend == "postgres" {
				dsn = testpeer.PostgresDSN(t)
			}
			env := servicetest.New(t, dsn)
			ctx := context.Background()
			box, err := env.Service.CreateMailbox(ctx, env.Admin, service.MailboxInput{Type: ptr("smtp"), Name: ptr("Inbound"), Port: ptr(2525)})
			if err != nil {
				t.Fatal(err)
			}
			var ids []int64
			for i := range 5 {
				raw := fmt.Sprintf("Subject: =?utf-8?b?0KHRh9GR0YI=?= %d\r\nFrom: Anna <anna@example.com>\r\nMIME-Version: 1.0\r\n"+
					"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain; charset=koi8-r\r\n\r\n%s\r\n"+
					"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"report-%d.pdf\"\r\n\r\nxyz\r\n--b--\r\n",
					i, koi8("Продление лицензии"), i)
				result, err := env.Service.ImportMessage(ctx, env.Admin, box.ID, strings.NewReader(raw), "test")
				if err != nil {
					t.Fatal(err)
				}
				ids = append(ids, result.ID)
			}
			search := func(query string) []int64 {
				t.Helper()
				page, err := env.Service.Messages(ctx, env.Admin, store.MessageFilter{Query: query}, store.MessageSort{Column: "id", Ascending: true}, "", 100)
				if err != nil {
					t.Fatal(err)
				}
				var found []int64
				for _, m := range page.Items {
					found = append(found, m.ID)
				}
				return found
			}
			queries := []string{"счет лицензия", "filename:report", "from:anna", "лицензий"}
			for _, query := range queries {
				if got := search(query); !slices.Equal(got, ids) {
					t.Fatalf("%q before the reindex test: %v, want %v", query, got, ids)
				}
			}
			// As after migration 0022: the old entries gone, every message
			// to do again.
			reset := `DELETE FROM ` + store.SearchTable
			if backend == "postgres" {
				reset = `UPDATE messages SET search = NULL`
			}
			if _, err := env.Store.DB().Exec(reset); err != nil {
				t.Fatal(err)
			}
			if _, err := env.Store.DB().Exec(env.Store.Rebind(`UPDATE search_reindex SET below_id = ?`), ids[4]+1); err != nil {
				t.Fatal(err)
			}
			if got := search("счет"); len(got) != 0 {
				t.Fatalf("found %v with the index emptied", got)
			}
			if err := env.Service.ReindexSearch(ctx); err != nil {
				t.Fatal(err)
			}
			for _, query := range queries {
				if got := search(query); !slices.Equal(got, ids) {
					t.Errorf("%q after the reindex: %v, want %v", query, got, ids)
				}
			}
			// Done: a second run has nothing to do.
			if err := env.Service.ReindexSearch(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// koi8 writes text in KOI8-R, as old Russian mail is.
func koi8(text string) string {
	encoded, err := charmap.KOI8R.NewEncoder().String(text)
	if err != nil {
		panic(err)
	}
	return encoded
}
