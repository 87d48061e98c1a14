package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"pochta.dev/pochta/internal/service"
)

// queueList is "pochta queue list [--status S] [--limit N]": the outbound
// queue, newest first.
func queueList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("queue list", stderr)
	var common commonFlags
	common.register(flags)
	status := flags.String("status", "", "only this status: "+strings.Join(service.QueueStatuses, ", "))
	limit := flags.Int("limit", 50, "at most this many messages (up to 200)")
	if err := parse(flags, args); err != nil {
		return err
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	page, err := pochta.Service.OutboundQueue(ctx, service.System, service.QueueFilter{Status: *status, Limit: *limit})
	if err != nil {
		return fmt.Errorf("queue list: %w", err)
	}
	fmt.Fprintf(stdout, "%-6s %-8s %-7s %-3s %-19s %-19s %s\n", "ID", "STATUS", "KIND", "TRY", "CREATED", "NEXT TRY", "FROM -> TO: LAST REPLY")
	for _, m := range page.Items {
		next := "-"
		if m.NextAttemptAt != nil {
			next = m.NextAttemptAt.UTC().Format("2006-01-02 15:04:05")
		}
		var to []string
		for _, r := range m.Recipients {
			to = append(to, r.Address+" ("+r.Status+")")
		}
		sender := m.Sender
		if sender == "" {
			sender = "<>"
		}
		fmt.Fprintf(stdout, "%-6d %-8s %-7s %-3d %-19s %-19s %s -> %s: %s\n", m.ID, m.Status, m.Kind, m.Attempts,
			m.CreatedAt.UTC().Format("2006-01-02 15:04:05"), next, sender, strings.Join(to, ", "), m.LastReply)
	}
	return nil
}

// queueRetry is "pochta queue retry ID...": the messages are due now (a
// running serve process takes them at its next look, within seconds).
func queueRetry(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return eachQueued(ctx, "queue retry", args, stdout, stderr, func(svc *service.Service, id int64) (string, error) {
		return "will be tried again now", svc.RetryOutbound(ctx, service.System, id)
	})
}

// queueDelete is "pochta queue delete ID...": the messages are not sent.
func queueDelete(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return eachQueued(ctx, "queue delete", args, stdout, stderr, func(svc *service.Service, id int64) (string, error) {
		return "deleted", svc.DeleteOutbound(ctx, service.System, id)
	})
}

func eachQueued(ctx context.Context, name string, args []string, stdout, stderr io.Writer,
	do func(*service.Service, int64) (string, error)) error {
	flags := newFlagSet(name, stderr)
	var common commonFlags
	common.register(flags)
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if flags.NArg() == 0 {
		return usagef("%s: give the IDs of the messages (pochta queue list shows them)", name)
	}
	var ids []int64
	for _, arg := range flags.Args() {
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || id <= 0 {
			return usagef("%s: %q is not a message ID", name, arg)
		}
		ids = append(ids, id)
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	for _, id := range ids {
		done, err := do(pochta.Service, id)
		if err != nil {
			return fmt.Errorf("%s %d: %w", name, id, err)
		}
		fmt.Fprintf(stdout, "message %d %s\n", id, done)
	}
	return nil
}
