// Package mailfile reads messages out of files on disk: single message
// files (.eml), Maildir folders (cur/ and new/), other folders (their
// files) and mbox files (mboxo and mboxrd). It streams: a message of any
// size passes through a buffer of 64 KiB, and the caller decides whether
// it goes to memory or to a spool file.
package mailfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// ErrEmptyFile is what [Read] returns for a file without a byte: it is not
// a message.
var ErrEmptyFile = errors.New("empty file, not a message")

// Source is one file to read, or a path that could not be read (Err).
type Source struct {
	Path string
	Size int64
	Err  error
}

// Expand turns paths (a command line's) into the files to read: a Maildir
// folder gives the files of its cur/ then its new/ folder, another folder
// its files, a file itself. Within a folder the files are in the order of
// their names, without hidden files and anything but regular files. It
// also gives the files' total size, for a progress percentage. A path or
// folder that cannot be read is a Source with Err, in its place.
func Expand(paths []string) (sources []Source, total int64) {
	add := func(path string) {
		info, err := os.Stat(path)
		if err != nil {
			sources = append(sources, Source{Path: path, Err: err})
			return
		}
		sources = append(sources, Source{Path: path, Size: info.Size()})
		total += info.Size()
	}
	for _, path := range paths {
		info, err := os.Stat(path)
		if err != nil {
			sources = append(sources, Source{Path: path, Err: err})
			continue
		}
		if !info.IsDir() {
			add(path)
			continue
		}
		var folders []string
		for _, sub := range []string{"cur", "new"} {
			if subInfo, err := os.Stat(filepath.Join(path, sub)); err == nil && subInfo.IsDir() {
				folders = append(folders, filepath.Join(path, sub))
			}
		}
		if len(folders) == 0 {
			folders = []string{path} // a folder of message files
		}
		for _, folder := range folders {
			entries, err := os.ReadDir(folder)
			if err != nil {
				sources = append(sources, Source{Path: folder, Err: err})
				continue
			}
			sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
			for _, entry := range entries {
				if strings.HasPrefix(entry.Name(), ".") || !entry.Type().IsRegular() {
					continue
				}
				add(filepath.Join(folder, entry.Name()))
			}
		}
	}
	return sources, total
}

// Message is one message [Read] found.
type Message struct {
	// Name names the message in error lines: the file's path, or for a
	// message of an mbox file the path and its number ("archive.mbox#3").
	Name string
	// Reader streams the message's bytes. It is valid until the function
	// given the message returns.
	Reader io.Reader
	// Size is the message's size when it is known before it is read (a
	// file of its own), else -1.
	Size int64

	consumed func() int64
}

// Consumed is the number of the file's bytes taken since the previous
// message's function returned (for the first message, since the file's
// start), for a progress percentage: what was skipped of the previous
// message, the separator line of a message of an mbox file, the lines
// Reader has taken to give the message, and once Reader is at its end,
// the blank line that closed it. When every function asks last, after
// reading its message to the end, the counts add up to the file's size.
func (m Message) Consumed() int64 {
	if m.consumed == nil {
		return 0
	}
	return m.consumed()
}

// Read opens the file path and gives its messages to handle in order: an
// mbox file (one whose first line starts with "From ") gives each of its
// messages, any other file is one message. An empty file is
// [ErrEmptyFile]. What handle leaves of a message unread is skipped. Read
// stops at the first error of handle and returns it as it is.
func Read(path string, handle func(Message) error) error {
	file, err := os.Open(path)
	if err != nil {
		return err
	}
	defer file.Close()
	input := bufio.NewReaderSize(file, bufferSize)
	head, err := input.Peek(len("From "))
	if err != nil && err != io.EOF {
		return err // the file's error, which names the file
	}
	if len(head) == 0 {
		return ErrEmptyFile
	}
	if string(head) != "From " {
		size := int64(-1)
		if info, err := file.Stat(); err == nil && info.Mode().IsRegular() {
			size = info.Size()
		}
		counter := &countingReader{reader: input}
		return handle(Message{Name: path, Reader: counter, Size: size, consumed: func() int64 { return counter.count }})
	}
	mbox := newMboxReader(input)
	var reported int64 // consumed when the previous message's handle returned
	for {
		stream, err := mbox.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		message := Message{
			Name:     fmt.Sprintf("%s#%d", path, mbox.Number()),
			Reader:   stream,
			Size:     -1,
			consumed: func() int64 { return mbox.Consumed() - reported },
		}
		if err := handle(message); err != nil {
			return err
		}
		reported = mbox.Consumed()
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	reader io.Reader
	count  int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.reader.Read(p)
	c.count += int64(n)
	return n, err
}
