#!/usr/bin/env bash
# Run the README's Quick start on a fresh minimal Debian 12, in a chroot.
#
#   bash scripts/fresh-check.sh [--keep] [--worktree] [--cache DIR]
#
# As root. Makes a chroot from a `debootstrap --variant=minbase bookworm` tree
# (built once from the host's Debian mirror and cached as a tarball in DIR,
# default /var/cache/repotools-fresh-check; debootstrap is installed with
# apt-get when missing), clones this checkout's HEAD to /root/project in it,
# gives it the host's DNS, certificate authorities and pip certificate set-up,
# mounts proc, dev and a tmpfs on /tmp, then runs the commands of README.md's
# "## Quick start" first code block there, as root, from /root/project, with
# CI=true and no stdin. Prints their output and a summary line per command
# (exit code and duration); exits non-zero if any failed.
#
#   --keep       keep the chroot and the logs (the mounts are always undone)
#   --worktree   copy the work tree as it is (tracked and untracked files that
#                are not ignored, deletions included) instead of HEAD
#   --cache DIR  where the minbase tarball is kept (delete it to rebuild it)
#
# Environment: MIRROR (default: the host's bookworm mirror from its apt sources),
# TMPDIR (where the chroot is made; default /var/tmp).
set -euo pipefail

usage() {
	sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'
}

KEEP=0
WORKTREE=0
CACHE=/var/cache/repotools-fresh-check
while (( $# )); do
	case $1 in
		--keep) KEEP=1 ;;
		--worktree) WORKTREE=1 ;;
		--cache) [[ $# -ge 2 && -n $2 ]] || { echo "fresh-check.sh: --cache needs a directory" >&2; exit 1; }
			CACHE=$2; shift ;;
		--cache=*) CACHE=${1#--cache=} ;;
		-h|--help) usage; exit 0 ;;
		*) echo "fresh-check.sh: unknown option '$1'" >&2; usage >&2; exit 1 ;;
	esac
	shift
done

say() { printf '==> %s\n' "$*"; }
die() { printf '==> ERROR: %s\n' "$*" >&2; exit 1; }

(( EUID == 0 )) || die "run this as root (debootstrap, chroot and mount need it)."
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
command -v git >/dev/null || die "git is needed to copy the checkout."
git -C "$TOP" rev-parse --git-dir >/dev/null 2>&1 || die "$TOP is not a git checkout."
umask 022
export LC_ALL=C

SUITE=bookworm
ARCH=$(dpkg --print-architecture 2>/dev/null || echo amd64)
TARBALL=$CACHE/$SUITE-minbase-$ARCH.tar.gz

# --- the commands: README.md's Quick start, first code block ------------------
# (the same parsing as .ci/run: the block's lines, blank lines and comments left out)
HEAD_COMMIT=$(git -C "$TOP" rev-parse HEAD) # once: README and tree from the same commit
if (( WORKTREE )); then
	readme=$(cat "$TOP/README.md")
else
	readme=$(git -C "$TOP" show "$HEAD_COMMIT:README.md")
fi
mapfile -t COMMANDS < <(awk '
	/^## Quick start/ { in_section = 1; next }
	in_section && /^## / { exit }
	in_section && /^```/ { if (in_block) exit; in_block = 1; next }
	in_block && NF && $1 !~ /^#/ { print }
' <<<"$readme")
(( ${#COMMANDS[@]} )) || die "no commands found in README.md's \"## Quick start\" first code block."

# --- the host's Debian mirrors ------------------------------------------------
apt_source_uri() { # suite: the first URI of an enabled "deb" source for that suite
	local suite=$1 f
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		if [[ $f == *.sources ]]; then
			awk -v suite="$suite" '
				function flush() {
					if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " suite " ") && enabled != "no" && uri != "")
						{ print uri; found = 1; exit }
					types = suites = uri = enabled = ""
				}
				/^[ \t]*$/ { flush(); next }
				/^[ \t]*#/ { next }
				tolower($1) == "types:" { $1 = ""; types = $0 }
				tolower($1) == "suites:" { $1 = ""; suites = $0 }
				tolower($1) == "uris:" { uri = $2 }
				tolower($1) == "enabled:" { enabled = tolower($2) }
				END { if (!found) flush() }
			' "$f"
		else
			awk -v suite="$suite" '
				$1 == "deb" {
					i = 2
					if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
					if ($(i + 1) == suite) { print $i; exit }
				}
			' "$f"
		fi
	done | head -n 1
}
MIRROR=${MIRROR:-$(apt_source_uri "$SUITE")}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=$(apt_source_uri "$SUITE-security")
SECURITY_MIRROR=${SECURITY_MIRROR:-http://deb.debian.org/debian-security}

# --- the minbase tree, cached ---------------------------------------------------
build_minbase() {
	if ! command -v debootstrap >/dev/null; then
		say "Installing debootstrap on this machine"
		DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 debootstrap </dev/null
	fi
	mkdir -p "$CACHE"
	local tree
	tree=$(mktemp -d "$CACHE/tree.XXXXXX")
	say "debootstrap --variant=minbase $SUITE from $MIRROR (a few minutes, once; cached in $TARBALL)"
	if ! debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$tree" "$MIRROR" </dev/null; then
		sed 's/^/    /' "$tree/debootstrap/debootstrap.log" 2>/dev/null | tail -n 30 >&2 || true
		rm -rf --one-file-system "$tree"
		die "debootstrap failed."
	fi
	rm -f "$tree"/var/cache/apt/archives/*.deb
	chmod 755 "$tree" # mktemp made it 0700, and it becomes the chroot's /
	tar -C "$tree" --numeric-owner -czf "$TARBALL.part" .
	mv "$TARBALL.part" "$TARBALL"
	rm -rf --one-file-system "$tree"
}
if [[ -s $TARBALL ]]; then
	say "Minbase tree: $TARBALL (cached; delete it to rebuild)"
else
	build_minbase
fi

# --- the chroot -------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/repotools-fresh-check.XXXXXXXX")
ROOT=$WORK/root
LOGS=$WORK/logs
MOUNTED=() # innermost last

in_chroot_pids() { # processes whose root directory is the chroot
	local p
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/root" 2>/dev/null) == "$ROOT" ]] && echo "${p#/proc/}"
	done
	return 0
}

cleanup() {
	local rc=$? i pids
	set +e
	# daemons the commands left behind (gpg-agent, keyboxd, dirmngr) keep the mounts busy
	pids=$(in_chroot_pids)
	if [[ -n $pids ]]; then
		kill $pids 2>/dev/null
		sleep 1
		pids=$(in_chroot_pids)
		[[ -n $pids ]] && kill -KILL $pids 2>/dev/null && sleep 0.2
	fi
	for (( i = ${#MOUNTED[@]} - 1; i >= 0; i-- )); do
		umount -R "${MOUNTED[i]}" 2>/dev/null || umount -R -l "${MOUNTED[i]}" 2>/dev/null \
			|| echo "==> WARNING: could not unmount ${MOUNTED[i]}" >&2
	done
	if awk -v root="$ROOT/" 'index($2 "/", root) == 1 { found = 1 } END { exit !found }' /proc/self/mounts; then
		echo "==> WARNING: something is still mounted under $ROOT; not removing $WORK" >&2
	elif (( KEEP )); then
		echo "==> Kept: the chroot $ROOT, the logs $LOGS"
	else
		rm -rf --one-file-system "$WORK"
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$ROOT" "$LOGS"
say "Fresh chroot: $ROOT"
tar -C "$ROOT" --numeric-owner -xpzf "$TARBALL"
chmod 755 "$ROOT" # its /: other users (makepkg's build user, nobody) must reach /usr

# the project, where the README has it: a clone of this repository
git clone -q --no-hardlinks "$TOP" "$ROOT/root/project"
git -C "$ROOT/root/project" checkout -q --detach "$HEAD_COMMIT"
if (( WORKTREE )); then
	say "Project: $TOP's work tree (HEAD $HEAD_COMMIT and the changes on top) -> /root/project"
	# HEAD's files out (staged renames and deletions included), the work tree's in
	find "$ROOT/root/project" -mindepth 1 -maxdepth 1 ! -name .git -exec rm -rf --one-file-system {} +
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard \
		| while IFS= read -rd '' f; do [[ -e $f || -L $f ]] && printf '%s\0' "$f"; done \
		| tar --null -T - -cf -) | tar -C "$ROOT/root/project" -xpf -
else
	say "Project: a clone of $TOP at HEAD $HEAD_COMMIT -> /root/project"
fi

# network: DNS, the package mirrors, the host's certificate authorities (a TLS proxy's
# among them), pip told to use the system bundle as the host's pip is
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
[[ -e $ROOT/etc/hosts ]] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
rm -f "$ROOT/etc/apt/sources.list"
cat >"$ROOT/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
for f in /etc/apt/apt.conf.d/*; do # the host's apt proxy settings, if any
	[[ -f $f ]] && grep -qi 'proxy' "$f" && cp "$f" "$ROOT/etc/apt/apt.conf.d/"
done
mkdir -p "$ROOT/usr/local/share/ca-certificates" "$ROOT/etc/ssl/certs"
for f in /usr/local/share/ca-certificates/*.crt; do
	[[ -f $f ]] && cp "$f" "$ROOT/usr/local/share/ca-certificates/"
done
[[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp -L /etc/ssl/certs/ca-certificates.crt "$ROOT/etc/ssl/certs/"
printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$ROOT/etc/pip.conf"
# proxies the host is told about in its environment (none: a transparent one, or a direct line)
PROXY_ENV=()
for v in http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
	[[ -n ${!v:-} ]] && PROXY_ENV+=("$v=${!v}")
done

mount -t proc proc "$ROOT/proc"
MOUNTED+=("$ROOT/proc")
mount --rbind /dev "$ROOT/dev"
MOUNTED+=("$ROOT/dev")
mount --make-rslave "$ROOT/dev" # unmounting it later must not unmount the host's /dev/pts, /dev/shm
mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$ROOT/tmp"
MOUNTED+=("$ROOT/tmp")

# --- the Quick start ----------------------------------------------------------------
fmt_duration() { # seconds -> 1m23s
	local s=$1
	if (( s >= 60 )); then printf '%dm%02ds' $(( s / 60 )) $(( s % 60 )); else printf '%ds' "$s"; fi
}

SUMMARY=()
FAILED=0
n=0
for cmd in "${COMMANDS[@]}"; do
	n=$(( n + 1 ))
	say "[$n/${#COMMANDS[@]}] # cd /root/project && $cmd"
	start=$(date +%s)
	set +e
	chroot "$ROOT" /usr/bin/env -i \
		HOME=/root USER=root LOGNAME=root SHELL=/bin/bash \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		CI=true "${PROXY_ENV[@]}" \
		/bin/bash -c 'cd /root/project && eval "$1"' fresh-check "$cmd" </dev/null 2>&1 | tee "$LOGS/$n.log"
	rc=${PIPESTATUS[0]}
	set -e
	took=$(fmt_duration $(( $(date +%s) - start )))
	if (( rc == 0 )); then
		SUMMARY+=("==> PASS [$n/${#COMMANDS[@]}] $cmd: exit 0 in $took")
	else
		SUMMARY+=("==> FAIL [$n/${#COMMANDS[@]}] $cmd: exit $rc in $took")
		FAILED=$(( FAILED + 1 ))
	fi
	echo "${SUMMARY[-1]}"
done

echo
say "Fresh Debian $SUITE minbase chroot, $( (( WORKTREE )) && echo "work tree on HEAD" || echo HEAD) $HEAD_COMMIT:"
printf '%s\n' "${SUMMARY[@]}"
if (( FAILED )); then
	say "FAILED: $FAILED of ${#COMMANDS[@]} commands."
	exit 1
fi
say "All ${#COMMANDS[@]} commands passed."
