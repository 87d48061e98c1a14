package pop3

import (
	"context"
	"fmt"
	"io"
	"strconv"
)

// RetrPipelined retrieves the messages numbers in order and calls handle
// with each, streaming it as [Client.Retr] does. When the server offers
// PIPELINING (RFC 2449), up to window RETR commands are in flight (window
// <= 0 means DefaultWindow), so the fetch is not bound by round trips;
// otherwise the commands go one at a time.
//
// handle must not call the Client; what it leaves unread is discarded. If
// reading fails (connection dropped, timeout, line too long), the reader
// returns the error and RetrPipelined returns it even if handle does not:
// a message is complete only when its reader returned io.EOF and
// RetrPipelined did not fail while finishing it.
//
// The first -ERR reply (an *Error) or error from handle stops the fetch: no
// more commands are sent, the replies to those in flight are read and
// discarded, and the error is returned with the session still usable.
func (c *Client) RetrPipelined(ctx context.Context, numbers []int, window int, handle func(n int, r io.Reader) error) (err error) {
	if len(numbers) == 0 {
		return nil
	}
	o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { err = o.end(err) }()
	window, err = c.window(window)
	if err != nil {
		return err
	}
	return c.pipeline(len(numbers), window,
		func(i int) string { return "RETR " + strconv.Itoa(numbers[i]) },
		func(i int, command string, stopping bool) error {
			if _, err := c.readReply(command); err != nil {
				return err
			}
			m := c.newMsgReader(command)
			var herr error
			if !stopping {
				herr = handle(numbers[i], m)
			}
			m.Close()
			if m.err != io.EOF {
				return m.err // the connection is closed
			}
			if herr != nil {
				return fmt.Errorf("message %d: %w", numbers[i], herr)
			}
			return nil
		})
}

// DelePipelined marks the messages numbers for deletion, pipelined like
// [Client.RetrPipelined]. The first -ERR stops it (the replies in flight are
// still read) and is returned.
func (c *Client) DelePipelined(ctx context.Context, numbers []int) (err error) {
	if len(numbers) == 0 {
		return nil
	}
	o, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer func() { err = o.end(err) }()
	window, err := c.window(2 * DefaultWindow)
	if err != nil {
		return err
	}
	return c.pipeline(len(numbers), window,
		func(i int) string { return "DELE " + strconv.Itoa(numbers[i]) },
		func(i int, command string, stopping bool) error {
			_, err := c.readReply(command)
			return err
		})
}

// window returns the number of commands to keep in flight: 1 unless the
// server offers PIPELINING.
func (c *Client) window(window int) (int, error) {
	caps, err := c.capa()
	if err != nil {
		return 0, err
	}
	if !caps.Has("PIPELINING") {
		return 1, nil
	}
	if window <= 0 {
		window = DefaultWindow
	}
	return window, nil
}

// pipeline sends command(i) for i from 0 to total-1, keeping at most window
// unanswered, and calls reply for each in order. Commands are written in
// batches, one flush per batch: when half the window has been answered, it
// is filled up again. When reply returns an error, no more commands are
// sent, but the replies to those already sent are read (with stopping set)
// to keep the session in step; the first error is returned. An error that
// closed the connection is returned at once.
func (c *Client) pipeline(total, window int, command func(i int) string, reply func(i int, command string, stopping bool) error) error {
	var first error
	sent := 0
	cmds := make([]string, window) // in flight, by index modulo window
	for i := 0; i < total; i++ {
		if sent < total && sent-i <= window/2 {
			for sent < total && sent-i < window {
				cmds[sent%window] = command(sent)
				if err := c.send(cmds[sent%window]); err != nil {
					return err
				}
				sent++
			}
			if err := c.flush(); err != nil {
				return err
			}
		}
		err := reply(i, cmds[i%window], first != nil)
		if err == nil {
			continue
		}
		if c.broken != nil {
			return err
		}
		if first == nil {
			first = err
			total = sent
		}
	}
	return first
}
