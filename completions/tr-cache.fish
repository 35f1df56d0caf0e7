# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tr_cache_global_optspecs
    string join \n h/help V/version
end

function __fish_tr_cache_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tr_cache_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tr_cache_using_subcommand
    set -l cmd (__fish_tr_cache_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tr-cache -n "__fish_tr_cache_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tr-cache -n "__fish_tr_cache_needs_command" -s V -l version -d 'Print version'
complete -c tr-cache -n "__fish_tr_cache_needs_command" -f -a "save" -d 'Archive output paths as the bundle of NAME and HASH'
complete -c tr-cache -n "__fish_tr_cache_needs_command" -f -a "restore" -d 'Unpack the bundle of NAME and HASH below the cache root'
complete -c tr-cache -n "__fish_tr_cache_needs_command" -f -a "latest" -d 'Read or record the latest hash of a task on a branch'
complete -c tr-cache -n "__fish_tr_cache_needs_command" -f -a "keygen" -d 'Print a new Ed25519 key pair for signing and verifying archives'
complete -c tr-cache -n "__fish_tr_cache_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand save" -s n -l name -d 'The task\'s name' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand save" -l hash -d 'The task\'s input hash' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand save" -l version -d 'The cache version (`snapshot --cache-version`)' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand save" -l root -d 'The cache root [default: $TASKRUNNER_ROOT_DIRECTORY, else the current directory]' -r -F
complete -c tr-cache -n "__fish_tr_cache_using_subcommand save" -s h -l help -d 'Print help'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand restore" -s n -l name -d 'The task\'s name' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand restore" -l hash -d 'The task\'s input hash' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand restore" -l version -d 'The cache version (`snapshot --cache-version`)' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand restore" -l root -d 'The cache root [default: $TASKRUNNER_ROOT_DIRECTORY, else the current directory]' -r -F
complete -c tr-cache -n "__fish_tr_cache_using_subcommand restore" -s h -l help -d 'Print help'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and not __fish_seen_subcommand_from get set help" -s h -l help -d 'Print help'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and not __fish_seen_subcommand_from get set help" -f -a "get" -d 'Print the latest hash of NAME on BRANCH; exit 1 if there is none'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and not __fish_seen_subcommand_from get set help" -f -a "set" -d 'Record HASH as the latest of NAME on BRANCH'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and not __fish_seen_subcommand_from get set help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from get" -s n -l name -d 'The task\'s name' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from get" -l branch -d 'The branch' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from get" -s h -l help -d 'Print help'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from set" -s n -l name -d 'The task\'s name' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from set" -l branch -d 'The branch' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from set" -l hash -d 'The hash to record' -r
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from set" -s h -l help -d 'Print help'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from help" -f -a "get" -d 'Print the latest hash of NAME on BRANCH; exit 1 if there is none'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from help" -f -a "set" -d 'Record HASH as the latest of NAME on BRANCH'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand latest; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand keygen" -s h -l help -d 'Print help'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand help; and not __fish_seen_subcommand_from save restore latest keygen help" -f -a "save" -d 'Archive output paths as the bundle of NAME and HASH'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand help; and not __fish_seen_subcommand_from save restore latest keygen help" -f -a "restore" -d 'Unpack the bundle of NAME and HASH below the cache root'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand help; and not __fish_seen_subcommand_from save restore latest keygen help" -f -a "latest" -d 'Read or record the latest hash of a task on a branch'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand help; and not __fish_seen_subcommand_from save restore latest keygen help" -f -a "keygen" -d 'Print a new Ed25519 key pair for signing and verifying archives'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand help; and not __fish_seen_subcommand_from save restore latest keygen help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand help; and __fish_seen_subcommand_from latest" -f -a "get" -d 'Print the latest hash of NAME on BRANCH; exit 1 if there is none'
complete -c tr-cache -n "__fish_tr_cache_using_subcommand help; and __fish_seen_subcommand_from latest" -f -a "set" -d 'Record HASH as the latest of NAME on BRANCH'
