package mime

import (
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkParse parses every message of the golden corpus once per
// iteration and reports messages per second.
func BenchmarkParse(b *testing.B) {
	emls, _ := filepath.Glob(filepath.Join(goldenDir, "*.eml"))
	var msgs [][]byte
	total := 0
	for _, e := range emls {
		raw, err := os.ReadFile(e)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, raw)
		total += len(raw)
	}
	if len(msgs) == 0 {
		b.Fatal("no golden messages")
	}
	b.SetBytes(int64(total))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		for _, raw := range msgs {
			Parse(raw, Options{})
		}
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "msg/s")
}

// BenchmarkParseTypical parses one ordinary 4 KB message: trace headers,
// addresses, a date, an RFC 2047 subject, a plain-text body. It is what a
// mail fetch parses thousands of times.
func BenchmarkParseTypical(b *testing.B) {
	raw := []byte("Return-Path: <alice@example.com>\r\n" +
		"Received: from mail.example.com (mail.example.com [192.0.2.1])\r\n\tby mx.example.org (Postfix) with ESMTPS id 4F1A2B3C4D\r\n\tfor <bob@example.org>; Mon, 2 Jan 2024 10:00:00 +0000 (UTC)\r\n" +
		"Received: from [10.0.0.5] (unknown [10.0.0.5])\r\n\tby mail.example.com (Postfix) with ESMTPSA id 1234567890\r\n\tfor <bob@example.org>; Mon, 2 Jan 2024 09:59:58 +0000 (UTC)\r\n" +
		"From: Alice Example <alice@example.com>\r\nTo: Bob <bob@example.org>, \"Team, Sales\" <sales@example.org>\r\nCc: carol@example.net\r\n" +
		"Subject: =?utf-8?B?0J7RgtGH0ZHRgiDQt9CwINC60LLQsNGA0YLQsNC7?=\r\nDate: Mon, 2 Jan 2024 10:00:00 +0000\r\n" +
		"Message-ID: <20240102100000.12345@mail.example.com>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	for len(raw) < 4000 {
		raw = append(raw, "The quarterly numbers are ready for review; please send your comments by Friday.\r\n"...)
	}
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		Parse(raw, Options{})
	}
}
