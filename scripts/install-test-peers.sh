#!/usr/bin/env bash
# Installs the real peers the tests use (Debian/Ubuntu, apt). Idempotent: it
# runs apt-get only for packages that are missing, and apt-get update only
# when something must be installed. Run as root, or as a user with sudo.
set -euo pipefail

packages=(
  chromium            # browser tests (chromedp)
  dovecot-imapd       # POP3/IMAP peer (testpeer.Dovecot)
  dovecot-pop3d
  swaks               # SMTP client
  libnet-ssleay-perl  # swaks --tls
  libauthen-sasl-perl # swaks --auth
  python3-aiosmtpd    # SMTP reference server of the benchmarks
  openssl
  ca-certificates
)
# The machine image may already ship PostgreSQL 15 without the Debian package.
if [[ ! -x /usr/lib/postgresql/15/bin/initdb ]]; then
  packages+=(postgresql-15)
fi

installed() {
  dpkg-query -W -f='${db:Status-Abbrev}' "$1" 2>/dev/null | grep -q '^ii'
}

# Postfix's smtp-source and smtp-sink (load generator and sink of the SMTP
# tests and benchmarks), unpacked from the package without installing it:
# postfix conflicts with other MTAs as a package. testpeer.PostfixTool finds
# them here.
postfix_root=/opt/pochta-test-peers/postfix
postfix_tools() {
  [[ -x $postfix_root/usr/sbin/smtp-source ]] && return 0
  local tmp
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download postfix >/dev/null 2>&1) || { "${apt[@]}" update >/dev/null && (cd "$tmp" && apt-get download postfix >/dev/null); }
  "${sudo[@]}" mkdir -p "$postfix_root"
  "${sudo[@]}" dpkg -x "$tmp"/postfix_*.deb "$postfix_root"
  rm -rf "$tmp"
}

missing=()
for p in "${packages[@]}"; do
  installed "$p" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  sudo=()
  ((EUID != 0)) && command -v sudo >/dev/null && sudo=(sudo)
  apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=900)
  postfix_tools
  exit 0
fi

if ! command -v apt-get >/dev/null; then
  echo "install-test-peers: apt-get not found; install by hand: ${missing[*]}" >&2
  exit 1
fi
sudo=()
if ((EUID != 0)); then
  if command -v sudo >/dev/null; then
    sudo=(sudo)
  else
    echo "install-test-peers: not root and no sudo; install as root: ${missing[*]}" >&2
    exit 1
  fi
fi

for p in "${missing[@]}"; do
  echo "install-test-peers: installing $p"
done

export DEBIAN_FRONTEND=noninteractive
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=900)

# Keep the packages' services from starting system-wide (ports 110, 143, 5432,
# ...): tests start their own throwaway servers.
policy=/usr/sbin/policy-rc.d
added_policy=0
if [[ ! -e $policy ]]; then
  "${sudo[@]}" sh -c "printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy"
  added_policy=1
fi
cleanup() {
  if ((added_policy)); then "${sudo[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT

"${apt[@]}" update >/dev/null
"${apt[@]}" install -y --no-install-recommends "${missing[@]}" >/dev/null

for p in "${missing[@]}"; do
  if ! installed "$p"; then
    echo "install-test-peers: $p is still not installed" >&2
    exit 1
  fi
done
postfix_tools
