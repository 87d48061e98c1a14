package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// bigMessageBench imports one large message (mostly a base64 attachment)
// with "pochta import" into a fresh SQLite data folder and reports the
// import process's peak resident memory, against the same import of a
// small message (the baseline: the binary, SQLite, migrations).
func bigMessageBench(args []string) error {
	flags := flag.NewFlagSet("bigmessage", flag.ContinueOnError)
	binary := flags.String("binary", "./pochta", "the pochta binary")
	sizeText := flags.String("size", "100MB", "message size (MB)")
	if err := flags.Parse(args); err != nil {
		return err
	}
	mb, err := strconv.Atoi(strings.TrimSuffix(strings.ToUpper(*sizeText), "MB"))
	if err != nil {
		return fmt.Errorf("--size: %w", err)
	}
	dir, err := os.MkdirTemp("", "pochta-bench-big-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	small := filepath.Join(dir, "small.eml")
	if err := os.WriteFile(small, newGenerator(3).message(1, 4096, ""), 0o644); err != nil {
		return err
	}
	big := filepath.Join(dir, "big.eml")
	if err := writeBigMessage(big, mb<<20); err != nil {
		return err
	}
	info, err := os.Stat(big)
	if err != nil {
		return err
	}
	baseline, _, err := importPeak(*binary, filepath.Join(dir, "data-small"), small)
	if err != nil {
		return err
	}
	peak, took, err := importPeak(*binary, filepath.Join(dir, "data-big"), big)
	if err != nil {
		return err
	}
	fmt.Printf("message: %.1f MB (%d bytes), a base64 attachment of %.1f MB decoded\n", float64(info.Size())/(1<<20), info.Size(), float64(info.Size())*3/4/(1<<20))
	fmt.Printf("peak RSS of pochta import: small message %.1f MB, big message %.1f MB (%v)\n", float64(baseline)/1024, float64(peak)/1024, took.Round(time.Millisecond))
	fmt.Printf("peak RSS growth for the big message: %.1f MB\n", float64(peak-baseline)/1024)
	return nil
}

// importPeak runs "pochta import" of one file into a new data folder and
// gives the process's peak RSS in KB and its time.
//
// The import is started by a small child of this process (peakRSSChild),
// not by this process itself: on Linux a child's ru_maxrss starts at its
// parent's resident size when it was forked (and exec keeps it), so a
// pochta started from here would report at least this process's RSS (about
// 50 MB after benchMailbox), whatever it used itself.
func importPeak(binary, data, file string) (int64, time.Duration, error) {
	mailboxID, err := benchMailbox(data, "", false)
	if err != nil {
		return 0, 0, err
	}
	self, err := os.Executable()
	if err != nil {
		return 0, 0, err
	}
	command := exec.Command(self, "peak-rss", binary, "import", "--data", data, "--mailbox", fmt.Sprint(mailboxID), "--quiet", file)
	var out, report bytes.Buffer
	command.Stdout, command.Stderr = &report, &out
	started := time.Now()
	if err := command.Run(); err != nil {
		return 0, 0, fmt.Errorf("pochta import: %v\n%s", err, out.String())
	}
	took := time.Since(started)
	kb, err := strconv.ParseInt(strings.TrimSpace(report.String()), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("peak-rss: %q: %w", report.String(), err)
	}
	return kb, took, nil
}

// peakRSSChild runs a command (its output to this process's stderr) and
// prints its peak RSS in KB (getrusage ru_maxrss) on stdout. Run as a child
// of the bench, it is a small process, so that the command's ru_maxrss is
// its own peak (see importPeak).
func peakRSSChild(args []string) error {
	if len(args) == 0 {
		return errors.New("peak-rss: no command")
	}
	command := exec.Command(args[0], args[1:]...)
	command.Stdout, command.Stderr = os.Stderr, os.Stderr
	if err := command.Run(); err != nil {
		return err
	}
	usage, ok := command.ProcessState.SysUsage().(*syscall.Rusage)
	if !ok {
		return errors.New("no rusage")
	}
	fmt.Println(usage.Maxrss)
	return nil
}

// writeBigMessage writes a message of about size bytes: a short text part
// and an attachment of random bytes in base64.
func writeBigMessage(path string, size int) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	defer file.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	fmt.Fprintf(w, "From: Anna <anna@example.com>\r\nTo: archive@example.com\r\nSubject: big backup\r\nDate: Mon, 1 Jan 2024 10:00:00 +0000\r\n"+
		"Message-ID: <big@example.com>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"+
		"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe backup is attached.\r\n\r\n"+
		"--b1\r\nContent-Type: application/octet-stream; name=\"backup.bin\"\r\nContent-Disposition: attachment; filename=\"backup.bin\"\r\n"+
		"Content-Transfer-Encoding: base64\r\n\r\n")
	rng := rand.New(rand.NewPCG(5, 6))
	chunk := make([]byte, 57*1000)
	line := make([]byte, base64.StdEncoding.EncodedLen(57))
	for written := 0; written < size-400; written += 78 * 1000 {
		for i := range chunk {
			chunk[i] = byte(rng.Uint32())
		}
		for i := 0; i < len(chunk); i += 57 {
			base64.StdEncoding.Encode(line, chunk[i:i+57])
			w.Write(line)
			w.WriteString("\r\n")
		}
	}
	w.WriteString("--b1--\r\n")
	if err := w.Flush(); err != nil {
		return err
	}
	return file.Close()
}
