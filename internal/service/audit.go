package service

import (
	"context"
	"log/slog"
)

// audit writes the audit line of a change an actor made: what changed, by
// whom (the actor's login under "by") and the attributes that name it. Every
// mutating operation writes its line here, after the change succeeded, so
// that the web admin, the API and the CLI log the same change alike. Audit
// lines go to the service's slog logger at Info, beside the work log's
// lines, which say what happened to mail.
func (s *Service) audit(ctx context.Context, actor *Actor, what string, attrs ...any) {
	by := ""
	if actor != nil {
		by = actor.User.Login
	}
	s.logger.Log(ctx, slog.LevelInfo, what, append([]any{"by", by}, attrs...)...)
}
