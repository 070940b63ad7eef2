#!/usr/bin/env bash
# Installs every Debian package the project needs (idempotent, non-interactive)
# and builds into build/.
#   ./scripts/setup.sh              runtime + build + test dependencies, then build
#   ./scripts/setup.sh --with-fuzz  also clang-14 and its libFuzzer runtime
#   ./scripts/setup.sh --deps-only  install packages, do not build
set -euo pipefail
cd "$(dirname "$0")/.."

with_fuzz=0
build=1
for a in "$@"; do
  case "$a" in
    --with-fuzz) with_fuzz=1 ;;
    --deps-only) build=0 ;;
    *) echo "usage: $0 [--with-fuzz] [--deps-only]" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake pkg-config lld
  libssh-dev libssl-dev libsqlite3-dev liblua5.4-dev libspdlog-dev nlohmann-json3-dev libyaml-dev
  libre2-dev libcctz-dev tzdata libpg-query-dev libpq-dev libcurl4-openssl-dev libcpp-httplib-dev libsystemd-dev
  catch2 libbenchmark-dev
  openssh-client openssh-server openssh-sftp-server
  python3 python3-paramiko asciinema sqlite3 util-linux procps hyperfine
  postgresql postgresql-client python3-psycopg haproxy
  libvterm-dev zsh busybox
  man-db groff-base
)
[ "$with_fuzz" = 1 ] && packages+=(clang-14 libclang-rt-14-dev)
# kubectl for Kubernetes targets: Debian's kubernetes-client, unless one is installed already.
command -v kubectl >/dev/null 2>&1 || packages+=(kubernetes-client)
# kubectl runs inside bubblewrap (bastion/targets/kubectl/sandbox.cpp).
packages+=(bubblewrap)
# The auditor page: npm for its player, a real browser for its test.
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
packages+=(chromium chromium-driver python3-selenium)
# HTTP targets: the request parser, and a real registry + client for their tests.
packages+=(libhttp-parser-dev docker-registry skopeo python3-bcrypt)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# libssh must carry Debian's security backports (see ARCHITECTURE.md).
if ! dpkg --compare-versions "$(dpkg-query -W -f='${Version}' libssh-dev 2>/dev/null || echo 0)" ge 0.10.6-0+deb12u3; then
  missing+=(libssh-dev)
fi

if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  # Progress on stderr: the demo hides setup's stdout, not what it is waiting for.
  echo "setup: installing ${#missing[@]} Debian packages: ${missing[*]}" >&2
  $SUDO apt-get update -qq
  # Do not start services (sshd) just because their package was installed.
  log=$(mktemp)
  if ! DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >"$log" 2>&1; then
    tail -20 "$log" >&2
    echo "setup: apt-get install failed (above)" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
fi

# The auditor page's player (npm asciinema-player, pinned by web/package-lock.json)
# goes beside the page in bastion/web/assets/; it is never committed (.gitignore).
# npm runs only when the installed version is not the locked one, so a second
# run needs no network; --ignore-scripts: no install hooks from the registry.
player_version() { node -p "try { require('$1').$2 } catch (e) { '' }"; }
want=$(player_version ./web/package-lock.json 'packages["node_modules/asciinema-player"].version')
have=$(player_version ./web/node_modules/asciinema-player/package.json version)
if [ -z "$want" ] || [ "$want" != "$have" ]; then
  (cd web && npm ci --ignore-scripts --no-audit --no-fund)
fi
for f in asciinema-player.min.js asciinema-player.css; do
  install -m 0644 "web/node_modules/asciinema-player/dist/bundle/$f" "bastion/web/assets/$f"
done

# The recordings-store tests' S3-compatible server (npm s3rver, pinned by
# tests/s3/package-lock.json), installed the same way, only when missing or
# not the locked version; never committed.
want=$(player_version ./tests/s3/package-lock.json 'packages["node_modules/s3rver"].version')
have=$(player_version ./tests/s3/node_modules/s3rver/package.json version)
if [ -z "$want" ] || [ "$want" != "$have" ]; then
  (cd tests/s3 && npm ci --ignore-scripts --no-audit --no-fund)
fi

if [ "$build" = 1 ]; then
  echo "setup: building into build/ ($(nproc) cores; the first build takes several minutes)" >&2
  # Line tables only (-g1): backtraces and profiles keep file:line, and the
  # build takes a third less time than with full debug info (-g).
  cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" -DBASTION_BENCH=ON -DBASTION_SANITIZE=OFF -DBASTION_FUZZ=OFF >/dev/null
  cmake --build build -j"$(nproc)"
  echo "setup: built into build/"
fi
