# fish completion for repotools: repo-add, repo-remove and repotools {add,remove}.
# Install as ~/.config/fish/completions/repotools.fish and link repo-add.fish and
# repo-remove.fish to it, or source it from config.fish.

# The positional arguments before the cursor (the database first), without the
# command and, for `repotools`, the subcommand.
function __repotools_args
    set -l tokens (commandline -opc)
    set -e tokens[1]
    if test "$argv[1]" = sub
        set -e tokens[1]
    end
    set -l skip 0
    set -l options_done 0
    for t in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        if test $options_done = 0
            switch $t
                case --
                    set options_done 1
                    continue
                case -k --key -j --jobs --pkg-keyring --siglevel
                    set skip 1
                    continue
                case '-*'
                    continue
            end
        end
        printf '%s\n' $t
    end
end

# true if the command line needs the database argument next
function __repotools_want_db
    test (count (__repotools_args $argv)) -eq 0
end

function __repotools_want_more
    test (count (__repotools_args $argv)) -ge 1
end

# directories and files matching the regular expression $argv[1]
function __repotools_files
    set -l regex $argv[1]
    set -l tok (commandline -ct)
    set -l tilde 0
    if string match -q -- '~/*' $tok
        set tok (string replace -- '~' $HOME $tok)
        set tilde 1
    end
    for f in $tok*
        set -l shown $f
        test $tilde = 1; and set shown (string replace -- $HOME '~' $f)
        if test -d $f
            printf '%s/\n' $shown
        else if string match -qr -- $regex (string replace -r -- '.*/' '' $f)
            printf '%s\n' $shown
        end
    end
end

set -g __repotools_ext '(\.(gz|bz2|xz|zst|lrz|lzo|Z|lz4|lz))?$'

function __repotools_pkgnames
    set -l db (__repotools_args $argv)[1]
    set db (string replace -r '^~/' "$HOME/" -- $db)
    test -f "$db"; or return
    for m in (bsdtar -tf $db 2>/dev/null | string match -- '*/desc')
        string replace -r -- '-[^-]*-[^-]*/desc$' '' $m
    end
end

# the words of a signature level, after those already typed in the same
# (quoted) argument: 'Required:2 Trus
function __repotools_siglevel
    set -l tok (string replace -r -- '^--siglevel=' '' (commandline -ct))
    set tok (string replace -r -- '^[\'"]' '' $tok)
    set -l head (string match -r -- '^.*\s' $tok)
    for w in Never Optional Required Required:2 Required:All TrustedOnly TrustedOnly:1 TrustAll
        printf '%s\n' "$head"{,Package,Database}$w
    end
end

function __repotools_keys
    command -q gpg; or return
    gpg --batch --with-colons --list-secret-keys 2>/dev/null | string match -r -- '^fpr:.*' | string split -f 10 ':'
end

# $argv[1]: the command; $argv[2]: add or remove; $argv[3]: condition that selects the subcommand (or '')
function __repotools_define --argument-names cmd mode cond sub
    set -l c $cond
    test -z "$c"; and set c true
    complete -c $cmd -n "$c" -s q -l quiet -d 'Print only warnings and errors'
    complete -c $cmd -n "$c" -l nocolor -d 'Do not colour the output'
    complete -c $cmd -n "$c" -s s -l sign -d 'Sign the databases with GnuPG after the update'
    complete -c $cmd -n "$c" -s k -l key -x -a '(__repotools_keys)' -d 'Key to sign with (default: $GPGKEY)'
    complete -c $cmd -n "$c" -s v -l verify -d 'Verify the database signatures before the update'
    complete -c $cmd -n "$c" -s w -l wait-for-lock -d 'Wait for the lock instead of failing'
    complete -c $cmd -n "$c" -l dry-run -d 'Check and report what would change; write nothing'
    complete -c $cmd -n "$c" -l json -d 'Print a JSON report on standard output'
    complete -c $cmd -n "$c" -s h -l help -d 'Show the usage and exit'
    complete -c $cmd -n "$c" -s V -l version -d 'Show the version and exit'
    complete -c $cmd -n "$c; and __repotools_want_db $sub" -f -a "(__repotools_files '\.db\.tar$__repotools_ext')" -d 'Database'
    if test $mode = add
        complete -c $cmd -n "$c" -s n -l new -d 'Only add packages not already in the database'
        complete -c $cmd -n "$c" -s R -l remove -d 'Delete the old package files after the update'
        complete -c $cmd -n "$c" -s p -l prevent-downgrade -d 'Do not add a package if a newer version is present'
        complete -c $cmd -n "$c" -l include-sigs -d 'Embed package signatures (always done; for pacman 7)'
        complete -c $cmd -n "$c" -s j -l jobs -x -d 'Read N packages in parallel'
        complete -c $cmd -n "$c" -l pkg-keyring -x -a '(__fish_complete_directories)' -d 'GnuPG home to check package signatures against'
        complete -c $cmd -n "$c" -l siglevel -x -a '(__repotools_siglevel)' -d 'Signature level packages must meet'
        complete -c $cmd -n "$c; and __repotools_want_more $sub" -f -a "(__repotools_files '\.pkg\.tar$__repotools_ext')" -d 'Package'
    else
        # repo-add's options, accepted for compatibility and ignored
        set -l ignored 'Ignored (accepted for compatibility with repo-add)'
        complete -c $cmd -n "$c" -s n -l new -d $ignored
        complete -c $cmd -n "$c" -s R -l remove -d $ignored
        complete -c $cmd -n "$c" -s p -l prevent-downgrade -d $ignored
        complete -c $cmd -n "$c" -l include-sigs -d $ignored
        complete -c $cmd -n "$c" -s j -l jobs -x -d $ignored
        complete -c $cmd -n "$c; and __repotools_want_more $sub" -f -a "(__repotools_pkgnames $sub)" -d 'Package name'
    end
end

complete -c repo-add -f
complete -c repo-remove -f
complete -c repotools -f
__repotools_define repo-add add '' ''
__repotools_define repo-remove remove '' ''
complete -c repotools -n __fish_use_subcommand -a add -d 'Add packages to a database'
complete -c repotools -n __fish_use_subcommand -a remove -d 'Remove packages from a database'
complete -c repotools -n __fish_use_subcommand -s h -l help -d 'Show the usage and exit'
__repotools_define repotools add '__fish_seen_subcommand_from add' sub
__repotools_define repotools remove '__fish_seen_subcommand_from remove' sub
