#!/usr/bin/env bash
# Install everything repotools and its tests need, into this checkout.
#
#   bash scripts/install.sh            Debian packages, .venv, pip install -e '.[test]'
#   bash scripts/install.sh --demo     the same, then run scripts/demo.sh
#   bash scripts/install.sh --no-apt   skip the Debian packages (not a Debian machine, or done already)
#
# Idempotent and quick when everything is in place: apt-get runs only when a
# package is missing, pip only when pyproject.toml changed since the last
# install. Non-interactive: works as root with no terminal and no stdin (CI).
#
# Environment: PYTHON (default: Debian's /usr/bin/python3 when it is 3.11 or newer,
# else python3 on PATH), REPOTOOLS_VENV (default: .venv).
set -euo pipefail

usage() {
	sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
}

DEMO=0
APT=1
for arg in "$@"; do
	case $arg in
		--demo) DEMO=1 ;;
		--no-apt) APT=0 ;;
		-h|--help) usage; exit 0 ;;
		*) echo "install.sh: unknown option '$arg'" >&2; usage >&2; exit 1 ;;
	esac
done

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$TOP"

export DEBIAN_FRONTEND=noninteractive
PYTHON_GIVEN=${PYTHON:-}
PYTHON=${PYTHON:-python3}
VENV=${REPOTOOLS_VENV:-.venv}
[[ $VENV == /* ]] || VENV="$TOP/$VENV"

# Debian 12 packages: pacman's tools (the reference implementation and makepkg for
# building real packages), every compressor a database or package may use, GnuPG
# and the Arch keyring (signatures), Python. Complete for a minimal Debian 12
# (debootstrap --variant=minbase; checked by scripts/fresh-check.sh), which has
# util-linux (runuser, setpriv) and passwd (useradd, userdel) but not:
#   binutils         makepkg's default "strip" option runs strip, readelf and objcopy
#                    (makepkg only recommends build-essential, and recommends are not installed)
#   ca-certificates  pip fetches repotools' dependencies from PyPI over HTTPS
APT_PACKAGES=(
	pacman-package-manager makepkg libarchive-tools libarchive13 fakeroot binutils
	gnupg archlinux-keyring
	gzip zstd xz-utils bzip2 lz4 lzip lzop ncompress lrzip
	python3 ca-certificates
)

say() { printf '==> %s\n' "$*"; }
die() { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

as_root() {
	if (( EUID == 0 )); then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo -n "$@" || die "'$*' needs root; run this script as root or with a password-less sudo."
	else
		die "'$*' needs root; run this script as root."
	fi
}

is_installed() { # a Debian package is fully installed
	[[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]
}

python_ok() { # $1 is a Python >= 3.11
	"$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

can_make_venv() { # `$1 -m venv` works: Debian's python3 needs python3-venv for ensurepip
	command -v "$1" >/dev/null && "$1" -c 'import ensurepip, venv' 2>/dev/null
}

choose_python() {
	# Debian's own python3 first: it is built with profile-guided optimization, and starts
	# and imports repotools' dependencies about 20 % faster than an unoptimized build (such
	# as pyenv's default) - most of what a one-package repo-add costs
	[[ -n $PYTHON_GIVEN ]] && return
	if python_ok /usr/bin/python3 && can_make_venv /usr/bin/python3; then
		PYTHON=/usr/bin/python3
	fi
}

real_python() { # the interpreter that $1 runs, links resolved (a venv's: its base)
	"$1" -c 'import os, sys; print(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))' 2>/dev/null
}

# --- Debian packages -------------------------------------------------------
install_debian_packages() {
	if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
		say "No dpkg/apt-get here: skipping the Debian packages. Install the equivalents of: ${APT_PACKAGES[*]} python3-venv"
		return
	fi
	local wanted=("${APT_PACKAGES[@]}") missing=() pkg
	# the venv's interpreter (see choose_python) needs ensurepip: Debian's comes in python3-venv
	if ! can_make_venv "${PYTHON_GIVEN:-/usr/bin/python3}"; then
		wanted+=(python3-venv)
	fi
	for pkg in "${wanted[@]}"; do
		is_installed "$pkg" || missing+=("$pkg")
	done
	if (( ${#missing[@]} == 0 )); then
		say "Debian packages: all present."
		return
	fi
	say "Installing Debian packages: ${missing[*]}"
	as_root apt-get update -q </dev/null
	as_root apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 "${missing[@]}" </dev/null
}

# --- Python virtual environment and the project -----------------------------
setup_venv() {
	command -v "$PYTHON" >/dev/null || die "No '$PYTHON' on PATH (set PYTHON=/path/to/python3.11+)."
	python_ok "$PYTHON" || die "$PYTHON is $("$PYTHON" -V 2>&1); repotools needs Python 3.11 or newer."
	if [[ -x $VENV/bin/python ]] && python_ok "$VENV/bin/python" && "$VENV/bin/python" -m pip --version >/dev/null 2>&1 \
		&& [[ $(real_python "$VENV/bin/python") == "$(real_python "$PYTHON")" ]]; then
		say "Virtual environment $VENV: present ($("$VENV/bin/python" -V 2>&1), from $PYTHON)."
	else
		can_make_venv "$PYTHON" || die "$PYTHON cannot create a virtual environment (on Debian: apt-get install python3-venv)."
		say "Creating the virtual environment $VENV"
		"$PYTHON" -m venv --clear "$VENV"
	fi

	local stamp="$VENV/.repotools-install" want
	want="$(sha256sum pyproject.toml | cut -d' ' -f1) $TOP compat"
	if [[ -f $stamp && $(cat "$stamp") == "$want" ]] && installed_here; then
		say "repotools: installed in $VENV (editable, with test dependencies)."
		return
	fi
	say "Installing repotools and its test dependencies into $VENV (pip install -e '.[test]')"
	# editable_mode=compat: a plain path in a .pth file; setuptools' default editable
	# finder imports pathlib and more at every interpreter start (about 10 ms a run)
	"$VENV/bin/python" -m pip install -q --disable-pip-version-check --config-settings editable_mode=compat \
		-e '.[test]' </dev/null
	installed_here || die "pip finished but $VENV does not run repotools from $TOP."
	printf '%s\n' "$want" >"$stamp"
}

installed_here() { # the venv imports repotools from this checkout and has the tools
	[[ -x $VENV/bin/repo-add && -x $VENV/bin/repo-remove && -x $VENV/bin/repotools && -x $VENV/bin/pytest ]] || return 1
	local where
	where=$(cd / && "$VENV/bin/python" -c 'import os, repotools; print(os.path.dirname(os.path.dirname(os.path.realpath(repotools.__file__))))' 2>/dev/null) || return 1
	[[ $where == "$(realpath "$TOP")" ]] || return 1
	(cd / && "$VENV/bin/python" -c 'import typer, rich, libarchive, gnupg, pysequoia, pytest, hypothesis' 2>/dev/null)
}

compile_bytecode() { # what pip does for installed packages, and editable installs skip:
	# without it, every run compiles repotools from source when PYTHONDONTWRITEBYTECODE is set
	"$VENV/bin/python" -m compileall -q "$TOP/repotools" >/dev/null || die "Cannot compile $TOP/repotools."
}

if (( APT )); then
	install_debian_packages
fi
choose_python
setup_venv
compile_bytecode
say "Ready: $VENV/bin/repo-add, $VENV/bin/repo-remove, $VENV/bin/repotools"

if (( DEMO )); then
	exec bash "$TOP/scripts/demo.sh"
fi
