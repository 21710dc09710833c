# bash completion for repotools: repo-add, repo-remove and repotools {add,remove}
#
# Source this file, or install it as
#   /usr/share/bash-completion/completions/repo-add
# with links named repo-remove and repotools pointing to it.
#
# Completes options, key fingerprints after -k, directories after --pkg-keyring,
# signature level words after --siglevel, database files (*.db.tar*) as the
# first argument, package files (*.pkg.tar*) for repo-add and the package names
# held in the database for repo-remove. repo-remove also accepts, and ignores, repo-add's
# options (for compatibility: pacman's two scripts share one option parser); they are
# not offered for it, but skipped (-j and its number) when the arguments are counted.

# shellcheck disable=SC2207  # COMPREPLY=($(compgen ...)) is the completion idiom

_repotools_common_opts='-q --quiet --nocolor -s --sign -k --key -v --verify -w --wait-for-lock --dry-run --json -h --help -V --version'
_repotools_add_opts='-n --new -R --remove -p --prevent-downgrade --include-sigs -j --jobs --pkg-keyring --siglevel'

# the words of a signature level (--siglevel), each also offered after Package and Database
_repotools_siglevel_words='Never Optional Required Required:2 Required:All TrustedOnly TrustedOnly:1 TrustAll'

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

# Complete directories (--pkg-keyring: a GnuPG home).
_repotools_dirs() {
	local IFS=$'\n'
	compopt -o filenames 2>/dev/null
	COMPREPLY=($(compgen -d -- "$1"))
}

# Complete the last word of a signature level; $1 is the argument as typed, which
# may be quoted and hold several words ('Required:2 Trus).
_repotools_siglevel() {
	local arg=$1 quote='' head last w colon
	local -a words=()
	case $arg in
		[\'\"]*) quote=${arg:0:1}; arg=${arg:1} ;;
	esac
	head=${arg%"${arg##*[[:space:]]}"}
	last=${arg:${#head}}
	[[ -z $quote && -n $head ]] && return 0
	for w in $_repotools_siglevel_words; do
		words+=("$w" "Package$w" "Database$w")
	done
	local IFS=$'\n'
	# in quotes, readline replaces all that follows the quote
	COMPREPLY=($(compgen -P "$head" -W "${words[*]}" -- "$last"))
	# unquoted, only what follows the last ':'
	if [[ -z $quote && $last == *:* && $COMP_WORDBREAKS == *:* ]]; then
		colon=${last%"${last##*:}"}
		COMPREPLY=("${COMPREPLY[@]#"$colon"}")
	fi
}

# Set the caller's words and cword from COMP_WORDS[$1..] (the command first) and
# COMP_CWORD, joining again what bash splits at ':' (Required:2 is one word).
_repotools_words() {
	local start=$1 line=$COMP_LINE i w blank
	words=() cword=-1
	for (( i = 0; i < ${#COMP_WORDS[@]}; i++ )); do
		w=${COMP_WORDS[i]}
		blank=${line%%[![:space:]]*}
		line=${line:${#blank}}
		line=${line#"$w"}
		(( i < start )) && continue
		if (( i > start )) && [[ -z $blank && ( $w == :* || ${words[-1]} == *: ) ]]; then
			words[-1]+=$w
		else
			words+=("$w")
		fi
		(( i == COMP_CWORD )) && cword=$(( ${#words[@]} - 1 ))
	done
	if (( cword < 0 )); then
		cword=${#words[@]}
		words+=('')
	fi
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

# Complete the words after COMP_WORDS[$2], the command `repo-add` or `repotools add`
# ($1 = add) or `repo-remove` or `repotools remove` ($1 = remove).
_repotools_complete() {
	local mode=$1 cword
	local -a words
	_repotools_words "$2"
	local cur=${words[cword]} prev=''
	(( cword > 0 )) && prev=${words[cword - 1]}
	COMPREPLY=()

	# --key=VALUE: bash splits it into "--key" "=" "VALUE"
	if [[ $cur == = ]]; then
		case $prev in
			--key|--jobs|--pkg-keyring|--siglevel) cur='' ;;
		esac
	elif [[ $prev == = ]] && (( cword > 1 )); then
		prev=${words[cword - 2]}
	fi
	case $prev in
		-k|--key) _repotools_keys "$cur"; return 0 ;;
		-j|--jobs) COMPREPLY=($(compgen -W "$(nproc 2>/dev/null || echo 1)" -- "$cur")); return 0 ;;
		--pkg-keyring) _repotools_dirs "$cur"; return 0 ;;
		--siglevel) _repotools_siglevel "$cur"; return 0 ;;
	esac

	# Positional arguments before the cursor; the first is the database.
	local i word db='' npos=0 options_done=0
	for (( i = 1; i < cword; i++ )); do
		word=${words[i]}
		if (( ! options_done )); then
			case $word in
				--) options_done=1; continue ;;
				-k|--key|-j|--jobs|--pkg-keyring|--siglevel)
					[[ ${words[i + 1]} == = ]] && (( i++ ))
					(( i++ )); continue ;;
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

_repo_add() { _repotools_complete add 0; }
_repo_remove() { _repotools_complete remove 0; }

_repotools() {
	local i
	for (( i = 1; i < COMP_CWORD; i++ )); do
		case ${COMP_WORDS[i]} in
			add|remove) _repotools_complete "${COMP_WORDS[i]}" "$i"; return 0 ;;
		esac
	done
	COMPREPLY=($(compgen -W 'add remove -h --help' -- "${COMP_WORDS[COMP_CWORD]}"))
}

complete -F _repo_add repo-add
complete -F _repo_remove repo-remove
complete -F _repotools repotools
