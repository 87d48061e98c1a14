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

// A message gets its list snippet when stored, on both insert paths, and
// mail stored before snippets (migration 0026) or before inline images were
// told from files gets its snippet and its attachment count from the
// background reindex.
func TestReindexFillsSnippetAndAttachmentCount(t *testing.T) {
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
			raw := "Subject: Invoice\r\nFrom: anna@example.com\r\nMIME-Version: 1.0\r\n" +
				"Content-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\n" +
				"Content-Type: multipart/related; boundary=rel\r\n\r\n--rel\r\n" +
				"Content-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\n" +
				"Content-Type: text/plain; charset=utf-8\r\n\r\nСчёт   во\r\nвложении.\r\n\r\nOn Monday Ivan wrote:\r\n> old text\r\n-- \r\nAnna\r\n" +
				"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Счёт <img src=\"cid:logo@x\"></p>\r\n--alt--\r\n" +
				"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--rel--\r\n" +
				"--outer\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"invoice.pdf\"\r\n\r\nxyz\r\n--outer--\r\n"
			result, err := env.Service.ImportMessage(ctx, env.Admin, box.ID, strings.NewReader(raw), "test")
			if err != nil {
				t.Fatal(err)
			}
			check := func(when string) {
				t.Helper()
				m, err := env.Store.MessageByID(ctx, result.ID)
				if err != nil {
					t.Fatal(err)
				}
				if m.Snippet != "Счёт во вложении." || m.AttachmentCount != 1 {
					t.Errorf("%s: snippet %q, %d attachments; want %q and 1 (the inline image is no file)", when, m.Snippet, m.AttachmentCount, "Счёт во вложении.")
				}
			}
			check("stored")
			// As a message stored before migration 0026 and before issue 16
			// told inline images apart.
			if _, err := env.Store.DB().Exec(env.Store.Rebind(`UPDATE messages SET snippet = '', attachment_count = 2 WHERE id = ?`), result.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := env.Store.DB().Exec(`DELETE FROM search_reindex`); err != nil {
				t.Fatal(err)
			}
			if _, err := env.Store.DB().Exec(env.Store.Rebind(`INSERT INTO search_reindex (id, below_id) VALUES (1, ?)`), result.ID+1); err != nil {
				t.Fatal(err)
			}
			if err := env.Service.ReindexSearch(ctx); err != nil {
				t.Fatal(err)
			}
			check("reindexed")
		})
	}
}
