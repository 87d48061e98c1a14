package intake

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"pochta.dev/pochta/internal/mime"
	"pochta.dev/pochta/internal/store"
)

// MaxInMemory is the size up to which a message is read into memory and
// stored as one value; a larger one is spooled to a temporary file (see
// [Spool]) and stored in chunks, so that receiving it needs a few MB of
// memory whatever its size.
const MaxInMemory = 8 << 20

// Spool is a received message written to temporary files as it was read:
// its exact bytes (for the parser, which reads it once more) and, when the
// source is to be kept, its compressed form (what the store keeps), with
// the hash of the bytes. Close removes the files.
type Spool struct {
	raw            *os.File
	compressed     *os.File
	size           int64
	compressedSize int64
	hash           string
}

// NewSpool reads r to its end into a spool in dir ("" is the system's
// temporary folder). It holds a few MB of memory whatever the size.
func NewSpool(r io.Reader, dir string, compress bool) (_ *Spool, err error) {
	// Not the named result: "return nil, err" would clear it before the
	// deferred Close, which must remove the files made so far.
	spool := &Spool{}
	defer func() {
		if err != nil {
			spool.Close()
		}
	}()
	if spool.raw, err = os.CreateTemp(dir, SpoolPrefix()+"*.eml"); err != nil {
		return nil, fmt.Errorf("spool message: %w", err)
	}
	hasher := sha256.New()
	writers := []io.Writer{spool.raw, hasher}
	var compressor io.WriteCloser
	if compress {
		if spool.compressed, err = os.CreateTemp(dir, SpoolPrefix()+"*.zst"); err != nil {
			return nil, fmt.Errorf("spool message: %w", err)
		}
		if compressor, err = store.SourceWriter(spool.compressed); err != nil {
			return nil, fmt.Errorf("spool message: %w", err)
		}
		writers = append(writers, compressor)
	}
	if spool.size, err = io.Copy(io.MultiWriter(writers...), r); err != nil {
		return nil, fmt.Errorf("spool message: %w", err)
	}
	if compressor != nil {
		if err := compressor.Close(); err != nil {
			return nil, fmt.Errorf("spool message: %w", err)
		}
		if spool.compressedSize, err = spool.compressed.Seek(0, io.SeekCurrent); err != nil {
			return nil, fmt.Errorf("spool message: %w", err)
		}
	}
	spool.hash = hashString(hasher)
	return spool, nil
}

// SpoolPrefix starts the names of this process's spool files: the process
// ID in it lets a restarted Pochta remove what a killed one left behind
// without touching the files of another process sharing the folder.
func SpoolPrefix() string { return fmt.Sprintf("pochta-%d-message-", os.Getpid()) }

// SpoolOwner gives the process ID in a spool file's name, or 0.
func SpoolOwner(name string) int {
	var pid int
	if _, err := fmt.Sscanf(name, "pochta-%d-message-", &pid); err != nil {
		return 0
	}
	return pid
}

func hashString(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

// Size is the message's size in bytes.
func (s *Spool) Size() int64 { return s.size }

// SHA256 is the hex SHA-256 of the message's bytes (its duplicate key).
func (s *Spool) SHA256() string { return s.hash }

// Parse parses the spooled message (see [mime.ParseAt]) with charset as the
// fallback for undeclared text. A message is spooled because it is larger
// than [MaxInMemory], so that is also the size above which the parser
// keeps only a reduced copy: with mime's own default (16 MB) a message of
// 8 to 16 MB was read whole and its attachments decoded in memory, which
// took more memory than a 100 MB message does.
func (s *Spool) Parse(charset string) (*mime.Message, error) {
	return mime.ParseAt(s.raw, s.size, mime.Options{FallbackCharset: charset, MaxInMemory: MaxInMemory})
}

// Close removes the spool's files.
func (s *Spool) Close() error {
	var errs []error
	for _, f := range []*os.File{s.raw, s.compressed} {
		if f != nil {
			errs = append(errs, f.Close(), os.Remove(f.Name()))
		}
	}
	return errors.Join(errs...)
}
