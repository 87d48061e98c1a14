package main

import (
	"context"
	"io"
	"log/slog"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// openBench opens the data (applying migrations, making the default site
// and the first admin) for a child process that measures, and gives the
// admin as the actor of its set-up. The caller closes the app. The child
// stands in for "pochta serve", so its collector is set as serve's.
func openBench(ctx context.Context, dataDir, dsn string) (*app.App, *service.Actor, error) {
	app.TuneGC()
	pochta, err := app.Open(ctx, app.Config{DataDir: dataDir, DSN: dsn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return nil, nil, err
	}
	if _, err := pochta.Service.Bootstrap(ctx, "bench-password"); err != nil {
		pochta.Close()
		return nil, nil, err
	}
	admin, err := pochta.Store.UserByLogin(ctx, "admin")
	if err != nil {
		pochta.Close()
		return nil, nil, err
	}
	return pochta, &service.Actor{User: admin}, nil
}

// imapOwner is what the IMAP benchmarks' user mailboxes hang on: the
// site, a mail service for the Dovecot on loopback port, and the user who
// owns the mailboxes.
type imapOwner struct {
	site    string
	service int64
	owner   int64
}

// setUpIMAPOwner allows loopback (the user's server is on it: allowed for
// the benchmark) and makes the site's Dovecot mail service and its user.
func setUpIMAPOwner(ctx context.Context, pochta *app.App, actor *service.Actor, port int) (imapOwner, error) {
	text := func(s string) *string { return &s }
	if _, err := pochta.Service.UpdateSettings(ctx, actor, service.SettingsInput{AllowedNetworks: &[]string{"127.0.0.1/32"}}); err != nil {
		return imapOwner{}, err
	}
	site, err := pochta.Store.SiteByID(ctx, actor.User.SiteID)
	if err != nil {
		return imapOwner{}, err
	}
	mailService, err := pochta.Service.CreateMailService(ctx, actor, service.MailServiceInput{Site: &site.Code, Name: text("Dovecot"),
		Server: text("127.0.0.1"), Port: &port, Security: text("none")})
	if err != nil {
		return imapOwner{}, err
	}
	owner, err := pochta.Service.CreateUser(ctx, actor, service.UserInput{Login: text("owner"), Password: text("owner-password-1"), Role: text(store.RoleUser)})
	if err != nil {
		return imapOwner{}, err
	}
	return imapOwner{site: site.Code, service: mailService.ID, owner: owner.ID}, nil
}
