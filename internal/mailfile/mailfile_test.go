package mailfile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"loose.eml":                  "Subject: loose\n\n",
		"folder/b.eml":               "Subject: b\n\n",
		"folder/a.eml":               "Subject: a\n\nlonger\n",
		"folder/.hidden":             "not read",
		"folder/sub/deeper.eml":      "not read: folders are not walked",
		"Maildir/new/2.host":         "Subject: new\n\n",
		"Maildir/cur/1.host:2,S":     "Subject: cur\n\n",
		"Maildir/tmp/partial":        "not delivered yet",
		"Maildir/other.eml":          "beside cur and new: not read",
		"Maildir-cur-only/cur/1.eml": "Subject: only cur\n\n",
	}
	for name, content := range files {
		writeFile(t, filepath.Join(dir, name), content)
	}
	if err := os.Symlink(filepath.Join(dir, "loose.eml"), filepath.Join(dir, "folder", "c-link.eml")); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.eml")
	paths := []string{filepath.Join(dir, "Maildir"), missing, filepath.Join(dir, "folder"), filepath.Join(dir, "loose.eml"), filepath.Join(dir, "Maildir-cur-only")}
	sources, total := Expand(paths)

	want := []string{"Maildir/cur/1.host:2,S", "Maildir/new/2.host", "missing.eml", "folder/a.eml", "folder/b.eml", "loose.eml", "Maildir-cur-only/cur/1.eml"}
	var got []string
	var wantTotal int64
	for _, source := range sources {
		name, _ := filepath.Rel(dir, source.Path)
		got = append(got, name)
		if source.Path == missing {
			if !errors.Is(source.Err, fs.ErrNotExist) {
				t.Errorf("missing path: %v", source.Err)
			}
			continue
		}
		if source.Err != nil || source.Size != int64(len(files[name])) {
			t.Errorf("%s: size %d, %v; want %d", name, source.Size, source.Err, len(files[name]))
		}
		wantTotal += int64(len(files[name]))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("sources %q\nwant    %q", got, want)
	}
	if total != wantTotal {
		t.Errorf("total %d, want %d", total, wantTotal)
	}
}

// readMessage is what Read gave for one message.
type readMessage struct {
	name, raw string
	size      int64
	consumed  int64
}

// readFile reads path with Read, each message to its end.
func readFile(t *testing.T, path string) ([]readMessage, error) {
	t.Helper()
	var messages []readMessage
	err := Read(path, func(message Message) error {
		raw, err := io.ReadAll(message.Reader)
		if err != nil {
			return err
		}
		messages = append(messages, readMessage{message.Name, string(raw), message.Size, message.Consumed()})
		return nil
	})
	return messages, err
}

func TestRead(t *testing.T) {
	dir := t.TempDir()
	eml := "Subject: one\r\n\r\nFrom the start.\r\n\r\nFrom here too, and not an mbox.\r\n"
	const separator = "From someone Mon Jan  1 10:00:00 2024\n"
	mbox := separator + "Subject: first\n\n>From escaped\n\n" + separator + "\n" + separator + "Subject: third\n\nlast\n\n"
	for _, test := range []struct {
		name, content string
		want          []readMessage
		err           error
	}{
		{"message.eml", eml, []readMessage{{raw: eml, size: int64(len(eml)), consumed: int64(len(eml))}}, nil},
		{"short.eml", "From", []readMessage{{raw: "From", size: 4, consumed: 4}}, nil},
		{"empty.eml", "", nil, ErrEmptyFile},
		{"archive.mbox", mbox, []readMessage{
			{name: "#1", raw: "Subject: first\n\nFrom escaped\n", size: -1, consumed: int64(len(separator + "Subject: first\n\n>From escaped\n\n"))},
			{name: "#2", raw: "", size: -1, consumed: int64(len(separator + "\n"))},
			{name: "#3", raw: "Subject: third\n\nlast\n", size: -1, consumed: int64(len(separator + "Subject: third\n\nlast\n\n"))},
		}, nil},
	} {
		t.Run(test.name, func(t *testing.T) {
			path := filepath.Join(dir, test.name)
			writeFile(t, path, test.content)
			got, err := readFile(t, path)
			if !errors.Is(err, test.err) {
				t.Fatalf("error %v, want %v", err, test.err)
			}
			if len(got) != len(test.want) {
				t.Fatalf("got %+v, want %+v", got, test.want)
			}
			var consumed int64
			for i, want := range test.want {
				want.name = path + want.name
				if got[i] != want {
					t.Errorf("message %d: got %+v, want %+v", i+1, got[i], want)
				}
				consumed += got[i].consumed
			}
			if test.err == nil && consumed != int64(len(test.content)) {
				t.Errorf("consumed %d of %d bytes", consumed, len(test.content))
			}
		})
	}

	t.Run("missing file", func(t *testing.T) {
		if _, err := readFile(t, filepath.Join(dir, "missing.eml")); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "missing.eml") {
			t.Errorf("error %v", err)
		}
	})
	t.Run("a folder", func(t *testing.T) {
		if _, err := readFile(t, dir); err == nil {
			t.Errorf("a folder read as a message")
		}
	})
}

// TestReadStops: what a function leaves of a message is skipped, its
// bytes counted with the next message; an error of the function ends Read
// and comes back as it is.
func TestReadStops(t *testing.T) {
	path := filepath.Join(t.TempDir(), "archive.mbox")
	mbox := "From a\nSubject: first\n\n" + strings.Repeat("body\n", 100000) + "\nFrom b\nSubject: second\n\n\nFrom c\nSubject: third\n"
	writeFile(t, path, mbox)
	stop := errors.New("stop here")
	var names, raws []string
	var consumed int64
	err := Read(path, func(message Message) error {
		names = append(names, filepath.Base(message.Name))
		if len(names) == 1 {
			head := make([]byte, 10)
			_, err := io.ReadFull(message.Reader, head)
			consumed += message.Consumed()
			return err
		}
		raw, err := io.ReadAll(message.Reader)
		raws = append(raws, string(raw))
		consumed += message.Consumed()
		if len(names) == 3 {
			return stop
		}
		return err
	})
	if err != stop {
		t.Errorf("error %v, want the function's", err)
	}
	if strings.Join(names, " ") != "archive.mbox#1 archive.mbox#2 archive.mbox#3" || strings.Join(raws, "|") != "Subject: second\n\n|Subject: third\n" {
		t.Errorf("names %q, messages %q", names, raws)
	}
	if consumed != int64(len(mbox)) {
		t.Errorf("consumed %d of %d bytes", consumed, len(mbox))
	}
}
