// Package testmail makes messages for tests of more than one package.
package testmail

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
)

// Large makes a message of a short text part and an attachment of
// attachmentSize pseudo-random bytes (from seed) in base64, CRLF lines of
// 76 characters, and gives its source and the attachment's bytes. Its text
// holds a line that starts with a dot, for POP3's dot-stuffing.
func Large(seed uint64, subject string, attachmentSize int) (raw, attachment []byte) {
	random := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	attachment = make([]byte, attachmentSize+8)
	for i := 0; i+8 <= len(attachment); i += 8 {
		binary.LittleEndian.PutUint64(attachment[i:], random.Uint64())
	}
	attachment = attachment[:attachmentSize]
	var b bytes.Buffer
	b.Grow(attachmentSize/57*78 + 4096)
	fmt.Fprintf(&b, "From: Anna <anna@example.com>\r\nTo: archive@example.com\r\nSubject: %s\r\n"+
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\r\nMessage-ID: <large-%d@example.com>\r\nMIME-Version: 1.0\r\n"+
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nКвитанция %d: the backup is attached.\r\n.a line that starts with a dot\r\n\r\n"+
		"--b1\r\nContent-Type: application/octet-stream; name=\"backup-%d.bin\"\r\n"+
		"Content-Disposition: attachment; filename=\"backup-%d.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n",
		subject, seed, seed, seed, seed)
	line := make([]byte, 76)
	for i := 0; i < len(attachment); i += 57 {
		chunk := attachment[i:min(i+57, len(attachment))]
		base64.StdEncoding.Encode(line, chunk)
		b.Write(line[:base64.StdEncoding.EncodedLen(len(chunk))])
		b.WriteString("\r\n")
	}
	b.WriteString("--b1--\r\n")
	return b.Bytes(), attachment
}
