# bash completion for repotools: repo-add, repo-remove and repotools {add,remove}
#
# Source this file, or install it as
#   /usr/share/bash-completion/completions/repo-add
# with links named repo-remove and repotools pointing to it.
#
# Completes options, key fingerprints after -k, database files (*.db.tar*) as
# the first argument, package files (*.pkg.tar*) for repo-add and the package
# names held in the database for repo-remove.

# shellcheck disable=SC2207  # COMPREPLY=($(compgen ...)) is the completion idiom

_repotools_common_opts='-q --quiet --nocolor -s --sign -k --key -v --verify -w --wait-for-lock -h --help -V --version'
_repotools_add_opts='-n --new -R --remove -p --prevent-downgrade --include-sigs -j --jobs'

# the compressions repotools writes and reads, as file name extensions
_repotools_ext='(\.(gz|bz2|xz|zst|lrz|lzo|Z|lz4|lz))?$'

# Complete directories, and the files whose name matches the regular expression $2.
_repotools_files() {
	local cur=$1 regex=$2 f
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY+=($(compgen -d -- "$cur"))
	for f in $(compgen -f -- "$cur"); do
		[[ ! -d $f && ${f##*/} =~ $regex ]] && COMPREPLY+=("$f")
	done
}

# The package names in database $1.
_repotools_pkgnames() {
	local db=$1 cur=$2 member
	local -a names=()
	[[ $db == "~"/* ]] && db=$HOME/${db#"~"/}
	[[ -f $db ]] || return 0
	while IFS= read -r member; do
		[[ $member == */desc ]] || continue
		member=${member%/desc}
		names+=("${member%-*-*}")
	done < <(bsdtar -tf "$db" 2>/dev/null)
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "${names[*]}" -- "$cur"))
}

_repotools_keys() {
	local IFS=$'\n'
	command -v gpg >/dev/null || return 0
	COMPREPLY=($(compgen -W "$(gpg --batch --with-colons --list-secret-keys 2>/dev/null |
		awk -F: '$1 == "fpr" { print $10 }')" -- "$1"))
}

# Complete the words COMP_WORDS[$2..] of `repo-add` ($1 = add) or `repo-remove` ($1 = remove).
_repotools_complete() {
	local mode=$1 start=$2
	local cur=${COMP_WORDS[COMP_CWORD]} prev=''
	(( COMP_CWORD > start )) && prev=${COMP_WORDS[COMP_CWORD - 1]}
	COMPREPLY=()

	# --key=VALUE: bash splits it into "--key" "=" "VALUE"
	if [[ $prev == = ]] && (( COMP_CWORD > start + 1 )); then
		prev=${COMP_WORDS[COMP_CWORD - 2]}
		[[ $prev == --key ]] && { _repotools_keys "$cur"; return 0; }
		[[ $prev == --jobs ]] && return 0
	fi
	if [[ $cur == = ]]; then
		[[ $prev == --key ]] && { _repotools_keys ""; return 0; }
		[[ $prev == --jobs ]] && return 0
	fi
	case $prev in
		-k|--key) _repotools_keys "$cur"; return 0 ;;
		-j|--jobs) COMPREPLY=($(compgen -W "$(nproc 2>/dev/null || echo 1)" -- "$cur")); return 0 ;;
	esac

	# Positional arguments before the cursor; the first is the database.
	local i word db='' npos=0 options_done=0
	for (( i = start; i < COMP_CWORD; i++ )); do
		word=${COMP_WORDS[i]}
		if (( ! options_done )); then
			case $word in
				--) options_done=1; continue ;;
				-k|--key|-j|--jobs) (( i++ )); continue ;;
				=) (( i++ )); continue ;;
				-*) continue ;;
			esac
		fi
		(( npos++ == 0 )) && db=$word
	done

	if (( ! options_done )) && [[ $cur == -* ]]; then
		local opts=$_repotools_common_opts
		[[ $mode == add ]] && opts="$_repotools_add_opts $opts"
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
		return 0
	fi
	if (( npos == 0 )); then
		_repotools_files "$cur" "\\.db\\.tar$_repotools_ext"
	elif [[ $mode == add ]]; then
		_repotools_files "$cur" "\\.pkg\\.tar$_repotools_ext"
	else
		_repotools_pkgnames "$db" "$cur"
	fi
	return 0
}

_repo_add() { _repotools_complete add 1; }
_repo_remove() { _repotools_complete remove 1; }

_repotools() {
	local i
	for (( i = 1; i < COMP_CWORD; i++ )); do
		case ${COMP_WORDS[i]} in
			add|remove) _repotools_complete "${COMP_WORDS[i]}" $((i + 1)); return 0 ;;
		esac
	done
	COMPREPLY=($(compgen -W 'add remove -h --help' -- "${COMP_WORDS[COMP_CWORD]}"))
}

complete -F _repo_add repo-add
complete -F _repo_remove repo-remove
complete -F _repotools repotools
