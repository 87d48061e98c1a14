package service

import (
	"context"

	"pochta.dev/pochta/internal/store"
)

// Log lists the work log, newest first. Admins and auditors read all of it;
// a user reads only the entries of mailboxes they own.
func (s *Service) Log(ctx context.Context, actor *Actor, filter store.LogFilter) ([]store.LogEntry, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	if !actor.CanReadAll() {
		owned, err := s.store.OwnedMailboxIDs(ctx, actor.User.ID)
		if err != nil {
			return nil, err
		}
		filter.MailboxIDs = owned
		if owned == nil {
			filter.MailboxIDs = []int64{}
		}
	}
	if filter.Limit <= 0 {
		filter.Limit = 100
	}
	filter.Limit = min(filter.Limit, 1000)
	return s.store.Log(ctx, filter)
}
