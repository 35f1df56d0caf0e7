complete -c tr-log -s n -l name -d 'Name shown in brackets before each line' -r
complete -c tr-log -s s -l stream -d 'Stream name shown after the task name' -r -f -a "stdout\t'Label lines `stdout`'
stderr\t'Label lines `stderr`'"
complete -c tr-log -s l -l log -d 'Also append each line to this log file, without the name' -r -F
complete -c tr-log -s h -l help -d 'Print help (see more with \'--help\')'
complete -c tr-log -s V -l version -d 'Print version'
