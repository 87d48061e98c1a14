package service

import (
	"context"
	"errors"
	"fmt"

	"pochta.dev/pochta/internal/secret"
	"pochta.dev/pochta/internal/store"
)

// DefaultSiteCode is the code of the site made on first start.
const DefaultSiteCode = "s1"

// DefaultSite gives the site made on first start, or the first site there is.
func (s *Service) DefaultSite(ctx context.Context) (store.Site, error) {
	site, err := s.store.SiteByCode(ctx, DefaultSiteCode)
	if err == nil || !errors.Is(err, store.ErrNotFound) {
		return site, err
	}
	sites, err := s.store.Sites(ctx)
	if err != nil {
		return store.Site{}, err
	}
	if len(sites) == 0 {
		return store.Site{}, fmt.Errorf("default site: %w", ErrNotFound)
	}
	return sites[0], nil
}

// Bootstrap prepares an empty database on first start: the default site and
// the user "admin". The admin's password is adminPassword when not empty,
// else a random one, returned so that the caller can print it once. It does
// nothing (and returns "") when users exist.
func (s *Service) Bootstrap(ctx context.Context, adminPassword string) (string, error) {
	users, err := s.store.CountUsers(ctx)
	if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	if users > 0 {
		return "", nil
	}
	site, err := s.store.SiteByCode(ctx, DefaultSiteCode)
	if errors.Is(err, store.ErrNotFound) {
		site = store.Site{Code: DefaultSiteCode, Name: "Default site", Charset: "UTF-8", Language: "en"}
		err = s.store.CreateSite(ctx, &site)
		if err == nil {
			err = s.installDefaultMailServices(ctx, site)
		}
	}
	if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	generated := adminPassword == ""
	if generated {
		adminPassword = secret.NewToken(12)
	}
	hash, err := secret.HashPassword(adminPassword)
	if err != nil {
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	admin := store.User{SiteID: site.ID, Login: "admin", Name: "Administrator", PasswordHash: hash, Active: true, Role: store.RoleAdmin}
	if err := s.store.CreateUser(ctx, &admin); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", nil // another process bootstrapped at the same moment
		}
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	return adminPassword, nil
}
