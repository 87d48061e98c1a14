package service

import (
	"context"
	"errors"
	"fmt"

	"pochta.dev/pochta/internal/i18n"
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
		site = store.Site{Code: DefaultSiteCode, Name: bootstrapSiteName, Charset: "UTF-8", Language: "en", TimeZone: s.serverZone}
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
	admin := store.User{SiteID: site.ID, Login: "admin", Name: bootstrapAdminName, PasswordHash: hash, Active: true, Role: store.RoleAdmin}
	if err := s.store.CreateUser(ctx, &admin); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return "", nil // another process bootstrapped at the same moment
		}
		return "", fmt.Errorf("bootstrap: %w", err)
	}
	return adminPassword, nil
}

// Names of the starting data, as Bootstrap makes them before anyone has
// chosen a language.
const (
	bootstrapSiteName  = "Default site"
	bootstrapAdminName = "Administrator"
)

// AdoptFirstLanguage makes the starting data speak the first admin's
// language: called at a sign-in in language (the page's), on the first
// sign-in ever of the user Bootstrap made, it names the default site and
// the admin in that language (catalog keys bootstrap.site_name and
// bootstrap.admin_name), makes it the site's language and adds the mail
// services offered only in it. It changes nothing anyone has changed since
// Bootstrap, nor anything on a later sign-in, so it is safe to call on
// every one; it reports whether it changed anything.
func (s *Service) AdoptFirstLanguage(ctx context.Context, actor *Actor, language string) (bool, error) {
	if actor == nil || !actor.IsAdmin() || !actor.User.LastLoginAt.IsZero() || language == i18n.Fallback ||
		!i18n.Default.Has(language) {
		return false, nil
	}
	user := actor.User
	site, err := s.store.SiteByID(ctx, user.SiteID)
	if err != nil {
		return false, fmt.Errorf("adopt language: %w", err)
	}
	if user.Login != "admin" || user.Name != bootstrapAdminName || user.Language != "" ||
		site.Code != DefaultSiteCode || site.Name != bootstrapSiteName || site.Language != i18n.Fallback {
		return false, nil
	}
	site.Name, site.Language = i18n.Default.T(language, "bootstrap.site_name"), language
	if err := s.store.UpdateSite(ctx, &site); err != nil {
		return false, fmt.Errorf("adopt language: %w", err)
	}
	if err := s.installLanguageMailServices(ctx, site); err != nil {
		return false, fmt.Errorf("adopt language: %w", err)
	}
	user.Name = i18n.Default.T(language, "bootstrap.admin_name")
	if err := s.store.UpdateUser(ctx, &user); err != nil {
		return false, fmt.Errorf("adopt language: %w", err)
	}
	actor.User = user
	s.audit(ctx, actor, "starting data in the first admin's language", "language", language)
	return true, nil
}
