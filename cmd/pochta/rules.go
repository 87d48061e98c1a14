package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/mailfile"
	"pochta.dev/pochta/internal/rules"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/spam"
	"pochta.dev/pochta/internal/store"
)

// rulesTest is "pochta rules test --mailbox ID FILE.eml": the dry run,
// which rules would fire on the message and why, changing nothing.
func rulesTest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("rules test", stderr)
	var common commonFlags
	common.register(flags)
	mailboxID := flags.Int64("mailbox", 0, "ID of the mailbox the message is taken as received into (0: rules of every mailbox only)")
	manual := flags.Bool("manual", false, "try the rules set to run manually instead of those on receipt")
	ruleID := flags.Int64("rule", 0, "try this rule alone, active or not")
	if err := flags.Parse(args); err != nil {
		return usageError{err}
	}
	if flags.NArg() != 1 {
		return usagef("rules test: give one message file")
	}
	raw, err := os.ReadFile(flags.Arg(0))
	if err != nil {
		return fmt.Errorf("rules test: %w", err)
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	event := rules.EventReceive
	if *manual {
		event = rules.EventManual
	}
	result, err := pochta.Service.TestRules(ctx, service.System, service.RuleTestInput{MailboxID: *mailboxID, Raw: raw, Event: event, RuleID: *ruleID})
	if err != nil {
		return fmt.Errorf("rules test: %w", err)
	}
	say := func(m i18n.Message) string { return i18n.Default.Message(i18n.Fallback, m) }
	if len(result.Matches) == 0 {
		fmt.Fprintf(stdout, "No rule would fire on %q.\n", result.Subject)
		return nil
	}
	for _, match := range result.Matches {
		fmt.Fprintf(stdout, "Rule [%d] %s would fire:\n", match.RuleID, match.Name)
		for _, reason := range match.Reasons {
			fmt.Fprintf(stdout, "  because %s\n", say(reason))
		}
		for _, action := range match.Actions {
			fmt.Fprintf(stdout, "  then %s\n", say(action))
		}
	}
	if result.StoppedBy != 0 {
		fmt.Fprintf(stdout, "Rule [%d] ends the processing.\n", result.StoppedBy)
	}
	return nil
}

// rulesApply is "pochta rules apply [--rule ID] (--mailbox ID | MESSAGE-ID...)":
// the manual rules (or one rule) applied to stored messages.
func rulesApply(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("rules apply", stderr)
	var common commonFlags
	common.register(flags)
	mailboxID := flags.Int64("mailbox", 0, "apply to every message of this mailbox")
	ruleID := flags.Int64("rule", 0, "apply this rule alone (default: every active rule set to run manually)")
	if err := flags.Parse(args); err != nil {
		return usageError{err}
	}
	var selection service.MessageSelection
	for _, arg := range flags.Args() {
		id, ok := service.ParseID(arg)
		if !ok {
			return usagef("rules apply: %q is not a message ID", arg)
		}
		selection.IDs = append(selection.IDs, id)
	}
	switch {
	case *mailboxID > 0 && len(selection.IDs) > 0:
		return usagef("rules apply: give --mailbox or message IDs, not both")
	case *mailboxID > 0:
		selection.Filter = &store.MessageFilter{MailboxIDs: []int64{*mailboxID}}
	case len(selection.IDs) == 0:
		return usagef("rules apply: give --mailbox ID or message IDs")
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	matched, err := pochta.Service.ApplyRules(ctx, service.System, selection, *ruleID)
	if err != nil {
		return fmt.Errorf("rules apply: %w", err)
	}
	fmt.Fprintf(stdout, "Rules matched %d messages.\n", matched)
	return nil
}

// spamTrain is "pochta spam train --spam PATH... --ham PATH...": bulk
// training from message files, Maildir folders and mbox files, with
// progress.
func spamTrain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("spam train", stderr)
	var common commonFlags
	common.register(flags)
	var spamPaths, hamPaths pathList
	flags.Var(&spamPaths, "spam", "spam: a message file, Maildir, folder or mbox file (repeatable)")
	flags.Var(&hamPaths, "ham", "not spam: a message file, Maildir, folder or mbox file (repeatable)")
	quiet := flags.Bool("quiet", false, "no progress, only the summary")
	if err := parse(flags, args); err != nil {
		return err
	}
	if len(spamPaths) == 0 && len(hamPaths) == 0 {
		return usagef("spam train: give --spam and/or --ham paths")
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	// Every message is read first and only its tokens kept (a few KB a
	// message): training on error goes over them up to three times, the
	// classes interleaved.
	var examples []spam.Example
	counts := map[string]int{}
	failed := 0
	for _, group := range []struct {
		class string
		paths []string
	}{{"spam", spamPaths}, {"ham", hamPaths}} {
		sources, _ := mailfile.Expand(group.paths)
		for _, source := range sources {
			if source.Err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", source.Path, source.Err)
				failed++
				continue
			}
			err := mailfile.Read(source.Path, func(m mailfile.Message) error {
				raw, err := io.ReadAll(io.LimitReader(m.Reader, service.MaxRuleTestSource+1))
				if err != nil {
					return err
				}
				example, err := service.SpamExample(group.class, raw)
				if err != nil {
					fmt.Fprintf(stderr, "%s: %v\n", m.Name, err)
					failed++
					return nil
				}
				examples = append(examples, example)
				counts[group.class]++
				if !*quiet && (counts[group.class]%100 == 0) {
					fmt.Fprintf(stderr, "\r%s: %d read", group.class, counts[group.class])
				}
				return ctx.Err()
			})
			if err != nil {
				fmt.Fprintf(stderr, "%s: %v\n", source.Path, err)
				failed++
			}
		}
		if !*quiet && counts[group.class] >= 100 {
			fmt.Fprintln(stderr)
		}
	}
	progress := func(p spam.BulkProgress) {
		if p.Done%100 == 0 || p.Done == p.Total {
			fmt.Fprintf(stderr, "\rpass %d of at most %d: %d of %d messages, %d spam and %d ham trained", p.Pass, p.Passes, p.Done, p.Total, p.Trained.Spam, p.Trained.Ham)
		}
	}
	if *quiet {
		progress = nil
	}
	done, err := pochta.Service.TrainSpamBulk(ctx, service.System, examples, progress)
	if !*quiet && len(examples) > 0 {
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return fmt.Errorf("spam train: %w", err)
	}
	state, err := pochta.Service.SpamCounts(ctx, service.System)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Read %d spam and %d ham messages; trained %d spam and %d ham on error in %d passes; the filter knows %d spam, %d ham, %d words.\n",
		counts["spam"], counts["ham"], done.Trained.Spam, done.Trained.Ham, done.Pass, state.SpamMessages, state.HamMessages, state.Words)
	if !state.Ready {
		fmt.Fprintf(stdout, "Train at least %d messages of each class before rules trust its ratings.\n", state.ReadyAt)
	}
	if failed > 0 {
		return fmt.Errorf("spam train: %d failed", failed)
	}
	return nil
}

// pathList is a repeatable path flag.
type pathList []string

func (p *pathList) String() string { return strings.Join(*p, ",") }

func (p *pathList) Set(value string) error {
	*p = append(*p, value)
	return nil
}
