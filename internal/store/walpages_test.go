package store_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

// The pages a commit of a few messages writes to SQLite's WAL, by b-tree:
// the figure behind the SMTP server's commits (a group commit carries about
// five messages there, and each page written is a WAL frame: two write
// system calls and a checksum). Counted, not timed, so it holds on a busy
// machine. The date indexes must take new mail at their right edge, where
// SQLite appends with few page writes; declared descending, they took it
// at their left edge, where a full leaf's split rewrote it and its
// neighbours (2.5 pages a commit each against 1.2; docs/benchmarks.md
// "Pages a commit writes").
func TestWALPagesPerCommit(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	st, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	site := newSite(t, st, "s1")
	box := newMailbox(t, st, site.ID, 0)
	n := 0
	insert := func(count int) {
		t.Helper()
		insertOrders(t, st, box, n, count)
		n += count
	}
	// A mailbox of some thousands first, so that every b-tree has its
	// inner pages, then the WAL emptied.
	for range 10 {
		insert(300)
	}
	if _, err := st.DB().ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	const commits, perCommit = 20, 5
	for range commits {
		insert(perCommit)
	}
	written, err := walCommits(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != commits {
		t.Fatalf("%d commits in the WAL, want %d", len(written), commits)
	}
	names := map[uint32]string{}
	rows, err := st.DB().QueryContext(ctx, `SELECT pageno, name FROM dbstat`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var page uint32
		var name string
		if err := rows.Scan(&page, &name); err != nil {
			t.Fatal(err)
		}
		names[page] = name
	}
	rows.Close()
	byTree := map[string]int{}
	total := 0
	for _, pages := range written {
		for _, page := range pages {
			name := names[page]
			if name == "" {
				name = "(free)"
			}
			byTree[name]++
			total++
		}
	}
	trees := make([]string, 0, len(byTree))
	for name := range byTree {
		trees = append(trees, name)
	}
	slices.SortFunc(trees, func(a, b string) int { return byTree[b] - byTree[a] })
	var report strings.Builder
	fmt.Fprintf(&report, "pages a commit of %d messages: %.1f\n", perCommit, float64(total)/commits)
	for _, name := range trees {
		fmt.Fprintf(&report, "%6.2f  %s\n", float64(byTree[name])/commits, name)
	}
	t.Log(report.String())
	for _, index := range []string{"messages_date", "messages_mailbox_date", "messages_unread_date", "messages_unread_mailbox_date"} {
		if pages := float64(byTree[index]) / commits; pages > 1.5 {
			t.Errorf("%s: %.2f pages a commit, want about one (new mail at the index's right edge)", index, pages)
		}
	}
}

// orderMessage is the nth of a mailbox's generated messages: a shop's
// order notice with a Message-ID of its own (spread, as real ones are, over
// the index), its date n seconds after the first's.
func orderMessage(box int64, n int) *store.NewMessage {
	messageID := fmt.Sprintf("<%08x.%d@sender.example>", uint32(n)*2654435761, n)
	text := fmt.Sprintf("Hello, your order %d has shipped.", n)
	raw := fmt.Sprintf("Message-ID: %s\r\nSubject: order %d\r\n\r\n%s\r\n", messageID, n, text)
	return newMessage(box, raw, store.Message{
		MessageID: messageID, Subject: fmt.Sprintf("order %d", n), From: "shop@sender.example", To: "anna@example.com",
		Date: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Second), Size: int64(len(raw)),
	}, store.Content{Text: text})
}

// insertOrders stores the order messages first to first+count-1 in one
// transaction, each with its work log line.
func insertOrders(tb testing.TB, st *store.Store, box int64, first, count int) {
	tb.Helper()
	batch := make([]*store.NewMessage, 0, count)
	for n := first; n < first+count; n++ {
		batch = append(batch, orderMessage(box, n))
	}
	if _, err := st.InsertMessagesLogged(context.Background(), batch, storedLines(box)); err != nil {
		tb.Fatal(err)
	}
}

// storedLines gives a batch's work log lines as the intake writes them: a
// "stored" line a message.
func storedLines(box int64) func([]store.InsertResult) []store.LogEntry {
	return func(results []store.InsertResult) []store.LogEntry {
		entries := make([]store.LogEntry, len(results))
		for i, result := range results {
			entries[i] = store.LogEntry{Level: store.LevelInfo, Type: "receive", Text: "stored", MailboxID: box, MessageID: result.ID}
		}
		return entries
	}
}

// walCommits reads a WAL file's frames of its current generation and gives
// the distinct pages each commit wrote.
func walCommits(path string) ([][]uint32, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 32 {
		return nil, fmt.Errorf("%s: no WAL header", path)
	}
	pageSize := int(binary.BigEndian.Uint32(data[8:12]))
	salt := data[16:24]
	var commits [][]uint32
	var pages []uint32
	for offset := 32; offset+24+pageSize <= len(data); offset += 24 + pageSize {
		frame := data[offset : offset+24]
		if string(frame[8:16]) != string(salt) {
			break // a frame of an earlier generation
		}
		page := binary.BigEndian.Uint32(frame[0:4])
		if !slices.Contains(pages, page) {
			pages = append(pages, page)
		}
		if binary.BigEndian.Uint32(frame[4:8]) != 0 { // the database's size: a commit's last frame
			commits = append(commits, pages)
			pages = nil
		}
	}
	return commits, nil
}
