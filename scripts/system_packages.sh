#!/usr/bin/env bash
# The Debian packages the tests need, installed where they are missing: `make test` and .ci/run call this.
#   scripts/system_packages.sh           install the missing ones (as root, with apt-get); else print the command
#   scripts/system_packages.sh --list    the packages, one a line
#   scripts/system_packages.sh --check   exit 0 when all are installed, 1 (naming the missing) when not
# Word lists: the labelled sets (scripts/labelled_names.py). postgresql: tests/test_tune_workers.py starts a real
# server. chromium and its driver: the page's test in tests/test_serve.py. Add a package here when a test needs one.
set -euo pipefail

packages=(wamerican wfrench wngerman witalian wspanish postgresql chromium chromium-driver)

missing() {
    # dpkg-query reads DPKG_ADMINDIR when set, like dpkg itself.
    local package
    for package in "${packages[@]}"; do
        [[ "$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null)" == installed ]] || echo "$package"
    done
}

case "${1:-}" in
--list)
    printf '%s\n' "${packages[@]}"
    exit 0
    ;;
--check | "") ;;
*)
    echo "usage: $0 [--list | --check]" >&2
    exit 2
    ;;
esac

if ! command -v dpkg-query >/dev/null; then
    echo "system_packages.sh: no dpkg here: install the tests' packages with your system's package manager" \
        "(Debian names: ${packages[*]})" >&2
    exit 1
fi
mapfile -t absent < <(missing)
((${#absent[@]})) || exit 0
if [[ "${1:-}" == --check ]]; then
    echo "system_packages.sh: missing: ${absent[*]}" >&2
    exit 1
fi
if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    echo "system_packages.sh: the tests need ${absent[*]}; run: sudo apt-get install -y ${absent[*]}" >&2
    exit 1
fi
# A fresh machine has no package lists yet.
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${absent[@]}"
