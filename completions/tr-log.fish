# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_tr_log_global_optspecs
    string join \n n/name= s/stream= l/log= h/help V/version
end

function __fish_tr_log_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_tr_log_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_tr_log_using_subcommand
    set -l cmd (__fish_tr_log_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c tr-log -n "__fish_tr_log_needs_command" -s n -l name -d 'Name shown in brackets before each line' -r
complete -c tr-log -n "__fish_tr_log_needs_command" -s s -l stream -d 'Stream name shown after the task name' -r -f -a "stdout\t'Label lines `stdout`'
stderr\t'Label lines `stderr`'"
complete -c tr-log -n "__fish_tr_log_needs_command" -s l -l log -d 'Also append each line to this log file, without the name' -r -F
complete -c tr-log -n "__fish_tr_log_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tr-log -n "__fish_tr_log_needs_command" -s V -l version -d 'Print version'
complete -c tr-log -n "__fish_tr_log_needs_command" -f -a "timeline" -d 'Show a build\'s timeline: a summary table, an HTML Gantt chart, or the Chrome trace'
complete -c tr-log -n "__fish_tr_log_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c tr-log -n "__fish_tr_log_using_subcommand timeline" -l html -d 'Also write the Gantt chart as a self-contained HTML page to FILE' -r -F
complete -c tr-log -n "__fish_tr_log_using_subcommand timeline" -l json -d 'Print the Chrome trace JSON instead of the summary table'
complete -c tr-log -n "__fish_tr_log_using_subcommand timeline" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tr-log -n "__fish_tr_log_using_subcommand help; and not __fish_seen_subcommand_from timeline help" -f -a "timeline" -d 'Show a build\'s timeline: a summary table, an HTML Gantt chart, or the Chrome trace'
complete -c tr-log -n "__fish_tr_log_using_subcommand help; and not __fish_seen_subcommand_from timeline help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
