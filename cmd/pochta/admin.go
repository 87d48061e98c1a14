package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
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

// tokenList is "pochta token list [--user LOGIN]": the API tokens, without
// their secrets.
func tokenList(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("token list", stderr)
	var common commonFlags
	common.register(flags)
	login := flags.String("user", "", "only this user's tokens")
	if err := parse(flags, args); err != nil {
		return err
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	var userID int64
	if *login != "" {
		user, err := pochta.Store.UserByLogin(ctx, *login)
		if err != nil {
			return fmt.Errorf("token list: %w", err)
		}
		userID = user.ID
	}
	tokens, err := pochta.Service.Tokens(ctx, service.System, userID)
	if err != nil {
		return fmt.Errorf("token list: %w", err)
	}
	fmt.Fprintf(stdout, "%-6s %-8s %-20s %-17s %s\n", "ID", "USER", "CREATED", "LAST USED", "NAME")
	for _, token := range tokens {
		lastUsed := "never"
		if !token.LastUsedAt.IsZero() {
			lastUsed = token.LastUsedAt.Format("2006-01-02 15:04")
		}
		fmt.Fprintf(stdout, "%-6d %-8d %-20s %-17s %s\n", token.ID, token.UserID, token.CreatedAt.Format("2006-01-02 15:04:05"), lastUsed, token.Name)
	}
	return nil
}

// tokenRevoke is "pochta token revoke ID...": the tokens stop working at once.
func tokenRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := newFlagSet("token revoke", stderr)
	var common commonFlags
	common.register(flags)
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{err}
	}
	if flags.NArg() == 0 {
		return usagef("token revoke: give the IDs of the tokens (pochta token list shows them)")
	}
	var ids []int64
	for _, arg := range flags.Args() {
		id, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || id <= 0 {
			return usagef("token revoke: %q is not a token ID", arg)
		}
		ids = append(ids, id)
	}
	pochta, err := openQuiet(ctx, common, stderr)
	if err != nil {
		return err
	}
	defer pochta.Close()
	for _, id := range ids {
		if err := pochta.Service.RevokeToken(ctx, service.System, id); err != nil {
			return fmt.Errorf("token revoke %d: %w", id, err)
		}
		fmt.Fprintf(stdout, "revoked token %d\n", id)
	}
	return nil
}
