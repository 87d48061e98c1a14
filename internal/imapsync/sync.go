package imapsync

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"pochta.dev/pochta/internal/intake"
	"pochta.dev/pochta/internal/protoline"
	"pochta.dev/pochta/internal/receive"
	"pochta.dev/pochta/internal/store"
	"pochta.dev/pochta/internal/worklog"
)

// trace collects a sync's work-log lines and writes them together.
type trace struct {
	mailbox int64
	mu      sync.Mutex
	pending []store.LogEntry
}

func (t *trace) add(level string, parts ...store.LogPart) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.pending = append(t.pending, worklog.Say(store.LogEntry{Level: level, Type: "imap", MailboxID: t.mailbox}, parts...))
}

func (t *trace) flush(ctx context.Context, log worklog.Recorder) {
	t.mu.Lock()
	pending := t.pending
	t.pending = nil
	t.mu.Unlock()
	if len(pending) > 0 {
		log.Record(ctx, pending...)
	}
}

// connectionOf gives how to reach a stored mailbox's server.
func (s *Syncer) connectionOf(ctx context.Context, mailbox store.Mailbox) (receive.Connection, error) {
	var password string
	var err error
	if mailbox.OAuthMechanism != "" {
		if s.config.AccessToken == nil {
			return receive.Connection{}, fmt.Errorf("mailbox %d signs in with OAuth2, and no token source is configured", mailbox.ID)
		}
		// A token refreshed here, before the dial, when it is near its
		// expiry: the sync holds the mailbox's lease meanwhile.
		password, err = s.config.AccessToken(ctx, mailbox)
	} else {
		password, err = s.config.Password(mailbox)
	}
	if err != nil {
		return receive.Connection{}, err
	}
	connection := receive.Connection{Server: mailbox.Server, Port: mailbox.Port, Security: mailbox.Security,
		VerifyCert: mailbox.VerifyCert, Login: mailbox.Login, Password: password, Mechanism: mailbox.OAuthMechanism,
		Dialer: s.config.Dialer}
	if s.config.DialerFor != nil {
		connection.Dialer = s.config.DialerFor(ctx, mailbox)
	}
	if s.config.Timeout != nil {
		connection.Timeout = s.config.Timeout(ctx)
	}
	return connection, nil
}

// chosenFolders are the folders of the mailbox's choice that the server
// has, and the names it does not have.
func chosenFolders(mailbox store.Mailbox, all []Folder) (chosen []Folder, missing []string) {
	names := mailbox.Folders
	if len(names) == 0 {
		names = []string{"INBOX"}
	}
	byName := map[string]Folder{}
	for _, f := range all {
		byName[f.Name] = f
	}
	seen := map[string]bool{}
	for _, name := range names {
		if strings.EqualFold(name, "INBOX") {
			name = "INBOX"
		}
		if seen[name] {
			continue
		}
		seen[name] = true
		if f, ok := byName[name]; ok && f.Selectable {
			chosen = append(chosen, f)
		} else {
			missing = append(missing, name)
		}
	}
	return chosen, missing
}

// syncMailbox is one session with the server. See the package comment for
// its order.
func (s *Syncer) syncMailbox(ctx context.Context, mailbox store.Mailbox) (result Result, err error) {
	tr := &trace{mailbox: mailbox.ID}
	defer func() {
		if err != nil {
			tr.add(store.LevelError, worklog.Part("log.check_failed", err.Error()))
		}
		tr.flush(context.WithoutCancel(ctx), s.config.Log)
	}()
	connection, err := s.connectionOf(ctx, mailbox)
	if err != nil {
		return result, err
	}
	for _, name := range mailbox.Folders {
		if err := protoline.Check("folder", name); err != nil {
			return result, err
		}
	}
	tr.add(store.LevelInfo, worklog.Part("log.imap_connecting", net.JoinHostPort(connection.Server, strconv.Itoa(connection.Port)), connection.Security))
	c, err := s.connect(ctx, connection, nil)
	if err != nil {
		return result, err
	}
	defer c.close()
	all, err := c.folders()
	if err != nil {
		return result, err
	}
	chosen, missing := chosenFolders(mailbox, all)
	for _, name := range missing {
		tr.add(store.LevelError, worklog.Part("log.imap_folder_missing", name))
	}
	trash := ""
	for _, f := range all {
		if f.Role == "Trash" && f.Selectable {
			trash = f.Name
			break
		}
	}
	cursors, err := s.config.Store.IMAPFolders(ctx, mailbox.ID)
	if err != nil {
		return result, err
	}
	tombstones, err := s.config.Store.IMAPTombstones(ctx, mailbox.ID)
	if err != nil {
		return result, err
	}
	run := &mailboxSync{syncer: s, session: c, mailbox: mailbox, trace: tr, trash: trash, result: &result,
		condstore: c.client.Caps().Has(imap.CapCondStore), tombstoned: func(hash string) bool { return tombstones[hash] }}
	gone := map[string][]uint32{}
	for _, folder := range chosen {
		cursor, had := cursors[folder.Name]
		uids, err := run.folder(ctx, folder, cursor, had)
		if err != nil {
			return result, fmt.Errorf("folder %s: %w", folder.Name, err)
		}
		gone[folder.Name] = uids
	}
	// Expunges last: a message moved between folders has its new UID by
	// now, so losing its old one does not delete it.
	for _, folder := range chosen {
		if uids := gone[folder.Name]; len(uids) > 0 {
			if _, err := s.config.Store.ForgetIMAPUIDs(ctx, mailbox.ID, folder.Name, uids); err != nil {
				return result, err
			}
		}
	}
	tr.add(store.LevelInfo, worklog.Part("log.imap_synced", result.Received))
	c.client.Logout().Wait()
	return result, nil
}

// mailboxSync is the state of one sync of a mailbox across its folders.
type mailboxSync struct {
	syncer     *Syncer
	session    *session
	mailbox    store.Mailbox
	trace      *trace
	trash      string
	condstore  bool
	tombstoned func(hash string) bool
	result     *Result
}

// rangeStart is the first day of an initial sync range (all: no limit).
func rangeStart(syncRange string, now time.Time) (since time.Time, all bool) {
	switch syncRange {
	case "all":
		return time.Time{}, true
	case "day":
		since = now.AddDate(0, 0, -1)
	case "week":
		since = now.AddDate(0, 0, -7)
	case "2months":
		since = now.AddDate(0, -2, 0)
	case "3months":
		since = now.AddDate(0, -3, 0)
	default: // "month", and the form's default
		since = now.AddDate(0, -1, 0)
	}
	return time.Date(since.Year(), since.Month(), since.Day(), 0, 0, 0, 0, time.UTC), false
}

// planned is a new message on the server.
type planned struct {
	uid  uint32
	seen bool
	size int64
}

// folder syncs one folder and gives the UIDs gone from it (to forget once
// every folder is done).
func (m *mailboxSync) folder(ctx context.Context, folder Folder, cursor store.IMAPFolder, hadCursor bool) ([]uint32, error) {
	st := m.syncer.config.Store
	client := m.session.client
	selected, err := client.Select(folder.Name, &imap.SelectOptions{CondStore: m.condstore}).Wait()
	if err != nil {
		return nil, fmt.Errorf("select: %w", err)
	}
	if hadCursor && cursor.UIDValidity != selected.UIDValidity {
		m.trace.add(store.LevelError, worklog.Part("log.imap_uidvalidity", folder.Name, cursor.UIDValidity, selected.UIDValidity))
		if err := st.ResetIMAPFolder(ctx, m.mailbox.ID, folder.Name); err != nil {
			return nil, err
		}
		hadCursor, cursor = false, store.IMAPFolder{}
	}
	saved := cursor // as stored, to write only a changed one
	// With CONDSTORE an unchanged HIGHESTMODSEQ means no new message, no
	// flag change and no expunge since the last sync.
	unchanged := m.condstore && hadCursor && cursor.HighestModSeq != 0 && selected.HighestModSeq == cursor.HighestModSeq
	now := m.syncer.config.Now()
	since, everything := rangeStart(m.mailbox.SyncRange, now)
	widen := hadCursor && !cursor.SyncedAll && (everything || since.Before(cursor.SyncedSince))
	// A folder unchanged on the server needs only the UIDs with changes
	// made in Pochta: a no-op sync does not read them all.
	load := st.IMAPUIDs
	if unchanged && !widen {
		load = st.IMAPPendingUIDs
	}
	known, err := load(ctx, m.mailbox.ID, folder.Name)
	if err != nil {
		return nil, err
	}
	stats := folderStats{}

	// Messages deleted in Pochta go to the server's Trash.
	if m.mailbox.DeleteFromServer {
		var doomed []uint32
		for uid, k := range known {
			if k.Deleted {
				doomed = append(doomed, uid)
			}
		}
		if len(doomed) > 0 {
			if err := m.session.trash(uidSet(doomed), folder.Name, m.trash); err != nil {
				return nil, fmt.Errorf("move deleted messages to the trash: %w", err)
			}
			if _, err := st.ForgetIMAPUIDs(ctx, m.mailbox.ID, folder.Name, doomed); err != nil {
				return nil, err
			}
			for _, uid := range doomed {
				delete(known, uid)
			}
			stats.trashed = len(doomed)
			m.result.Deleted += len(doomed)
		}
	}

	var present map[uint32]bool
	lastUID := cursor.LastUID
	if !unchanged {
		all, err := client.UIDSearch(&imap.SearchCriteria{}, nil).Wait()
		if err != nil {
			return nil, fmt.Errorf("search all: %w", err)
		}
		present = map[uint32]bool{}
		for _, uid := range all.AllUIDs() {
			present[uint32(uid)] = true
			lastUID = max(lastUID, uint32(uid))
		}
	}

	// New messages: the range's on a first sync (or a widened range),
	// else whatever is above the last UID.
	var probe imap.UIDSet
	if !hadCursor || widen {
		criteria := &imap.SearchCriteria{}
		if !everything {
			criteria.Since = since
		}
		found, err := client.UIDSearch(criteria, nil).Wait()
		if err != nil {
			return nil, fmt.Errorf("search since: %w", err)
		}
		for _, uid := range found.AllUIDs() {
			if _, ok := known[uint32(uid)]; !ok {
				probe.AddNum(uid)
			}
		}
	}
	if hadCursor && !unchanged {
		probe.AddRange(imap.UID(cursor.LastUID+1), 0) // n:* (0 is "*")
	}
	if !hadCursor || widen {
		cursor.SyncedAll, cursor.SyncedSince = everything, since
	}
	var plan []planned
	if len(probe) > 0 {
		messages, err := client.Fetch(probe, &imap.FetchOptions{UID: true, Flags: true, RFC822Size: true}).Collect()
		if err != nil {
			return nil, fmt.Errorf("fetch flags of new messages: %w", err)
		}
		for _, msg := range messages {
			uid := uint32(msg.UID)
			if _, ok := known[uid]; ok || uid == 0 || (hadCursor && !widen && uid <= cursor.LastUID) {
				continue
			}
			lastUID = max(lastUID, uid)
			if maxBytes := int64(m.mailbox.MaxMessageSizeKB) * 1024; maxBytes > 0 && msg.RFC822Size > maxBytes {
				m.result.TooLarge++
				m.trace.add(store.LevelInfo, worklog.Part("log.pop3_too_large", uid, msg.RFC822Size, m.mailbox.MaxMessageSizeKB))
				continue
			}
			plan = append(plan, planned{uid: uid, seen: slices.Contains(msg.Flags, imap.FlagSeen), size: msg.RFC822Size})
		}
		slices.SortFunc(plan, func(a, b planned) int { return int(a.uid) - int(b.uid) })
	}
	stored, err := m.fetchBodies(ctx, folder.Name, plan)
	stats.added = stored.received
	m.result.Received += stored.received
	m.result.Duplicates += stored.duplicates
	if err != nil {
		return nil, err
	}
	retry := stored.unhandledBelow(plan, lastUID)
	missed := retry < lastUID
	lastUID = retry
	if err := st.SetMessagesRead(ctx, stored.matchedRead, true); err != nil {
		return nil, err
	}
	if err := st.SetMessagesRead(ctx, stored.matchedUnread, false); err != nil {
		return nil, err
	}
	if err := st.SetIMAPSeen(ctx, m.mailbox.ID, folder.Name, stored.seen, true); err != nil {
		return nil, err
	}

	// \Seen both ways, for the UIDs known before this sync.
	if err := m.flags(ctx, folder.Name, known, hadCursor && !unchanged, cursor, &stats); err != nil {
		return nil, err
	}

	var gone []uint32
	if present != nil {
		for uid := range known {
			if !present[uid] {
				gone = append(gone, uid)
			}
		}
	}
	stats.gone = len(gone)
	cursor.Name, cursor.Role, cursor.UIDValidity = folder.Name, folder.Role, selected.UIDValidity
	cursor.LastUID, cursor.HighestModSeq = lastUID, selected.HighestModSeq
	if missed {
		cursor.HighestModSeq = 0 // not "unchanged" next time: the missed UIDs are asked for again
	}
	// A sync that found nothing writes nothing (each write is a disk sync).
	if !hadCursor || cursor != saved {
		if err := st.SaveIMAPFolder(ctx, m.mailbox.ID, cursor); err != nil {
			return nil, err
		}
	}
	m.trace.add(store.LevelInfo, worklog.Part("log.imap_folder_synced", folder.Name, stats.added, stats.fromServer, stats.toServer, stats.gone, stats.trashed))
	return gone, nil
}

// folderStats is what a folder's sync did, for its log line.
type folderStats struct {
	added, fromServer, toServer, gone, trashed int
}

// storedBatch follows the messages of one folder through the intake.
type storedBatch struct {
	pending    sync.WaitGroup
	mu         sync.Mutex
	err        error
	received   int
	duplicates int
	seen       []uint32 // UIDs stored (or matched) with \Seen on the server
	// Messages already stored that a new UID matched (moved on the
	// server, or a UIDVALIDITY resync), by their \Seen flag there: the
	// server's flag wins, as in any change the two sides disagree on.
	matchedRead, matchedUnread []int64
	// handled are the planned UIDs whose body was handed to the intake
	// (or refused as too large); written by the fetching goroutine only.
	handled map[uint32]bool
}

// unhandledBelow is the last UID the folder's cursor may say is done: one
// below the first planned message whose body never came (a server that
// left it out, or sent its body before its UID), so that the next sync
// asks for it again instead of passing it for good.
func (b *storedBatch) unhandledBelow(plan []planned, lastUID uint32) uint32 {
	for _, p := range plan { // plan is sorted by UID
		if !b.handled[p.uid] {
			return min(lastUID, p.uid-1)
		}
	}
	return lastUID
}

func (b *storedBatch) record(p planned, result intake.Result) {
	defer b.pending.Done()
	b.mu.Lock()
	defer b.mu.Unlock()
	switch {
	case result.Err != nil:
		if b.err == nil {
			b.err = fmt.Errorf("message UID %d: %w", p.uid, result.Err)
		}
		return
	case result.Duplicate:
		b.duplicates++
		if p.seen {
			b.matchedRead = append(b.matchedRead, result.ID)
		} else {
			b.matchedUnread = append(b.matchedUnread, result.ID)
		}
	case result.Dropped:
	default:
		b.received++
	}
	if p.seen {
		b.seen = append(b.seen, p.uid)
	}
}

func (b *storedBatch) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// fetchChunk is how many messages one FETCH asks for: the server streams
// them, the sink stores them in batches of its own as they come.
const fetchChunk = 2000

// fetchBodies streams the planned messages' bodies into the intake and
// waits until each is stored (or failed).
func (m *mailboxSync) fetchBodies(ctx context.Context, folder string, plan []planned) (*storedBatch, error) {
	batch := &storedBatch{handled: make(map[uint32]bool, len(plan))}
	byUID := make(map[uint32]planned, len(plan))
	for _, p := range plan {
		byUID[p.uid] = p
	}
	var fetchErr error
	for start := 0; start < len(plan) && fetchErr == nil; start += fetchChunk {
		var set imap.UIDSet
		for _, p := range plan[start:min(start+fetchChunk, len(plan))] {
			set.AddNum(imap.UID(p.uid))
		}
		fetchErr = m.fetchChunk(ctx, folder, set, byUID, batch)
	}
	// Messages read whole before a failure are stored all the same.
	batch.pending.Wait()
	if fetchErr == nil {
		fetchErr = batch.failed()
	}
	return batch, fetchErr
}

func (m *mailboxSync) fetchChunk(ctx context.Context, folder string, set imap.UIDSet, byUID map[uint32]planned, batch *storedBatch) error {
	section := &imap.FetchItemBodySection{Peek: true}
	command := m.session.client.Fetch(set, &imap.FetchOptions{UID: true, BodySection: []*imap.FetchItemBodySection{section}})
	// broken is set when a body's read failed (the connection dropped or
	// was closed by ctx's end or a lost lease). go-imap v2.0.0-beta.9 lets
	// its reader goroutine go on at a literal's first read error, and
	// command.Close discards the current body by reading it again: both
	// would read the connection's buffer at once (a data race). So the
	// connection is closed here, by this goroutine, and the reader
	// goroutine's end awaited (it fails on the closed connection at once:
	// the buffer was empty when the error came) before Close reads
	// anything.
	broken := false
	defer func() {
		if broken {
			m.session.client.Close()
			<-m.session.client.Closed()
		}
		command.Close()
	}()
	for {
		// A sync told to stop (ctx ended, the lease lost) stops between
		// messages, not inside a body.
		if err := ctx.Err(); err != nil {
			return err
		}
		msg := command.Next()
		if msg == nil {
			break
		}
		var uid uint32
		for item := msg.Next(); item != nil; item = msg.Next() {
			switch item := item.(type) {
			case imapclient.FetchItemDataUID:
				uid = uint32(item.UID)
			case imapclient.FetchItemDataBodySection:
				if item.Literal == nil {
					continue
				}
				p, ok := byUID[uid]
				if !ok {
					// The body came before its UID, or for a message not
					// asked for: skipped; a planned one is asked for again
					// next time (unhandledBelow).
					continue
				}
				if err := batch.failed(); err != nil {
					return err
				}
				target := intake.Target{Mailbox: m.mailbox, UID: &store.UID{Folder: folder, UID: strconv.FormatUint(uint64(uid), 10)},
					Read: p.seen, Tombstoned: m.tombstoned}
				delivery := intake.Delivery{Targets: []intake.Target{target}, Origin: "IMAP", MaxBytes: maxMessageBytes}
				batch.pending.Add(1)
				body := &bodyReader{literal: item.Literal}
				err := m.syncer.config.Intake.Add(ctx, body, delivery, func(results []intake.Result) { batch.record(p, results[0]) })
				if err == nil || errors.Is(err, intake.ErrTooLarge) && !body.broken {
					batch.handled[uid] = true
				}
				if body.broken {
					broken = true
				}
				if err != nil {
					batch.pending.Done()
					if errors.Is(err, intake.ErrTooLarge) && !body.broken {
						m.result.TooLarge++
						m.trace.add(store.LevelInfo, worklog.Part("log.pop3_too_large", uid, p.size, maxMessageBytes/1024))
						continue
					}
					return fmt.Errorf("message UID %d: %w", uid, err)
				}
			}
		}
	}
	if err := command.Close(); err != nil {
		return fmt.Errorf("fetch messages: %w", err)
	}
	return nil
}

// bodyReader reads a message's body (a literal of the FETCH response) and
// notes whether the read broke off before the body's end: a connection
// that dropped (the server's restart) or was closed (ctx ended) mid-body.
// After a break it reads no more, so that nothing here reads the
// connection's buffer while go-imap's reader goroutine may.
type bodyReader struct {
	literal imap.LiteralReader
	read    int64
	broken  bool
	err     error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.literal.Read(p)
	b.read += int64(n)
	if err != nil {
		b.err = err
		if err != io.EOF || b.read < b.literal.Size() {
			b.broken = true
			if err == io.EOF {
				// Never a clean end: the message would be stored cut.
				b.err = io.ErrUnexpectedEOF
			}
		}
	}
	return n, b.errOr(err)
}

func (b *bodyReader) errOr(err error) error {
	if err == nil {
		return nil
	}
	return b.err
}

// flags merges \Seen both ways for the UIDs known before this sync: the
// server's changes first (asked for when the folder may have changed:
// all flags, or with CONDSTORE those changed since the last sync), then
// Pochta's changes to the UIDs the server did not change.
func (m *mailboxSync) flags(ctx context.Context, folder string, known map[uint32]store.IMAPUID, askServer bool, cursor store.IMAPFolder, stats *folderStats) error {
	st := m.syncer.config.Store
	client := m.session.client
	serverChanged := map[uint32]bool{}
	if askServer && len(known) > 0 {
		var set imap.UIDSet
		set.AddRange(1, imap.UID(cursor.LastUID))
		options := &imap.FetchOptions{UID: true, Flags: true}
		if m.condstore && cursor.HighestModSeq != 0 {
			options.ChangedSince = cursor.HighestModSeq
		}
		messages, err := client.Fetch(set, options).Collect()
		if err != nil {
			return fmt.Errorf("fetch flags: %w", err)
		}
		var read, unread []int64
		var seenUIDs, unseenUIDs []uint32
		for _, msg := range messages {
			uid := uint32(msg.UID)
			k, ok := known[uid]
			if !ok {
				continue
			}
			seen := slices.Contains(msg.Flags, imap.FlagSeen)
			if seen == k.Seen {
				continue
			}
			serverChanged[uid] = true
			if seen {
				seenUIDs = append(seenUIDs, uid)
			} else {
				unseenUIDs = append(unseenUIDs, uid)
			}
			if k.MessageID != 0 && k.Read != seen {
				if seen {
					read = append(read, k.MessageID)
				} else {
					unread = append(unread, k.MessageID)
				}
			}
		}
		if err := st.SetMessagesRead(ctx, read, true); err != nil {
			return err
		}
		if err := st.SetMessagesRead(ctx, unread, false); err != nil {
			return err
		}
		if err := st.SetIMAPSeen(ctx, m.mailbox.ID, folder, seenUIDs, true); err != nil {
			return err
		}
		if err := st.SetIMAPSeen(ctx, m.mailbox.ID, folder, unseenUIDs, false); err != nil {
			return err
		}
		stats.fromServer = len(seenUIDs) + len(unseenUIDs)
	}
	var toSeen, toUnseen []uint32
	for uid, k := range known {
		if k.MessageID == 0 || k.Deleted || k.Read == k.Seen || serverChanged[uid] {
			continue
		}
		if k.Read {
			toSeen = append(toSeen, uid)
		} else {
			toUnseen = append(toUnseen, uid)
		}
	}
	for _, change := range []struct {
		uids []uint32
		op   imap.StoreFlagsOp
		seen bool
	}{{toSeen, imap.StoreFlagsAdd, true}, {toUnseen, imap.StoreFlagsDel, false}} {
		if len(change.uids) == 0 {
			continue
		}
		flags := &imap.StoreFlags{Op: change.op, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}
		if err := client.Store(uidSet(change.uids), flags, nil).Close(); err != nil {
			return fmt.Errorf("store \\Seen: %w", err)
		}
		if err := st.SetIMAPSeen(ctx, m.mailbox.ID, folder, change.uids, change.seen); err != nil {
			return err
		}
		stats.toServer += len(change.uids)
	}
	return nil
}

// trash moves messages of a folder to the Trash folder; in the Trash
// itself, or on a server without one, it flags them \Deleted and expunges
// those (and only those: UID EXPUNGE, where the server offers UIDPLUS).
func (c *session) trash(uids imap.UIDSet, folder, trash string) error {
	caps := c.client.Caps()
	if trash != "" && trash != folder {
		if caps.Has(imap.CapMove) {
			_, err := c.client.Move(uids, trash).Wait()
			return err
		}
		if _, err := c.client.Copy(uids, trash).Wait(); err != nil {
			return err
		}
	}
	deleted := &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}
	if err := c.client.Store(uids, deleted, nil).Close(); err != nil {
		return err
	}
	if caps.Has(imap.CapUIDPlus) {
		return c.client.UIDExpunge(uids).Close()
	}
	return nil
}

func uidSet(uids []uint32) imap.UIDSet {
	var set imap.UIDSet
	for _, uid := range uids {
		set.AddNum(imap.UID(uid))
	}
	return set
}
