package pop3_test

import (
	"context"
	"errors"
	"io"
	"log"
	"time"

	"pochta.dev/pochta/internal/pop3"
)

// A fetch as Pochta's receiver does it: new messages by UIDL, pipelined,
// each streamed into storage, then deleted.
func Example() {
	ctx := context.Background()
	c, err := pop3.Dial(ctx, "pop.example.test:995", pop3.Options{
		Security: pop3.SecurityTLS,
		Timeout:  30 * time.Second,
		Trace:    func(direction, line string) { log.Printf("%s %s", direction, line) },
	})
	if err != nil {
		log.Print(err, " temporary: ", pop3.IsTemporary(err))
		return
	}
	defer c.Close()
	if err := c.Auth(ctx, "alice", "secret", pop3.AuthAuto); err != nil {
		var pe *pop3.Error
		if errors.As(err, &pe) && pe.Code == "IN-USE" {
			log.Print("mailbox busy, try later")
		}
		return
	}
	uids, err := c.UIDL(ctx)
	if errors.Is(err, pop3.ErrNoUIDL) {
		return // fall back to fetching everything, or report
	} else if err != nil {
		return
	}
	var numbers []int
	for _, u := range uids {
		numbers = append(numbers, u.Number) // skip known u.UID here
	}
	err = c.RetrPipelined(ctx, numbers, pop3.DefaultWindow, func(n int, r io.Reader) error {
		_, err := io.Copy(io.Discard, r) // store durably instead
		return err
	})
	if err != nil {
		return
	}
	if err := c.DelePipelined(ctx, numbers); err != nil {
		return
	}
	c.Quit(ctx) // commits the deletions
}
