#!/usr/bin/env bash
# The project's test command.
#
#   ./scripts/test.sh                          # everything
#   ./scripts/test.sh -run Foo ./internal/store/   # go test arguments
#
# Installs the test peers, checks formatting (gofmt) and go vet, starts one
# throwaway PostgreSQL for the whole run (unless POCHTA_TEST_PG is set) and
# runs go test -race with POCHTA_REQUIRE_PEERS=1, so a missing peer fails
# instead of skipping. Arguments go to go test; package patterns among them
# (./..., ./internal/x/, pochta.dev/...) also narrow gofmt and go vet, and
# without any, ./... is tested.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "test.sh: $*" >&2; }

./scripts/install-test-peers.sh

# Package patterns among the arguments.
pkgs=()
for a in "$@"; do
  case $a in
    . | ./* | ../* | pochta.dev/*) pkgs+=("$a") ;;
  esac
done
go_args=("$@")
if ((${#pkgs[@]} == 0)); then
  pkgs=(./...)
  go_args+=(./...)
fi

# gofmt: every tracked or untracked (not ignored) .go file, or the files of
# the named packages.
if [[ ${pkgs[*]} == ./... ]]; then
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    mapfile -t files < <(git ls-files -co --exclude-standard -- '*.go' | while read -r f; do [[ -f $f ]] && echo "$f"; done)
  else
    mapfile -t files < <(find . -name '*.go' -not -path './vendor/*' -not -path '*/node_modules/*')
  fi
else
  mapfile -t files < <(go list -e -f '{{.Dir}}' "${pkgs[@]}" | while read -r d; do
    [[ -n $d ]] && find "$d" -maxdepth 1 -name '*.go'
  done)
fi
if ((${#files[@]} > 0)); then
  unformatted=$(gofmt -l "${files[@]}")
  if [[ -n $unformatted ]]; then
    log "these files are not gofmt'ed (run gofmt -w on them):"
    echo "$unformatted" >&2
    exit 1
  fi
fi

log "go vet ${pkgs[*]}"
go vet "${pkgs[@]}"

pgdir=""
pg_bin=${POCHTA_PG_BIN:-/usr/lib/postgresql/15/bin}
if [[ ! -x $pg_bin/initdb ]]; then
  for d in /usr/lib/postgresql/*/bin "$(dirname "$(command -v initdb 2>/dev/null || echo /nonexistent/x)")"; do
    if [[ -x $d/initdb && -x $d/pg_ctl ]]; then pg_bin=$d; break; fi
  done
fi
as_nobody() {
  if ((EUID != 0)); then
    "$@"
  elif command -v runuser >/dev/null; then
    runuser -u nobody -- "$@"
  else
    su -s /bin/sh nobody -c "$(printf '%q ' "$@")"
  fi
}
stop_pg() {
  if [[ -n $pgdir ]]; then
    as_nobody "$pg_bin/pg_ctl" -D "$pgdir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$pgdir"
  fi
}
trap stop_pg EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -z ${POCHTA_TEST_PG:-} ]]; then
  pgdir=$(mktemp -d "${TMPDIR:-/tmp}/pochta-testsh-pg.XXXXXX")
  if ((EUID == 0)); then chown nobody "$pgdir"; fi
  (cd "$pgdir" && as_nobody "$pg_bin/initdb" -D "$pgdir/data" -A trust -U postgres -E UTF8 --locale=C --no-sync >"$pgdir/initdb.log" 2>&1) || {
    cat "$pgdir/initdb.log" >&2
    log "initdb failed ($pg_bin)"
    exit 1
  }
  started=0
  for _ in 1 2 3 4 5; do
    # A random port that nothing answers on; a race with another process
    # only costs a retry.
    port=$((20000 + RANDOM % 40000))
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then continue; fi
    if (cd "$pgdir" && as_nobody "$pg_bin/pg_ctl" -D "$pgdir/data" -l "$pgdir/postgres.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $pgdir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
      start >/dev/null); then
      started=1
      break
    fi
  done
  if ((!started)); then
    cat "$pgdir/postgres.log" >&2 || true
    log "PostgreSQL did not start"
    exit 1
  fi
  export POCHTA_TEST_PG="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
  log "PostgreSQL for this run: $POCHTA_TEST_PG"
fi
export POCHTA_REQUIRE_PEERS=1

log "go test -race -count=1 -timeout 25m ${go_args[*]}"
status=0
go test -race -count=1 -timeout 25m "${go_args[@]}" || status=$?
exit "$status"
