package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"pochta.dev/pochta/internal/app"
	"pochta.dev/pochta/internal/service"
	"pochta.dev/pochta/internal/store"
)

// openQuiet opens the data for an admin subcommand, logging only warnings.
func openQuiet(ctx context.Context, common commonFlags, stderr io.Writer) (*app.App, error) {
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	pochta, err := app.Open(ctx, common.config(logger))
	if err != nil {
		return nil, err
	}
	// A fresh data folder gets its default site, so that "user add" works
	// before the first "serve".
	if _, err := pochta.Service.Bootstrap(ctx, os.Getenv("POCHTA_ADMIN_PASSWORD")); err != nil {
		pochta.Close()
		return nil, err
	}
	return pochta, nil
}

// userAdd creates a user. The password comes from --password, else from the
// POCHTA_PASSWORD variable, else from the first line of standard input, so
// that it need not appear in the process list.
func userAdd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	flags := newFlagSet("user add", stderr)
	var common commonFlags
	common.register(flags)
	login := flags.String("login", "", "login (required)")
	password := flags.String("password", os.Getenv("POCHTA_PASSWORD"), "password (else POCHTA_PASSWORD, else read from standard input)")
	role := flags.String("role", store.RoleUser, "role: admin, auditor or user")
	email := flags.String("email", "", "e-mail address")
	name := flags.String("name", "", "full name")
	site := flags.String("site", "", "site code (default: the default site)")
	language := flags.String("language", "", "interface language (default: the site's)")
	if err := parse(flags, args); err != nil {
		return err
	}
	if *login == "" {
		return usagef("user add: --login is required")
	}
	if *password == "" {
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && line == "" {
			return usagef("user add: give the password with --password, POCHTA_PASSWORD or on standard input")
		}
		*password = strings.TrimRight(line, "\r\n")
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	active := true
	input := service.UserInput{Login: login, Password: password, Role: role, Email: email, Name: name, Active: &active, Language: language}
	if *site != "" {
		input.Site = site
	}
	user, err := pochta.Service.CreateUser(ctx, service.System, input)
	if err != nil {
		return fmt.Errorf("user add: %w", err)
	}
	fmt.Fprintf(stdout, "created user %q (id %d, role %s)\n", user.Login, user.ID, user.Role)
	return nil
}

// tokenCreate makes an API token for a user and prints it once.
func tokenCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("token create", stderr)
	var common commonFlags
	common.register(flags)
	login := flags.String("user", "", "login of the user the token acts for (required)")
	name := flags.String("name", "", "a name to recognise the token by")
	if err := parse(flags, args); err != nil {
		return err
	}
	if *login == "" {
		return usagef("token create: --user is required")
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	user, err := pochta.Store.UserByLogin(ctx, *login)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	token, _, err := pochta.Service.CreateToken(ctx, service.System, user.ID, *name)
	if err != nil {
		return fmt.Errorf("token create: %w", err)
	}
	fmt.Fprintln(stdout, token)
	return nil
}
