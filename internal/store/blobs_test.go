package store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	"pochta.dev/pochta/internal/store"
)

// A large source and attachment body are stored in chunks and come back
// byte for byte, streamed; a message whose source is not kept keeps its
// content instead.
func TestChunkedSourceAndAttachment(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)

		// 2.5 chunks of incompressible bytes, so that the compressed
		// source spans three chunks too.
		raw := make([]byte, store.ChunkSize*5/2)
		random := rand.New(rand.NewPCG(1, 2))
		for i := range raw {
			raw[i] = byte(random.IntN(256))
		}
		var compressed bytes.Buffer
		writer, err := store.SourceWriter(&compressed)
		if err != nil {
			t.Fatal(err)
		}
		writer.Write(raw)
		writer.Close()
		sum := sha256.Sum256(raw)
		attachment := raw[:store.ChunkSize+17]
		message := &store.NewMessage{
			Message:    store.Message{MailboxID: box, Subject: "large", Size: int64(len(raw)), RawSHA256: hex.EncodeToString(sum[:])},
			SaveSource: true,
			CompressedSource: func() (io.Reader, error) {
				return bytes.NewReader(compressed.Bytes()), nil
			},
			Attachments: []store.Attachment{
				{Filename: "big.bin", ContentType: "application/octet-stream", Size: int64(len(attachment)),
					Body: func() io.Reader { return bytes.NewReader(attachment) }},
				{Filename: "small.txt", ContentType: "text/plain", Size: 2, Data: []byte("hi")},
			},
		}
		id, _, err := st.InsertMessage(ctx, message)
		if err != nil {
			t.Fatal(err)
		}
		source, err := st.OpenSource(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(source)
		source.Close()
		if err != nil || !bytes.Equal(got, raw) {
			t.Fatalf("source: %d bytes, equal %v, %v", len(got), bytes.Equal(got, raw), err)
		}
		list, err := st.Attachments(ctx, id)
		if err != nil || len(list) != 2 {
			t.Fatalf("attachments: %+v, %v", list, err)
		}
		for i, want := range [][]byte{attachment, []byte("hi")} {
			a, err := st.AttachmentData(ctx, id, list[i].ID)
			if err != nil || !bytes.Equal(a.Data, want) || a.Size != int64(len(want)) {
				t.Errorf("attachment %d: %d bytes (size %d), %v", i, len(a.Data), a.Size, err)
			}
		}
		// The same source again is a duplicate, found by its hash.
		again := *message
		again.Attachments = nil
		if _, duplicate, err := st.InsertMessage(ctx, &again); err != nil || !duplicate {
			t.Errorf("again: duplicate %v, %v", duplicate, err)
		}

		// Without the source, the content is kept and there is no source.
		plain := newMessage(box, "Subject: plain\r\n\r\nтекст\r\n", store.Message{Subject: "plain"},
			store.Content{Header: "Subject: plain", Text: "текст", HTML: "<p>текст</p>"})
		plain.SaveSource = false
		plainID, _, err := st.InsertMessage(ctx, plain)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.OpenSource(ctx, plainID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("source of a message without one: %v", err)
		}
		if m, err := st.MessageByID(ctx, plainID); err != nil || m.HasSource {
			t.Errorf("HasSource of a message without one: %+v, %v", m, err)
		}
		content, err := st.MessageContent(ctx, plainID)
		if err != nil || content != plain.Content {
			t.Errorf("content: %+v, %v", content, err)
		}
		if _, err := st.MessageContent(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("content of a message with a source: %v", err)
		}

		// Deleting the message takes its chunks.
		if _, err := st.DeleteMessages(ctx, []int64{id, plainID}); err != nil {
			t.Fatal(err)
		}
		for _, table := range []string{"message_sources", "message_source_chunks", "attachments", "attachment_chunks"} {
			var n int
			if err := st.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s keeps %d rows (%v)", table, n, err)
			}
		}
	})
}

// A batch mixes ordinary messages with large ones, whose parts are
// written in chunks from readers: a small source beside a streamed
// attachment, a source over a chunk given as raw bytes. Each comes back
// whole, its attachments in their order.
func TestBatchWithLargeParts(t *testing.T) {
	backends(t, func(t *testing.T, st *store.Store) {
		ctx := context.Background()
		site := newSite(t, st, "s1")
		box := newMailbox(t, st, site.ID, 0)
		random := rand.New(rand.NewPCG(3, 4))
		incompressible := func(n int) []byte {
			data := make([]byte, n)
			for i := range data {
				data[i] = byte(random.IntN(256))
			}
			return data
		}
		streamed := incompressible(store.ChunkSize + 5)
		withStreamed := newMessage(box, "Subject: streamed\r\n\r\nsmall source\r\n", store.Message{Subject: "streamed"})
		withStreamed.Attachments = []store.Attachment{
			{Filename: "first.txt", ContentType: "text/plain", Size: 5, Data: []byte("first")},
			{Filename: "big.bin", ContentType: "application/octet-stream", Size: int64(len(streamed)),
				Body: func() io.Reader { return bytes.NewReader(streamed) }},
			{Filename: "last.txt", ContentType: "text/plain", Size: 4, Data: []byte("last")},
		}
		bigRaw := "Subject: big\r\n\r\n" + string(incompressible(store.ChunkSize*3/2))
		batch := []*store.NewMessage{
			newMessage(box, "Subject: a\r\n\r\nfirst ordinary\r\n", store.Message{Subject: "a"}),
			withStreamed,
			newMessage(box, bigRaw, store.Message{Subject: "big"}),
			newMessage(box, "Subject: b\r\n\r\nsecond ordinary\r\n", store.Message{Subject: "b"}),
		}
		batch[3].Attachments = []store.Attachment{{Filename: "b.txt", ContentType: "text/plain", Size: 1, Data: []byte("b")}}
		results, err := st.InsertMessages(ctx, batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, m := range batch {
			if results[i].Err != nil || results[i].Duplicate {
				t.Fatalf("message %d: %+v", i, results[i])
			}
			source, err := st.MessageSource(ctx, results[i].ID)
			if err != nil || !bytes.Equal(source, m.Raw) {
				t.Errorf("source of message %d: %d bytes, want %d, %v", i, len(source), len(m.Raw), err)
			}
		}
		list, err := st.Attachments(ctx, results[1].ID)
		if err != nil || len(list) != 3 {
			t.Fatalf("attachments: %+v, %v", list, err)
		}
		for i, want := range [][]byte{[]byte("first"), streamed, []byte("last")} {
			a, err := st.AttachmentData(ctx, results[1].ID, list[i].ID)
			if err != nil || a.Filename != withStreamed.Attachments[i].Filename || !bytes.Equal(a.Data, want) {
				t.Errorf("attachment %d: %q, %d bytes, %v", i, a.Filename, len(a.Data), err)
			}
		}
		if list, err := st.Attachments(ctx, results[3].ID); err != nil || len(list) != 1 || list[0].Filename != "b.txt" {
			t.Errorf("attachments of an ordinary message: %+v, %v", list, err)
		}
	})
}
