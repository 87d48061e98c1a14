package store_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/testpeer"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testpeer.StopAll()
	os.Exit(code)
}

// backends runs test against a fresh SQLite database and a fresh PostgreSQL
// database, so that every store test is a conformance test of both.
func backends(t *testing.T, test func(t *testing.T, st *store.Store)) {
	t.Helper()
	open := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "pochta.db") },
		"postgres": func(t *testing.T) string { return testpeer.PostgresDSN(t) },
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			st, err := store.Open(context.Background(), open[name](t))
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			t.Cleanup(func() { st.Close() })
			test(t, st)
		})
	}
}

// fixedClock is a clock the test moves by hand.
type fixedClock struct{ now time.Time }

func (c *fixedClock) Now() time.Time          { return c.now }
func (c *fixedClock) Advance(d time.Duration) { c.now = c.now.Add(d) }

func newSite(t testing.TB, st *store.Store, code string) store.Site {
	t.Helper()
	site := store.Site{Code: code, Name: "Site " + code, Charset: "UTF-8", Language: "en"}
	if err := st.CreateSite(context.Background(), &site); err != nil {
		t.Fatalf("create site: %v", err)
	}
	return site
}

func newUser(t *testing.T, st *store.Store, siteID int64, login, role string) store.User {
	t.Helper()
	user := store.User{SiteID: siteID, Login: login, PasswordHash: "x", Active: true, Role: role}
	if err := st.CreateUser(context.Background(), &user); err != nil {
		t.Fatalf("create user: %v", err)
	}
	return user
}

// newMailbox inserts a bare mailbox row; the mailboxes issue brings its
// store methods.
func newMailbox(t testing.TB, st *store.Store, siteID, ownerID int64) int64 {
	t.Helper()
	var id int64
	var owner any
	if ownerID != 0 {
		owner = ownerID
	}
	err := st.DB().QueryRow(st.Rebind(`INSERT INTO mailboxes (site_id, type, name, owner_id, created_at, updated_at) VALUES (?, 'imap', 'box', ?, 0, 0) RETURNING id`), siteID, owner).Scan(&id)
	if err != nil {
		t.Fatalf("insert mailbox: %v", err)
	}
	return id
}

func TestMigrationsAreIdempotentAndComplete(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		// Every entity of SPEC.md has its table from the first migration on.
		for _, table := range []string{"sites", "users", "tokens", "sessions", "settings", "services", "mailboxes", "rules",
			"messages", "message_sources", "attachments", "mailbox_uids", "imap_folders", "spam_words",
			"spam_totals", "log", "outbound_queue", "leases"} {
			var n int
			if err := st.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil {
				t.Errorf("table %s: %v", table, err)
			}
		}
	})
	path := filepath.Join(t.TempDir(), "again.db")
	for range 2 {
		st, err := store.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		st.Close()
	}
}

func TestSites(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		if site.ID == 0 || site.CreatedAt.IsZero() {
			t.Fatalf("created site lacks id or time: %+v", site)
		}
		duplicate := store.Site{Code: "s1", Name: "again"}
		if err := st.CreateSite(ctx, &duplicate); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate code: got %v, want ErrConflict", err)
		}
		site.Name, site.Language, site.Domain = "Главный", "ru", "example.ru"
		if err := st.UpdateSite(ctx, &site); err != nil {
			t.Fatal(err)
		}
		got, err := st.SiteByCode(ctx, "s1")
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != "Главный" || got.Language != "ru" || got.Domain != "example.ru" {
			t.Errorf("round trip: %+v", got)
		}
		if _, err := st.SiteByCode(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("missing site: got %v", err)
		}
		newSite(t, st, "a2")
		sites, err := st.Sites(ctx)
		if err != nil || len(sites) != 2 || sites[0].Code != "a2" {
			t.Errorf("Sites() = %+v, %v", sites, err)
		}
		user := newUser(t, st, site.ID, "bob", store.RoleUser)
		if err := st.DeleteSite(ctx, site.ID); !errors.Is(err, store.ErrConflict) {
			t.Errorf("delete site with a user: got %v, want ErrConflict", err)
		}
		if err := st.DeleteUser(ctx, user.ID); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteSite(ctx, site.ID); err != nil {
			t.Errorf("delete empty site: %v", err)
		}
		if err := st.DeleteSite(ctx, site.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete twice: got %v", err)
		}
	})
}

func TestUsers(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		admin := newUser(t, st, site.ID, "Admin", store.RoleAdmin)
		newUser(t, st, site.ID, "auditor", store.RoleAuditor)
		user := newUser(t, st, site.ID, "user", store.RoleUser)
		clash := store.User{SiteID: site.ID, Login: "user", PasswordHash: "x", Role: store.RoleUser}
		if err := st.CreateUser(ctx, &clash); !errors.Is(err, store.ErrConflict) {
			t.Errorf("duplicate login: got %v", err)
		}
		bad := store.User{SiteID: site.ID, Login: "bad", PasswordHash: "x", Role: "root"}
		if err := st.CreateUser(ctx, &bad); err == nil {
			t.Error("a user with an unknown role was stored")
		}
		got, err := st.UserByLogin(ctx, "ADMIN")
		if err != nil || got.ID != admin.ID {
			t.Errorf("login lookup ignores case: %+v, %v", got, err)
		}
		if admins, err := st.CountActiveAdmins(ctx); err != nil || admins != 1 {
			t.Errorf("CountActiveAdmins = %d, %v", admins, err)
		}
		user.Name, user.Language, user.Active = "Боб", "ru", false
		if err := st.UpdateUser(ctx, &user); err != nil {
			t.Fatal(err)
		}
		if err := st.TouchUserLogin(ctx, user.ID); err != nil {
			t.Fatal(err)
		}
		got, err = st.UserByID(ctx, user.ID)
		if err != nil || got.Name != "Боб" || got.Language != "ru" || got.Active || got.LastLoginAt.IsZero() {
			t.Errorf("round trip: %+v, %v", got, err)
		}
		page, err := st.Users(ctx, store.UserFilter{Limit: 2})
		if err != nil || len(page) != 2 {
			t.Fatalf("first page: %d, %v", len(page), err)
		}
		rest, err := st.Users(ctx, store.UserFilter{AfterID: page[1].ID})
		if err != nil || len(rest) != 1 || rest[0].ID != user.ID {
			t.Errorf("second page: %+v, %v", rest, err)
		}
		found, err := st.Users(ctx, store.UserFilter{Search: "бо"})
		if err != nil || len(found) != 1 {
			t.Errorf("search by name: %+v, %v", found, err)
		}
		roles, err := st.Users(ctx, store.UserFilter{Role: store.RoleAuditor})
		if err != nil || len(roles) != 1 {
			t.Errorf("filter by role: %+v, %v", roles, err)
		}
		box := newMailbox(t, st, site.ID, user.ID)
		owned, err := st.OwnedMailboxIDs(ctx, user.ID)
		if err != nil || len(owned) != 1 || owned[0] != box {
			t.Errorf("OwnedMailboxIDs = %v, %v", owned, err)
		}
		if err := st.DeleteUser(ctx, user.ID); err != nil {
			t.Fatal(err)
		}
		if owned, _ := st.OwnedMailboxIDs(ctx, user.ID); len(owned) != 0 {
			t.Errorf("a deleted user still owns %v", owned)
		}
	})
}

func TestTokensAndSessions(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clock := &fixedClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
		st.SetClock(clock.Now)
		site := newSite(t, st, "s1")
		user := newUser(t, st, site.ID, "bob", store.RoleUser)
		forever := store.Token{UserID: user.ID, Name: "ci", Hash: "hash-1"}
		expiring := store.Token{UserID: user.ID, Hash: "hash-2", ExpiresAt: clock.now.Add(time.Hour)}
		for _, token := range []*store.Token{&forever, &expiring} {
			if err := st.CreateToken(ctx, token); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := st.TokenByHash(ctx, "hash-1"); err != nil || got.UserID != user.ID || got.Name != "ci" {
			t.Errorf("TokenByHash = %+v, %v", got, err)
		}
		clock.Advance(2 * time.Hour)
		if _, err := st.TokenByHash(ctx, "hash-2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired token: got %v", err)
		}
		if got, err := st.TokenByHash(ctx, "hash-1"); err != nil || got.LastUsedAt.IsZero() {
			t.Errorf("use is recorded: %+v, %v", got, err)
		}

		session := store.Session{ID: "s-1", UserID: user.ID, CSRFToken: "c", ExpiresAt: clock.now.Add(time.Hour)}
		if err := st.CreateSession(ctx, &session); err != nil {
			t.Fatal(err)
		}
		if got, err := st.SessionByID(ctx, "s-1"); err != nil || got.CSRFToken != "c" {
			t.Errorf("SessionByID = %+v, %v", got, err)
		}
		clock.Advance(30 * time.Minute)
		if err := st.ExtendSession(ctx, "s-1", clock.now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		clock.Advance(45 * time.Minute)
		if _, err := st.SessionByID(ctx, "s-1"); err != nil {
			t.Errorf("extended session expired: %v", err)
		}
		clock.Advance(time.Hour)
		if _, err := st.SessionByID(ctx, "s-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("expired session: got %v", err)
		}
		if n, err := st.PurgeSessions(ctx); err != nil || n != 1 {
			t.Errorf("PurgeSessions = %d, %v", n, err)
		}
		other := store.Session{ID: "s-2", UserID: user.ID, CSRFToken: "c", ExpiresAt: clock.now.Add(time.Hour)}
		if err := st.CreateSession(ctx, &other); err != nil {
			t.Fatal(err)
		}
		if err := st.DeleteUser(ctx, user.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := st.SessionByID(ctx, "s-2"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a deleted user's session lives on: %v", err)
		}
		if _, err := st.TokenByHash(ctx, "hash-1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("a deleted user's token lives on: %v", err)
		}
	})
}

func TestSettings(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		if values, err := st.Settings(ctx); err != nil || len(values) != 0 {
			t.Fatalf("fresh settings = %v, %v", values, err)
		}
		if err := st.SaveSettings(ctx, map[string]string{"a": "1", "b": "x"}); err != nil {
			t.Fatal(err)
		}
		if err := st.SaveSettings(ctx, map[string]string{"a": "2"}); err != nil {
			t.Fatal(err)
		}
		values, err := st.Settings(ctx)
		if err != nil || values["a"] != "2" || values["b"] != "x" || len(values) != 2 {
			t.Errorf("Settings() = %v, %v", values, err)
		}
	})
}

func TestLog(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		boxA, boxB := newMailbox(t, st, site.ID, 0), newMailbox(t, st, site.ID, 0)
		base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		var entries []store.LogEntry
		for i := range 10 {
			entry := store.LogEntry{Time: base.Add(time.Duration(i) * time.Hour), Level: store.LevelInfo, Type: "pop3", Text: "entry", MailboxID: boxA}
			if i%2 == 1 {
				entry.Level, entry.MailboxID = store.LevelError, boxB
			}
			entries = append(entries, entry)
		}
		if err := st.AddLog(ctx, entries...); err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name   string
			filter store.LogFilter
			want   int
		}{
			{"all", store.LogFilter{}, 10},
			{"limit", store.LogFilter{Limit: 3}, 3},
			{"mailbox", store.LogFilter{MailboxID: boxA}, 5},
			{"level", store.LogFilter{Level: store.LevelError}, 5},
			{"since", store.LogFilter{Since: base.Add(8 * time.Hour)}, 2},
			{"until", store.LogFilter{Until: base.Add(2 * time.Hour)}, 2},
			{"owned", store.LogFilter{MailboxIDs: []int64{boxB}}, 5},
			{"owned none", store.LogFilter{MailboxIDs: []int64{}}, 0},
		}
		for _, test := range tests {
			got, err := st.Log(ctx, test.filter)
			if err != nil || len(got) != test.want {
				t.Errorf("%s: %d entries, %v; want %d", test.name, len(got), err, test.want)
			}
		}
		first, _ := st.Log(ctx, store.LogFilter{Limit: 4})
		if !first[0].Time.Equal(base.Add(9*time.Hour)) || first[0].MailboxID != boxB {
			t.Errorf("newest first: %+v", first[0])
		}
		next, _ := st.Log(ctx, store.LogFilter{Limit: 4, BeforeID: first[3].ID})
		if len(next) != 4 || next[0].ID >= first[3].ID {
			t.Errorf("keyset page: %+v", next)
		}
		if n, err := st.PurgeLog(ctx, base.Add(5*time.Hour)); err != nil || n != 5 {
			t.Errorf("PurgeLog = %d, %v", n, err)
		}
		if left, _ := st.Log(ctx, store.LogFilter{}); len(left) != 5 {
			t.Errorf("after purge: %d entries", len(left))
		}
	})
}

func TestLeases(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clock := &fixedClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		st.SetClock(clock.Now)
		acquire := func(holder string) bool {
			t.Helper()
			got, err := st.AcquireLease(ctx, "fetch:1", holder, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if !acquire("node-a") {
			t.Fatal("a free lease was refused")
		}
		if acquire("node-b") {
			t.Error("a held lease was given to another holder")
		}
		if !acquire("node-a") {
			t.Error("the holder could not renew")
		}
		clock.Advance(2 * time.Minute)
		if !acquire("node-b") {
			t.Error("an expired lease was not taken over")
		}
		if err := st.ReleaseLease(ctx, "fetch:1", "node-a"); err != nil {
			t.Fatal(err)
		}
		if acquire("node-a") {
			t.Error("release by a former holder freed the lease")
		}
		if err := st.ReleaseLease(ctx, "fetch:1", "node-b"); err != nil {
			t.Fatal(err)
		}
		if !acquire("node-a") {
			t.Error("a released lease was refused")
		}
	})
}

func TestInvalidTextIsRefusedAlike(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		for _, bad := range []string{"nul\x00inside", "bad \xff utf-8"} {
			site := store.Site{Code: "s9", Name: bad}
			if err := st.CreateSite(ctx, &site); !errors.Is(err, store.ErrInvalidText) {
				t.Errorf("CreateSite(%q): %v, want ErrInvalidText", bad, err)
			}
			if _, err := st.SiteByCode(ctx, bad); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("SiteByCode(%q): %v, want ErrNotFound", bad, err)
			}
			// A search lower-cases its text first, which turns invalid UTF-8
			// into U+FFFD; a NUL stays and is refused.
			if _, err := st.Users(ctx, store.UserFilter{Search: bad}); strings.Contains(bad, "\x00") != errors.Is(err, store.ErrInvalidText) {
				t.Errorf("Users search %q: %v", bad, err)
			}
		}
	})
}
