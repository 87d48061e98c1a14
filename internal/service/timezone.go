package service

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"time"
	// The zone database inside the binary, so that a site's zone means the
	// same on a machine or container without /usr/share/zoneinfo.
	_ "time/tzdata"

	"pochta.dev/pochta/internal/store"
)

// MaxTimeZoneLength bounds a zone name; the longest IANA name has 32
// characters ("America/Argentina/ComodRivadavia").
const MaxTimeZoneLength = 64

// TimeZones are the zones the forms offer first (a site's and a user's zone
// may be any IANA name): Russia's eleven, its neighbours' and a few of
// the world's, west to east.
var TimeZones = []string{
	"UTC", "Europe/London", "Europe/Berlin", "Europe/Kaliningrad", "Europe/Kyiv", "Europe/Minsk", "Europe/Moscow",
	"Europe/Istanbul", "Europe/Samara", "Asia/Tbilisi", "Asia/Yerevan", "Asia/Baku", "Asia/Yekaterinburg",
	"Asia/Tashkent", "Asia/Almaty", "Asia/Omsk", "Asia/Novosibirsk", "Asia/Krasnoyarsk", "Asia/Irkutsk",
	"Asia/Shanghai", "Asia/Yakutsk", "Asia/Tokyo", "Asia/Vladivostok", "Asia/Magadan", "Asia/Kamchatka",
	"America/New_York", "America/Chicago", "America/Los_Angeles",
}

// ValidTimeZone reports whether name is a zone of the IANA database
// ("Local", which means whatever the machine says, is not one).
func ValidTimeZone(name string) bool {
	if name == "" || name == "Local" || len(name) > MaxTimeZoneLength || strings.ContainsAny(name, "\\\x00\r\n") {
		return false
	}
	_, err := time.LoadLocation(name)
	return err == nil
}

// ServerTimeZone is the IANA name of the zone the machine is set to: $TZ,
// else /etc/timezone, else the zone file /etc/localtime links to; "UTC"
// when none of them names one (Go's time.Local knows the rules but not the
// name, which a site must store).
func ServerTimeZone() string {
	candidates := []string{strings.TrimPrefix(os.Getenv("TZ"), ":")}
	if content, err := os.ReadFile("/etc/timezone"); err == nil {
		candidates = append(candidates, strings.TrimSpace(string(content)))
	}
	if target, err := filepath.EvalSymlinks("/etc/localtime"); err == nil {
		if _, name, found := strings.Cut(target, "zoneinfo/"); found {
			candidates = append(candidates, name)
		}
	}
	for _, name := range candidates {
		if ValidTimeZone(name) {
			return name
		}
	}
	return "UTC"
}

// ServerZone gives the server's zone, the zone of a site without its own.
func (s *Service) ServerZone() string { return s.serverZone }

// location loads a zone known to be valid, else the server's.
func (s *Service) location(name string) *time.Location {
	if ValidTimeZone(name) {
		if location, err := time.LoadLocation(name); err == nil {
			return location
		}
	}
	location, err := time.LoadLocation(s.serverZone)
	if err != nil {
		return time.UTC
	}
	return location
}

// UserLocation gives the zone a user reads times in: their own choice, else
// their site's, else the server's.
func (s *Service) UserLocation(ctx context.Context, user store.User) *time.Location {
	if ValidTimeZone(user.TimeZone) {
		return s.location(user.TimeZone)
	}
	if site, err := s.store.SiteByID(ctx, user.SiteID); err == nil {
		return s.location(site.TimeZone)
	}
	return s.location(s.serverZone)
}

// ServerLocation gives the server's zone, for pages shown to no one
// signed in.
func (s *Service) ServerLocation() *time.Location { return s.location(s.serverZone) }
