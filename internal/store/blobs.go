package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"
)

// ChunkSize is the size of the pieces a large source or attachment body is
// stored in. Chunk 0 is the data column of the owning row (for ordinary
// messages the only chunk); the others are rows of a chunk table. Writing
// and reading a piece at a time keeps a 100 MB message out of memory and
// out of one SQLite value.
const ChunkSize = 1 << 20

// blobKind names the tables of one kind of chunked value.
type blobKind struct {
	owner   string // table of chunk 0 and the chunk count
	ownerID string // its key column
	chunks  string // table of the other chunks
	chunkID string // its owner column
}

var (
	sourceBlobs     = blobKind{owner: "message_sources", ownerID: "message_id", chunks: "message_source_chunks", chunkID: "message_id"}
	attachmentBlobs = blobKind{owner: "attachments", ownerID: "id", chunks: "attachment_chunks", chunkID: "attachment_id"}
)

// writeChunks stores the rest of a value after its first chunk: it reads r
// to its end in ChunkSize pieces, inserts each, and records the count in
// the owner row (only when there is more than one chunk, so that the
// common small value costs no UPDATE).
func (p *messageStatements) writeChunks(ctx context.Context, kind blobKind, owner int64, r io.Reader) error {
	buffer := make([]byte, ChunkSize)
	count := 1
	for {
		n, err := io.ReadFull(r, buffer)
		if n > 0 {
			if err := p.exec(ctx, `INSERT INTO `+kind.chunks+` (`+kind.chunkID+`, seq, data) VALUES (?, ?, ?)`, owner, count, buffer[:n]); err != nil {
				return fmt.Errorf("store chunk %d: %w", count, err)
			}
			count++
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read chunk %d: %w", count, err)
		}
	}
	if count == 1 {
		return nil
	}
	return p.exec(ctx, `UPDATE `+kind.owner+` SET chunks = ? WHERE `+kind.ownerID+` = ?`, count, owner)
}

// firstChunk reads up to ChunkSize bytes of r: the value of the owner row's
// data column.
func firstChunk(r io.Reader) ([]byte, error) {
	buffer := make([]byte, ChunkSize)
	n, err := io.ReadFull(r, buffer)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	if n < ChunkSize/4 {
		// Do not keep a 1 MB buffer for a small value.
		return bytes.Clone(buffer[:n]), nil
	}
	return buffer[:n], nil
}

// chunkReader reads a chunked value one chunk at a time, each in a query
// of its own, so that no transaction stays open while a client downloads.
type chunkReader struct {
	ctx     context.Context
	store   *Store
	kind    blobKind
	owner   int64
	chunks  int
	next    int // the chunk to load when current is used up
	current []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.current) == 0 {
		if c.next >= c.chunks {
			return 0, io.EOF
		}
		err := c.store.queryRow(c.ctx, `SELECT data FROM `+c.kind.chunks+` WHERE `+c.kind.chunkID+` = ? AND seq = ?`, c.owner, c.next).Scan(&c.current)
		if err != nil {
			return 0, fmt.Errorf("chunk %d of %s %d: %w", c.next, c.kind.owner, c.owner, mapError(err))
		}
		c.next++
	}
	n := copy(p, c.current)
	c.current = c.current[n:]
	return n, nil
}

// SourceWriter compresses a source the way the store keeps it, for a caller
// that spools a large message while receiving it (see
// [NewMessage.CompressedSource]).
//
// Its window is one chunk (sourceWindow): the encoder's history is twice
// its window (16 MB at zstd's default of 8 MB, a third of what importing
// a 100 MB message took), and a reader of the source needs a window's
// worth too. A large message is mostly base64, which gains nothing from a
// longer window; mail text loses about 3% of its compression.
func SourceWriter(w io.Writer) (io.WriteCloser, error) {
	return zstd.NewWriter(w, append(sourceEncoderOptions(), zstd.WithWindowSize(sourceWindow))...)
}

// sourceWindow is SourceWriter's zstd window.
const sourceWindow = ChunkSize

// decompressingReader streams a zstd value and frees the decoder on Close.
type decompressingReader struct {
	decoder *zstd.Decoder
}

func (d decompressingReader) Read(p []byte) (int, error) { return d.decoder.Read(p) }

func (d decompressingReader) Close() error {
	d.decoder.Close()
	return nil
}
