package mailfile

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// readMbox reads every message of input to its end and checks the byte
// count: it never goes down, and once Next says io.EOF it is size.
func readMbox(t *testing.T, input io.Reader, size int) []string {
	t.Helper()
	reader := NewMboxReader(input)
	var messages []string
	var consumed int64
	for {
		message, err := reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("message %d: %v", len(messages)+1, err)
		}
		if reader.Number() != len(messages)+1 {
			t.Fatalf("message %d numbered %d", len(messages)+1, reader.Number())
		}
		raw, err := io.ReadAll(message)
		if err != nil {
			t.Fatalf("message %d: %v", len(messages)+1, err)
		}
		messages = append(messages, string(raw))
		if reader.Consumed() < consumed {
			t.Fatalf("message %d: consumed went down from %d to %d", len(messages), consumed, reader.Consumed())
		}
		consumed = reader.Consumed()
	}
	if reader.Consumed() != int64(size) {
		t.Errorf("consumed %d of %d bytes", reader.Consumed(), size)
	}
	return messages
}

func TestMboxReader(t *testing.T) {
	long := strings.Repeat("z", 200000)
	// A line of exactly the buffer's size, its line end included, is still
	// looked at; one byte more and it is text as it is.
	fits := strings.Repeat("y", bufferSize-len(">From \n"))
	for _, test := range []struct {
		name, mbox string
		want       []string
	}{
		{"crlf", "From x\r\nSubject: a\r\n\r\nbody\r\n\r\nFrom y\r\nSubject: b\r\n\r\nb\r\n", []string{"Subject: a\r\n\r\nbody\r\n", "Subject: b\r\n\r\nb\r\n"}},
		{"no final blank line", "From x\nSubject: a\n\nbody", []string{"Subject: a\n\nbody"}},
		{"blank lines kept inside", "From x\nA: b\n\n\n\nbody\n\n\n", []string{"A: b\n\n\n\nbody\n\n"}},
		{"mboxrd", "From x\nA: b\n\n>From a\n>>From b\n> From c\n\n", []string{"A: b\n\nFrom a\n>From b\n> From c\n"}},
		{"escape only at line starts", "From x\nA: b\n\nsee >From a\n>From\n", []string{"A: b\n\nsee >From a\n>From\n"}},
		{"from not after a blank line", "From x\nA: b\n\nline\nFrom here on\n\nFrom y\nB: c\n", []string{"A: b\n\nline\nFrom here on\n", "B: c\n"}},
		{"from after a crlf blank line", "From x\nA: b\n\r\nFrom y\nB: c\n", []string{"A: b\n", "B: c\n"}},
		{"long line", "From x\nA: " + long + "\n\n", []string{"A: " + long + "\n"}},
		{"long escaped line is text", "From x\n\n>From " + long + "\n", []string{"\n>From " + long + "\n"}},
		{"long from line after a blank line is text", "From x\nA: b\n\nFrom " + long + "\n\nFrom y\n", []string{"A: b\n\nFrom " + long + "\n", ""}},
		{"line that just fits", "From x\n>From " + fits + "\n", []string{"From " + fits + "\n"}},
		{"line one byte too long", "From x\n>From " + fits + "y\n", []string{">From " + fits + "y\n"}},
		{"last line of the buffer's size is text", "From x\n\n>From " + fits + "y", []string{"\n>From " + fits + "y"}},
		{"final separator without a line end", "From x\nA: b\n\nFrom y", []string{"A: b\n", ""}},
		{"empty message", "From x\n\nFrom y\nA: b\n", []string{"", "A: b\n"}},
		{"only a separator", "From x\n", []string{""}},
		{"text before the first separator", "junk\n\nFrom x\nA: b\n", []string{"A: b\n"}},
		{"no separator", "Subject: not an mbox\n\nbody\n", nil},
		{"empty", "", nil},
		{"lone carriage returns", "From x\nA: b\r\r\n\r\rFrom y\n", []string{"A: b\r\r\n\r\rFrom y\n"}},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := readMbox(t, strings.NewReader(test.mbox), len(test.mbox))
			if strings.Join(got, "|") != strings.Join(test.want, "|") || len(got) != len(test.want) {
				t.Errorf("got %q; want %q", got, test.want)
			}
			if strings.HasPrefix(test.mbox, "From ") {
				reference, err := referenceMessages([]byte(test.mbox))
				if err != nil || strings.Join(got, "|") != strings.Join(reference, "|") || len(got) != len(reference) {
					t.Errorf("got %q; the old splitter gave %q (%v)", got, reference, err)
				}
			}
		})
	}
}

// TestMboxReaderReads: the messages do not depend on how the input's reads
// or the message's reads fall.
func TestMboxReaderReads(t *testing.T) {
	mbox := "From x\r\nA: b\r\n\r\n>From c\r\n\r\nFrom y\nB: " + strings.Repeat("q", 70000) + "\n\n" +
		"From z\n\n>From " + strings.Repeat("y", bufferSize-len(">From ")) + "\n"
	want := readMbox(t, strings.NewReader(mbox), len(mbox))
	for _, test := range []struct {
		name  string
		input func() io.Reader
	}{
		{"one byte at a time", func() io.Reader { return iotest.OneByteReader(strings.NewReader(mbox)) }},
		{"half reads", func() io.Reader { return iotest.HalfReader(strings.NewReader(mbox)) }},
		{"data with the end of input", func() io.Reader { return iotest.DataErrReader(strings.NewReader(mbox)) }},
		{"a larger bufio.Reader", func() io.Reader { return bufio.NewReaderSize(strings.NewReader(mbox), 1<<20) }},
		{"a bufio.Reader of the same size", func() io.Reader { return bufio.NewReaderSize(strings.NewReader(mbox), bufferSize) }},
	} {
		t.Run(test.name, func(t *testing.T) {
			got := readMbox(t, test.input(), len(mbox))
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("got %q; want %q", got, want)
			}
		})
	}
	t.Run("message read a byte at a time", func(t *testing.T) {
		reader := NewMboxReader(strings.NewReader(mbox))
		var got []string
		for {
			message, err := reader.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			raw, err := io.ReadAll(iotest.OneByteReader(message))
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, string(raw))
		}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("got %q; want %q", got, want)
		}
	})
}

// TestMboxReaderSkips: Next skips what is left of a message, and the
// skipped message's stream says so rather than giving another's bytes.
func TestMboxReaderSkips(t *testing.T) {
	mbox := "From a\nSubject: one\n\n" + strings.Repeat("line of the first message\n", 5000) + "\n" +
		"From b\nSubject: two\n\nsecond\n\nFrom c\nSubject: three\n\nthird\n"
	for _, read := range []int{0, 1, 10, 100000} {
		reader := NewMboxReader(strings.NewReader(mbox))
		first, err := reader.Next()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(first, make([]byte, read)); err != nil && read < 100000 {
			t.Fatal(err)
		}
		second, err := reader.Next()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := first.Read(make([]byte, 10)); !errors.Is(err, errStale) {
			t.Errorf("read %d: the skipped message's stream gives %v", read, err)
		}
		if raw, err := io.ReadAll(second); err != nil || string(raw) != "Subject: two\n\nsecond\n" {
			t.Errorf("read %d: second message %q, %v", read, raw, err)
		}
		if _, err := reader.Next(); err != nil || reader.Number() != 3 {
			t.Errorf("read %d: third message %d, %v", read, reader.Number(), err)
		}
		if _, err := reader.Next(); err != io.EOF || reader.Consumed() != int64(len(mbox)) {
			t.Errorf("read %d: at the end %v, consumed %d of %d", read, err, reader.Consumed(), len(mbox))
		}
	}
}

// TestMboxReaderError: an input's read error comes from the stream and
// from Next, naming the message.
func TestMboxReaderError(t *testing.T) {
	broken := errors.New("disk gone")
	input := io.MultiReader(strings.NewReader("From a\nA: b\n\nFrom b\nSubject: two\n\nsome"), iotest.ErrReader(broken))
	reader := NewMboxReader(input)
	if _, err := reader.Next(); err != nil {
		t.Fatal(err)
	}
	second, err := reader.Next()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(second)
	if !errors.Is(err, broken) || !strings.Contains(err.Error(), "message 2") {
		t.Errorf("stream: %q, %v", raw, err)
	}
	if _, err := reader.Next(); !errors.Is(err, broken) {
		t.Errorf("next: %v", err)
	}
}

// TestMboxReaderMatchesReference: on generated inputs made of the lines
// that matter to a splitter, the reader gives the old splitter's messages.
func TestMboxReaderMatchesReference(t *testing.T) {
	// The inputs of the importer's test of its splitter's spilling.
	for _, mbox := range []string{
		"From x\r\nSubject: a\r\n\r\nbody\r\n\r\nFrom y\r\nSubject: b, a longer one\r\n\r\nwith more lines\r\n>From escaped\r\n\r\n\r\n",
		"From x\nA: b\n\n\n\nbody that is long enough to spill\n\n\nFrom y\nS: small\n\n",
		"From x\nA: " + strings.Repeat("z", 200000) + "\n\nFrom y\nB: c\n\nd\n",
		"From x\nSubject: no final blank line, and long enough",
	} {
		compareWithReference(t, []byte(mbox))
	}
	random := rand.New(rand.NewPCG(12, 2026))
	for range 600 {
		mbox := generatedMbox(random)
		compareWithReference(t, mbox)
		if t.Failed() {
			return
		}
	}
}

// generatedMbox makes an mbox-like input of the lines that matter to a
// splitter: separators, blank lines (LF and CRLF), escaped and unescaped
// "From " lines, lines about the buffer's size, lines without an end.
func generatedMbox(random *rand.Rand) []byte {
	pieces := []string{
		"From sender@example.com Sat Jan  3 01:05:34 1996\n", "From x\r\n", "From \n", "From", "From",
		"\n", "\r\n", "\n", "\r\n", "\r",
		">From a\n", ">>From b\r\n", ">From", "> From c\n", "From the body\n", " From\n",
		"Subject: a\n", "text", "text\n", "line\r\n",
	}
	var mbox bytes.Buffer
	mbox.WriteString("From start\n")
	for range random.IntN(40) {
		switch random.IntN(30) {
		case 0:
			// A line about the buffer's size, escaped or a separator or
			// neither, with or without its end.
			prefix := []string{"", "From ", ">From ", ">>From "}[random.IntN(4)]
			size := bufferSize - 3 + random.IntN(6)
			line := prefix + strings.Repeat("L", max(0, size-len(prefix)-1))
			if random.IntN(2) == 0 {
				line += "\n"
			}
			mbox.WriteString(line)
		default:
			mbox.WriteString(pieces[random.IntN(len(pieces))])
		}
	}
	return mbox.Bytes()
}

// compareWithReference checks the reader's messages of mbox against the
// old splitter's.
func compareWithReference(t *testing.T, mbox []byte) {
	t.Helper()
	want, err := referenceMessages(mbox)
	if err != nil {
		t.Fatal(err)
	}
	got := readMbox(t, bytes.NewReader(mbox), len(mbox))
	if len(got) != len(want) {
		t.Errorf("%q: %d messages, the old splitter gave %d", shorten(mbox), len(got), len(want))
		return
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%q: message %d is %q, the old splitter gave %q", shorten(mbox), i+1, shorten([]byte(got[i])), shorten([]byte(want[i])))
		}
	}
}

// shorten keeps a failure's message readable when an input has long lines.
func shorten(text []byte) string {
	if len(text) <= 400 {
		return string(text)
	}
	return string(text[:200]) + "..." + string(text[len(text)-200:])
}

// peerCorpus gives the messages of the shared peer corpus (real messages
// from other projects' test suites, read in place, never copied here), or
// skips when it is not on this machine.
func peerCorpus(t *testing.T) [][]byte {
	t.Helper()
	const root = "/work/shared/peer-corpus"
	if _, err := os.Stat(root); err != nil {
		t.Skipf("no peer corpus: %v", err)
	}
	var messages [][]byte
	err := filepath.WalkDir(root, func(path string, entry os.DirEntry, err error) error {
		if err != nil || entry.IsDir() || strings.HasSuffix(path, ".md") || strings.Contains(path, "LICENSE") {
			return err
		}
		raw, err := os.ReadFile(path)
		messages = append(messages, raw)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return messages
}

// writeMboxrd writes messages as an mboxrd file with newline as its
// separators' line end, as mail tools do: each message after a "From "
// line, every line matching ">*From " escaped with one more ">", a line
// end added to a message without one, a blank line after it.
func writeMboxrd(messages [][]byte, newline string) []byte {
	var mbox bytes.Buffer
	for _, message := range messages {
		mbox.WriteString("From writer@example.com Thu Jan  1 00:00:00 1970" + newline)
		for line := range bytes.Lines(message) {
			if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) {
				mbox.WriteByte('>')
			}
			mbox.Write(line)
		}
		if len(message) > 0 && message[len(message)-1] != '\n' {
			mbox.WriteString(newline)
		}
		mbox.WriteString(newline)
	}
	return mbox.Bytes()
}

// roundTrips says whether writeMboxrd's message reads back as it is: it
// must end with a line end (else it reads back with the one the writer
// added), and an escaped line must not outgrow the longest line the reader
// looks at.
func roundTrips(message []byte) bool {
	if len(message) > 0 && message[len(message)-1] != '\n' {
		return false
	}
	for line := range bytes.Lines(message) {
		if bytes.HasPrefix(bytes.TrimLeft(line, ">"), []byte("From ")) && len(line)+1 > bufferSize {
			return false
		}
	}
	return true
}

// TestMboxReaderPeerCorpus: the corpus's real messages, written into mbox
// files in the ways found in the wild (mboxrd with LF or CRLF separators,
// and unescaped, each message as it is after a "From " line), read back as
// the old splitter read them, and as they were where mboxrd promises it.
func TestMboxReaderPeerCorpus(t *testing.T) {
	messages := peerCorpus(t)
	for _, newline := range []string{"\n", "\r\n"} {
		mbox := writeMboxrd(messages, newline)
		compareWithReference(t, mbox)
		got := readMbox(t, bytes.NewReader(mbox), len(mbox))
		if len(got) != len(messages) {
			t.Fatalf("%d messages read back, %d written", len(got), len(messages))
		}
		for i, message := range messages {
			if roundTrips(message) && got[i] != string(message) {
				t.Errorf("message %d does not read back as written", i+1)
			}
		}
	}
	for _, message := range messages {
		compareWithReference(t, append([]byte("From unescaped@example.com Thu Jan  1 00:00:00 1970\n"), message...))
	}
	var unescaped bytes.Buffer
	for _, message := range messages {
		unescaped.WriteString("From unescaped@example.com Thu Jan  1 00:00:00 1970\n")
		unescaped.Write(message)
	}
	compareWithReference(t, unescaped.Bytes())
}

// TestMboxReaderLargeMessage streams a 100 MB message out of an mbox
// between two small ones and checks that the reader allocated a small
// fraction of that: it holds its buffer, never the message.
func TestMboxReaderLargeMessage(t *testing.T) {
	line := []byte(strings.Repeat("QUJD", 19) + "\r\n") // a base64 line
	size := (100 << 20) / len(line) * len(line)         // whole lines
	body := func() io.Reader {
		return io.LimitReader(&repeatReader{pattern: line}, int64(size))
	}
	input := io.MultiReader(
		strings.NewReader("From a\r\nSubject: small\r\n\r\none\r\n\r\nFrom b\r\nSubject: large\r\n\r\n"),
		body(),
		strings.NewReader("\r\nFrom c\r\nSubject: small too\r\n\r\ntwo\r\n"),
	)
	wantHash := sha256.New()
	io.WriteString(wantHash, "Subject: large\r\n\r\n")
	io.Copy(wantHash, body())

	reader := NewMboxReader(input)
	copyBuffer := make([]byte, 32<<10)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var hashes [][]byte
	for {
		message, err := reader.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		hash := sha256.New()
		if _, err := io.CopyBuffer(hash, message, copyBuffer); err != nil {
			t.Fatal(err)
		}
		hashes = append(hashes, hash.Sum(nil))
	}
	runtime.ReadMemStats(&after)
	if allocated := after.TotalAlloc - before.TotalAlloc; allocated > 1<<20 {
		t.Errorf("reading a %d MB message allocated %d bytes", size>>20, allocated)
	}
	if len(hashes) != 3 {
		t.Fatalf("%d messages, want 3", len(hashes))
	}
	if !bytes.Equal(hashes[1], wantHash.Sum(nil)) {
		t.Errorf("the large message's hash is %x, want %x", hashes[1], wantHash.Sum(nil))
	}
}

// repeatReader repeats its pattern without end, without allocating.
type repeatReader struct {
	pattern []byte
	offset  int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		copied := copy(p[n:], r.pattern[r.offset:])
		n += copied
		r.offset = (r.offset + copied) % len(r.pattern)
	}
	return n, nil
}
