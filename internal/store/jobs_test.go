package store_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"pochta.dev/pochta/internal/store"
)

// mailboxCounts gives a mailbox's message and unread counts from its row.
func mailboxCounts(t *testing.T, st *store.Store, mailboxID int64) (total, unread int64) {
	t.Helper()
	mailbox, err := st.MailboxByID(context.Background(), mailboxID)
	if err != nil {
		t.Fatalf("mailbox %d: %v", mailboxID, err)
	}
	return mailbox.MessagesTotal, mailbox.MessagesNew
}

// jobsOf lists the jobs of a filter, failing the test on an error.
func jobsOf(t *testing.T, st *store.Store, filter store.JobFilter) []store.Job {
	t.Helper()
	jobs, err := st.Jobs(context.Background(), filter)
	if err != nil {
		t.Fatalf("jobs %+v: %v", filter, err)
	}
	return jobs
}

// A new message's jobs are written in its transaction with its ID and
// mailbox; a duplicate's are not, whether it repeats a stored message or
// one earlier in the batch.
func TestJobsAreWrittenWithTheirMessage(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		clock := &fixedClock{now: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
		st.SetClock(clock.Now)
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		stored := newMessage(box, "Subject: stored\r\n\r\nearlier\r\n", store.Message{Subject: "stored"})
		if _, _, err := st.InsertMessage(ctx, stored); err != nil {
			t.Fatal(err)
		}
		later := clock.now.Add(time.Hour)
		withJobs := func(m *store.NewMessage, jobs ...store.NewJob) *store.NewMessage {
			m.Jobs = jobs
			return m
		}
		batch := []*store.NewMessage{
			withJobs(newMessage(box, "Subject: one\r\n\r\nfirst\r\n", store.Message{Subject: "one"}),
				store.NewJob{Kind: "rules", Payload: []byte(`{"rule":1}`)},
				store.NewJob{Kind: "plain"}, // no payload: NULL
				store.NewJob{Kind: "webhook", Payload: []byte(`{"url":"x"}`), RunAt: later}),
			withJobs(newMessage(box, "Subject: stored\r\n\r\nearlier\r\n", store.Message{Subject: "stored again"}),
				store.NewJob{Kind: "rules"}),
			withJobs(newMessage(box, "Subject: one\r\n\r\nfirst\r\n", store.Message{Subject: "one again"}),
				store.NewJob{Kind: "rules"}),
			newMessage(box, "Subject: none\r\n\r\nno jobs\r\n", store.Message{Subject: "none"}),
		}
		results, err := st.InsertMessages(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		if !results[1].Duplicate || !results[2].Duplicate {
			t.Fatalf("duplicates not seen: %+v", results)
		}
		jobs := jobsOf(t, st, store.JobFilter{MailboxID: box})
		if len(jobs) != 3 {
			t.Fatalf("%d jobs in the mailbox, want the first message's 3: %+v", len(jobs), jobs)
		}
		want := []store.Job{
			{Kind: "rules", MailboxID: box, MessageID: results[0].ID, Payload: []byte(`{"rule":1}`), State: "pending", RunAt: clock.now, CreatedAt: clock.now},
			{Kind: "plain", MailboxID: box, MessageID: results[0].ID, State: "pending", RunAt: clock.now, CreatedAt: clock.now},
			{Kind: "webhook", MailboxID: box, MessageID: results[0].ID, Payload: []byte(`{"url":"x"}`), State: "pending", RunAt: later, CreatedAt: clock.now},
		}
		for i, job := range jobs {
			w := want[i]
			if job.ID == 0 || job.Kind != w.Kind || job.MailboxID != w.MailboxID || job.MessageID != w.MessageID ||
				!bytes.Equal(job.Payload, w.Payload) || (job.Payload == nil) != (w.Payload == nil) || job.State != w.State || job.Attempts != 0 || !job.RunAt.Equal(w.RunAt) ||
				!job.CreatedAt.Equal(w.CreatedAt) || job.LeaseHolder != "" || !job.LeaseUntil.IsZero() || job.LastError != "" {
				t.Errorf("job %d = %+v, want %+v", i, job, w)
			}
		}
		if got := jobsOf(t, st, store.JobFilter{MessageID: results[0].ID, Kind: "webhook"}); len(got) != 1 || got[0].Kind != "webhook" {
			t.Errorf("jobs by message and kind: %+v", got)
		}
		if got := jobsOf(t, st, store.JobFilter{MessageID: results[3].ID}); len(got) != 0 {
			t.Errorf("a message without jobs has %+v", got)
		}
		// A job outlives its message, without it.
		if _, err := st.DeleteMessages(ctx, []int64{results[0].ID}); err != nil {
			t.Fatal(err)
		}
		if got := jobsOf(t, st, store.JobFilter{Kind: "webhook"}); len(got) != 1 || got[0].MessageID != 0 || got[0].MailboxID != box {
			t.Errorf("the job of a deleted message: %+v", got)
		}
	})
}

// A batch that fails writes none of its messages, jobs or UIDs.
func TestFailedBatchWritesNoJobs(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		m := newMessage(box, "Subject: one\r\n\r\nfirst\r\n", store.Message{Subject: "one"})
		m.Jobs = []store.NewJob{{Kind: "rules"}}
		m.UID = &store.UID{UID: "uid-1"}
		dropped := &store.NewMessage{Message: store.Message{MailboxID: box}, Dropped: true, UID: &store.UID{UID: "uid-2"}}
		// The log line is written after the messages, their jobs and UIDs,
		// in the same transaction; its text fails the whole batch.
		failingLog := func([]store.InsertResult) []store.LogEntry {
			return []store.LogEntry{{Level: store.LevelInfo, MailboxID: box, Text: "bad \x00 line"}}
		}
		if _, err := st.InsertMessagesLogged(ctx, []*store.NewMessage{m, dropped}, failingLog); !errors.Is(err, store.ErrInvalidText) {
			t.Fatalf("batch with a bad log line: %v, want ErrInvalidText", err)
		}
		if jobs := jobsOf(t, st, store.JobFilter{}); len(jobs) != 0 {
			t.Errorf("jobs of a failed batch: %+v", jobs)
		}
		if known, err := st.KnownUIDs(ctx, box, ""); err != nil || len(known) != 0 {
			t.Errorf("UIDs of a failed batch: %v, %v", known, err)
		}
		if page, err := st.Messages(ctx, store.MessageFilter{MailboxIDs: []int64{box}}, store.MessageSort{}, "", 10); err != nil || len(page.Items) != 0 {
			t.Errorf("messages of a failed batch: %+v, %v", page.Items, err)
		}
		if total, unread := mailboxCounts(t, st, box); total != 0 || unread != 0 {
			t.Errorf("counts after a failed batch: %d/%d", total, unread)
		}
	})
}

// A dropped message is stored nowhere, but its UID is recorded in the
// batch's transaction so that it is not fetched again.
func TestDroppedMessageRecordsOnlyItsUID(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		kept := newMessage(box, "Subject: kept\r\n\r\nkept body\r\n", store.Message{Subject: "kept"})
		kept.UID = &store.UID{UID: "uid-kept"}
		keptID, _, err := st.InsertMessage(ctx, kept)
		if err != nil {
			t.Fatal(err)
		}
		drop := func(uid string, fields store.Message) *store.NewMessage {
			m := newMessage(box, "Subject: spam\r\n\r\nbuy now\r\n", fields, store.Content{Text: "buy now"})
			m.Dropped = true
			m.Jobs = []store.NewJob{{Kind: "rules"}}
			if uid != "" {
				m.UID = &store.UID{UID: uid}
			}
			return m
		}
		batch := []*store.NewMessage{
			drop("uid-spam", store.Message{Subject: "spam"}),
			drop("uid-bad-text", store.Message{Subject: "bad \x00 subject"}), // nothing of it is written, so its text does not matter
			drop("", store.Message{Subject: "no uid"}),
			drop("uid-kept", store.Message{Subject: "kept again"}), // does not undo the UID's message
			drop("uid-\xff", store.Message{Subject: "bad uid"}),
			newMessage(box, "Subject: spam\r\n\r\nbuy now\r\n", store.Message{Subject: "same bytes, stored"}, store.Content{Text: "buy now"}),
		}
		var logged []store.InsertResult
		results, err := st.InsertMessagesLogged(ctx, batch, func(results []store.InsertResult) []store.LogEntry {
			logged = append([]store.InsertResult{}, results...)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			if r := results[i]; !r.Dropped || r.ID != 0 || r.Duplicate || r.Err != nil {
				t.Errorf("dropped message %d: %+v", i, r)
			}
			if !logged[i].Dropped {
				t.Errorf("the log callback was not told message %d was dropped: %+v", i, logged[i])
			}
		}
		if r := results[4]; !errors.Is(r.Err, store.ErrInvalidText) {
			t.Errorf("dropped message with a bad UID: %+v, want ErrInvalidText", r)
		}
		// A dropped source is no duplicate of anything: the same bytes
		// stored after it are new.
		if r := results[5]; r.Err != nil || r.Dropped || r.Duplicate || r.ID == 0 {
			t.Errorf("stored message after a dropped one: %+v", r)
		}
		known, err := st.KnownUIDs(ctx, box, "")
		if err != nil || len(known) != 3 || !known["uid-spam"] || !known["uid-bad-text"] || !known["uid-kept"] {
			t.Errorf("KnownUIDs = %v, %v; want the kept and the two dropped", known, err)
		}
		var linked int64
		if err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT COALESCE(message_id, 0) FROM mailbox_uids WHERE mailbox_id = ? AND uid = ?`), box, "uid-kept").Scan(&linked); err != nil || linked != keptID {
			t.Errorf("a dropped message under a known UID unlinked it: message %d, %v; want %d", linked, err, keptID)
		}
		if err := st.DB().QueryRowContext(ctx, st.Rebind(`SELECT COALESCE(message_id, 0) FROM mailbox_uids WHERE mailbox_id = ? AND uid = ?`), box, "uid-spam").Scan(&linked); err != nil || linked != 0 {
			t.Errorf("a dropped message's UID names message %d, %v", linked, err)
		}
		if total, unread := mailboxCounts(t, st, box); total != 2 || unread != 2 {
			t.Errorf("counts = %d/%d, want the kept and the stored message only", total, unread)
		}
		if jobs := jobsOf(t, st, store.JobFilter{}); len(jobs) != 0 {
			t.Errorf("dropped messages wrote jobs: %+v", jobs)
		}
		page, err := st.Messages(ctx, store.MessageFilter{Query: "buy", MailboxIDs: []int64{box}}, store.MessageSort{}, "", 10)
		if err != nil || len(page.Items) != 1 || page.Items[0].ID != results[5].ID {
			t.Errorf("full text finds only the stored copy: %+v, %v", page.Items, err)
		}
		// A message refused alone (bad text) is not dropped: its UID is not
		// recorded, so that it is fetched again once the cause is mended.
		refused := newMessage(box, "Subject: x\r\n\r\n", store.Message{Subject: "nul \x00"})
		refused.UID = &store.UID{UID: "uid-refused"}
		if _, _, err := st.InsertMessage(ctx, refused); !errors.Is(err, store.ErrInvalidText) {
			t.Errorf("refused message: %v", err)
		}
		if known, _ := st.KnownUIDs(ctx, box, ""); known["uid-refused"] {
			t.Error("a refused message's UID was recorded")
		}
	})
}
