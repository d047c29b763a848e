#!/usr/bin/env bash
# Builds the Debian package from a build directory configured with
# -DCMAKE_INSTALL_PREFIX=/usr (scripts/test.sh does that), lints it, checks the
# systemd unit, installs it, runs the installed daemon as its unit would, and
# purges it again. Prints the package size, the install time and the unit's
# `systemd-analyze security` exposure score.
#
#   scripts/package.sh [BUILD_DIR]      (default: build)
#
# Installing needs root and a machine where that is harmless: CI (CI=true), or
# a machine whose PID 1 is not systemd (a container: the postinst starts
# nothing). Elsewhere set TUNNELDOC_PACKAGE_INSTALL=1 to install anyway, or 0
# to stop after lint and verify.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
step() { printf '== package: %s\n' "$*"; }
die() { printf 'package: FAIL: %s\n' "$*" >&2; exit 1; }

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
[ "$prefix" = /usr ] || die "$build is configured with CMAKE_INSTALL_PREFIX=$prefix; the package needs /usr"
cmake --build "$build" --target tunneldoc tunneldoc_man >/dev/null

step "cpack -G DEB"
rm -f "$build"/tunneldoc_*.deb
(cd "$build" && cpack -G DEB >/dev/null)
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
arch=$(dpkg --print-architecture)
deb=$root/$build/tunneldoc_${version}_${arch}.deb
[ -f "$deb" ] || die "expected $deb"
echo "package: $(basename "$deb"): $(stat -c %s "$deb") bytes, installed size $(dpkg-deb -f "$deb" Installed-Size) KiB"
dpkg-deb -c "$deb" | awk '{print $6}' > "$build/package-contents.txt"
for f in ./usr/bin/tunneldoc ./etc/tunneldoc/tunneldoc.yaml ./lib/systemd/system/tunneldoc.service \
         ./usr/share/man/man8/tunneldoc.8.gz ./usr/share/man/man5/tunneldoc.yaml.5.gz \
         ./usr/share/tunneldoc/signatures/catalogue.tsv ./usr/share/tunneldoc/samples/asa-vpn.log \
         ./usr/share/doc/tunneldoc/copyright ./usr/share/doc/tunneldoc/changelog.gz; do
  grep -qxF "$f" "$build/package-contents.txt" || die "the package lacks $f"
done
ctl=$(mktemp -d)
trap 'rm -rf "$ctl"' EXIT
dpkg-deb -e "$deb" "$ctl"
grep -qxF /etc/tunneldoc/tunneldoc.yaml "$ctl/conffiles" || die "tunneldoc.yaml is not a conffile"
if cat "$root/packaging/tunneldoc.service" "$ctl"/post* "$ctl"/prerm | grep -v '^[[:space:]]*#' |
   grep -qE 'syslog\.(service|socket)'; then
  die "the unit or a maintainer script names syslog.service/syslog.socket"
fi

step "lintian"
command -v lintian >/dev/null || die "lintian is not installed (scripts/setup.sh)"
lintian --fail-on error --suppress-tags binary-has-unneeded-section "$deb" 2>&1 | grep -v 'not recommended' || true
lintian --fail-on error "$deb" >/dev/null 2>&1 || die "lintian reports errors"

step "systemd-analyze security (offline)"
score=$(systemd-analyze security --offline=true "$root/packaging/tunneldoc.service" 2>&1 |
        sed -n 's/.*Overall exposure level for tunneldoc.service: \([0-9.]*\).*/\1/p')
[ -n "$score" ] || die "systemd-analyze security gave no score"
echo "package: systemd-analyze security exposure level: $score"

install=${TUNNELDOC_PACKAGE_INSTALL:-}
if [ -z "$install" ]; then
  install=0
  if [ "$(id -u)" -eq 0 ] && { [ "${CI:-}" = true ] || [ "$(ps -p 1 -o comm= 2>/dev/null)" != systemd ]; }; then install=1; fi
fi
if [ "$install" != 1 ]; then
  echo "package: not installing here (not root, or systemd is PID 1 and CI is not set); TUNNELDOC_PACKAGE_INSTALL=1 forces it"
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
if dpkg-query -W -f='${Status}' tunneldoc 2>/dev/null | grep -q "install ok installed"; then
  die "tunneldoc is already installed here; remove it first (apt-get purge tunneldoc)"
fi

step "install"
start=$(date +%s%N)
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$deb" >/dev/null
end=$(date +%s%N)
echo "package: apt-get install took $(( (end - start) / 1000000 )) ms"
purge() { DEBIAN_FRONTEND=noninteractive $sudo apt-get purge -y -qq tunneldoc >/dev/null || true; }
trap 'purge; rm -rf "$ctl"' EXIT

step "installed files, user and unit"
getent passwd tunneldoc >/dev/null || die "no tunneldoc user"
uid=$(id -u tunneldoc)
[ "$uid" -lt 1000 ] || die "tunneldoc is not a system user (uid $uid)"
[ "$(getent passwd tunneldoc | cut -d: -f7)" = /usr/sbin/nologin ] || die "tunneldoc has a login shell"
systemd-analyze verify /lib/systemd/system/tunneldoc.service || die "systemd-analyze verify"
man -w tunneldoc >/dev/null && man -w 5 tunneldoc.yaml >/dev/null || die "man pages not found by man"

step "installed binary: default knowledge base, check, scan"
cd /
env -u TUNNELDOC_SIGNATURES /usr/bin/tunneldoc check --help | grep -qF '=/usr/share/tunneldoc/signatures' ||
  die "default_signature_dir() does not find /usr/share/tunneldoc/signatures"
env -u TUNNELDOC_SIGNATURES /usr/bin/tunneldoc check
out=$(env -u TUNNELDOC_SIGNATURES /usr/bin/tunneldoc scan /usr/share/tunneldoc/samples/asa-vpn.log)
n=$(printf '%s\n' "$out" | grep -c '"schema":"tunneldoc.diagnosis/1"' || true)
[ "$n" -gt 0 ] || die "scan of the bundled sample gave no diagnosis"
echo "package: installed scan of the bundled sample: $n diagnoses"

step "the service as its unit runs it: user tunneldoc, CAP_NET_BIND_SERVICE only, packaged configuration"
# What systemd would do: StateDirectory and LogsDirectory, then ExecStartPre and ExecStart.
install -d -o tunneldoc -g tunneldoc -m 0750 /var/lib/tunneldoc /var/log/tunneldoc
as_unit=(setpriv --reuid tunneldoc --regid tunneldoc --init-groups --inh-caps +net_bind_service
         --ambient-caps +net_bind_service --no-new-privs)
"${as_unit[@]}" /usr/bin/tunneldoc serve --config /etc/tunneldoc/tunneldoc.yaml --check-config ||
  die "ExecStartPre (serve --check-config) rejects the packaged configuration"
ready=/var/lib/tunneldoc/ready.json
rm -f "$ready"
"${as_unit[@]}" /usr/bin/tunneldoc serve --config /etc/tunneldoc/tunneldoc.yaml --ready-file "$ready" \
  --metrics 127.0.0.1:0 2>/var/lib/tunneldoc/serve.stderr &
pid=$!
stop_serve() { kill -TERM "$pid" 2>/dev/null && wait "$pid" || true; }
trap 'stop_serve; purge; rm -rf "$ctl"' EXIT
deadline=$((SECONDS + 20))
until [ -s "$ready" ]; do
  kill -0 "$pid" 2>/dev/null || die "serve exited: $(cat /var/lib/tunneldoc/serve.stderr)"
  [ $SECONDS -lt $deadline ] || die "serve did not bind 514 within 20 s"
  sleep 0.1
done
logger -n 127.0.0.1 -P 514 --udp '%ASA-5-713904: IP = 203.0.113.9, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop'
logger -n 127.0.0.1 -P 514 --tcp '%ASA-5-713904: IP = 203.0.113.10, Received an un-encrypted NO_PROPOSAL_CHOSEN notify message, drop'
deadline=$((SECONDS + 20))
until [ "$(grep -c 'asa-713904-no-proposal-chosen' /var/log/tunneldoc/diagnoses.jsonl 2>/dev/null || echo 0)" -ge 2 ]; do
  [ $SECONDS -lt $deadline ] || die "no diagnoses in /var/log/tunneldoc/diagnoses.jsonl after 20 s"
  sleep 0.1
done
kill -TERM "$pid"
wait "$pid" || die "serve did not exit 0 on SIGTERM"
echo "package: the service received 514/udp and 514/tcp as user tunneldoc and wrote /var/log/tunneldoc/diagnoses.jsonl"
trap 'purge; rm -rf "$ctl"' EXIT

step "purge"
purge
trap 'rm -rf "$ctl"' EXIT
[ ! -e /usr/bin/tunneldoc ] && [ ! -e /etc/tunneldoc/tunneldoc.yaml ] && [ ! -e /var/lib/tunneldoc ] ||
  die "purge left files behind"
echo "package: ok"
