package service

import (
	"context"
	"errors"
	"net"
	"regexp"
	"strings"

	"golang.org/x/text/encoding/htmlindex"

	"pochta.dev/pochta/internal/i18n"
	"pochta.dev/pochta/internal/store"
)

// SiteInput creates or changes a site. Nil fields are left as they are (or
// take their defaults on create).
type SiteInput struct {
	Code     *string `json:"code,omitempty"`
	Name     *string `json:"name,omitempty"`
	Domain   *string `json:"domain,omitempty"`
	Charset  *string `json:"charset,omitempty"`
	Language *string `json:"language,omitempty"`
	TimeZone *string `json:"time_zone,omitempty"`
}

var (
	siteCodePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)
	domainPattern   = regexp.MustCompile(`^(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
)

// validHost reports whether text is a host name or an IP address. An
// address in brackets is not one: normaliseHost takes them off first.
func validHost(text string) bool {
	if net.ParseIP(text) != nil {
		return true
	}
	return len(text) <= MaxHostLength && domainPattern.MatchString(text)
}

// KnownCharset reports whether the decoder knows the charset name.
func KnownCharset(name string) bool {
	_, err := htmlindex.Get(strings.TrimSpace(name))
	return err == nil
}

// Sites lists the sites. Everyone signed in may read them: a user needs their
// site's language and charset.
func (s *Service) Sites(ctx context.Context, actor *Actor) ([]store.Site, error) {
	if actor == nil {
		return nil, ErrForbidden
	}
	return s.store.Sites(ctx)
}

// Site finds one site by code.
func (s *Service) Site(ctx context.Context, actor *Actor, code string) (store.Site, error) {
	if actor == nil {
		return store.Site{}, ErrForbidden
	}
	site, err := s.store.SiteByCode(ctx, code)
	return site, wrapNotFound("site "+code, err)
}

func (s *Service) applySiteInput(site *store.Site, input SiteInput, creating bool, errs fieldErrors) {
	if creating {
		setText(&site.Code, input.Code)
	} else if input.Code != nil && strings.TrimSpace(*input.Code) != site.Code {
		errs.add("code", "error.invalid", i18n.Key("field.code"))
	}
	setText(&site.Name, input.Name)
	setText(&site.Domain, input.Domain)
	setText(&site.Charset, input.Charset)
	setText(&site.Language, input.Language)
	setText(&site.TimeZone, input.TimeZone)
	if site.Code == "" {
		errs.add("code", "error.required", i18n.Key("field.code"))
	} else if !siteCodePattern.MatchString(site.Code) {
		errs.add("code", "error.site_code", i18n.Key("field.code"))
	}
	if site.Name == "" {
		errs.add("name", "error.required", i18n.Key("field.name"))
	} else {
		tooLong(errs, "name", i18n.Key("field.name"), site.Name, MaxNameLength)
	}
	if site.Domain != "" && !tooLong(errs, "domain", i18n.Key("field.domain"), site.Domain, MaxHostLength) &&
		!domainPattern.MatchString(site.Domain) {
		errs.add("domain", "error.domain", i18n.Key("field.domain"))
	}
	if site.Charset == "" {
		site.Charset = "UTF-8"
	} else if !KnownCharset(site.Charset) {
		errs.add("charset", "error.unknown_charset", i18n.Key("field.charset"))
	}
	if site.Language == "" {
		site.Language = i18n.Fallback
	} else if !i18n.Default.Has(site.Language) {
		errs.add("language", "error.unknown_language", i18n.Key("field.language"))
	}
	if site.TimeZone == "" {
		site.TimeZone = s.serverZone
	} else if !ValidTimeZone(site.TimeZone) {
		errs.add("time_zone", "error.unknown_time_zone", i18n.Key("field.time_zone"))
	}
}

// CreateSite adds a site.
func (s *Service) CreateSite(ctx context.Context, actor *Actor, input SiteInput) (store.Site, error) {
	if err := requireAdmin(actor); err != nil {
		return store.Site{}, err
	}
	var site store.Site
	errs := fieldErrors{}
	s.applySiteInput(&site, input, true, errs)
	if err := errs.err(); err != nil {
		return site, err
	}
	if err := s.store.CreateSite(ctx, &site); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return site, &ValidationError{Fields: map[string]i18n.Message{"code": i18n.M("error.taken", i18n.Key("field.code"))}}
		}
		return site, err
	}
	if err := s.installDefaultMailServices(ctx, site); err != nil {
		return site, err
	}
	s.audit(ctx, actor, "site created", "site", site.Code, "site_id", site.ID)
	return site, nil
}

// UpdateSite changes a site; its code is fixed.
func (s *Service) UpdateSite(ctx context.Context, actor *Actor, code string, input SiteInput) (store.Site, error) {
	if err := requireAdmin(actor); err != nil {
		return store.Site{}, err
	}
	site, err := s.store.SiteByCode(ctx, code)
	if err != nil {
		return site, wrapNotFound("site "+code, err)
	}
	errs := fieldErrors{}
	s.applySiteInput(&site, input, false, errs)
	if err := errs.err(); err != nil {
		return site, err
	}
	defer s.siteCharsets.clear() // the intake's fallback charset may change
	if err := s.store.UpdateSite(ctx, &site); err != nil {
		return site, err
	}
	s.audit(ctx, actor, "site saved", "site", site.Code, "site_id", site.ID)
	return site, nil
}

// DeleteSite removes a site that has no users or mailboxes.
func (s *Service) DeleteSite(ctx context.Context, actor *Actor, code string) error {
	if err := requireAdmin(actor); err != nil {
		return err
	}
	site, err := s.store.SiteByCode(ctx, code)
	if err != nil {
		return wrapNotFound("site "+code, err)
	}
	if err := s.store.DeleteSite(ctx, site.ID); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return &ConflictError{Message: i18n.M("error.site_in_use")}
		}
		return err
	}
	s.audit(ctx, actor, "site deleted", "site", site.Code, "site_id", site.ID)
	return nil
}
