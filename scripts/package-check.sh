#!/usr/bin/env bash
# shellcheck disable=SC2015  # `check && ok || bad`: ok() always succeeds
# Builds the amd64 Debian package, installs it on this machine and checks the
# installation; then purges it and checks that the purge cleaned up.
#
# Usage: scripts/package-check.sh [--keep]
#   --keep   leave the package installed (default: purge it at the end)
#
# Checks, in order (any failure exits non-zero):
#   - deploy/systemd/edge-agent.service and deploy/edge-agent.json exist
#   - scripts/package.sh amd64 builds out/edge-agent_<ver>_amd64.deb containing
#     /usr/bin/edge-agent
#   - apt-get install -y ./out/edge-agent_<ver>_amd64.deb succeeds
#   - system user and group edge-agent exist; /var/lib/edge-agent is owned by it;
#     the unit's SupplementaryGroups exist and the user is in them
#   - the unit is /lib/systemd/system/edge-agent.service and passes
#     `systemd-analyze verify` (warnings only when systemd is not PID 1, except
#     for syntax errors, which always fail); the config is a dpkg conffile
#   - /usr/bin/edge-agent --version, and
#     /usr/bin/edge-agent --check-config --config /etc/edge-agent/edge-agent.json
#     exit 0 (also as user edge-agent when the unit runs as that user)
#   - purge: binaries, unit, /etc/edge-agent, /var/lib/edge-agent and the user
#     are gone
# Unattended (CI=true, root, no stdin). Environment: SKIP_BUILD=1 reuses
# out/edge-agent_*_amd64.deb; SKIP_DEPS=1 passed on to scripts/package.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
APT=(apt-get -y -q -o DPkg::Lock::Timeout=600)
[ -z "$SUDO" ] || APT=("$SUDO" "${APT[@]}")
PKG=edge-agent
USER_NAME=edge-agent
STATE_DIR=/var/lib/edge-agent
CONF=/etc/edge-agent/edge-agent.json
UNIT=/lib/systemd/system/edge-agent.service

fails=0
step() { printf '\n=== package-check: %s\n' "$*"; }
ok() { echo "  ok: $*"; }
bad() { echo "  FAIL: $*" >&2; fails=$((fails + 1)); }
die() { echo "package-check: FAILED: $*" >&2; exit 1; }
run() { printf '+ %s\n' "$*"; "$@"; }

# --- 0. what the package is made of must exist ---------------------------------
step "deployment files in the source tree"
missing=()
for f in deploy/systemd/edge-agent.service deploy/edge-agent.json; do
  if [ -f "$here/$f" ]; then ok "$f"; else missing+=("$f"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  die "missing ${missing[*]} (written by the agent's authors; the package would ship without it)"
fi

# --- 1. build -------------------------------------------------------------------
step "build the amd64 package (scripts/package.sh amd64)"
if [ "${SKIP_BUILD:-0}" != 1 ]; then
  run bash "$here/scripts/package.sh" amd64
fi
deb=$(find "$here/out" -maxdepth 1 -name "${PKG}_*_amd64.deb" 2>/dev/null | sort | tail -n1)
[ -n "$deb" ] || die "no out/${PKG}_*_amd64.deb"
ok "$deb"
contents=$(dpkg-deb --contents "$deb")
grep -q '\./usr/bin/edge-agent$' <<<"$contents" \
  || die "$deb has no /usr/bin/edge-agent (is agent/ on this branch and building bin/edge-agent?)"
ok "contains /usr/bin/edge-agent"

# --- 2. install --------------------------------------------------------------------
step "install"
if dpkg-query -W -f='${Status}' "$PKG" 2>/dev/null | grep -q "installed"; then
  echo "  $PKG is already installed ($(dpkg-query -W -f='${Version}' "$PKG")): purging it first"
  run "${APT[@]}" purge "$PKG"
fi
run "${APT[@]}" install "$deb"
dpkg-query -W -f='${Status}\n' "$PKG" | grep -q "install ok installed" || die "$PKG not installed"
ok "$PKG $(dpkg-query -W -f='${Version} ${Architecture}' "$PKG") installed"

# --- 3. checks ----------------------------------------------------------------------
step "system user, state directory"
if getent passwd "$USER_NAME" >/dev/null; then
  IFS=: read -r _ _ uid _ _ home shell < <(getent passwd "$USER_NAME")
  ok "user $USER_NAME (uid $uid, home $home, shell $shell)"
  [ "$uid" -lt 1000 ] || bad "user $USER_NAME is not a system user (uid $uid)"
  case "$shell" in */nologin|*/false) ;; *) bad "user $USER_NAME has a login shell $shell" ;; esac
else
  bad "user $USER_NAME missing"
fi
getent group "$USER_NAME" >/dev/null && ok "group $USER_NAME" || bad "group $USER_NAME missing"
if [ -d "$STATE_DIR" ]; then
  owner=$(stat -c '%U:%G %a' "$STATE_DIR")
  [ "$owner" = "$USER_NAME:$USER_NAME 750" ] && ok "$STATE_DIR $owner" \
    || bad "$STATE_DIR is $owner, expected $USER_NAME:$USER_NAME 750"
else
  bad "$STATE_DIR missing"
fi

step "systemd unit"
if [ -f "$UNIT" ]; then
  ok "$UNIT"
  # systemd refuses to start a unit whose supplementary group is missing.
  # shellcheck disable=SC2013  # words: one group per word
  for g in $(sed -n 's/^SupplementaryGroups=//p' "$UNIT"); do
    if ! getent group "$g" >/dev/null; then
      bad "SupplementaryGroups=$g: no such group"
    elif id -nG "$USER_NAME" 2>/dev/null | tr ' ' '\n' | grep -qx "$g"; then
      ok "group $g exists, $USER_NAME is a member"
    else
      bad "$USER_NAME is not in group $g"
    fi
  done
  if command -v systemd-analyze >/dev/null; then
    pid1=$(ps -o comm= -p 1 2>/dev/null || true)
    printf '+ systemd-analyze verify %s   (PID 1: %s)\n' "$UNIT" "${pid1:-?}"
    rc=0; out=$(systemd-analyze verify "$UNIT" 2>&1) || rc=$?
    [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/  | /'
    if [ $rc -eq 0 ]; then
      ok "systemd-analyze verify"
    elif grep -qiE 'unknown (key|section|lvalue)|failed to parse|invalid|bad unit file|not executable' <<<"$out"; then
      bad "systemd-analyze verify: errors in the unit file"
    elif [ "$pid1" = systemd ]; then
      bad "systemd-analyze verify exit $rc"
    else
      echo "  warning: systemd-analyze verify exit $rc; systemd is not PID 1 here, not counted"
    fi
  else
    echo "  systemd-analyze not available: unit not verified"
  fi
else
  bad "$UNIT missing"
fi

step "configuration"
if [ -f "$CONF" ]; then
  ok "$CONF ($(stat -c '%U:%G %a' "$CONF"), dir $(stat -c '%U:%G %a' "$(dirname "$CONF")"))"
else
  bad "$CONF missing"
fi
dpkg-query -W -f='${Conffiles}\n' "$PKG" | grep -q " $CONF " && ok "$CONF is a conffile" \
  || bad "$CONF is not registered as a conffile"

step "edge-agent runs"
printf '+ /usr/bin/edge-agent --version\n'
if out=$(/usr/bin/edge-agent --version </dev/null 2>&1); then ok "--version: ${out%%$'\n'*}"
else bad "edge-agent --version failed: $out"; fi
printf '+ /usr/bin/edge-agent --check-config --config %s\n' "$CONF"
rc=0; out=$(/usr/bin/edge-agent --check-config --config "$CONF" </dev/null 2>&1) || rc=$?
[ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/  | /'
[ $rc -eq 0 ] && ok "--check-config exit 0" || bad "--check-config exit $rc"
if [ -f "$UNIT" ] && grep -qE "^User=$USER_NAME\$" "$UNIT" && command -v runuser >/dev/null; then
  printf '+ runuser -u %s -- /usr/bin/edge-agent --check-config --config %s\n' "$USER_NAME" "$CONF"
  rc=0; out=$(runuser -u "$USER_NAME" -- /usr/bin/edge-agent --check-config --config "$CONF" </dev/null 2>&1) || rc=$?
  [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/  | /'
  [ $rc -eq 0 ] && ok "--check-config as $USER_NAME exit 0" || bad "--check-config as $USER_NAME exit $rc"
fi
echo "  installed programs:"
dpkg -L "$PKG" | grep '^/usr/bin/' | sed 's/^/    /'

# --- 4. purge (default) -------------------------------------------------------------
if [ $keep = 1 ]; then
  step "leaving $PKG installed (--keep); remove with: apt-get purge -y $PKG"
else
  step "purge"
  run "${APT[@]}" purge "$PKG"
  for p in /usr/bin/edge-agent "$UNIT" /etc/edge-agent "$STATE_DIR"; do
    [ -e "$p" ] && bad "$p still present after purge" || ok "$p removed"
  done
  getent passwd "$USER_NAME" >/dev/null && bad "user $USER_NAME still present after purge" \
    || ok "user $USER_NAME removed"
fi

if [ $fails -ne 0 ]; then
  echo "package-check: FAILED ($fails checks)" >&2
  exit 1
fi
echo
echo "package-check: OK ($(basename "$deb"); $([ $keep = 1 ] && echo "left installed" || echo "installed, checked, purged"))"
