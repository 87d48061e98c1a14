package mailfile

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// referenceSplit is the mbox splitter "pochta import" had before this
// package (splitMbox in cmd/pochta/import.go, commit 4cb8d20), kept
// verbatim but for its spilling of large messages to temporary files (a
// memory matter, not one of bytes) as the oracle of the byte-exact tests:
// the messages the MboxReader gives must be the ones it gave, so that an
// archive imported again finds its messages as duplicates. It holds a
// whole message in memory; do not use it for anything but tests.
func referenceSplit(reader *bufio.Reader, emit func(n int, raw []byte, consumed int64) bool) error {
	var message bytes.Buffer
	var consumed int64
	n := 0
	inMessage := false
	previousBlank := true // the file's start counts as after a blank line
	// pendingBlank is a blank line held back: it is the separator when a
	// "From " line follows, else part of the message.
	var pendingBlank []byte
	finish := func() bool {
		if !inMessage {
			return true
		}
		n++
		raw := bytes.Clone(message.Bytes())
		message.Reset()
		ok := emit(n, raw, consumed)
		consumed = 0
		return ok
	}
	for {
		line, err := reader.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line longer than the buffer: take it in pieces; none of
			// them is a separator or a blank line.
			consumed += int64(len(line))
			message.Write(pendingBlank)
			pendingBlank = nil
			message.Write(line)
			previousBlank = false
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = reader.ReadSlice('\n')
				consumed += int64(len(line))
				message.Write(line)
			}
			if err != nil && err != io.EOF {
				return err
			}
			if err == io.EOF {
				break
			}
			continue
		}
		if len(line) == 0 && err == io.EOF {
			break
		}
		if err != nil && err != io.EOF {
			return err
		}
		consumed += int64(len(line))
		blank := len(line) == 1 && line[0] == '\n' || len(line) == 2 && line[0] == '\r' && line[1] == '\n'
		switch {
		case previousBlank && bytes.HasPrefix(line, []byte("From ")):
			pendingBlank = nil
			if !finish() {
				return nil
			}
			inMessage = true
		case blank:
			message.Write(pendingBlank)
			pendingBlank = append(pendingBlank[:0:0], line...)
		default:
			message.Write(pendingBlank)
			pendingBlank = nil
			if unescaped, ok := referenceUnescape(line); ok {
				line = unescaped
			}
			message.Write(line)
		}
		previousBlank = blank
		if err == io.EOF {
			break
		}
	}
	// The blank line at the end of the file closes the last message.
	finish()
	return nil
}

// referenceUnescape is the splitter's mboxrdUnescape: it removes one ">"
// from a line of the form ">+From ".
func referenceUnescape(line []byte) ([]byte, bool) {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	if i == 0 || !bytes.HasPrefix(line[i:], []byte("From ")) {
		return nil, false
	}
	return line[1:], true
}

// referenceMessages splits mbox with referenceSplit, reading it the way
// the importer did (a 64 KiB buffer over a file-like reader).
func referenceMessages(mbox []byte) ([]string, error) {
	var messages []string
	err := referenceSplit(bufio.NewReaderSize(bytes.NewReader(mbox), 64<<10), func(n int, raw []byte, consumed int64) bool {
		messages = append(messages, string(raw))
		return true
	})
	return messages, err
}
